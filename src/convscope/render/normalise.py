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
    axes = tuple(range(values.ndim - 1)) if values.ndim > 1 else None
    if mode == "standard":
        mean = values.mean(axis=axes, keepdims=True)
        std = values.std(axis=axes, keepdims=True)
        scaled = (values - mean) / np.where(std > 0, std, 1.0) * _STD_SPREAD + _MID_GREY
    elif mode in ("minmax", "layer", "fixed"):
        if mode == "minmax":
            low, high = values.min(axis=axes, keepdims=True), values.max(axis=axes, keepdims=True)
        elif mode == "layer":
            low, high = values.min(), values.max()
        else:
            if value_range is None:
                raise ValueError(
                    "mode='fixed' needs value_range=(low, high): scalars or one value per "
                    "channel, e.g. from ActivationEngine.channel_ranges(layer, images)."
                )
            low, high = (np.asarray(bound, dtype=np.float32) for bound in value_range)
        span = np.asarray(high - low, dtype=np.float32)
        scaled = (values - low) / np.where(span > 0, span, 1.0) * 255.0
    else:
        raise ValueError(f"Unknown normalisation mode {mode!r}; choose one of {NORM_MODES}.")
    return np.clip(scaled, 0.0, 255.0, out=scaled).astype(np.uint8)
