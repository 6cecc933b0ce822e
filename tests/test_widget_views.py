"""The Explorer's four views: feature maps, heatmap, Grad-CAM and filter patterns, on real MNIST."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import convscope
from convscope.errors import (
    IndexOutOfRangeError,
    InvalidArgumentError,
    ModelNotSupportedError,
    NotSpatialLayerError,
)
from convscope.render.compose import grid_columns
from convscope.render.overlays import image_grid, overlay

_SEQ = itertools.count(1)


@pytest.fixture(scope="module")
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    images, labels = mnist_test
    return convscope.Explorer(model, images[:300], labels[:300], figure="png")


@pytest.fixture(autouse=True)
def _reset(explorer: convscope.Explorer) -> None:
    explorer.update(layer="conv2", channel=0, sample=0, view="maps", target_class=-1)


def grid(explorer: convscope.Explorer) -> np.ndarray:
    return explorer.panels.grid_panel.pixels.copy()


def digit(explorer: convscope.Explorer, sample: int) -> np.ndarray:
    return explorer._controller.images[sample]


def test_each_view_draws_what_the_static_api_computes(
    explorer: convscope.Explorer, model: keras.Model
) -> None:
    maps = grid(explorer)
    x = digit(explorer, 3)
    shown = np.asarray(x[..., 0], np.uint8)

    explorer.update(view="heatmap", sample=3)
    heat = convscope.activation_heatmap(model, x, "conv2")
    np.testing.assert_array_equal(grid(explorer), overlay(shown, heat, "viridis"))
    assert explorer.panels.grid_panel.outline is None  # no channel cell to outline over a digit

    explorer.view = "grad-cam"
    cam = convscope.grad_cam(model, x, layer="conv2")
    # The compiled map of one image, the same computation as the static API's; atol 1 level.
    difference = np.abs(grid(explorer).astype(int) - overlay(shown, cam, "viridis").astype(int))
    assert difference.max() <= 1
    assert explorer.view == "grad-cam"

    explorer.view = "maps"
    explorer.sample = 0
    np.testing.assert_array_equal(grid(explorer), maps)


def test_grad_cam_follows_the_samples_and_the_chosen_class(
    explorer: convscope.Explorer, model: keras.Model
) -> None:
    explorer.update(view="grad-cam", layer="conv3")
    seen = []
    for sample in range(4):  # a scrub: each digit its own map
        explorer.sample = sample
        seen.append(grid(explorer))
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(seen))

    predicted = int(model(digit(explorer, 3)[np.newaxis]).numpy().argmax())
    assert explorer.target_class is None
    titles = explorer.panels._titles
    assert f"class {predicted} (predicted)" in titles[explorer.panels.grid_panel].get_text()
    other = (predicted + 1) % 10
    explorer.target_class = other
    assert explorer.target_class == other
    assert explorer.get_state()["target_class"] == other
    cam = convscope.grad_cam(model, digit(explorer, 3), class_index=other, layer="conv3")
    expected = overlay(np.asarray(digit(explorer, 3)[..., 0], np.uint8), cam, "viridis")
    assert np.abs(grid(explorer).astype(int) - expected.astype(int)).max() <= 1
    explorer.target_class = None
    assert explorer.target_class is None


def test_the_heatmap_follows_the_samples_while_scrubbing(
    explorer: convscope.Explorer, model: keras.Model
) -> None:
    explorer.update(view="heatmap", layer="conv3")
    seen = []
    for sample in range(40, 48):  # a scrub: the next digits are fetched ahead in a batch
        explorer.sample = sample
        seen.append(grid(explorer))
        x = digit(explorer, sample)
        heat = convscope.activation_heatmap(model, x, "conv3")
        expected = overlay(np.asarray(x[..., 0], np.uint8), heat, "viridis")
        np.testing.assert_array_equal(seen[-1], expected, err_msg=f"sample {sample}")
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(seen))
    assert "heatmap" in explorer.panels._titles[explorer.panels.grid_panel].get_text()


def test_bad_views_and_classes_name_the_fix_and_change_nothing(
    explorer: convscope.Explorer,
) -> None:
    explorer.update(view="grad-cam", sample=7)
    before = grid(explorer)
    with pytest.raises(InvalidArgumentError, match="choose one of 'maps', 'heatmap'"):
        explorer.view = "x-ray"
    with pytest.raises(NotSpatialLayerError, match="set the view back to 'maps'"):
        explorer.layer = "dense"
    with pytest.raises(IndexOutOfRangeError, match=r"use 0\.\.9"):
        explorer.target_class = 10
    with pytest.raises(IndexOutOfRangeError, match="Unknown class 'cat'"):
        explorer.target_class = "cat"
    assert (explorer.view, explorer.layer, explorer.sample) == ("grad-cam", "conv2", 7)
    assert explorer.target_class is None
    np.testing.assert_array_equal(grid(explorer), before)

    # From the page, the same refusal shows in the banner and the view stays.
    explorer._on_frontend_message(
        explorer, {"type": "view", "layer": "dense", "seq": next(_SEQ)}, []
    )
    assert "NotSpatialLayerError" in explorer.error
    assert explorer.layer == "conv2"
    np.testing.assert_array_equal(grid(explorer), before)


def test_grad_cam_needs_a_classifier() -> None:
    inputs = keras.Input((12, 12, 1))
    maps = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(1, 1, name="same_size")(maps))
    images = np.random.default_rng(0).random((5, 12, 12, 1)).astype(np.float32)
    ex = convscope.Explorer(model, images, figure="none")
    ex.view = "heatmap"  # any layer with maps has a heatmap
    with pytest.raises(ModelNotSupportedError, match="not one score per class"):
        ex.view = "grad-cam"
    assert ex.view == "heatmap"


def test_patterns_compute_in_the_background_while_the_widget_answers(
    explorer: convscope.Explorer,
    model: keras.Model,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))  # computed here, not read back
    explorer.update(layer="conv3", channel=5)
    maps = grid(explorer)
    explorer.view = "pattern"
    assert "filter patterns of conv3" in explorer.status
    np.testing.assert_array_equal(grid(explorer), maps)  # the maps, until the patterns are there
    started = time.perf_counter()
    explorer.sample = 9  # the widget answers meanwhile
    answered = time.perf_counter() - started
    assert explorer.sample == 9
    assert explorer._controller.views.busy(), f"patterns done within {answered:.3f} s"

    explorer.wait()
    assert explorer.status == ""
    patterns = convscope.filter_patterns(model, "conv3", input_range=(0.0, 255.0), progress=False)
    expected, layout = image_grid(patterns, grid_columns(64), 2)
    np.testing.assert_array_equal(grid(explorer), expected)
    assert explorer.panels.grid_panel.outline == layout.cell_box(5)
    explorer.channel = 6  # the outline moves over the patterns, no recomputation
    assert explorer.panels.grid_panel.outline == layout.cell_box(6)
    assert not explorer._controller.views.busy()


def test_in_a_kernel_the_pattern_view_redraws_by_itself(
    model: keras.Model,
    mnist_test: tuple[np.ndarray, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))  # computed here, not read back

    async def scenario() -> tuple[list[str], np.ndarray, np.ndarray]:
        ex = convscope.Explorer(model, mnist_test[0][:50], figure="png", layer="pool2")
        before = ex._figure_frame
        ex.view = "pattern"
        statuses = [ex.status]
        for _ in range(600):  # the worker's news reaches the loop; nobody calls wait()
            await asyncio.sleep(0.05)
            statuses.append(ex.status)
            if ex.status == "" and not ex._controller.views.busy():
                break
        return statuses, np.frombuffer(before, np.uint8), np.frombuffer(ex._figure_frame, np.uint8)

    statuses, before, after = asyncio.run(scenario())
    assert statuses[0].startswith("filter patterns of pool2")
    assert any("step" in status and "/20" in status for status in statuses)
    assert statuses[-1] == ""
    assert not np.array_equal(before, after)  # a new frame went to the page


def test_a_grad_cam_scrub_computes_ahead_and_a_jump_computes_one(
    explorer: convscope.Explorer,
) -> None:
    views = explorer._controller.views
    explorer.update(view="grad-cam", layer="conv3", sample=200)
    cached = len(views._cams)
    explorer.sample = 250  # a jump: that digit only
    assert len(views._cams) == cached + 1
    explorer.sample = 251  # a neighbour's thumbnail, or a scrub's first step: that digit only
    assert len(views._cams) == cached + 2
    explorer.sample = 252  # a scrub: the next 32 in one batch
    assert len(views._cams) == cached + 34
    before = len(views._cams)
    for sample in range(253, 261):  # served from that batch
        explorer.sample = sample
    assert len(views._cams) == before
