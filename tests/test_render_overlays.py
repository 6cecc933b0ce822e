"""Heatmaps over their input, and grids of generated images: pixels a user sees."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps

from convscope.render.overlays import (
    FRAME_RGB,
    display_rgb,
    image_grid,
    image_grid_figure,
    overlay,
    overlay_figure,
)


def test_display_scales_any_units_to_rgb() -> None:
    digit = np.zeros((4, 5), np.float32)
    digit[1, 2] = 255.0
    shown = display_rgb(digit[..., np.newaxis])
    assert shown.shape == (4, 5, 3)
    assert shown[1, 2].tolist() == [1.0, 1.0, 1.0]
    assert shown.sum() == 3.0
    assert display_rgb(np.full((3, 3, 3), 7.0)).max() == 0.0  # flat: black, not NaN


def test_overlay_blends_the_colormap_over_the_image() -> None:
    image = np.zeros((2, 2, 1))
    image[0, 0] = 200.0
    heat = np.array([[0.0, 1.0], [0.5, 0.0]])
    np.testing.assert_array_equal(overlay(image, heat, alpha=0.0)[..., 0], [[255, 0], [0, 0]])
    only_heat = overlay(image, heat, cmap="viridis", alpha=1.0)
    top = np.round(np.asarray(colormaps["viridis"](1.0)[:3]) * 255)
    np.testing.assert_array_equal(only_heat[0, 1], top)
    half = overlay(image, heat, cmap="gray", alpha=0.5)
    assert half[0, 0].tolist() == [128, 128, 128]  # white image, black heat
    assert half[0, 1].tolist() == [128, 128, 128]  # black image, white heat
    with pytest.raises(ValueError, match="alpha"):
        overlay(image, heat, alpha=1.5)
    with pytest.raises(ValueError, match="differ in size"):
        overlay(image, heat[:1])
    with pytest.raises(ValueError, match="Unknown colormap"):
        overlay(image, heat, cmap="no-such-map")


def test_overlay_figure_shows_the_input_and_the_blend() -> None:
    image = np.arange(36, dtype=np.float32).reshape(6, 6, 1)
    heat = np.linspace(0, 1, 36).reshape(6, 6)
    figure = overlay_figure(image, heat, alpha=0.3, title="Grad-CAM of class 3", label="Grad-CAM")
    left, right = figure.axes[:2]
    np.testing.assert_allclose(left.images[0].get_array(), display_rgb(image))
    np.testing.assert_array_equal(right.images[0].get_array(), overlay(image, heat, "jet", 0.3))
    assert figure.get_suptitle() == "Grad-CAM of class 3"
    assert len(figure.axes) == 3  # the two panels and the colour bar


def test_image_grid_tiles_like_feature_maps_with_a_frame() -> None:
    rng = np.random.default_rng(0)
    grey = rng.uniform(0, 1, (5, 4, 3, 1)).astype(np.float32)
    mosaic, layout = image_grid(grey, images_per_row=2, gap=1)
    assert (layout.rows, layout.columns) == (3, 2)
    assert mosaic.shape == (3 * 5 - 1, 2 * 4 - 1, 3)
    cell = mosaic[5:9, 4:7]  # image 3: second row, second column
    np.testing.assert_array_equal(cell[..., 0], np.round(grey[3, ..., 0] * 255))
    assert mosaic[4, 0].tolist() == list(FRAME_RGB)  # between rows
    assert mosaic[10, 4].tolist() == list(FRAME_RGB)  # the empty last cell

    colour = rng.uniform(0, 1, (2, 3, 3, 3)).astype(np.float32)
    mosaic, _ = image_grid(colour, images_per_row=2, gap=1)
    np.testing.assert_array_equal(mosaic[:, 4:], np.round(colour[1] * 255))
    assert mosaic[0, 3].tolist() == list(FRAME_RGB)


def test_image_grid_figure_labels_each_cell() -> None:
    images = np.zeros((3, 8, 8, 1), np.float32)
    figure = image_grid_figure(images, labels=["0", "1", "2"], title="classes")
    assert [text.get_text() for text in figure.axes[0].texts] == ["0", "1", "2"]
    assert figure.get_suptitle() == "classes"
