"""Map activation values to 0..255 per channel, per layer, or on a fixed scale, vectorised."""

from __future__ import annotations

from typing import Literal

import numpy as np

from convscope.errors import InvalidArgumentError, check_choice

NormMode = Literal["standard", "minmax", "layer", "fixed"]
NON_FINITE_RGB = (255, 0, 255)  # magenta: no colormap here uses it, so a marked pixel stands out
NORM_MODES: tuple[str, ...] = ("standard", "minmax", "layer", "fixed")
_STD_SPREAD = 64.0  # the tutorial's (x - mean) / std * 64 + 128
_MID_GREY = 128.0


def normalise_channels(
    maps: np.ndarray,
    mode: NormMode = "standard",
    value_range: tuple[np.ndarray | float, np.ndarray | float] | None = None,
    *,
    channels_first: bool = False,
) -> np.ndarray:
    """Scale each channel of an activation to ``uint8`` pixel values.

    Parameters
    ----------
    maps : np.ndarray
        Activations with channels on the last axis: ``(H, W, C)`` or ``(C,)``; any leading
        axes are reduced over per channel.
    mode : {"standard", "minmax", "layer", "fixed"}
        - ``"standard"``: ``(x - mean) / std * 64 + 128`` per channel, clipped, as in the
          Keras tutorial. A flat channel is drawn mid-grey.
        - ``"minmax"``: each channel stretched to its own 0..255. A flat channel is drawn 0.
          When every channel holds a single value (dense units as ``(1, 1, C)``), these two
          modes fall back to ``"layer"``.
        - ``"layer"``: one range for the whole layer, so channels compare with each other.
        - ``"fixed"``: ``value_range`` given from outside (for example data-set-wide ranges
          from ``ActivationEngine.channel_ranges``), so colours hold while scrubbing.
    value_range : (low, high), optional
        Scalars or per-channel arrays; required for ``"fixed"``.
    channels_first : bool
        Return ``(C, H, W)`` instead of ``(H, W, C)``: the layout a mosaic is tiled from,
        transposed in the same pass that converts to ``uint8``.

    Returns
    -------
    np.ndarray
        ``uint8`` array of the same shape as ``maps`` (channels moved first if asked).
        NaN and Inf values take no part in any scale: they are drawn as their channel's
        mean, and :func:`non_finite_mask` says where they are, for marking.

    Raises
    ------
    ArgumentTypeError, InvalidArgumentError
        For an unknown mode, or ``"fixed"`` without ``value_range``.

    """
    check_choice("norm", mode, NORM_MODES, "normalisation mode")
    # Inf and NaN activations are drawn, not warned about: the numbers are the model's own.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        values = np.asarray(maps, dtype=np.float32)
        # Rows are pixels, columns channels; a plain vector is one channel.
        flat = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values.reshape(-1, 1)
        if _has_non_finite(flat):
            flat = _fill_non_finite(flat)
        gain, offset = _gain_and_offset(flat, mode, value_range)
        scaled = np.multiply(flat, np.asarray(gain, np.float32), dtype=np.float32)
        scaled += np.asarray(offset, np.float32)
        np.clip(scaled, 0.0, 255.0, out=scaled)
        if np.isnan(scaled.sum()):  # one cheap pass; only non-finite activations get here
            np.nan_to_num(scaled, copy=False, nan=0.0)
    if channels_first and values.ndim > 1:
        return np.asarray(scaled.T.astype(np.uint8).reshape(values.shape[-1], *values.shape[:-1]))
    return np.asarray(scaled.astype(np.uint8).reshape(values.shape))


def _gain_and_offset(
    flat: np.ndarray,
    mode: str,
    value_range: tuple[np.ndarray | float, np.ndarray | float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``gain`` and ``offset`` that map ``flat`` (pixels × channels) to 0..255."""
    if flat.shape[0] == 1 and mode in ("standard", "minmax"):
        # One value per channel (the units of a dense layer as 1×1 maps) has no spread of its
        # own: scaling each alone would paint every unit alike, so they share one scale.
        mode = "layer"
    if mode == "standard":
        # float32 sums are exact enough to pick display colours and twice as fast as float64.
        mean = flat.mean(axis=0, dtype=np.float32)
        mean_square = np.einsum("ij,ij->j", flat, flat) / np.float32(flat.shape[0])
        std = np.sqrt(np.maximum(mean_square - mean * mean, 0.0))
        flat_channel = std <= 1e-6 * np.maximum(1.0, np.abs(mean))
        gain = _STD_SPREAD / np.where(flat_channel, np.inf, std)
        return gain, _MID_GREY - mean * gain
    if mode == "minmax":
        low, high = flat.min(axis=0), flat.max(axis=0)
    elif mode == "layer":
        low, high = flat.min(), flat.max()
    else:
        if value_range is None:
            raise InvalidArgumentError(
                "mode='fixed' needs value_range=(low, high): scalars or one value per "
                "channel, e.g. from ActivationEngine.channel_ranges(layer, images)."
            )
        low, high = (np.asarray(bound, dtype=np.float64) for bound in value_range)
    span = np.asarray(high, np.float64) - low
    gain = 255.0 / np.where(span > 0, span, np.inf)
    return gain, -np.asarray(low, np.float64) * gain


def non_finite_mask(maps: np.ndarray) -> np.ndarray | None:
    """Return where ``maps`` holds NaN or Inf, or ``None`` (cheaply) when it holds none."""
    values = np.asarray(maps)
    if not _has_non_finite(values.reshape(-1)):
        return None
    return np.asarray(~np.isfinite(values))


def _has_non_finite(values: np.ndarray) -> bool:
    """One summing pass: NaN and Inf survive a sum (a huge finite sum only costs a look)."""
    with np.errstate(all="ignore"):
        return not bool(np.isfinite(values.sum(dtype=np.float32)))


def _fill_non_finite(flat: np.ndarray) -> np.ndarray:
    """Replace NaN and Inf by the channel's finite mean, so no scale is computed from them."""
    finite = np.isfinite(flat)
    if finite.all():
        return flat
    counts = finite.sum(axis=0)
    sums = np.where(finite, flat, 0.0).sum(axis=0, dtype=np.float64)
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return np.where(finite, flat, means.astype(np.float32))
