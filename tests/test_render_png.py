"""The fast PNG encoder of ipympl's frames, against Pillow's decoder."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from convscope.render.png import encode_png, opaque_rgb


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (450, 900), (17, 1)])
def test_a_png_decodes_to_exactly_its_pixels(shape: tuple[int, int], channels: int) -> None:
    rng = np.random.default_rng(sum(shape) + channels)
    pixels = rng.integers(0, 256, (*shape, channels), dtype=np.uint8)
    pixels[: shape[0] // 2] = 255  # a white part, as most of a figure is
    decoded = Image.open(io.BytesIO(encode_png(pixels)))
    assert decoded.mode == ("RGB" if channels == 3 else "RGBA")
    np.testing.assert_array_equal(np.asarray(decoded), pixels)


def test_a_figure_sized_frame_is_compressed() -> None:
    pixels = np.full((450, 900, 3), 255, np.uint8)
    pixels[100:300, 50:400] = np.arange(350, dtype=np.uint8)[None, :, None]
    assert len(encode_png(pixels)) < pixels.nbytes // 50


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 3), np.float32)],
)
def test_other_arrays_are_refused(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_png(pixels)


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (450, 900), (17, 1)])
def test_an_opaque_picture_is_written_as_its_rgb(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    pixels = rng.integers(0, 256, (*shape, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    rgb = opaque_rgb(pixels)
    assert rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, pixels[..., :3])
    decoded = Image.open(io.BytesIO(encode_png(rgb)))
    np.testing.assert_array_equal(np.asarray(decoded.convert("RGBA")), pixels)


def test_only_rgba_pixels_lose_their_alpha() -> None:
    with pytest.raises(ValueError, match="uint8"):
        opaque_rgb(np.zeros((4, 4, 3), np.uint8))
