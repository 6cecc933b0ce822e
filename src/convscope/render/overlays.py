"""Heatmaps drawn over their input image, and grids of generated images, as static figures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from convscope.errors import InvalidArgumentError, check_real
from convscope.render.mosaic import MosaicLayout, channel_grid, colour_table

_RGB = 3
# Between generated images: a colour no grey pattern has, since white and black ones are common.
FRAME_RGB = (70, 110, 160)
_GRID_WIDTH_IN = 10.0
_TITLE_IN = 0.45


def display_rgb(image: np.ndarray) -> np.ndarray:
    """Return an input image as float RGB in [0, 1] for display, scaled by its own range.

    Parameters
    ----------
    image : np.ndarray
        ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` in any units (raw 0..255 pixels, or scaled).

    Returns
    -------
    np.ndarray
        ``(H, W, 3)`` float32; a flat image is black.

    """
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == _RGB and pixels.shape[-1] != _RGB:
        pixels = pixels.mean(axis=-1)
    if pixels.ndim == _RGB - 1:
        pixels = np.repeat(pixels[..., np.newaxis], _RGB, axis=-1)
    low, span = float(pixels.min()), float(np.ptp(pixels))
    return (pixels - low) / span if span > 0 else np.zeros_like(pixels)


def overlay(
    image: np.ndarray, heat: np.ndarray, cmap: str = "jet", alpha: float = 0.5
) -> np.ndarray:
    """Blend a [0, 1] heatmap, coloured by ``cmap``, over ``image``.

    Parameters
    ----------
    image : np.ndarray
        The input image, as :func:`display_rgb` takes it.
    heat : np.ndarray
        ``(H, W)`` values in [0, 1], at the image's resolution.
    cmap : str
        A matplotlib colormap name.
    alpha : float
        The heatmap's opacity, 0 (only the image) to 1 (only the heatmap).

    Returns
    -------
    np.ndarray
        ``(H, W, 3)`` uint8.

    """
    alpha = check_real("alpha", alpha, 0.5)
    if not 0.0 <= alpha <= 1.0:
        raise InvalidArgumentError(f"alpha must be between 0 and 1, got {alpha!r}; e.g. 0.5.")
    base = display_rgb(image)
    if base.shape[:2] != np.shape(heat):
        raise InvalidArgumentError(
            f"heat {np.shape(heat)} and image {base.shape[:2]} differ in size."
        )
    levels = np.round(np.clip(heat, 0.0, 1.0) * 255).astype(np.intp)
    coloured: np.ndarray = colour_table(cmap)[levels].astype(np.float32) / 255
    blended = (1.0 - alpha) * base + alpha * coloured
    return np.round(blended * 255).astype(np.uint8)


def overlay_figure(
    image: np.ndarray,
    heat: np.ndarray,
    *,
    cmap: str = "jet",
    alpha: float = 0.5,
    title: str | None = None,
    label: str = "heat",
    size: float = 3.2,
) -> Figure:
    """Draw the input and the heatmap over it side by side, with a colour bar for the heat.

    Parameters
    ----------
    image : np.ndarray
        The input image in the model's units.
    heat : np.ndarray
        ``(H, W)`` in [0, 1].
    cmap : str
        A matplotlib colormap name.
    alpha : float
        The heatmap's opacity.
    title : str, optional
        Text above the panels.
    label : str
        The colour bar's label.
    size : float
        Height of a panel in inches.

    Returns
    -------
    matplotlib.figure.Figure

    """
    blended = overlay(image, heat, cmap, alpha)
    figure = Figure(figsize=(2.35 * size, size + (0.35 if title else 0.0)), layout="constrained")
    left, right = figure.subplots(1, 2)
    left.imshow(display_rgb(image), interpolation="nearest")
    left.set_title("input", fontsize=10)
    right.imshow(blended, interpolation="nearest")
    right.set_title(f"{label} over the input", fontsize=10)
    for axes in (left, right):
        axes.set_xticks([])
        axes.set_yticks([])
    scale = ScalarMappable(Normalize(0.0, 1.0), colormaps[cmap])
    figure.colorbar(scale, ax=right, shrink=0.85, label=label)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


def image_grid(
    images: np.ndarray, images_per_row: int = 16, gap: int = 1
) -> tuple[np.ndarray, MosaicLayout]:
    """Tile ``(C, H, W, channels)`` images in [0, 1] like feature maps, framed in ``FRAME_RGB``.

    Three channels are drawn as RGB, any other number as their grey mean.

    Returns
    -------
    mosaic : np.ndarray
        ``(h, w, 3)`` uint8.
    layout : MosaicLayout
        Where each image landed.

    """
    stack = np.asarray(images, dtype=np.float32)
    if stack.ndim != 4:  # noqa: PLR2004
        raise InvalidArgumentError(
            f"Expected images of shape (count, H, W, channels), got {stack.shape}."
        )
    if stack.shape[-1] != _RGB:
        stack = stack.mean(axis=-1, keepdims=True)
    pixels = np.round(np.clip(stack, 0.0, 1.0) * 255).astype(np.uint8)
    tiled = [
        channel_grid(plane, images_per_row, gap, fill, channels_first=True)
        for plane, fill in zip(np.moveaxis(pixels, -1, 0), FRAME_RGB, strict=False)
    ]
    mosaic, layout = np.stack([plane for plane, _ in tiled], axis=-1), tiled[0][1]
    if mosaic.shape[-1] == 1:  # grey: repeat the plane, then paint the frame
        frame = channel_grid(
            np.ones(pixels.shape[:3], bool), images_per_row, gap, channels_first=True
        )[0]
        mosaic = np.repeat(mosaic, _RGB, axis=-1)
        mosaic[~frame] = FRAME_RGB
    return mosaic, layout


def image_grid_figure(
    images: np.ndarray,
    *,
    images_per_row: int = 16,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    width: float | None = None,
) -> Figure:
    """Draw generated images (filter patterns, class images) in a grid, optionally labelled.

    Parameters
    ----------
    images : np.ndarray
        ``(C, H, W, channels)`` in [0, 1].
    images_per_row : int
        Cells per row, as in the feature-map grids.
    labels : sequence of str, optional
        One short label per image, drawn in the top-left corner of its cell.
    title : str, optional
        Text above the grid.
    width : float, optional
        Figure width in inches.

    Returns
    -------
    matplotlib.figure.Figure

    """
    cell = np.shape(images)[1]
    mosaic, layout = image_grid(images, images_per_row, gap=max(1, cell // 14))
    width = width or _GRID_WIDTH_IN
    title_in = _TITLE_IN if title else 0.0
    height = width * mosaic.shape[0] / mosaic.shape[1] + title_in
    figure = Figure(figsize=(width, height), layout=None)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0 - title_in / height))
    axes.imshow(mosaic, interpolation="nearest")
    axes.set_axis_off()
    for index, label in enumerate(labels or []):
        x, y, _, _ = layout.cell_box(index)
        axes.text(
            x + 1.5 * layout.gap,
            y + 1.5 * layout.gap,
            label,
            color="white",
            fontsize=8,
            va="top",
            bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0},
        )
    if title:
        figure.suptitle(title, y=1.0 - 0.1 * title_in / height, va="top", fontsize=11)
    return figure
