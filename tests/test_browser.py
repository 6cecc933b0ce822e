"""The Explorer in a real JupyterLab, in headless Chromium, driven with the mouse like a user.

One JupyterLab server and one browser serve the whole module: the quickstart notebook is run
once, then each test drags a slider or clicks a thumbnail and checks what a user would see in
the figure's pixels. Screenshots of every step go to ``test-artifacts/browser/``. Set
``CONVSCOPE_README_SCREENSHOT`` to a path to also write the README's picture of the widget.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Locator

from jupyter_harness import (
    CHROMIUM,
    ExplorerHandles,
    LabNotebook,
    changed_fraction,
    chromium_page,
    colour_bbox,
    drag_slider,
    jupyter_lab_server,
    save_small_png,
    screenshot,
)
from real_mnist import EndToEndDigits

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
README_SHOT_LIMIT = 250_000  # bytes

pytestmark = pytest.mark.browser

# The figure is 900×450 px: input digit | channel mosaic | selected channel over the classes.
INPUT_PANEL = (slice(40, 250), slice(10, 190))  # rows, columns around the input digit
MOSAIC_PANEL = (slice(0, 450), slice(200, 655))


def _require_chromium() -> None:
    if CHROMIUM.is_file():
        return
    message = (
        f"The browser tests need Chromium at {CHROMIUM}; install it with "
        "`apt-get install -y chromium` (Playwright's own browser downloads are not used)."
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def explorer(mnist_env: dict[str, str]) -> Iterator[ExplorerHandles]:
    """Run the quickstart notebook in JupyterLab and yield its rendered Explorer."""
    _require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    started = time.monotonic()
    env = {**mnist_env, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with jupyter_lab_server([NOTEBOOK], env=env) as server, chromium_page() as page:
        try:
            try:
                lab = LabNotebook.open(page, server, NOTEBOOK.name)
                lab.run_all_cells(timeout_ms=120_000)
                handles = lab.wait_for_explorer(timeout_ms=60_000)
                assert handles.wait_until_settled(), "the Explorer figure never stopped changing"
            except Exception:
                page.screenshot(path=ARTIFACTS / "setup-failed-page.png")
                raise
            print(f"notebook run and Explorer painted in {time.monotonic() - started:.1f} s")
            yield handles
        finally:
            (ARTIFACTS / "server.log").write_text(server.log_text())


def _bring_into_view(explorer: ExplorerHandles) -> None:
    explorer.box.evaluate("(box) => box.scrollIntoView({ block: 'start' })")


def _shoot(explorer: ExplorerHandles, step: str) -> np.ndarray:
    """Save ``{step}-page.png`` and ``{step}-figure.png``; return the figure's pixels."""
    _bring_into_view(explorer)
    explorer.page.screenshot(path=ARTIFACTS / f"{step}-page.png", animations="disabled")
    return screenshot(explorer.figure, ARTIFACTS / f"{step}-figure.png")


def _assert_no_error(explorer: ExplorerHandles) -> None:
    banner = explorer.error_banner
    assert not banner.is_visible(), f"the widget shows an error: {banner.text_content()!r}"


def _channel_count(explorer: ExplorerHandles) -> int:
    """Channels of the layer named in the layer label, e.g. ``conv3 · Conv2D · 7×7×64`` → 64."""
    label = explorer.layer_slider.locator("xpath=following-sibling::span[1]").inner_text()
    return int(label.split("×")[-1].split()[-1])


def _outline(figure: np.ndarray) -> tuple[int, int, int, int]:
    box = colour_bbox(figure[MOSAIC_PANEL])
    assert box is not None, "no #ff2d55 channel outline in the mosaic"
    x0, y0, x1, y1 = box
    left = MOSAIC_PANEL[1].start
    return x0 + left, y0, x1 + left, y1


