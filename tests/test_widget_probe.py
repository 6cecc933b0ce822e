"""Probing a unit: a click on the selected channel boxes the input pixels that can reach it."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

import convscope
from convscope.errors import IndexOutOfRangeError, NotSpatialLayerError


@pytest.fixture(scope="module")
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    return convscope.Explorer(model, mnist_test[0][:100], mnist_test[1][:100], figure="png")


def _click_point(explorer: convscope.Explorer, unit: tuple[int, int]) -> tuple[float, float]:
    """A point of the figure, in fractions from its top-left, where ``unit`` is drawn."""
    panel = explorer.panels.channel_panel
    width, height = explorer.figure.canvas.get_width_height()
    x0, y0, w, h = panel.box
    for x, y in itertools.product(
        range(int(x0 * width), int((x0 + w) * width)),
        range(int(y0 * height), int((y0 + h) * height)),
    ):
        if panel.pixel_at(x + 0.5, y + 0.5, (width, height)) == unit:
            return (x + 0.5) / width, 1.0 - (y + 0.5) / height
    raise AssertionError(f"{unit} is not drawn")


def test_a_click_on_the_channel_boxes_its_receptive_field(explorer: convscope.Explorer) -> None:
    explorer.update(layer="conv3", channel=7, sample=3, probe=())
    before = explorer._figure_frame
    x, y = _click_point(explorer, (3, 3))
    explorer._on_frontend_message(explorer, {"type": "probe", "x": x, "y": y, "seq": 1}, [])
    assert explorer.probe == (3, 3)
    # conv3's unit (3, 3) reads input rows and columns 5..22 (3×3 convolutions, 2×2 pools).
    assert explorer.panels.image_panel.outline == (5, 5, 18, 18)
    assert explorer.panels.channel_panel.outline == (3, 3, 1, 1)
    assert explorer._figure_frame != before  # the boxes reached the page
    titles = explorer.panels._titles
    assert "unit (3, 3) sees rows 5-22, cols 5-22" in titles[explorer.panels.grid_panel].get_text()
    assert convscope.receptive_field(explorer.engine.model, "conv3", (3, 3)) == (5, 5, 23, 23)

    explorer.channel = 9  # the same unit of another channel: the same field
    assert explorer.panels.image_panel.outline == (5, 5, 18, 18)
    explorer.layer = "conv2"  # another layer: the probe goes
    assert explorer.probe is None
    assert explorer.panels.image_panel.outline is None


def test_bad_probes_name_the_fix_and_change_nothing(explorer: convscope.Explorer) -> None:
    explorer.update(layer="conv1", channel=0, probe=(0, 0))
    with pytest.raises(IndexOutOfRangeError, match="row 28 is out of range"):
        explorer.probe = (28, 0)
    with pytest.raises(NotSpatialLayerError, match="'dense'"):
        explorer.update(layer="dense", probe=(0, 0))
    assert (explorer.layer, explorer.probe) == ("conv1", (0, 0))
    assert explorer.panels.image_panel.outline == (0, 0, 2, 2)  # clipped at the corner
    explorer.probe = None
    assert explorer.panels.image_panel.outline is None


def test_a_field_that_cannot_be_traced_is_said_not_drawn() -> None:
    inputs = keras.Input((16, 16, 1))
    left = keras.layers.Conv2D(2, 3, padding="same", name="left")(inputs)
    right = keras.layers.Conv2D(2, 5, padding="same", name="right")(inputs)
    merged = keras.layers.Add(name="add")([left, right])
    out = keras.layers.Dense(3)(
        keras.layers.Flatten()(keras.layers.Conv2D(2, 3, name="after")(merged))
    )
    images = np.random.default_rng(0).random((4, 16, 16, 1)).astype(np.float32)
    ex = convscope.Explorer(keras.Model(inputs, out), images, figure="none", layer="after")
    ex.probe = (2, 2)
    assert ex.probe == (2, 2)
    assert ex.panels.channel_panel.outline == (2, 2, 1, 1)
    assert ex.panels.image_panel.outline is None
    assert "no receptive field" in ex.status
    assert "'add' (Add)" in ex.status
