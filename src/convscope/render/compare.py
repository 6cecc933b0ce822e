"""Two samples' maps on one colour scale, and their difference on a scale symmetric about 0."""

from __future__ import annotations

import numpy as np

from convscope.errors import InvalidArgumentError
from convscope.render.normalise import NormMode, normalise_channels

COMPARE_MODES: tuple[str, ...] = ("side", "difference")
DIFFERENCE_CMAP = "RdBu_r"  # 0 is near-white; A stronger is red, B stronger is blue
# Diverging colormaps, centred on a neutral colour: the difference keeps one of these if it is
# the colormap in use, and takes DIFFERENCE_CMAP otherwise.
DIVERGING_CMAPS = frozenset(
    {"RdBu_r", "RdBu", "coolwarm", "bwr", "seismic", "PiYG", "PRGn", "PuOr", "BrBG", "RdGy"}
)
_ZERO = 128  # the colour table's middle entry: no difference
_SPREAD = 127.0  # entries 1..255: as many either side of 0


def difference_cmap(cmap: str) -> str:
    """Return the colormap a difference is drawn in: ``cmap`` if diverging, else RdBu_r."""
    return cmap if cmap in DIVERGING_CMAPS else DIFFERENCE_CMAP


def _per_unit(maps: np.ndarray, mode: str) -> str:
    """Dense units as ``(1, 1, C)`` maps have one value each: they share one scale."""
    single = maps.shape[0] * maps.shape[1] == 1
    return "layer" if single and mode in ("standard", "minmax") else mode


def joint_pixels(
    maps_a: np.ndarray,
    maps_b: np.ndarray,
    mode: NormMode,
    value_range: tuple[np.ndarray | float, np.ndarray | float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scale two samples' maps ``(H, W, C)`` to ``uint8`` with one scale per channel for both.

    Each scale of :func:`~convscope.render.normalise.normalise_channels` is measured over the
    pixels of both samples at once (the mean and spread for ``standard``, the extremes for
    ``minmax`` and ``layer``; ``fixed`` is the data set's already), so an activation of the
    same value gets the same colour in A and in B.

    Returns
    -------
    pixels_a, pixels_b : np.ndarray
        ``(C, H, W)`` ``uint8`` each, channels first as a mosaic is tiled from.

    """
    both = np.stack([maps_a, maps_b])
    pixels = normalise_channels(
        both,
        _per_unit(maps_a, mode),  # type: ignore[arg-type]
        value_range,
        channels_first=True,
    )
    return pixels[:, 0], pixels[:, 1]


def difference_pixels(
    maps_a: np.ndarray,
    maps_b: np.ndarray,
    mode: NormMode,
    value_range: tuple[np.ndarray | float, np.ndarray | float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``A - B`` and its colour indices ``(C, H, W)`` on a scale symmetric about 0.

    Index 128, the middle of the colour table, is a difference of 0; ``+bound`` is 255 and
    ``-bound`` is 1, where ``bound`` is each channel's largest ``|A - B|`` (``standard`` and
    ``minmax``), the layer's (``layer``), or each channel's data-set range (``fixed``: the
    colour of a difference then means the same for every pair). NaN and Inf differences are
    drawn as 0 and returned as they are, for marking.

    Returns
    -------
    difference : np.ndarray
        ``A - B`` as ``(H, W, C)`` ``float32``.
    pixels : np.ndarray
        ``(C, H, W)`` ``uint8``.

    """
    with np.errstate(invalid="ignore", over="ignore"):
        difference = np.subtract(maps_a, maps_b, dtype=np.float32)
    finite = np.where(np.isfinite(difference), difference, np.float32(0.0))
    mode = _per_unit(maps_a, mode)  # type: ignore[assignment]
    size = np.abs(finite).reshape(-1, finite.shape[-1])
    if mode in ("standard", "minmax"):
        bound = size.max(axis=0)
    elif mode == "layer":
        bound = np.full(finite.shape[-1], size.max() if size.size else 0.0, np.float32)
    else:
        if value_range is None:
            raise InvalidArgumentError(
                "mode='fixed' needs value_range=(low, high), e.g. from "
                "ActivationEngine.channel_ranges(layer, images)."
            )
        low, high = (np.asarray(bound, np.float32) for bound in value_range)
        bound = np.broadcast_to(high - low, (finite.shape[-1],))
    gain = _SPREAD / np.where(bound > 0, bound, np.inf).astype(np.float32)
    scaled = np.clip(np.rint(finite * gain), -_SPREAD, _SPREAD) + _ZERO
    return difference, np.ascontiguousarray(np.moveaxis(scaled.astype(np.uint8), -1, 0))
