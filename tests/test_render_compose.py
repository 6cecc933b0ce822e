"""Composing the Explorer's figure from a resolved view state and arrays: panels and titles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convscope.render.compose import (
    DeeperArrays,
    InputArrays,
    LayerFacts,
    MapArrays,
    ReceptiveField,
    compose_view,
)
from convscope.render.mosaic import coloured_grid, colourise
from convscope.render.normalise import NON_FINITE_RGB, normalise_channels

DIGITS = [str(digit) for digit in range(10)]
CONV = LayerFacts("conv1", "Conv2D", "26×26×4", 4, spatial=True)


@dataclass(frozen=True)
class State:
    channel: int = 2
    cmap: str = "viridis"
    norm: str = "standard"
    view: str = "maps"
    probe: tuple[int, int] | None = None
    compare: int | None = None
    compare_mode: str = "side"


def digit_maps(digit: np.ndarray) -> np.ndarray:
    """Four 'channels' of a real digit (26×26 crops, scaled): maps a test can check by eye."""
    crop = digit[1:27, 1:27].astype(np.float32)
    return np.stack([crop, crop * 0.5, crop * 2.0, 255.0 - crop], axis=-1)


def input_arrays(digit: np.ndarray, label: int, maps: np.ndarray | None) -> InputArrays:
    arrays = None
    if maps is not None:
        pixels = normalise_channels(maps, "standard", channels_first=True)
        grid, layout = coloured_grid(pixels, "viridis", 2, 1, channels_first=True)
        bad = np.moveaxis(~np.isfinite(maps), -1, 0)
        arrays = MapArrays(maps, pixels, grid, layout, bad if bad.any() else None)
    probabilities = np.eye(10, dtype=np.float32)[label]
    return InputArrays(3, False, False, digit, label, probabilities, arrays)


def test_one_sample_gets_its_panels_and_titles(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    digit = images[3].reshape(28, 28).astype(np.uint8)
    maps = digit_maps(digit)
    a = input_arrays(digit, int(labels[3]), maps)
    view = compose_view(State(), CONV, (a, None), class_names=DIGITS, dead=np.eye(4, dtype=bool)[0])
    assert view.image is digit
    assert view.image_title == f"sample 3  ·  label {labels[3]}"
    assert view.grid_title == "conv1  ·  Conv2D  ·  26×26×4  ·  1 dead (×)"
    assert view.channel_title == f"channel 2  ·  max {maps[..., 2].max():.3g}"
    np.testing.assert_array_equal(view.channel, colourise(a.maps.pixels[2], "viridis"))  # type: ignore[union-attr]
    assert view.outline == a.maps.layout.cell_box(2)  # type: ignore[union-attr]


def test_nan_maps_are_marked_and_said(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    digit = images[0].reshape(28, 28).astype(np.uint8)
    maps = digit_maps(digit)
    maps[5, 7, 2] = np.nan
    view = compose_view(
        State(), CONV, (input_arrays(digit, int(labels[0]), maps), None), class_names=DIGITS
    )
    assert tuple(view.channel[5, 7, :3]) == NON_FINITE_RGB
    assert "conv1: 1 NaN/Inf value(s) for sample 3" in view.notice


def test_a_probe_and_a_comparison_share_their_outlines(
    mnist_test: tuple[np.ndarray, np.ndarray],
) -> None:
    images, labels = mnist_test
    a_digit, b_digit = (images[i].reshape(28, 28).astype(np.uint8) for i in (0, 1))
    a = input_arrays(a_digit, int(labels[0]), digit_maps(a_digit))
    b = input_arrays(b_digit, int(labels[1]), None)
    state = State(probe=(4, 6), compare=1, compare_mode="difference")
    field = ReceptiveField((4, 6, 7, 9))
    view = compose_view(state, CONV, (a, b), class_names=DIGITS, field=field)
    assert view.grid_title == "conv1  ·  unit (4, 6) sees rows 4-6, cols 6-8"
    assert view.image_outline == (6, 4, 3, 3)
    assert view.compare is not None
    assert view.compare.image is b_digit
    assert view.compare.image_outline == view.image_outline
    assert view.mode == "difference"
    assert view.legend_cmap == "RdBu_r"
    broken = compose_view(
        state, CONV, (a, b), class_names=DIGITS, field=ReceptiveField(None, "a merge")
    )
    assert "no receptive field: a merge" in broken.notice
    assert broken.image_outline is None


def test_a_deeper_view_titles_what_it_explains(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    digit = images[0].reshape(28, 28).astype(np.uint8)
    a = input_arrays(digit, int(labels[0]), digit_maps(digit))
    heat = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28)
    cam = DeeperArrays(heat=heat, chosen=7, predicted=False)
    view = compose_view(State(view="grad-cam"), CONV, (a, None), class_names=DIGITS, deeper=cam)
    assert view.grid_title == "Grad-CAM  ·  conv1  ·  class 7 (chosen)"
    assert view.grid.shape[:2] == digit.shape
    waiting = DeeperArrays(progress="patterns of conv1: 2/4")
    view = compose_view(State(view="pattern"), CONV, (a, None), class_names=DIGITS, deeper=waiting)
    assert view.notice.startswith("patterns of conv1: 2/4")
    assert view.grid is a.maps.grid  # type: ignore[union-attr]  # the maps meanwhile
