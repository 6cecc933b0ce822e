"""Figures of data-set insight: a channel's strongest images, and a confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convscope.render.overlays import display_rgb

OUTLINE = "#ff2d55"  # the Explorer's channel outline colour
_CELL_IN = 1.3
_UPRIGHT_NAMES = 12  # more class names than that are turned on their side


def top_images_figure(
    images: np.ndarray,
    indices: Sequence[int],
    peaks: Sequence[float],
    boxes: Sequence[tuple[int, int, int, int]] | None,
    *,
    title: str,
    per_row: int = 9,
) -> Figure:
    """Draw images in a row (or rows), each with its index, its peak, a box and its crop.

    With ``boxes``, each image has its box outlined and, under it, the pixels inside the box
    enlarged to the image's size: what the peak unit sees. Its axes are labelled
    ``"crop <position>"`` and the images' axes ``"image <position>"``.

    Parameters
    ----------
    images : np.ndarray
        ``(k, H, W)`` or ``(k, H, W, C)`` in any units; each is scaled by its own range, and
        its crop by the same.
    indices, peaks : sequence
        Each image's index in the data set and the channel's peak on it, for its title.
    boxes : sequence of (top, left, bottom, right), optional
        Half-open pixel boxes to outline and crop: where the peak's receptive field lies.
    title : str
        Text above the images.
    per_row : int
        Images per row.

    Returns
    -------
    matplotlib.figure.Figure

    """
    count = len(images)
    columns = max(1, min(per_row, count))
    rows = max(1, -(-count // columns))
    tiers = 1 if boxes is None else 2  # an image, then its crop under it
    figure = Figure(
        figsize=(_CELL_IN * columns, _CELL_IN * rows * tiers + 0.5), layout="constrained"
    )
    grid = figure.subplots(rows * tiers, columns, squeeze=False)
    for axes in grid.ravel():
        axes.set_axis_off()
    for position, (image, index, peak) in enumerate(zip(images, indices, peaks, strict=True)):
        row, column = divmod(position, columns)
        axes = grid[row * tiers, column]
        shown = display_rgb(image)
        axes.imshow(shown, interpolation="nearest")
        axes.set_title(f"#{index}  ·  {peak:.3g}", fontsize=8)
        axes.set_label(f"image {position}")
        if boxes is None:
            continue
        top, left, bottom, right = boxes[position]
        axes.add_patch(
            Rectangle(
                (left - 0.5, top - 0.5),
                right - left,
                bottom - top,
                fill=False,
                edgecolor=OUTLINE,
                linewidth=1.5,
            )
        )
        crop = grid[row * tiers + 1, column]
        crop.imshow(shown[top:bottom, left:right], interpolation="nearest")
        crop.set_label(f"crop {position}")
        for spine in crop.spines.values():  # framed in the box's colour: it is the box
            spine.set_edgecolor(OUTLINE)
            spine.set_linewidth(1.5)
        crop.set_axis_on()
        crop.set_xticks([])
        crop.set_yticks([])
    figure.suptitle(title, fontsize=10)
    return figure


def confusion_figure(counts: np.ndarray, class_names: Sequence[str]) -> Figure:
    """Draw a confusion matrix: rows the true class, columns the predicted, counts written in.

    The colour is the count on a log scale, so that the few mistakes stay visible beside the
    many right answers on the diagonal.
    """
    size = max(3.5, 0.45 * len(class_names) + 1.5)
    figure = Figure(figsize=(size + 0.8, size), layout="constrained")
    axes = figure.subplots()
    shown = axes.imshow(np.log1p(counts), cmap="Blues")
    figure.colorbar(shown, ax=axes, shrink=0.8, label="log(1 + count)")
    ticks = np.arange(len(class_names))
    turned = 90 if len(class_names) > _UPRIGHT_NAMES else 0
    axes.set_xticks(ticks, class_names, fontsize=8, rotation=turned)
    axes.set_yticks(ticks, class_names, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if len(class_names) <= 20:  # noqa: PLR2004 - beyond that the numbers do not fit
        dark = np.log1p(counts) > 0.6 * np.log1p(max(int(counts.max()), 1))
        for (true, predicted), count in np.ndenumerate(counts):
            axes.text(
                predicted,
                true,
                str(count),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark[true, predicted] else "black",
            )
    total = int(counts.sum())
    right = int(np.trace(counts))
    axes.set_title(f"{right:,} of {total:,} right ({right / max(total, 1):.1%})", fontsize=10)
    return figure
