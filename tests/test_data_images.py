"""load_image: files and arrays become uint8 pixels of the asked size, or a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convscope import ArgumentTypeError, ImageInputError, InvalidArgumentError, load_image


def test_files_and_arrays_load_at_the_asked_size(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 60, 3), 200, np.uint8)).save(path)
    assert load_image(path, size=(20, 20)).shape == (20, 20, 3)
    assert load_image(str(path), size=[10, 12], mode="grey").shape == (10, 12)
    floats = np.linspace(0, 1, 28 * 28).reshape(28, 28)
    assert load_image(floats, mode="grey").max() == 255  # floats in 0..1 are scaled


@pytest.mark.parametrize(
    ("source", "options", "error", "message"),
    [
        (np.zeros((4, 4)), {"mode": "cmyk"}, InvalidArgumentError, "Unknown mode 'cmyk'"),
        (np.zeros((4, 4)), {"size": 28}, ArgumentTypeError, r"size must be \(height, width\)"),
        (np.zeros((4, 4)), {"size": (0, 28)}, InvalidArgumentError, "height must be >= 1"),
        (np.zeros((4, 4, 2)), {}, ImageInputError, r"\(H, W\), \(H, W, 3\) or \(H, W, 4\)"),
        (np.array([["a"]]), {}, ImageInputError, "holds numbers"),
        (3, {}, ArgumentTypeError, "a file path or a numpy array"),
    ],
)
def test_what_cannot_be_an_image_is_explained(
    source: object, options: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        load_image(source, **options)  # type: ignore[arg-type]


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No image file"):
        load_image(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("not pixels")
    with pytest.raises(ImageInputError, match="not an image file PIL can read"):
        load_image(text)
