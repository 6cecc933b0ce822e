"""The canvas path (every host's default) in a real page: the figure arrives inside the widget,
and a slider drag replaces it with the new view.

The same JupyterLab harness runs the quickstart with ``CONVSCOPE_FIGURE=png``, which names the
default path explicitly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Locator, Page

from jupyter_harness import (
    LabNotebook,
    changed_fraction,
    chromium_page,
    colour_bbox,
    drag_slider,
    jupyter_lab_server,
    screenshot,
)
from test_browser import ARTIFACTS, NOTEBOOK, _require_chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def png_widget(mnist_env: dict[str, str]) -> Iterator[tuple[Page, Locator]]:
    _require_chromium()
    env = {**mnist_env, "CONVSCOPE_FIGURE": "png"}
    with jupyter_lab_server([NOTEBOOK], env=env) as server, chromium_page() as page:
        lab = LabNotebook.open(page, server, NOTEBOOK.name)
        lab.run_all_cells(timeout_ms=120_000)
        controls = page.locator(".jp-OutputArea-output .convscope").first
        image = controls.locator("canvas.convscope-figure")
        image.wait_for(state="visible", timeout=60_000)
        page.wait_for_function("(canvas) => canvas.dataset.frame", arg=image.element_handle())
        yield page, controls


def _figure(controls: Locator, name: str) -> np.ndarray:
    image = controls.locator("canvas.convscope-figure")
    image.scroll_into_view_if_needed()
    return screenshot(image, ARTIFACTS / f"png-{name}.png")


def _wait_for_new_image(page: Page, controls: Locator, old_frame: str) -> None:
    image = controls.locator("canvas.convscope-figure")
    page.wait_for_function(
        "([canvas, old]) => canvas.dataset.frame !== old",
        arg=[image.element_handle(), old_frame],
        timeout=30_000,
    )
    time.sleep(0.2)  # let the page paint the frame


def test_png_figure_is_shown_inside_the_widget(png_widget: tuple[Page, Locator]) -> None:
    page, controls = png_widget
    image = controls.locator("canvas.convscope-figure")
    natural = image.evaluate("(canvas) => [canvas.width, canvas.height]")
    assert natural == [900, 450]
    assert page.locator(".jupyter-matplotlib-canvas-div").count() == 0  # no ipympl here
    figure = _figure(controls, "01-initial")
    assert figure.std() > 30  # feature maps, not a blank image
    assert colour_bbox(figure) is not None  # the channel outline is drawn


def test_png_figure_follows_the_channel_slider(png_widget: tuple[Page, Locator]) -> None:
    page, controls = png_widget
    image = controls.locator("canvas.convscope-figure")
    before, old_frame = _figure(controls, "02-before"), image.get_attribute("data-frame") or ""
    outline_before = colour_bbox(before)
    slider = controls.locator("input.convscope-channel")
    target = 40 if int(slider.input_value()) < 24 else 8
    assert drag_slider(page, slider, target) == target
    _wait_for_new_image(page, controls, old_frame)
    after = _figure(controls, "03-channel-dragged")
    assert changed_fraction(before, after) > 0.03
    assert colour_bbox(after) != outline_before, "the channel outline did not move"
    assert not controls.locator(".convscope-error").is_visible()
