"""Tiling channels into a grid or strip, and colouring it."""

from __future__ import annotations

import numpy as np
import pytest

from convscope.render.mosaic import channel_grid, colour_table, coloured_grid, mosaic_layout


def test_grid_places_every_channel_where_the_tutorial_loop_does() -> None:
    rng = np.random.default_rng(0)
    maps = rng.integers(0, 255, size=(5, 4, 11), dtype=np.uint8)
    grid, layout = channel_grid(maps, images_per_row=4, gap=1, fill=0)
    assert (layout.rows, layout.columns) == (3, 4)
    assert grid.shape == (3 * 6 - 1, 4 * 5 - 1)
    for channel in range(11):
        row, column = divmod(channel, 4)
        cell = grid[row * 6 : row * 6 + 5, column * 5 : column * 5 + 4]
        np.testing.assert_array_equal(cell, maps[..., channel])
    assert np.all(grid[2 * 6 :, 3 * 5 :] == 0)  # the padded end of the last row


def test_strip_is_one_row() -> None:
    maps = np.ones((3, 3, 6), np.uint8)
    grid, layout = channel_grid(maps, images_per_row=6, gap=0)
    assert grid.shape == (3, 18)
    assert layout.rows == 1


def test_cell_box_points_at_the_channel() -> None:
    layout = mosaic_layout(48, (14, 14), images_per_row=16, gap=1)
    assert layout.cell_box(0) == (-0.5, -0.5, 15, 15)  # the cell plus half a gap around it
    assert layout.cell_box(17) == (1 * 15 - 0.5, 1 * 15 - 0.5, 15, 15)


def test_colouring_uses_the_colormap_and_white_gaps() -> None:
    maps = np.zeros((2, 2, 3), np.uint8)
    maps[..., 1] = 255
    rgb, _ = coloured_grid(maps, "gray", images_per_row=3, gap=1)
    assert rgb.shape == (2, 8, 4)  # RGBA, opaque
    assert np.all(rgb[..., 3] == 255)
    np.testing.assert_array_equal(rgb[0, 0, :3], [0, 0, 0])
    np.testing.assert_array_equal(rgb[0, 3, :3], [255, 255, 255])
    np.testing.assert_array_equal(rgb[0, 2, :3], [255, 255, 255])  # gap
    viridis_low = colour_table("viridis")[0]
    assert tuple(viridis_low) == (68, 1, 84)


def test_unknown_colormap_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown colormap 'rainbowz'"):
        colour_table("rainbowz")


def test_bad_images_per_row_is_refused() -> None:
    with pytest.raises(ValueError, match="images_per_row"):
        mosaic_layout(4, (2, 2), images_per_row=0)
