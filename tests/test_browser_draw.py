"""The drawing pad in a real JupyterLab: draw with the mouse, watch the prediction follow.

The notebook is the keyboard test's: an ipympl Explorer (``figure="ipympl"``) and a default
one (the canvas path every host gets), on 200 real MNIST test digits. On each, a stroke drawn
with the mouse on the pad becomes the sample: the text under the sliders says what the model
predicts, the figure is repainted, and keys pressed on the pad never reach the notebook.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Locator, Page

from jupyter_harness import (
    LabNotebook,
    changed_fraction,
    chromium_page,
    jupyter_lab_server,
    save_small_png,
    screenshot,
)
from test_browser import ARTIFACTS, _require_chromium
from test_browser_keyboard import COMMAND_MODE_KEYS, Lab, _notebook

pytestmark = pytest.mark.browser

PREDICTED = re.compile(r"^your drawing\s+·\s+predicted (\d) \(")


@pytest.fixture(scope="module")
def lab(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    _require_chromium()
    notebook = _notebook(tmp_path_factory.mktemp("draw"))
    env = {"CONVSCOPE_MNIST_DIR": str(mnist_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with jupyter_lab_server([notebook], env=env) as server, chromium_page() as page:
        opened = LabNotebook.open(page, server, notebook.name)
        opened.run_all_cells(timeout_ms=120_000)
        lab = Lab(page, opened)
        for index in (0, 1):
            lab.explorer(index).locator(".convscope-thumb").first.wait_for()
        yield lab
        page.screenshot(path=ARTIFACTS / "draw-last.png")


def figure_of(lab: Lab, which: int) -> Locator:
    """The figure a user looks at: the ipympl canvas above the controls, or the canvas inside."""
    if which == 1:
        return lab.explorer(1).locator("canvas.convscope-figure")
    box = lab.page.locator(".jp-OutputArea-output .widget-vbox:has(.convscope)").first
    return box.locator(".jupyter-matplotlib-canvas-div canvas").first


def open_pad(explorer: Locator) -> Locator:
    pad = explorer.locator(".convscope-pad")
    if not pad.evaluate("(details) => details.open"):
        pad.locator("summary").click()
    canvas = pad.locator("canvas.convscope-pad-canvas")
    canvas.scroll_into_view_if_needed()
    return canvas


def stroke(page: Page, canvas: Locator, points: list[tuple[float, float]]) -> None:
    """Draw through ``points`` (fractions of the pad from its top-left) with the mouse."""
    box = canvas.bounding_box()
    assert box is not None, "the pad is not visible"
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=2)
    page.mouse.up()


def prediction(explorer: Locator, other_than: str | None = None) -> str:
    """Wait for the sample text to name the drawing's prediction (another one, if given)."""
    text = explorer.locator(".convscope-sample-text")
    pattern = PREDICTED
    if other_than is not None:
        pattern = re.compile(rf"^your drawing\s+·\s+predicted (?!{other_than}\b)\d")
    text.filter(has_text=pattern).wait_for(timeout=30_000)
    found = PREDICTED.match(text.inner_text())
    assert found, text.inner_text()
    return found.group(1)


def settled_shot(figure: Locator, before: np.ndarray | None = None) -> np.ndarray:
    """A screenshot once the figure stopped changing (and differs from ``before``)."""
    last = screenshot(figure)
    for _ in range(60):
        time.sleep(0.25)
        shot = screenshot(figure)
        if np.array_equal(shot, last) and (before is None or changed_fraction(before, shot) > 0):
            return shot
        last = shot
    return last


ZERO = [
    (0.5 + 0.22 * math.sin(2 * math.pi * t / 24), 0.5 - 0.3 * math.cos(2 * math.pi * t / 24))
    for t in range(26)
]
ONE = [(0.52, 0.18), (0.5, 0.5), (0.48, 0.82)]


@pytest.mark.parametrize("which", [0, 1], ids=["ipympl", "png"])
def test_drawing_with_the_mouse_changes_the_prediction_and_the_figure(lab: Lab, which: int) -> None:
    page, explorer = lab.page, lab.explorer(which)
    figure = figure_of(lab, which)
    pad = open_pad(explorer)
    assert explorer.locator(".convscope-sample-text").inner_text().startswith("sample ")
    before = settled_shot(figure)

    stroke(page, pad, ONE)
    first = prediction(explorer)
    assert first == "1"
    drawn_one = settled_shot(figure, before)
    assert changed_fraction(before, drawn_one) > 0.02, "the figure did not show the drawing"
    assert explorer.locator(".convscope-pad.drawn").count() == 1
    assert explorer.locator(".convscope-thumb.current").count() == 0

    explorer.locator("button.convscope-pad-clear").click()
    explorer.locator(".convscope-sample-text").filter(
        has_text=re.compile(r"^your drawing\s+·\s+draw a digit$")
    ).wait_for(timeout=30_000)
    stroke(page, pad, ZERO)
    assert prediction(explorer, other_than=first) == "0"
    drawn_zero = settled_shot(figure, drawn_one)
    assert changed_fraction(drawn_one, drawn_zero) > 0.02
    assert explorer.locator(".convscope-error").is_hidden()
    if which == 1:  # the README's picture: the figure, the controls and the pad
        widget = screenshot(explorer)
        top, pad_box = explorer.bounding_box(), pad.bounding_box()
        assert top is not None
        assert pad_box is not None
        bottom = round(pad_box["y"] + pad_box["height"] - top["y"]) + 6
        save_small_png(widget[:bottom], ARTIFACTS / "draw-pad-widget.png", max_width=760)

    explorer.locator("button.convscope-thumb").nth(3).click()  # a thumbnail leaves the drawing
    explorer.locator(".convscope-sample-text").filter(has_text=re.compile(r"^sample ")).wait_for()
    assert explorer.locator(".convscope-pad.drawn").count() == 0
    assert lab.notebook.page_errors == []


@pytest.mark.parametrize("which", [0, 1], ids=["ipympl", "png"])
def test_keys_on_the_pad_never_reach_the_notebook(lab: Lab, which: int) -> None:
    page, explorer = lab.page, lab.explorer(which)
    pad = open_pad(explorer)
    cells = lab.cells()
    assert cells == ["markdown", "code", "code", "markdown", "code"]
    stroke(page, pad, ONE)  # a stroke focuses the pad, as a click does
    assert pad.evaluate("(canvas) => document.activeElement === canvas")
    active = lab.active_cell()
    assert active == which + 1
    for key in COMMAND_MODE_KEYS:
        page.keyboard.press(key)
    time.sleep(0.3)  # `d d` fires on the second `d`; give a stray command time to land
    assert lab.cells() == cells, "keys on the pad changed the notebook's cells"
    assert lab.active_cell() == active
    pad.focus()
    for key in ("Enter", "Escape", " ", "Backspace"):
        page.keyboard.press(key)
    time.sleep(0.3)
    assert lab.cells() == cells
    assert lab.notebook.page_errors == []
