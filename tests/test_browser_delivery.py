"""What reaches the screen is exactly the figure: after bursts of keys and clicks, on both paths.

One JupyterLab page holds two Explorers on the 10,000 MNIST test digits: the default one (the
canvas inside the widget, in every host) and one on the ipympl canvas (``figure="ipympl"``).
Each round is what a user does who holds keys down and clicks about: 60 random navigation keys
(←/→/↑/↓/PageUp/PageDown) 30 ms apart, with no wait for the figure between them, then a burst of
thumbnail clicks 30 ms apart, then 2 s of quiet. A screenshot of the figure must then equal the
figure's own Agg buffer, read from the kernel, pixel for pixel, but for the screenshot's
resampling at the figure's CSS edge: one pixel wide. A probability bar is 20 pixels wide and
more than 100 high, so one left standing, or the strokes of an earlier digit, fail at once (a
page that painted frames over lost ones showed 1,538 to 20,857 wrong pixels here). Each round
also checks that the figure before the round would not have passed. All of it runs at a device
scale factor of 1, then of 2 (a HiDPI screen, where both paths draw twice the pixels: the
screenshot is then 1800×900).
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Locator

from jupyter_harness import (
    CLICK_JS,
    SLIDE_JS,
    ExplorerHandles,
    JupyterServer,
    LabNotebook,
    canvas_rgb,
    chromium_page,
    jupyter_lab_server,
    write_notebook,
)
from test_browser import ARTIFACTS, _require_chromium

pytestmark = pytest.mark.browser

IPYMPL_CELL = """import numpy as np
import convscope

ipympl_explorer = convscope.Explorer(figure="ipympl")
ipympl_explorer"""
CELLS = [
    IPYMPL_CELL,
    "canvas_explorer = convscope.Explorer()  # the default path\ncanvas_explorer",
]
SLIDES_PER_BURST = 40  # channel slider moves, GAP_MS apart, a pause of PAUSE_MS every tenth
PAUSE_MS = 400  # long enough for the kernel's sweep of previews (previews.IDLE_S) to come
NAVIGATION_KEYS = ("ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "PageUp", "PageDown")
KEYS_PER_BURST = 60
CLICKS_PER_BURST = 20
GAP_MS = 30  # between two keys or two clicks: faster than the kernel answers
QUIET_MS = 2000
EDGE = 1  # pixels at the figure's CSS edge that the screenshot may resample
LEVELS = 0  # how far any other pixel may be off, in levels of 255: not at all


@dataclass
class Delivered:
    """The page, its kernel's folder, and one handle per figure path."""

    lab: LabNotebook
    server: JupyterServer
    figures: dict[str, ExplorerHandles]


@pytest.fixture(scope="module", params=[1, 2], ids=["1x", "hidpi-2x"])
def delivered(
    request: pytest.FixtureRequest,
    mnist_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Delivered]:
    """The page at a device scale factor of 1, then of 2 (a HiDPI screen)."""
    _require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    notebook = write_notebook(tmp_path_factory.mktemp("delivery") / "delivery.ipynb", CELLS)
    with (
        jupyter_lab_server([notebook], env=mnist_env) as server,
        chromium_page(device_scale_factor=request.param) as page,
    ):
        lab = LabNotebook.open(page, server, notebook.name)
        lab.run_all_cells(timeout_ms=180_000)
        cells = page.locator(".jp-Notebook .jp-Cell")
        figures = {}
        for name, index, selector in (
            ("ipympl", 0, ".jupyter-matplotlib-canvas-div"),
            ("canvas", 1, "canvas.convscope-figure"),
        ):
            controls = cells.nth(index).locator(".convscope").first
            controls.wait_for(state="visible", timeout=60_000)
            figure = cells.nth(index).locator(selector).first
            canvas = figure if name == "canvas" else figure.locator("canvas").first
            figures[name] = ExplorerHandles(
                page, lab.path, cells.nth(index), figure, canvas, controls, lab.page_errors
            )
        for handles in figures.values():
            page.wait_for_function(
                "(canvas) => window.__convscope.inked(canvas) > 0.05",
                arg=handles.canvas.element_handle(),
                timeout=60_000,
            )
        yield Delivered(lab, server, figures)


