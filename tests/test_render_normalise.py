"""Per-channel normalisation: the tutorial's formula, flat channels, and the fixed scale."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import normalise_channels


def tutorial_loop(maps: np.ndarray) -> np.ndarray:
    """The Keras tutorial's per-channel loop, as the reference."""
    out = np.empty(maps.shape, np.uint8)
    for channel in range(maps.shape[-1]):
        x = maps[..., channel].astype(np.float64)
        x = (x - x.mean()) / (x.std() if x.std() > 0 else 1.0) * 64 + 128
        out[..., channel] = np.clip(x, 0, 255).astype(np.uint8)
    return out


def test_standard_mode_matches_the_tutorial_loop() -> None:
    rng = np.random.default_rng(1)
    maps = rng.gamma(2.0, size=(14, 14, 48)).astype(np.float32)
    got = normalise_channels(maps, "standard")
    assert got.dtype == np.uint8
    assert np.abs(got.astype(int) - tutorial_loop(maps)).max() <= 1  # float32 vs float64


def test_flat_channel_is_drawn_flat_and_never_nan() -> None:
    maps = np.zeros((7, 7, 3), np.float32)
    maps[..., 1] = 5.0
    maps[..., 2] = np.arange(49).reshape(7, 7)
    with np.errstate(all="raise"):  # no division by zero anywhere
        standard = normalise_channels(maps, "standard")
        minmax = normalise_channels(maps, "minmax")
    assert np.all(standard[..., 0] == 128)
    assert np.all(standard[..., 1] == 128)
    assert np.all(minmax[..., :2] == 0)
    assert (minmax[..., 2].min(), minmax[..., 2].max()) == (0, 255)


def test_layer_mode_keeps_channels_comparable() -> None:
    maps = np.stack([np.full((4, 4), 1.0), np.full((4, 4), 3.0)], axis=-1)
    maps[0, 0, 0] = 0.0
    got = normalise_channels(maps, "layer")
    assert got[1, 1, 0] == 85  # 1/3 of the layer's range
    assert got[1, 1, 1] == 255


def test_fixed_mode_uses_the_given_per_channel_range_and_clips() -> None:
    maps = np.array([[[0.5, 10.0], [2.0, -1.0]]], np.float32)  # (1, 2, 2)
    got = normalise_channels(maps, "fixed", value_range=(np.zeros(2), np.array([1.0, 5.0])))
    np.testing.assert_array_equal(got, [[[127, 255], [255, 0]]])


def test_fixed_mode_without_range_and_unknown_mode_are_refused() -> None:
    maps = np.ones((2, 2, 1))
    with pytest.raises(ValueError, match="value_range"):
        normalise_channels(maps, "fixed")
    with pytest.raises(ValueError, match="Unknown normalisation mode 'zscore'"):
        normalise_channels(maps, "zscore")  # type: ignore[arg-type]


def test_vectors_are_normalised_too() -> None:
    got = normalise_channels(np.array([0.0, 1.0, 2.0]), "minmax")
    np.testing.assert_array_equal(got, [0, 127, 255])
