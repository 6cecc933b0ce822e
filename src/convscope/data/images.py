"""Read the user's own images into uint8 arrays of the size a model expects."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from convscope.errors import ArgumentTypeError, ImageInputError, check_choice, check_int

ColourMode = Literal["rgb", "grey"]
_SAMPLE_NAMES = ("chelsea", "coffee", "astronaut", "rocket", "cat")


def load_image(
    source: str | os.PathLike[str] | np.ndarray,
    size: tuple[int, int] | None = None,
    mode: ColourMode = "rgb",
) -> np.ndarray:
    """Load one image as ``uint8`` pixels, resized and converted for a model's input.

    Parameters
    ----------
    source : path-like or np.ndarray
        An image file PIL can read (PNG, JPEG, ...), or an array ``(H, W)``, ``(H, W, 3)`` or
        ``(H, W, 4)`` of ``uint8`` pixels or floats in ``0..1``.
    size : (height, width), optional
        Resize to this size (bilinear, centre-cropped first to keep the aspect ratio).
    mode : {"rgb", "grey"}
        ``"rgb"`` gives ``(H, W, 3)``; ``"grey"`` gives ``(H, W)``.

    Returns
    -------
    np.ndarray
        ``uint8`` pixels.

    Raises
    ------
    FileNotFoundError
        When the path does not exist.
    ImageInputError
        When the file is not an image, or the array has no image shape (a ``ValueError`` too).
    ArgumentTypeError, InvalidArgumentError
        For a ``size`` or ``mode`` that cannot work.

    """
    mode = check_choice("mode", mode, ("rgb", "grey"))  # type: ignore[assignment]
    if size is not None:
        if not isinstance(size, (tuple, list)) or len(size) != 2:  # noqa: PLR2004
            raise ArgumentTypeError(f"size must be (height, width), e.g. (160, 160), got {size!r}.")
        size = (check_int("height", size[0], example=160), check_int("width", size[1], example=160))
    image = _to_pil(source)
    image = image.convert("RGB" if mode == "rgb" else "L")
    if size is not None:
        image = _centre_crop_resize(image, size)
    return np.asarray(image, dtype=np.uint8)


def sample_images(
    size: tuple[int, int] = (160, 160), names: tuple[str, ...] = _SAMPLE_NAMES
) -> tuple[np.ndarray, list[str]]:
    """Return scikit-image's bundled photographs, resized: RGB test images that work offline.

    Parameters
    ----------
    size : (height, width)
        Output size of every image.
    names : tuple of str
        Names of functions in ``skimage.data`` (``"chelsea"``, ``"coffee"``, ...).

    Returns
    -------
    images : np.ndarray
        ``uint8`` array ``(N, height, width, 3)``.
    names : list of str
        The names, as labels.

    """
    try:
        from skimage import data  # noqa: PLC0415 - optional, only for demo images
    except ImportError as error:
        raise ImportError("sample_images() needs scikit-image: pip install scikit-image") from error
    images = np.stack([load_image(getattr(data, name)(), size) for name in names])
    return images, list(names)


def _to_pil(source: str | os.PathLike[str] | np.ndarray) -> Image.Image:
    if isinstance(source, np.ndarray):
        return Image.fromarray(_as_uint8_pixels(source))
    if not isinstance(source, (str, os.PathLike)):
        raise ArgumentTypeError(
            f"load_image reads a file path or a numpy array, got {type(source).__name__}."
        )
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {path}.")
    try:
        with Image.open(path) as opened:
            opened.load()
            copied: Image.Image = opened.copy()
            return copied
    except UnidentifiedImageError as error:
        raise ImageInputError(
            f"{path} is not an image file PIL can read (PNG, JPEG, ...)."
        ) from error


def _as_uint8_pixels(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[-1] == 1:  # noqa: PLR2004
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):  # noqa: PLR2004
        raise ImageInputError(
            f"An image array must be (H, W), (H, W, 3) or (H, W, 4); got {array.shape}."
        )
    if array.dtype.kind not in "biuf":
        raise ImageInputError(f"An image array holds numbers, got dtype {array.dtype}.")
    if array.dtype == np.uint8:
        return array
    values = np.nan_to_num(array.astype(np.float64))
    if np.issubdtype(array.dtype, np.floating) and array.size and values.max() <= 1.0:
        values = values * 255.0
    return np.clip(values, 0, 255).astype(np.uint8)


def _centre_crop_resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    height, width = size
    target = width / height
    current = image.width / image.height
    if current > target:
        new_width = round(image.height * target)
        left = (image.width - new_width) // 2
        image = image.crop((left, 0, left + new_width, image.height))
    elif current < target:
        new_height = round(image.width / target)
        top = (image.height - new_height) // 2
        image = image.crop((0, top, image.width, top + new_height))
    return image.resize((width, height), Image.Resampling.BILINEAR)
