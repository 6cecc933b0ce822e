"""Static matplotlib figures of feature maps and single channels, for scripts and reports."""

from __future__ import annotations

from typing import Literal

import numpy as np
from matplotlib.figure import Figure

from convscope.errors import check_choice
from convscope.render.mosaic import as_maps, coloured_grid, colourise
from convscope.render.normalise import NormMode, normalise_channels

Layout = Literal["grid", "strip"]
_GRID_WIDTH_IN = 10.0
_STRIP_WIDTH_IN = 14.0
_TITLE_IN = 0.45


def feature_maps_figure(
    activation: np.ndarray,
    *,
    spatial: bool,
    layout: Layout = "grid",
    images_per_row: int = 16,
    norm: NormMode = "standard",
    value_range: tuple[np.ndarray | float, np.ndarray | float] | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    width: float | None = None,
) -> Figure:
    """Draw one image's activation at a layer: every channel tiled, or a 1-D strip of units.

    Parameters
    ----------
    activation : np.ndarray
        ``(H, W, C)`` for spatial layers, any shape for the others (flattened to units).
    spatial : bool
        Whether ``activation`` holds 2-D maps.
    layout : {"grid", "strip"}
        Channels tiled ``images_per_row`` to a row, or all in one row.
    images_per_row : int
        Cells per row of the grid.
    norm, value_range :
        How values become colours; see :func:`normalise_channels`.
    cmap : str
        A matplotlib colormap name.
    title : str, optional
        Text above the maps.
    width : float, optional
        Figure width in inches.

    Returns
    -------
    matplotlib.figure.Figure

    """
    check_choice("layout", layout, ("grid", "strip"))
    if not spatial:
        return _unit_strip_figure(
            np.ravel(activation), norm, value_range, cmap, title, width or _STRIP_WIDTH_IN
        )
    maps = as_maps(activation)
    pixels = normalise_channels(maps, norm, value_range)
    per_row = maps.shape[-1] if layout == "strip" else images_per_row
    rgb, _ = coloured_grid(pixels, cmap, per_row, gap=max(1, maps.shape[0] // 14))
    width = width or (_STRIP_WIDTH_IN if layout == "strip" else _GRID_WIDTH_IN)
    title_in = _TITLE_IN if title else 0.0
    height = width * rgb.shape[0] / rgb.shape[1] + title_in
    figure = Figure(figsize=(width, height), layout=None)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0 - title_in / height))
    axes.imshow(rgb, interpolation="nearest")
    axes.set_axis_off()
    if title:
        figure.suptitle(title, y=1.0 - 0.1 * title_in / height, va="top", fontsize=11)
    return figure


def _unit_strip_figure(  # noqa: PLR0917 - private helper with the public call's options
    units: np.ndarray,
    norm: NormMode,
    value_range: tuple[np.ndarray | float, np.ndarray | float] | None,
    cmap: str,
    title: str | None,
    width: float,
) -> Figure:
    pixels = normalise_channels(units[np.newaxis], norm, value_range)  # one row of units
    figure = Figure(figsize=(width, 1.4 if title else 1.0), layout="constrained")
    axes = figure.add_subplot()
    axes.imshow(colourise(pixels, cmap), aspect="auto", interpolation="nearest")
    axes.set_yticks([])
    axes.set_xlabel(f"unit (0..{units.size - 1})")
    if title:
        axes.set_title(title, fontsize=11)
    return figure


def channel_figure(
    channel_map: np.ndarray,
    *,
    cmap: str = "viridis",
    title: str | None = None,
    size: float = 4.5,
) -> Figure:
    """Draw one channel large, with a colour bar in the layer's own units.

    Parameters
    ----------
    channel_map : np.ndarray
        ``(H, W)`` raw activation values of one channel.
    cmap : str
        A matplotlib colormap name.
    title : str, optional
        Text above the map.
    size : float
        Figure height in inches.

    Returns
    -------
    matplotlib.figure.Figure

    """
    figure = Figure(figsize=(size * 1.2, size), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(np.atleast_2d(channel_map), cmap=cmap, interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    figure.colorbar(image, ax=axes, shrink=0.85, label="activation")
    if title:
        axes.set_title(title, fontsize=11)
    return figure