def test_explorer_renders_in_jupyterlab(explorer: ExplorerHandles) -> None:
    _assert_no_error(explorer)
    figure = _shoot(explorer, "01-initial")
    assert figure.shape[:2] == (450, 900), f"figure is {figure.shape[1]}×{figure.shape[0]} px"
    # The lesson left its first Explorer on conv2, channel 5, sample 42 (part 6).
    assert explorer.sample_text.inner_text().startswith("sample 42 ")
    assert explorer.layer_slider.input_value() == "3"
    assert explorer.channel_slider.input_value() == "5"
    x0, y0, x1, y1 = _outline(figure)
    assert 20 < x1 - x0 < 120, f"outline is {x1 - x0} px wide"
    assert 20 < y1 - y0 < 120, f"outline is {y1 - y0} px high"
    # A page of thumbnails with "label→prediction" captions, the current one highlighted.
    thumbs = explorer.thumbnails
    assert thumbs.count() == 48
    assert re.fullmatch(r"\d→\d", thumbs.first.inner_text().strip())
    current = explorer.controls.locator("button.convscope-thumb.current")
    assert current.get_attribute("data-index") == "42"
    layer_box = explorer.layer_slider.bounding_box()
    channel_box = explorer.channel_slider.bounding_box()
    assert layer_box is not None
    assert channel_box is not None
    assert (layer_box["x"], layer_box["width"]) == pytest.approx(
        (channel_box["x"], channel_box["width"]), abs=1
    ), "the layer and channel sliders do not line up"
    for part in (explorer.layer_slider, explorer.channel_slider, thumbs.first):
        box = part.bounding_box()
        assert box is not None, part
        assert box["width"] > 30, part
        assert box["height"] > 10, part

    widget = explorer.widget_pixels()
    save_small_png(widget, ARTIFACTS / "01-initial-widget.png")
    readme = os.environ.get("CONVSCOPE_README_SCREENSHOT")
    if readme:
        size = save_small_png(widget, Path(readme))
        assert size < README_SHOT_LIMIT, f"{readme} is {size:,} bytes, over the README's budget"


def test_dragging_the_layer_slider_redraws_the_figure(explorer: ExplorerHandles) -> None:
    slider = explorer.layer_slider
    start = int(slider.input_value())
    target = 5 if start != 5 else 1  # conv3 (7×7×64), or conv1 (28×28×24)
    before = screenshot(explorer.figure)
    fingerprint = explorer.fingerprint()
    width = slider.evaluate("(s) => s.getBoundingClientRect().width")

    reached = drag_slider(explorer.page, slider, target)

    assert reached == target, f"the drag left the layer slider on {reached}, not {target}"
    # The label next to the slider names the layer; its width must not resize the slider.
    assert slider.evaluate("(s) => s.getBoundingClientRect().width") == width
    count = _channel_count(explorer)
    # The channel count comes back from the kernel: proof that it applied the new layer.
    channel_label = explorer.controls.locator(".convscope-channel + .convscope-value")
    channel_label.filter(has_text=re.compile(rf"of {count}$")).wait_for(timeout=30_000)
    assert explorer.wait_until_settled(changed_from=fingerprint), "the figure was not redrawn"
    after = _shoot(explorer, "02-layer-dragged")
    _assert_no_error(explorer)
    assert slider.input_value() == str(target), "the kernel moved the layer slider back"
    changed = changed_fraction(before, after)
    mosaic = changed_fraction(before[MOSAIC_PANEL], after[MOSAIC_PANEL])
    print(f"layer {start}→{target}: {changed:.1%} of the figure, {mosaic:.1%} of the mosaic")
    assert changed > 0.15, f"only {changed:.1%} of the figure changed"
    assert mosaic > 0.30, f"only {mosaic:.1%} of the channel mosaic changed"


