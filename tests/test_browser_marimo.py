"""The Explorer in marimo, an anywidget host that is not Jupyter, in headless Chromium.

``marimo run`` serves ``tests/marimo_explorer.py`` (the Explorer on 200 real MNIST test digits,
PNG figure) on a loopback port with no token; the test scrubs it as a user would and checks the
figure's pixels. marimo's model takes one event per ``model.on`` call: a frontend that registers
Backbone-style ``"change:a change:b"`` lists draws the first frame and then never updates.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page

from jupyter_harness import (
    CLICK_JS,
    SLIDE_JS,
    canvas_rgb,
    changed_fraction,
    chromium_page,
    colour_bbox,
    drag_slider,
    free_port,
    screenshot,
)
from test_browser import ARTIFACTS, _require_chromium

pytestmark = pytest.mark.browser

APP = Path(__file__).resolve().parent / "marimo_explorer.py"
# Panels as fractions of the figure (rows, columns): marimo shows it narrower than 900 px.
INPUT_PANEL = ((0.09, 0.56), (0.01, 0.21))  # the input digit
CHANNEL_PANEL = ((0.0, 0.47), (0.73, 1.0))  # the selected channel, large


def panel(figure: np.ndarray, where: tuple[tuple[float, float], tuple[float, float]]) -> np.ndarray:
    (top, bottom), (left, right) = where
    height, width = figure.shape[:2]
    return figure[int(top * height) : int(bottom * height), int(left * width) : int(right * width)]


@contextmanager
def marimo_run(app: Path, env: dict[str, str], timeout: float = 60.0) -> Iterator[str]:
    """Serve ``app`` with ``marimo run`` on a free loopback port; yield its URL.

    marimo's settings, caches and state go to a temporary folder, and it does not check for a
    newer version, so nothing here reaches the network.
    """
    workdir = Path(tempfile.mkdtemp(prefix="convscope-marimo-"))
    port = free_port()
    server_env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    server_env.update(env)
    server_env.update(
        {
            "MARIMO_SKIP_UPDATE_CHECK": "1",
            "XDG_CONFIG_HOME": str(workdir / "config"),
            "XDG_CACHE_HOME": str(workdir / "cache"),
            "XDG_STATE_HOME": str(workdir / "state"),
        }
    )
    command = [sys.executable, "-m", "marimo", "run", str(app), "--headless", "--no-token"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-sandbox"]
    log_path = workdir / "marimo.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            command,
            cwd=workdir,
            env=server_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"marimo did not serve {url}:\n{log_path.read_text()}")
            with suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
            time.sleep(0.25)
        yield url
    finally:
        (ARTIFACTS / "marimo.log").write_text(log_path.read_text(errors="replace"))
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


class MarimoExplorer:
    """The Explorer as rendered by marimo (inside a shadow root; locators pierce it)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.controls = page.locator(".convscope").first
        self.figure = self.controls.locator("canvas.convscope-figure")

    def wait_for_figure(self, old_frame: str | None = None, timeout_ms: float = 90_000) -> None:
        """Wait until the figure shows a frame, other than ``old_frame`` when given."""
        self.figure.wait_for(state="visible", timeout=timeout_ms)
        self.page.wait_for_function(
            "([canvas, old]) => (canvas.dataset.frame ?? old) !== old",
            arg=[self.figure.element_handle(), old_frame or ""],
            timeout=timeout_ms,
        )
        time.sleep(0.2)  # let the page paint the frame

    def shot(self, name: str) -> np.ndarray:
        self.figure.scroll_into_view_if_needed()
        return screenshot(self.figure, ARTIFACTS / f"marimo-{name}.png")

    def sample_text(self) -> str:
        return self.controls.locator(".convscope-sample-text").inner_text()


