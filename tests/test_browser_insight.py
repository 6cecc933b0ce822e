"""The dataset-insight notebook in a real JupyterLab: dragging the epoch slider replays training."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_harness import (
    ExplorerHandles,
    LabNotebook,
    changed_fraction,
    chromium_page,
    drag_slider,
    jupyter_lab_server,
    save_small_png,
    screenshot,
)
from test_browser import ARTIFACTS, MOSAIC_PANEL, _require_chromium

CLASS_PANEL = (slice(280, 450), slice(680, 900))  # the probability bars, under the channel
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "dataset_insight.ipynb"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def explorer(mnist_env: dict[str, str]) -> Iterator[ExplorerHandles]:
    _require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with jupyter_lab_server([NOTEBOOK], env=mnist_env) as server, chromium_page() as page:
        lab = LabNotebook.open(page, server, NOTEBOOK.name)
        lab.run_all_cells(timeout_ms=180_000)
        handles = lab.wait_for_explorer(timeout_ms=90_000)
        assert handles.wait_until_settled(), "the Explorer figure never stopped changing"
        yield handles


def test_dragging_the_epoch_slider_replays_training(explorer: ExplorerHandles) -> None:
    slider = explorer.controls.locator("input.convscope-epoch")
    label = explorer.controls.locator(".convscope-epoch + .convscope-value")
    assert slider.is_visible()
    assert label.inner_text().startswith("epoch 30 of 30")
    assert explorer.controls.locator(".convscope-curve polyline").count() == 3
    explorer.box.evaluate("(box) => box.scrollIntoView({ block: 'start' })")
    trained = screenshot(explorer.figure, ARTIFACTS / "insight-01-epoch-30.png")
    text = explorer.sample_text.inner_text()
    fingerprint = explorer.fingerprint()

    assert drag_slider(explorer.page, slider, 0) == 0

    label.filter(has_text=re.compile(r"^epoch 0 of 30")).wait_for(timeout=30_000)
    # The kernel's answer: a first visit to an epoch predicts every digit once (about 1 s).
    explorer.sample_text.filter(has_text=re.compile(r"predicted \d \((?!100)")).wait_for(
        timeout=30_000
    )
    assert explorer.wait_until_settled(changed_from=fingerprint), "the figure was not redrawn"
    untrained = screenshot(explorer.figure, ARTIFACTS / "insight-02-epoch-0.png")
    save_small_png(explorer.widget_pixels(), ARTIFACTS / "insight-02-epoch-0-widget.png")
    mosaic = changed_fraction(trained[MOSAIC_PANEL], untrained[MOSAIC_PANEL])
    bars = changed_fraction(trained[CLASS_PANEL], untrained[CLASS_PANEL])
    print(f"epoch 30 → 0: {mosaic:.1%} of the mosaic, {bars:.1%} of the class bars changed")
    # Most of the mosaic is background, alike at every epoch; the maps' strokes are not.
    assert mosaic > 0.02, f"only {mosaic:.1%} of the feature maps changed"
    assert bars > 0.05, f"only {bars:.1%} of the class bars changed"
    assert explorer.sample_text.inner_text() != text  # the prediction is a guess now
    assert label.inner_text().startswith("epoch 0 of 30")
    assert not explorer.error_banner.is_visible()
    marker = explorer.controls.locator(".convscope-curve line")
    assert float(marker.get_attribute("x1") or -1) < 5  # the curve marks epoch 0