def test_dragging_the_channel_slider_moves_the_outline(explorer: ExplorerHandles) -> None:
    slider = explorer.channel_slider
    count = int(slider.get_attribute("max") or 0) + 1
    assert count >= 8, f"the layer in view has only {count} channels"
    start = int(slider.input_value())
    target = (3 * count) // 4 if start < count // 2 else count // 4
    before = screenshot(explorer.figure)
    outline_before = _outline(before)
    fingerprint = explorer.fingerprint()

    reached = drag_slider(explorer.page, slider, target)

    assert reached == target, f"the drag left the channel slider on {reached}, not {target}"
    assert explorer.wait_until_settled(changed_from=fingerprint), "the figure was not redrawn"
    after = _shoot(explorer, "03-channel-dragged")
    _assert_no_error(explorer)
    assert slider.input_value() == str(target), "the kernel moved the channel slider back"
    changed = changed_fraction(before, after)
    outline_after = _outline(after)
    print(f"channel {start}→{target}: {changed:.1%} changed, {outline_before}→{outline_after}")
    assert changed > 0.03, f"only {changed:.1%} of the figure changed"
    # Same layer, so same cell size; the cell moved in row-major order, as the channel did.
    sizes = [(x1 - x0, y1 - y0) for x0, y0, x1, y1 in (outline_before, outline_after)]
    assert np.abs(np.subtract(*sizes)).max() <= 3, f"outline size changed: {sizes}"
    (bx, by), (ax, ay) = [
        ((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in (outline_before, outline_after)
    ]
    assert abs(ax - bx) + abs(ay - by) > 20, "the channel outline did not move"
    same_row = abs(ay - by) < sizes[0][1] / 2
    forward = ax > bx if same_row else ay > by
    assert forward == (target > start), "the outline moved the wrong way through the mosaic"


def test_clicking_a_thumbnail_shows_that_sample(explorer: ExplorerHandles) -> None:
    text_before = explorer.sample_text.inner_text()
    current = int(text_before.split()[1])
    label = re.search(r"label (\S+)", text_before)
    assert label is not None, text_before
    captions = explorer.thumbnails.evaluate_all(
        "(cells) => cells.map((c) => [Number(c.dataset.index), c.innerText.trim()])"
    )
    # Another sample of another class ("label→prediction" caption), so the digit looks different.
    index = next(i for i, caption in captions if caption.split("→")[0] != label[1])
    before = screenshot(explorer.figure)
    fingerprint = explorer.fingerprint()

    explorer.controls.locator(f'button.convscope-thumb[data-index="{index}"]').click()

    explorer.sample_text.filter(has_text=re.compile(rf"^sample {index}\b")).wait_for(timeout=30_000)
    assert explorer.wait_until_settled(changed_from=fingerprint), "the figure was not redrawn"
    after = _shoot(explorer, "04-thumbnail-clicked")
    _assert_no_error(explorer)
    text_after = explorer.sample_text.inner_text()
    assert text_after != text_before
    current_cell = explorer.controls.locator("button.convscope-thumb.current")
    assert current_cell.get_attribute("data-index") == str(index)
    digit = changed_fraction(before[INPUT_PANEL], after[INPUT_PANEL])
    print(f"sample {current}→{index}: {digit:.1%} of the input panel changed ({text_after!r})")
    assert digit > 0.05, f"only {digit:.1%} of the input digit panel changed"


def test_switching_views_changes_the_picture(explorer: ExplorerHandles) -> None:
    select = explorer.controls.locator("select.convscope-view")
    options = select.evaluate("(s) => [...s.options].map((o) => o.value)")
    assert options == ["maps", "heatmap", "grad-cam", "pattern"]
    class_picker = explorer.controls.locator("select.convscope-target-class")
    assert not class_picker.is_visible(), "the Grad-CAM class picker shows in the maps view"
    maps = screenshot(explorer.figure)
    pictures = {}
    for step, view in enumerate(("heatmap", "grad-cam", "pattern"), start=5):
        fingerprint = explorer.fingerprint()
        select.select_option(view)
        # Patterns take a few seconds, in the background: the figure changes when they are there.
        settled = explorer.wait_until_settled(changed_from=fingerprint, timeout_ms=90_000)
        assert settled, f"the figure was not redrawn for the {view} view"
        pictures[view] = _shoot(explorer, f"0{step}-view-{view}")
        _assert_no_error(explorer)
        assert class_picker.is_visible() == (view == "grad-cam")
        mosaic = changed_fraction(maps[MOSAIC_PANEL], pictures[view][MOSAIC_PANEL])
        print(f"view {view}: {mosaic:.1%} of the big panel changed")
        assert mosaic > 0.30, f"only {mosaic:.1%} of the big panel changed for {view}"
        if view == "grad-cam":  # another class, another map
            fingerprint = explorer.fingerprint()
            predicted = class_picker.input_value()
            class_picker.select_option(index=3 if predicted != "2" else 4)
            assert explorer.wait_until_settled(changed_from=fingerprint), "class change not drawn"
            changed = changed_fraction(
                pictures[view][MOSAIC_PANEL], screenshot(explorer.figure)[MOSAIC_PANEL]
            )
            assert changed > 0.02, f"only {changed:.1%} changed for another class"
    assert explorer.controls.locator(".convscope-status").inner_text().strip() == ""
    fingerprint = explorer.fingerprint()
    select.select_option("maps")
    assert explorer.wait_until_settled(changed_from=fingerprint)
    back = screenshot(explorer.figure)
    assert changed_fraction(maps[MOSAIC_PANEL], back[MOSAIC_PANEL]) < 0.01, "maps did not come back"


def _wait_for_count(explorer: ExplorerHandles, label: Locator, count: int) -> None:
    """Wait until the pager says ``· {count} samples``."""
    explorer.page.wait_for_function(
        r"([label, count]) => label.textContent.replace(/\s+/g, ' ').trim()"
        r".endsWith(`· ${count} samples`)",
        arg=[label.element_handle(), count],
        timeout=30_000,
    )


def test_channel_panel_and_confusion_matrix_lead_to_samples(
    explorer: ExplorerHandles, e2e_digits: EndToEndDigits, model
) -> None:
    from convscope import confusion

    count_text = f"{len(e2e_digits.labels):,}"
    controls = explorer.controls
    controls.locator(".convscope-panel summary").click()
    strongest = controls.locator(".convscope-panel-thumbs button.convscope-thumb")
    strongest.first.wait_for(timeout=60_000)  # one pass over the digits, once
    assert strongest.count() == 9
    text = controls.locator(".convscope-panel-text").inner_text()
    assert re.search(r"(alive|DEAD).*fires on [\d.]+% of " + count_text + r" samples", text), text
    target = strongest.nth(4)
    index = int(target.get_attribute("data-index") or -1)
    fingerprint = explorer.fingerprint()
    target.click()
    explorer.sample_text.filter(has_text=re.compile(rf"^sample {index}\b")).wait_for(timeout=30_000)
    assert explorer.wait_until_settled(changed_from=fingerprint), "the figure was not redrawn"
    _bring_into_view(explorer)
    save_small_png(explorer.widget_pixels(), ARTIFACTS / "08-channel-panel-widget.png")
    _assert_no_error(explorer)

    controls.locator(".convscope-confusion summary").click()
    # The most common mistake, as convscope.confusion counts it; its cell shows those digits.
    mistakes = confusion(model, e2e_digits.images, e2e_digits.labels)
    np.fill_diagonal(mistakes, 0)
    true, predicted = np.unravel_index(mistakes.argmax(), mistakes.shape)
    cell = controls.locator(f'.convscope-cell[data-true="{true}"][data-predicted="{predicted}"]')
    count = int(cell.inner_text())
    assert count == mistakes[true, predicted] > 0
    cell.click()
    label = controls.locator(".convscope-page-text")
    _wait_for_count(explorer, label, count)
    captions = controls.locator(".convscope-thumbs .convscope-thumb span").all_inner_texts()
    assert captions == [f"{true}→{predicted}"] * count
    controls.locator(".convscope-confusion").scroll_into_view_if_needed()
    explorer.page.screenshot(path=ARTIFACTS / "09-confusion-page.png", animations="disabled")
    cell.click()  # a second click clears the filter
    _wait_for_count(explorer, label, len(e2e_digits.labels))
    _assert_no_error(explorer)


def test_clicking_the_channel_map_boxes_its_receptive_field(explorer: ExplorerHandles) -> None:
    _bring_into_view(explorer)
    before = screenshot(explorer.figure)
    assert colour_bbox(before[INPUT_PANEL]) is None, "a box on the input before any click"
    fingerprint = explorer.fingerprint()
    # The selected channel, large, fills the right-hand panel above the bars: click its middle.
    box = explorer.canvas.bounding_box()
    assert box is not None
    # ipympl lays a transparent canvas (for rubber bands) over the figure: click the page there.
    explorer.page.mouse.click(box["x"] + 0.865 * box["width"], box["y"] + 0.32 * box["height"])
    assert explorer.wait_until_settled(changed_from=fingerprint), "the click was not answered"
    after = _shoot(explorer, "10-probe")
    _assert_no_error(explorer)
    field = colour_bbox(after[INPUT_PANEL])
    assert field is not None, "no receptive-field box on the input"
    x0, y0, x1, y1 = field
    print(f"receptive field box on the input: {x1 - x0}×{y1 - y0} px")
    assert 10 < x1 - x0 < 180
    assert 10 < y1 - y0 < 180
    assert changed_fraction(before[MOSAIC_PANEL], after[MOSAIC_PANEL]) < 0.01  # maps stay


def test_comparing_two_digits_shows_b_under_a(explorer: ExplorerHandles) -> None:
    controls = explorer.controls
    _bring_into_view(explorer)
    before = screenshot(explorer.figure)
    lower_left = (slice(300, 430), slice(15, 120))  # white beside one digit; B's input when two
    assert (before[lower_left] > 200).all(), "something in the lower left before comparing"
    label = re.search(r"label (\S+)", explorer.sample_text.inner_text())
    assert label is not None
    captions = explorer.thumbnails.evaluate_all(
        "(cells) => cells.map((c) => [Number(c.dataset.index), c.innerText.trim()])"
    )
    index = next(i for i, caption in captions if caption.split("→")[0] != label[1])
    fingerprint = explorer.fingerprint()
    controls.locator(".convscope-compare-pick").click()
    explorer.thumbnails.and_(controls.locator(f'[data-index="{index}"]')).click()
    text = controls.locator(".convscope-compare-text")
    text.filter(has_text=re.compile(rf"^B: sample {index}\b")).wait_for(timeout=30_000)
    assert explorer.wait_until_settled(changed_from=fingerprint), "B was not drawn"
    side = _shoot(explorer, "11-compare-side")
    _assert_no_error(explorer)
    assert (side[lower_left] < 60).mean() > 0.5, "no digit B in the lower left"
    compared = explorer.thumbnails.and_(controls.locator(".compared"))
    assert compared.get_attribute("data-index") == str(index)
    save_small_png(explorer.widget_pixels(), ARTIFACTS / "11-compare-side-widget.png")

    fingerprint = explorer.fingerprint()
    controls.locator("select.convscope-compare-mode").select_option("difference")
    assert explorer.wait_until_settled(changed_from=fingerprint), "the difference was not drawn"
    difference = _shoot(explorer, "12-compare-difference")
    assert changed_fraction(side[MOSAIC_PANEL], difference[MOSAIC_PANEL]) > 0.30
    fingerprint = explorer.fingerprint()
    controls.locator(".convscope-compare-clear").click()
    assert explorer.wait_until_settled(changed_from=fingerprint), "the comparison did not stop"
    after = screenshot(explorer.figure)
    assert (after[lower_left] > 200).all(), "B is still drawn after ✕"
    assert text.inner_text() == "off"
    _assert_no_error(explorer)


def test_no_uncaught_errors_in_the_page(explorer: ExplorerHandles) -> None:
    # Last in the module: covers everything the tests above did in the page.
    assert explorer.page_errors == []
