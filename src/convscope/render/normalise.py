"""Map activation values to 0..255 per channel, per layer, or on a fixed scale, vectorised."""

from __future__ import annotations

from typing import Literal

import numpy as np

NormMode = Literal["standard", "minmax", "layer", "fixed"]
NORM_MODES: tuple[str, ...] = ("standard", "minmax", "layer", "fixed")
_STD_SPREAD = 64.0  # the tutorial's (x - mean) / std * 64 + 128
_MID_GREY = 128.0


def normalise_channels(
    maps: np.ndarray,
    mode: NormMode = "standard",
    value_range: tuple[np.ndarray | float, np.ndarray | float] | None = None,
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
        - ``"layer"``: one range for the whole layer, so channels compare with each other.
        - ``"fixed"``: ``value_range`` given from outside (for example data-set-wide ranges
          from ``ActivationEngine.channel_ranges``), so colours hold while scrubbing.
    value_range : (low, high), optional
        Scalars or per-channel arrays; required for ``"fixed"``.

    Returns
    -------
    np.ndarray
        ``uint8`` array of the same shape as ``maps``. Never NaN.

    Raises
    ------
    ValueError
        For an unknown mode, or ``"fixed"`` without ``value_range``.

    """
    values = np.asarray(maps, dtype=np.float32)
    # Rows are pixels, columns channels; a plain vector is one channel.
    flat = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values.reshape(-1, 1)
    if mode == "standard":
        # Sums in float64 (exact enough), then one fused scale-and-shift pass over the data.
        count = flat.shape[0]
        mean = flat.sum(axis=0, dtype=np.float64) / count
        mean_square = np.einsum("ij,ij->j", flat, flat, dtype=np.float64) / count
        std = np.sqrt(np.maximum(mean_square - mean * mean, 0.0))
        gain = _STD_SPREAD / np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, np.inf)
        offset = _MID_GREY - mean * gain
    elif mode in ("minmax", "layer", "fixed"):
        if mode == "minmax":
            low, high = flat.min(axis=0), flat.max(axis=0)
        elif mode == "layer":
            low, high = flat.min(), flat.max()
        else:
            if value_range is None:
                raise ValueError(
                    "mode='fixed' needs value_range=(low, high): scalars or one value per "
                    "channel, e.g. from ActivationEngine.channel_ranges(layer, images)."
                )
            low, high = (np.asarray(bound, dtype=np.float64) for bound in value_range)
        span = np.asarray(high, np.float64) - low
        gain = 255.0 / np.where(span > 0, span, np.inf)
        offset = -np.asarray(low, np.float64) * gain
    else:
        raise ValueError(f"Unknown normalisation mode {mode!r}; choose one of {NORM_MODES}.")
    scaled = flat * gain.astype(np.float32)
    scaled += np.asarray(offset, np.float32)
    return np.clip(scaled, 0.0, 255.0, out=scaled).astype(np.uint8).reshape(values.shape)
