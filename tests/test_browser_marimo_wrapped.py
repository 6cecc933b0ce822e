"""The Explorer in marimo wrapped in ``mo.ui.anywidget``: other cells react to its state.

``marimo run`` serves ``tests/marimo_wrapped.py`` (the Explorer on 200 real MNIST test digits,
and a cell that reads ``wrapped.value``) in headless Chromium. A module of its own: each
module's marimo server and browser end before the next one's start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_browser import ARTIFACTS
from test_browser_marimo import MarimoExplorer, _settled_pixels, served

pytestmark = pytest.mark.browser

WRAPPED_APP = Path(__file__).resolve().parent / "marimo_wrapped.py"


@pytest.fixture(scope="module")
def wrapped(mnist_dir: Path) -> Iterator[MarimoExplorer]:
    with served(WRAPPED_APP, mnist_dir) as shown:
        yield shown


def test_a_cell_that_reads_a_wrapped_explorer_follows_every_press(
    wrapped: MarimoExplorer,
) -> None:
    """``mo.ui.anywidget(explorer)``: the widget works as itself, and a cell that reads
    ``wrapped.value`` runs again after each move, ending at the kernel's state after a burst
    of keys pressed with no wait between them."""
    page, controls = wrapped.page, wrapped.controls

    def watching(sample: int, channel: int) -> None:
        text = f"watching sample {sample} of conv1, channel {channel}"
        page.get_by_text(text, exact=True).wait_for(timeout=60_000)

    watching(0, 0)
    old_frame = wrapped.figure.get_attribute("data-frame")
    controls.locator("button.convscope-next").click()
    watching(1, 0)
    wrapped.wait_for_figure(old_frame, timeout_ms=30_000)

    controls.locator(".convscope-sample-text").click()  # keys act on the widget from here
    for key in ["ArrowRight"] * 6 + ["ArrowUp"] * 5 + ["ArrowLeft"] * 2:
        page.keyboard.press(key)
    sample_line = controls.locator(".convscope-sample-text")
    sample_line.filter(has_text=re.compile(r"^sample 5 ")).wait_for(timeout=30_000)
    watching(5, 5)
    assert controls.locator("input.convscope-channel").input_value() == "5"
    shown = _settled_pixels(wrapped, None)
    assert shown.std() > 30  # feature maps, not a blank canvas
    page.screenshot(path=ARTIFACTS / "marimo-wrapped.png", full_page=True)
    banner = controls.locator(".convscope-error")
    assert not banner.is_visible(), f"the widget shows an error: {banner.inner_text()!r}"
    assert wrapped.errors == []