def _agg_pixels(delivered: Delivered, name: str) -> np.ndarray:
    """The figure's own Agg buffer, RGB, as the kernel holds it now."""
    path = delivered.server.root_dir / f"agg-{name}.npy"
    delivered.lab.run_code(
        f"np.save({str(path)!r}, np.asarray({name}_explorer.figure.canvas.buffer_rgba())[..., :3])"
    )
    return np.load(path)


def _screen_pixels(handles: ExplorerHandles, name: str, margin: int = 2) -> np.ndarray:
    """A screenshot of the figure with ``margin`` pixels around it, RGB.

    The figure may sit at a fractional CSS position, which a screenshot rounds: the caller
    finds where in this shot the figure lies.
    """
    box = handles.figure.bounding_box()
    assert box is not None, "the figure is not visible"
    clip = {
        "x": box["x"] - margin,
        "y": box["y"] - margin,
        "width": box["width"] + 2 * margin,
        "height": box["height"] + 2 * margin,
    }
    png = handles.page.screenshot(clip=clip, animations="disabled", caret="hide")
    (ARTIFACTS / f"delivery-{name}-screen.png").write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _aligned(shot: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """The window of ``shot`` the size of ``expected`` that matches it best (a shift of pixels)."""
    height, width = expected.shape[:2]
    windows = [
        shot[top : top + height, left : left + width]
        for top in range(shot.shape[0] - height + 1)
        for left in range(shot.shape[1] - width + 1)
    ]
    errors = [np.abs(w.astype(np.int16) - expected).mean() for w in windows]
    return windows[int(np.argmin(errors))]


def _wrong_pixels(shown: np.ndarray, expected: np.ndarray) -> int:
    """How many pixels inside the figure's edge differ by more than LEVELS in any channel."""
    assert shown.shape == expected.shape, f"{shown.shape} on screen, {expected.shape} in Agg"
    delta = np.abs(shown.astype(np.int16) - expected.astype(np.int16)).max(axis=-1)
    return int((delta[EDGE:-EDGE, EDGE:-EDGE] > LEVELS).sum())


def _key_burst(handles: ExplorerHandles, rng: random.Random, target: Locator) -> None:
    """Click ``target`` (for the focus), then press random navigation keys GAP_MS apart."""
    target.click()
    for _ in range(KEYS_PER_BURST):
        handles.page.keyboard.press(rng.choice(NAVIGATION_KEYS))
        handles.page.wait_for_timeout(GAP_MS)


def _click_burst(handles: ExplorerHandles, rng: random.Random) -> None:
    """Click random thumbnails of the page in view GAP_MS apart, turning the page once."""
    handles.controls.locator(".convscope-page-next").click()
    for _ in range(CLICKS_PER_BURST):
        thumbs = handles.thumbnails
        thumbs.nth(rng.randrange(thumbs.count())).click()
        handles.page.wait_for_timeout(GAP_MS)


@pytest.mark.parametrize("name", ["ipympl", "canvas"])
def test_the_screen_shows_exactly_the_figure_after_bursts(delivered: Delivered, name: str) -> None:
    handles = delivered.figures[name]
    handles.box.scroll_into_view_if_needed()
    rng = random.Random(name)  # noqa: S311 - moves, not secrets
    bursts = [handles.sample_text]  # keys pressed in the widget's controls...
    if name == "ipympl":
        bursts.append(handles.figure)  # ...and on ipympl's canvas, which sends them itself
    for round_, target in enumerate(bursts * 2):
        before = _agg_pixels(delivered, name)
        _key_burst(handles, rng, target)
        _click_burst(handles, rng)
        assert handles.wait_until_settled(quiet_ms=QUIET_MS), f"{name}: the figure never settled"
        expected = _agg_pixels(delivered, name)
        shot = _screen_pixels(handles, name)
        wrong = _wrong_pixels(_aligned(shot, expected), expected)
        assert wrong == 0, f"{name}, round {round_}: {wrong:,} pixels differ from the figure"
        assert _wrong_pixels(_aligned(shot, before), before) > 1000, (
            "the test cannot tell the figure after the round from the one before"
        )
    assert not handles.error_banner.is_visible()
    assert handles.page_errors == []


def _slide(handles: ExplorerHandles, value: int, which: str = "channel") -> dict[str, str | None]:
    """Move the channel (or layer) slider as a drag does; what the canvas held right after."""
    result: dict[str, str | None] = handles.canvas.evaluate(SLIDE_JS, [value, which])
    return result


def test_a_channel_slid_to_is_painted_in_the_same_task_and_is_the_kernels_figure(
    delivered: Delivered,
) -> None:
    """The preview from the kernel's sweep: painted before any answer, exactly Agg's pixels.

    Then bursts of slider moves 30 ms apart, with sample steps among them (each starts another
    generation, which the page's sweep no longer fits): once quiet, the canvas holds exactly
    the kernel's figure.
    """
    handles = delivered.figures["canvas"]
    handles.box.scroll_into_view_if_needed()
    delivered.lab.run_code("canvas_explorer.update(view='maps', layer='conv2', channel=0)")
    sweep = "(canvas) => canvas.dataset.sweep !== undefined"
    handles.page.wait_for_function(sweep, arg=handles.canvas.element_handle(), timeout=30_000)
    moved = _slide(handles, 17)
    assert moved["after"] == moved["frame"], "the kernel answered within the input's task"
    assert moved["preview"] == "17", "the channel was not painted at the input"
    assert handles.wait_until_settled(quiet_ms=QUIET_MS)
    expected = _agg_pixels(delivered, "canvas")
    assert np.array_equal(canvas_rgb(str(moved["png"])), expected), "the preview is not Agg's"
    rng = random.Random(17)  # noqa: S311 - moves, not secrets
    previews = 0
    for step in range(SLIDES_PER_BURST):
        if step % 10 == 9:
            handles.sample_text.press("ArrowRight")  # a new generation: its sweep comes later
            handles.page.wait_for_timeout(PAUSE_MS)
        moved = _slide(handles, rng.randrange(48))
        previews += moved["preview"] is not None
        handles.page.wait_for_timeout(GAP_MS)
    assert handles.wait_until_settled(quiet_ms=QUIET_MS)
    expected = _agg_pixels(delivered, "canvas")
    shown = handles.canvas.evaluate("(canvas) => canvas.toDataURL('image/png')")
    assert np.array_equal(canvas_rgb(shown), expected), "the canvas is not the kernel's figure"
    assert previews >= SLIDES_PER_BURST // 2, f"only {previews} moves were previewed"
    assert handles.page_errors == []


def test_a_layer_slid_to_is_painted_in_the_same_task_and_is_the_kernels_figure(
    delivered: Delivered,
) -> None:
    """The kernel's move previews: a layer move, →, then a click on a thumbnail under the
    pointer, each painted before any answer, exactly Agg's pixels.

    Then bursts of layer slider moves and PageUp/PageDown presses 30 ms apart, channel moves
    and sample steps among them (after each, the previews held are stale until new ones come):
    once quiet, the canvas holds exactly the kernel's figure.
    """
    handles = delivered.figures["canvas"]
    handles.box.scroll_into_view_if_needed()
    delivered.lab.run_code("canvas_explorer.update(view='maps', layer='conv1', channel=5)")
    layers = int(handles.canvas.evaluate(
        "(c) => c.closest('.convscope').querySelector('input.convscope-layer').max"
    ))  # fmt: skip
    held = f"(canvas) => Number(canvas.dataset.moves) === {layers + 2}"  # other layers, ←, →
    handles.page.wait_for_function(held, arg=handles.canvas.element_handle(), timeout=30_000)
    moved = _slide(handles, 5, "layer")
    assert moved["after"] == moved["frame"], "the kernel answered within the input's task"
    assert moved["preview"] == "layer 5", "the layer was not painted at the input"
    assert handles.wait_until_settled(quiet_ms=QUIET_MS)
    expected = _agg_pixels(delivered, "canvas")
    assert np.array_equal(canvas_rgb(str(moved["png"])), expected), "the preview is not Agg's"
    handles.page.wait_for_function(held, arg=handles.canvas.element_handle(), timeout=30_000)
    stepped = handles.canvas.evaluate(STEP_JS)
    assert stepped["preview"] == "step 1", "→ was not painted at the key"
    assert handles.wait_until_settled(quiet_ms=QUIET_MS)
    expected = _agg_pixels(delivered, "canvas")
    assert np.array_equal(canvas_rgb(stepped["png"]), expected), "the step's preview is not Agg's"
    handles.page.wait_for_function(held, arg=handles.canvas.element_handle(), timeout=30_000)
    thumb = handles.box.locator(".convscope-thumbs button").nth(7)
    thumb.hover()  # the pointer on a thumbnail: the kernel makes its preview
    more = f"(canvas) => Number(canvas.dataset.moves) === {layers + 3}"
    handles.page.wait_for_function(more, arg=handles.canvas.element_handle(), timeout=30_000)
    clicked = thumb.evaluate(CLICK_JS)
    assert clicked["preview"] == f"sample {thumb.get_attribute('data-index')}", "not painted"
    assert handles.wait_until_settled(quiet_ms=QUIET_MS)
    expected = _agg_pixels(delivered, "canvas")
    assert np.array_equal(canvas_rgb(clicked["png"]), expected), "the click's preview is not Agg's"
    rng = random.Random(5)  # noqa: S311 - moves, not secrets
    previews = 0
    for step in range(SLIDES_PER_BURST):
        if step % 10 == 9:
            handles.sample_text.press(rng.choice(["ArrowRight", "ArrowUp", "PageDown"]))
        elif step % 5 == 4:
            previews += (
                handles.canvas.evaluate(PRESS_JS, [rng.choice(["PageUp", "PageDown"])]) is not None
            )
        else:
            previews += _slide(handles, rng.randrange(layers + 1), "layer")["preview"] is not None
        handles.page.wait_for_timeout(PAUSE_MS if step % 3 == 2 else GAP_MS)
    assert handles.wait_until_settled(quiet_ms=QUIET_MS)
    expected = _agg_pixels(delivered, "canvas")
    shown = handles.canvas.evaluate("(canvas) => canvas.toDataURL('image/png')")
    assert np.array_equal(canvas_rgb(shown), expected), "the canvas is not the kernel's figure"
    assert previews >= SLIDES_PER_BURST // 5, f"only {previews} moves were previewed"
    assert handles.error_banner.is_visible() is False
    assert handles.page_errors == []


STEP_JS = """(canvas) => {
  canvas.closest('.convscope').querySelector('.convscope-sample-text').dispatchEvent(
    new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true, cancelable: true }));
  return { preview: canvas.dataset.preview ?? null, png: canvas.toDataURL('image/png') };
}"""
PRESS_JS = """(canvas, keys) => {
  const root = canvas.closest('.convscope');
  for (const key of keys) {
    root.querySelector('.convscope-sample-text').dispatchEvent(
      new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true }));
  }
  return canvas.dataset.preview ?? null;
}"""


@pytest.mark.parametrize(
    ("start", "keys"),
    [
        (0, ["ArrowDown", "ArrowDown", "ArrowUp"]),
        (1, ["ArrowDown", "ArrowDown", "ArrowUp", "ArrowUp"]),
    ],
    ids=["no-frame-comes", "another-channel-comes"],
)
def test_a_preview_the_kernel_does_not_follow_gives_way_to_its_figure(
    delivered: Delivered, start: int, keys: list[str]
) -> None:
    """Presses past the first channel, all in one task: the page clamps each press, the kernel
    the sum of those that come in one batch, so the page previews a channel the kernel never
    goes to. From channel 0 no frame comes at all; from channel 1 the last frame is of another
    channel than the one previewed. Once answered, the canvas is exactly the kernel's figure."""
    handles = delivered.figures["canvas"]
    handles.box.scroll_into_view_if_needed()
    delivered.lab.run_code(f"canvas_explorer.update(view='maps', layer='conv2', channel={start})")
    sweep = "(canvas) => canvas.dataset.sweep !== undefined && canvas.dataset.preview === undefined"
    handles.page.wait_for_function(sweep, arg=handles.canvas.element_handle(), timeout=30_000)
    assert handles.canvas.evaluate(PRESS_JS, keys) is not None, "the presses were not previewed"
    assert handles.wait_until_settled(quiet_ms=QUIET_MS)
    expected = _agg_pixels(delivered, "canvas")
    shown = handles.canvas.evaluate("(canvas) => canvas.toDataURL('image/png')")
    assert np.array_equal(canvas_rgb(shown), expected), "a preview stayed over the figure"
    assert handles.page_errors == []
