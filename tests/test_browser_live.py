"""Watch it learn, in a real JupyterLab: ``ex.fit`` trains the untrained CNN on the offline digits
while the page stays interactive, the epoch slider grows, and conv1 changes from first to last."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jupyter_harness import (
    LabNotebook,
    changed_fraction,
    chromium_page,
    drag_slider,
    jupyter_lab_server,
    screenshot,
    write_notebook,
)
from test_browser import ARTIFACTS, MOSAIC_PANEL, _require_chromium

pytestmark = pytest.mark.browser

CELLS = [
    (
        "import convscope\n"
        "from convscope.data.mnist import offline_digits\n"
        "x, y = offline_digits('train')\n"
        "shown, shown_labels = offline_digits('test')\n"
        "model = convscope.mnist_cnn(pretrained=False)\n"
        "ex = convscope.Explorer(model, shown[:100], shown_labels[:100], figure='png')\n"
        "ex"
    ),
]


def _slider_max(slider: object) -> int:
    return int(slider.evaluate("(s) => Number(s.max)"))  # type: ignore[attr-defined]


def test_training_grows_the_slider_answers_the_page_and_changes_conv1(
    mnist_env: dict[str, str], tmp_path: Path
) -> None:
    _require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    notebook = write_notebook(tmp_path / "live.ipynb", CELLS)
    with jupyter_lab_server([notebook], env=mnist_env) as server, chromium_page() as page:
        lab = LabNotebook.open(page, server, notebook.name)
        lab.run_all_cells(timeout_ms=120_000)
        explorer = lab.wait_for_explorer(timeout_ms=90_000)
        controls = explorer.controls
        training = controls.locator(".convscope-training-text")
        epoch_slider = controls.locator("input.convscope-epoch")
        figure = controls.locator("canvas.convscope-figure")

        lab.run_code("run = ex.fit(x[..., None], y, epochs=20, batch_size=64, every=5)")
        training.filter(has_text=re.compile(r"^training: step")).wait_for(timeout=60_000)
        page.wait_for_function(
            "(s) => Number(s.max) >= 2", arg=epoch_slider.element_handle(), timeout=60_000
        )
        grown_from = _slider_max(epoch_slider)

        # While it trains, the page answers: a channel move repaints with that channel.
        frame = figure.get_attribute("data-frame") or ""
        assert drag_slider(page, explorer.channel_slider, 9) == 9
        controls.locator(".convscope-channel + .convscope-value").filter(
            has_text=re.compile(r"\b9\b")
        ).wait_for(timeout=30_000)
        page.wait_for_function(
            "([c, old]) => c.dataset.frame !== old",
            arg=[figure.element_handle(), frame],
            timeout=30_000,
        )
        assert re.match(r"^training: step", training.inner_text())  # still training
        page.wait_for_function(
            "([s, n]) => Number(s.max) > n",
            arg=[epoch_slider.element_handle(), grown_from],
            timeout=60_000,
        )

        # Stop from the page: the snapshots stay, the view ends on the last one.
        controls.locator("button.convscope-train-stop").click()
        training.filter(has_text=re.compile(r"^training stopped")).wait_for(timeout=60_000)
        assert explorer.wait_until_settled(), "the figure never settled after stopping"
        last_count = _slider_max(epoch_slider)
        assert last_count > grown_from
        lab.run_code(
            "assert ex.epoch == run.epochs[-1] and ex.layer == 'conv1', (ex.epoch, ex.layer)\n"
            "ex.update(channel=0)"
        )
        assert explorer.wait_until_settled()
        last = screenshot(figure, ARTIFACTS / "live-01-last-snapshot.png")

        fingerprint = explorer.fingerprint()
        assert drag_slider(page, epoch_slider, 0) == 0
        controls.locator(".convscope-epoch + .convscope-value").filter(
            has_text=re.compile(r"^step 0 ")
        ).wait_for(timeout=30_000)
        assert explorer.wait_until_settled(changed_from=fingerprint), "conv1 was not redrawn"
        first = screenshot(figure, ARTIFACTS / "live-02-first-snapshot.png")
        # conv1's maps (the mosaic) differ between the untrained and the trained weights.
        # (The 24 maps cover about a third of the panel; the rest is white margin.)
        assert changed_fraction(first[MOSAIC_PANEL], last[MOSAIC_PANEL]) > 0.01
        lab.run_code("assert ex.epoch == 0 and not ex.follow")
        assert not explorer.page_errors
