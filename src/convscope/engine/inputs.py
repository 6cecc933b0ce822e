"""Turn what the user passes as images into the float32 batch a model takes, or explain why not."""

from __future__ import annotations

import numpy as np

from convscope.errors import ImageInputError

_GREY = 1


def as_image_batch(images: object, input_shape: tuple[int | None, ...]) -> np.ndarray:
    """Return ``images`` as a C-contiguous float32 batch ``(N, H, W, C)``.

    See :func:`check_images` for what is accepted.
    """
    return np.ascontiguousarray(check_images(images, input_shape), dtype=np.float32)


def check_images(images: object, input_shape: tuple[int | None, ...]) -> np.ndarray:
    """Return ``images`` as a batch ``(N, H, W, C)`` matching ``input_shape``, in their own dtype.

    Nothing is copied when the array already has both axes, so a large uint8 data set can be
    converted to float32 one batch at a time.

    One image or a batch is accepted; for single-channel models the channel axis may be left
    out (MNIST's ``(N, 28, 28)``). Values are not rescaled: pass what the model was trained on.

    Parameters
    ----------
    images : array-like
        ``(H, W)``, ``(H, W, C)``, ``(N, H, W)`` or ``(N, H, W, C)``; any real dtype.
    input_shape : tuple
        The model's input shape without the batch axis; ``None`` means any size.

    Returns
    -------
    np.ndarray
        ``(N, H, W, C)``, the dtype given (integers or floats).

    Raises
    ------
    ImageInputError
        For a non-numeric dtype, NaN or Inf values, or a shape the model cannot take.

    """
    array = np.asarray(images)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ImageInputError(
            f"Images must be real numbers (uint8 pixels or floats), got dtype {array.dtype}. "
            "Convert with np.asarray(images, dtype=np.float32)."
        )
    batch = _with_batch_and_channels(array, input_shape)
    bad = _count_non_finite(batch)
    if bad:
        raise ImageInputError(
            f"Images contain {bad} NaN or Inf value(s) as float32, which the model computes in "
            "(values beyond ±3.4e38 become Inf). Replace them first, e.g. "
            "np.nan_to_num(images), or fix the step that produced them."
        )
    return batch


def _count_non_finite(batch: np.ndarray, chunk: int = 256) -> int:
    """Count values that are NaN or Inf as float32, a chunk at a time (no full-size copy)."""
    if not np.issubdtype(batch.dtype, np.floating):
        return 0
    with np.errstate(over="ignore"):  # beyond float32's range is Inf: counted, then refused
        return sum(
            int(np.count_nonzero(~np.isfinite(batch[start : start + chunk].astype(np.float32))))
            for start in range(0, len(batch), chunk)
        )


def _with_batch_and_channels(array: np.ndarray, input_shape: tuple[int | None, ...]) -> np.ndarray:
    height, width, channels = input_shape
    given = array.shape  # the message names what the user passed, not the axes added here
    if channels == _GREY and array.ndim in (2, 3) and array.shape[-1] != _GREY:
        array = array[..., np.newaxis]
    if array.ndim == len(input_shape):
        array = array[np.newaxis]
    if array.ndim != len(input_shape) + 1 or not _fits(array.shape[1:], input_shape):
        raise ImageInputError(
            f"The model takes images of shape {_shape_text(input_shape)} (one image) or "
            f"(N, {_shape_text(input_shape)[1:-1]}) (a batch), but got {given}. Resize "
            f"with convscope.load_image(path_or_array, size=({height}, {width}), "
            f"mode={'grey' if channels == _GREY else 'rgb'!r})."
        )
    if array.shape[0] == 0:
        raise ImageInputError("Got an empty batch (0 images). Pass at least one image.")
    return array


def _fits(shape: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    return all(want is None or want == got for got, want in zip(shape, expected, strict=True))


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("H" if dim is None else str(dim) for dim in shape) + ")"
