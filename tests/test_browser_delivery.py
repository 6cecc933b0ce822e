"""What reaches the screen is exactly the figure: after random jumps, in both figure paths.

One JupyterLab page holds two Explorers on the 10,000 MNIST test digits: one on the ipympl
canvas (JupyterLab's default), one on the PNG-free canvas path (what Colab, VS Code and marimo
get), both driven by clicks on thumbnails and slider moves. After each round, a screenshot of
the figure is compared with the figure's own Agg buffer, read from the kernel. Each comparison
also checks that the figure before the round's last move would not have passed: a page that
kept showing an older frame fails. All of it runs at a device scale factor of 1, then of 2 (a
HiDPI screen, where both paths draw twice the pixels: the screenshot is then 1800×900).
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
    ExplorerHandles,
    JupyterServer,
    LabNotebook,
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
    'canvas_explorer = convscope.Explorer(figure="png")\ncanvas_explorer',
]
MEAN_TOLERANCE = 2.0  # mean absolute difference, in levels of 255
PIXEL_TOLERANCE = 8  # ...and 99 % of the pixels within this many levels in every channel


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


def _difference(shown: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """Mean absolute difference, and the share of pixels off by more than PIXEL_TOLERANCE."""
    assert shown.shape == expected.shape, f"{shown.shape} on screen, {expected.shape} in Agg"
    delta = np.abs(shown.astype(np.int16) - expected.astype(np.int16))
    return float(delta.mean()), float((delta.max(axis=-1) > PIXEL_TOLERANCE).mean())


def _moves(handles: ExplorerHandles, rng: random.Random) -> Iterator[str]:
    """A random jump through the thumbnails, a channel move and a layer move, as a user does."""
    controls = handles.controls

    def slide(slider: Locator, values: range) -> None:
        current = int(slider.input_value())
        value = rng.choice([v for v in values if v != current])
        slider.evaluate(
            "(s, v) => { s.value = String(v); s.dispatchEvent(new Event('input', "
            "{ bubbles: true })); s.dispatchEvent(new Event('change', { bubbles: true })); }",
            value,
        )

    for _ in range(rng.randint(0, 3)):  # turn to another page of thumbnails first
        controls.locator(".convscope-page-next").click()
        handles.page.wait_for_timeout(150)
    thumbs = controls.locator(".convscope-thumbs button.convscope-thumb:not(.current)")
    thumbs.nth(rng.randrange(thumbs.count())).click()
    yield "thumbnail"
    slide(handles.channel_slider, range(int(handles.channel_slider.get_attribute("max") or 0)))
    yield "channel"
    slide(handles.layer_slider, range(1, 7))  # conv1 to pool3: each looks unlike the others
    yield "layer"


@pytest.mark.parametrize("name", ["ipympl", "canvas"])
def test_the_screen_shows_exactly_the_figure_after_random_jumps(
    delivered: Delivered, name: str
) -> None:
    handles = delivered.figures[name]
    handles.box.scroll_into_view_if_needed()
    rng = random.Random(name)  # noqa: S311 - moves, not secrets
    for round_ in range(3):
        previous = None
        for move in _moves(handles, rng):
            assert handles.wait_until_settled(quiet_ms=600), f"{name}: the figure never settled"
            if move == "channel":  # the figure before the last move
                previous = _agg_pixels(delivered, name)
        expected = _agg_pixels(delivered, name)
        shot = _screen_pixels(handles, name)
        shown = _aligned(shot, expected)
        mean, off = _difference(shown, expected)
        assert mean < MEAN_TOLERANCE, f"{name}, round {round_}: mean difference {mean:.2f}"
        assert off < 0.01, f"{name}, round {round_}: {off:.2%} of the pixels differ"
        assert previous is not None
        stale_mean, stale_off = _difference(_aligned(shot, previous), previous)  # the one before
        assert stale_mean >= MEAN_TOLERANCE or stale_off >= 0.01, (
            "the test cannot tell frames apart"
        )
    assert not handles.error_banner.is_visible()
    assert handles.page_errors == []