@contextmanager
def served(app: Path, mnist_dir: Path) -> Iterator[MarimoExplorer]:
    """Serve ``app`` and open it in Chromium; yield its Explorer once the figure is shown."""
    _require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {"CONVSCOPE_MNIST_DIR": str(mnist_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with marimo_run(app, env) as url, chromium_page() as page:
        shown = MarimoExplorer(page)
        page.goto(url, wait_until="domcontentloaded")
        try:
            shown.wait_for_figure()
        except Exception:
            page.screenshot(path=ARTIFACTS / f"marimo-{app.stem}-setup-failed.png")
            raise
        yield shown


@pytest.fixture(scope="module")
def explorer(mnist_dir: Path) -> Iterator[MarimoExplorer]:
    with served(APP, mnist_dir) as shown:
        yield shown


def _assert_no_error(explorer: MarimoExplorer) -> None:
    banner = explorer.controls.locator(".convscope-error")
    assert not banner.is_visible(), f"the widget shows an error: {banner.inner_text()!r}"


def test_the_explorer_renders_in_marimo(explorer: MarimoExplorer) -> None:
    natural = explorer.figure.evaluate("(canvas) => [canvas.width, canvas.height]")
    assert natural == [900, 450]
    figure = explorer.shot("01-initial")
    assert figure.std() > 30  # feature maps, not a blank image
    assert colour_bbox(figure) is not None  # the selected channel's outline
    assert explorer.sample_text().startswith("sample 0 ")
    assert explorer.controls.locator("button.convscope-thumb").count() == 48
    # This checkout's frontend, not an installed one: it marks its controls for JupyterLab.
    assert explorer.controls.get_attribute("data-lm-suppress-shortcuts") == "true"
    _assert_no_error(explorer)


def test_the_channel_slider_redraws_the_figure(explorer: MarimoExplorer) -> None:
    before, old_frame = explorer.shot("02-before"), explorer.figure.get_attribute("data-frame")
    slider = explorer.controls.locator("input.convscope-channel")
    assert drag_slider(explorer.page, slider, 22) == 22  # a map unlike channel 0's
    explorer.controls.locator(".convscope-channel + .convscope-value").filter(
        has_text=re.compile(r"^channel 22 of 24$")
    ).wait_for()
    explorer.wait_for_figure(old_frame, timeout_ms=30_000)
    after = explorer.shot("03-channel-dragged")
    channel = changed_fraction(panel(before, CHANNEL_PANEL), panel(after, CHANNEL_PANEL))
    assert channel > 0.08, f"only {channel:.1%} of the selected channel's panel changed"
    assert colour_bbox(after) != colour_bbox(before), "the channel outline did not move"
    _assert_no_error(explorer)


def test_next_shows_the_next_digit(explorer: MarimoExplorer) -> None:
    before, old_frame = explorer.shot("04-before-next"), explorer.figure.get_attribute("data-frame")
    explorer.controls.locator("button.convscope-next").click()
    explorer.controls.locator(".convscope-sample-text").filter(
        has_text=re.compile(r"^sample 1 ")
    ).wait_for(timeout=30_000)
    explorer.wait_for_figure(old_frame, timeout_ms=30_000)
    after = explorer.shot("05-next")
    digit = changed_fraction(panel(before, INPUT_PANEL), panel(after, INPUT_PANEL))
    assert digit > 0.05, f"only {digit:.1%} of the input digit panel changed"
    _assert_no_error(explorer)


def test_a_stroke_on_the_pad_reaches_the_kernel(explorer: MarimoExplorer) -> None:
    """marimo carries the pad's pixels, the message's binary buffer, to the kernel too."""
    page, old_src = explorer.page, explorer.figure.get_attribute("src")
    explorer.controls.locator(".convscope-pad summary").click()
    pad = explorer.controls.locator("canvas.convscope-pad-canvas")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.52, box["y"] + box["height"] * 0.18)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.48, box["y"] + box["height"] * 0.82, steps=6)
    page.mouse.up()
    explorer.controls.locator(".convscope-sample-text").filter(
        has_text=re.compile(r"^your drawing\s+·\s+predicted 1 \(")
    ).wait_for(timeout=30_000)
    explorer.wait_for_figure(old_src, timeout_ms=30_000)
    _assert_no_error(explorer)


def _settled_pixels(explorer: MarimoExplorer, old_frame: str | None) -> np.ndarray:
    """The canvas once the kernel's frame for the move is painted and no preview is over it."""
    explorer.wait_for_figure(old_frame, timeout_ms=30_000)
    explorer.page.wait_for_function(
        "(canvas) => canvas.dataset.preview === undefined",
        arg=explorer.figure.element_handle(),
        timeout=30_000,
    )
    return canvas_rgb(explorer.figure.evaluate("(canvas) => canvas.toDataURL('image/png')"))


def _previews_held(explorer: MarimoExplorer) -> int:
    """How many move previews the page holds, once that number has stayed put for 0.5 s."""
    counts: list[int] = []
    deadline = time.monotonic() + 30
    while len(counts) < 5 or len(set(counts[-5:])) > 1 or counts[-1] < 3:
        assert time.monotonic() < deadline, f"the previews never settled: {counts[-5:]}"
        counts.append(int(explorer.figure.get_attribute("data-moves") or 0))
        time.sleep(0.1)
    return counts[-1]


def test_moves_are_painted_at_the_input_from_the_kernels_previews(
    explorer: MarimoExplorer,
) -> None:
    """marimo carries the widget's own messages both ways: the kernel's previews (binary
    buffers, once it is idle) and the page's hint for the thumbnail under the pointer. A layer
    slid to and a hovered thumbnail clicked are then painted in the input's own task, and the
    kernel's frame that follows leaves exactly those pixels."""
    page, canvas = explorer.page, explorer.figure.element_handle()
    held = "(canvas) => canvas.dataset.sweep !== undefined && Number(canvas.dataset.moves) > 2"
    page.wait_for_function(held, arg=canvas, timeout=30_000)
    layer = explorer.controls.locator("input.convscope-layer")
    target = (int(layer.input_value()) + 2) % (int(layer.get_attribute("max") or 0) + 1)
    old_frame = explorer.figure.get_attribute("data-frame")
    moved = canvas.evaluate(SLIDE_JS, [target, "layer"])
    assert moved["preview"] == f"layer {target}", "the layer was not painted at the input"
    assert np.array_equal(canvas_rgb(moved["png"]), _settled_pixels(explorer, old_frame))

    text = explorer.sample_text()  # "sample 1 ·" or, after a stroke, "your drawing ·"
    current = int(text.split()[1]) if text.startswith("sample ") else -10
    index = (
        explorer.controls.locator(
            "button.convscope-thumb:not(.current)"
            f":not([data-index='{current - 1}']):not([data-index='{current + 1}'])"
        )
        .nth(7)
        .get_attribute("data-index")
    )
    thumb = explorer.controls.locator(f"button.convscope-thumb[data-index='{index}']")
    count = _previews_held(explorer)  # every preview of the new frame is in
    moves = "([canvas, n]) => Number(canvas.dataset.moves) === n"
    thumb.hover()  # the page hints; the kernel makes that sample's preview first
    page.wait_for_function(moves, arg=[canvas, count + 1], timeout=30_000)
    old_frame = explorer.figure.get_attribute("data-frame")
    clicked = thumb.evaluate(CLICK_JS)
    assert clicked["preview"] == f"sample {index}", "the click was not painted at the input"
    assert np.array_equal(canvas_rgb(clicked["png"]), _settled_pixels(explorer, old_frame))
    _assert_no_error(explorer)


def test_no_uncaught_errors_in_the_page(explorer: MarimoExplorer) -> None:
    assert explorer.errors == []
