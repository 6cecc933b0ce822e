"""Turn a drawing into a digit the way MNIST's digits were made: pure numpy, no model."""

from __future__ import annotations

import numpy as np

from convscope.errors import ArgumentTypeError, InvalidArgumentError

MNIST_SIZE = (28, 28)
MNIST_BOX = 20  # MNIST's digits were scaled to fit 20×20, then centred in 28×28
MNIST_STROKE = 2.0
"""Median stroke width of the MNIST test digits in pixels of the 28×28 image (twice the ink
area over its outline, at half intensity). A pad whose 20/28 middle holds the digit matches it
with a brush of ``MNIST_STROKE / 28`` of the pad's side."""
MAX_SIDE = 8192  # larger drawings are refused: the resampling matrices grow with the side


def mnist_digit(drawing: object, size: tuple[int, int] = MNIST_SIZE) -> np.ndarray:
    """Preprocess a grey drawing as MNIST preprocessed its digits.

    The steps, after LeCun et al.'s description of MNIST: grey levels 0–255, ink bright on
    black; crop to the bounding box of the ink; scale it, keeping its aspect ratio, so that its
    longer side fits a box of 20/28 of ``size`` (area-weighted, which gives grey levels at the
    edges as MNIST's anti-aliasing did); place it so that its centre of mass falls on pixel
    ``(height / 2, width / 2)``, moved by whole pixels (like MNIST, whose test digits have their
    centre of mass within half a pixel of (14, 14)). Where that would push the digit over the
    edge it stops at the edge, so no ink is lost.

    Parameters
    ----------
    drawing : array-like
        One grey image ``(H, W)`` or ``(H, W, 1)`` of any size up to 8192 a side, e.g. a
        280×280 canvas or a 28×28 digit. ``uint8`` and other integers are grey levels 0–255;
        floats whose maximum is at most 1 are read as 0–1, other floats as 0–255 (clipped);
        booleans as ink / no ink. Dark ink on a light ground (the outer ring of pixels brighter,
        on average, than half the brightest pixel) is inverted first.
    size : (height, width)
        The output size: MNIST's 28×28, or a grey model's input size.

    Returns
    -------
    np.ndarray
        ``uint8`` ``size`` image, its brightest pixel 255; all zeros for a drawing with no ink.

    Raises
    ------
    ArgumentTypeError
        For something that is not a real-valued array.
    InvalidArgumentError
        For a shape that is not one grey image, NaN/Inf values, or a ``size`` too small to
        hold a digit.

    Examples
    --------
    >>> canvas = np.zeros((280, 280), np.uint8); canvas[60:220, 130:150] = 255
    >>> digit = mnist_digit(canvas)      # a "1": 20 pixels tall, centred in 28×28

    """
    height, width = _check_size(size)
    grey = _grey_levels(drawing)
    rows, cols = np.flatnonzero(grey.max(axis=1) >= 1), np.flatnonzero(grey.max(axis=0) >= 1)
    out = np.zeros((height, width), np.uint8)
    if rows.size == 0:
        return out
    ink = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    box_h = round(MNIST_BOX / MNIST_SIZE[0] * height)
    box_w = round(MNIST_BOX / MNIST_SIZE[1] * width)
    scale = min(box_h / ink.shape[0], box_w / ink.shape[1])
    fit_h = min(box_h, max(1, round(ink.shape[0] * scale)))
    fit_w = min(box_w, max(1, round(ink.shape[1] * scale)))
    patch = area_resample(area_resample(ink, fit_h, axis=0), fit_w, axis=1)
    patch *= 255.0 / patch.max()
    mass = patch.sum()
    centre_y = float(patch.sum(axis=1) @ np.arange(fit_h)) / mass
    centre_x = float(patch.sum(axis=0) @ np.arange(fit_w)) / mass
    top = int(np.clip(np.floor(height / 2 - centre_y + 0.5), 0, height - fit_h))
    left = int(np.clip(np.floor(width / 2 - centre_x + 0.5), 0, width - fit_w))
    out[top : top + fit_h, left : left + fit_w] = np.clip(np.floor(patch + 0.5), 0, 255)
    return out


def area_resample(image: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Resample ``image`` to ``length`` pixels along ``axis``, each the mean of what it covers.

    Pixels are squares of constant grey: an output pixel is the average of the input over its
    interval, so ink is conserved and shrinking blends edges to grey. One matrix product.

    Parameters
    ----------
    image : np.ndarray
        A 2-D float array.
    length : int
        The new length along ``axis``, at least 1.
    axis : int
        0 for rows, 1 for columns.

    Returns
    -------
    np.ndarray
        ``float64`` image with ``length`` pixels along ``axis``.

    """
    count = image.shape[axis]
    step = count / length
    starts = np.arange(length)[:, np.newaxis] * step
    pixel = np.arange(count)[np.newaxis, :]
    overlap = np.minimum(starts + step, pixel + 1) - np.maximum(starts, pixel)
    weights = np.clip(overlap, 0.0, None) / step  # (length, count): rows sum to 1
    resampled: np.ndarray = np.moveaxis(
        np.tensordot(weights, np.moveaxis(image.astype(np.float64), axis, 0), axes=1), 0, axis
    )
    return resampled


def _check_size(size: object) -> tuple[int, int]:
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2  # noqa: PLR2004
        or not all(_is_int(side) for side in size)
    ):
        raise ArgumentTypeError(f"size must be (height, width), e.g. (28, 28), got {size!r}.")
    height, width = int(size[0]), int(size[1])
    if min(height, width) < 4:  # noqa: PLR2004 - the box would be under 3 pixels
        raise InvalidArgumentError(
            f"size {height}×{width} is too small to hold a digit; use at least 4×4, e.g. (28, 28)."
        )
    return height, width


def _grey_levels(drawing: object) -> np.ndarray:
    """Return ``drawing`` as float64 grey levels 0–255, ink bright; or raise a clear error."""
    try:
        pixels = np.asarray(drawing)
    except (TypeError, ValueError) as error:
        raise ArgumentTypeError(f"A drawing must be an array of grey levels: {error}.") from None
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    if pixels.dtype.kind not in "uif":
        raise ArgumentTypeError(
            f"A drawing must be a numeric array of grey levels, got dtype {pixels.dtype}; e.g. "
            "a uint8 array (H, W)."
        )
    if pixels.ndim == 3 and pixels.shape[-1] == 1:  # noqa: PLR2004
        pixels = pixels[..., 0]
    if pixels.ndim != 2 or min(pixels.shape) < 1 or max(pixels.shape) > MAX_SIDE:  # noqa: PLR2004
        raise InvalidArgumentError(
            f"A drawing is one grey image (H, W) or (H, W, 1), 1 to {MAX_SIDE} pixels a side; "
            f"got shape {pixels.shape}. For an RGB picture, average its channels first."
        )
    grey = pixels.astype(np.float64)
    if not np.isfinite(grey).all():
        raise InvalidArgumentError("A drawing must not contain NaN or Inf; replace them with 0.")
    if pixels.dtype.kind == "f" and grey.max() <= 1.0:
        grey = grey * 255.0
    grey = np.clip(grey, 0.0, 255.0)
    ring = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if grey.max() > 0 and ring.mean() > grey.max() / 2:  # dark ink on light paper
        grey = grey.max() - grey
    return grey


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
