"""The Explorer's four-panel figure, built once and updated in place by swapping artist data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

FIGSIZE = (9.0, 4.5)  # 900×450 px at dpi 100
OUTLINE_COLOUR = "#ff2d55"
_BAR_COLOUR = "#9aa5b1"
_PREDICTED_COLOUR = "#2f6fdf"
_TRUE_COLOUR = "#1f9d55"


@dataclass(frozen=True)
class ExplorerView:
    """Everything the figure shows for one state of the Explorer, as ready-to-draw arrays.

    Attributes
    ----------
    image : np.ndarray
        The input, ``(H, W)`` grey or ``(H, W, 3)`` RGB ``uint8``.
    grid : np.ndarray
        The coloured channel mosaic ``(h, w, 3)`` ``uint8``.
    outline : (x, y, width, height)
        The selected channel's cell in mosaic pixel coordinates.
    channel : np.ndarray
        The selected channel, coloured, ``(h, w, 3)`` ``uint8``.
    probabilities : np.ndarray or None
        Class probabilities, or ``None`` for a model without a class output.
    label : int or None
        The true class, highlighted in the probability panel when known.
    image_title, grid_title, channel_title : str
        Panel titles.

    """

    image: np.ndarray
    grid: np.ndarray
    outline: tuple[float, float, float, float]
    channel: np.ndarray
    probabilities: np.ndarray | None
    label: int | None
    image_title: str
    grid_title: str
    channel_title: str


class ExplorerFigure:
    """Own a matplotlib figure laid out as input | channel grid | selected channel + classes.

    Every artist is created once; :meth:`show` only swaps data, so a redraw costs one Agg pass
    and no layout. Axes carry no tick text, which keeps that pass near 10 ms.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        An empty figure (Agg, or an ipympl canvas). It is resized to 9×4.5 inches.
    class_names : sequence of str
        Names of the model's output classes, for the probability panel.

    """

    def __init__(self, figure: Figure, class_names: list[str]) -> None:
        self.figure = figure
        figure.set_size_inches(*FIGSIZE)
        figure.patch.set_facecolor("white")
        blank = np.zeros((2, 2, 3), np.uint8)

        self.image_axes = figure.add_axes((0.015, 0.45, 0.19, 0.45))
        self.grid_axes = figure.add_axes((0.225, 0.03, 0.50, 0.86))
        self.channel_axes = figure.add_axes((0.745, 0.45, 0.24, 0.45))
        self.class_axes = figure.add_axes((0.775, 0.05, 0.21, 0.32))
        for axes in (self.image_axes, self.grid_axes, self.channel_axes):
            axes.set_axis_off()

        self._image = self.image_axes.imshow(blank, cmap="gray", vmin=0, vmax=255)
        self._grid = self.grid_axes.imshow(blank, interpolation="nearest")
        self._channel = self.channel_axes.imshow(blank, interpolation="nearest")
        self._outline = Rectangle((0, 0), 1, 1, fill=False, lw=2.0, ec=OUTLINE_COLOUR)
        self.grid_axes.add_patch(self._outline)
        self._titles = {
            axes: axes.set_title("", fontsize=10)
            for axes in (self.image_axes, self.grid_axes, self.channel_axes)
        }

        self.class_names = list(class_names)
        count = len(self.class_names)
        self._bars = self.class_axes.bar(
            np.arange(count), np.zeros(count), color=_BAR_COLOUR, width=0.8
        )
        self.class_axes.set_ylim(0, 1)
        self.class_axes.set_xlim(-0.6, count - 0.4)
        show_names = count <= 12  # noqa: PLR2004 - more tick labels than that would overlap
        self.class_axes.set_xticks(
            np.arange(count) if show_names else [], self.class_names if show_names else []
        )
        self.class_axes.tick_params(length=0, labelsize=8, pad=1)
        self.class_axes.set_yticks([])
        for side in ("top", "right", "left"):
            self.class_axes.spines[side].set_visible(False)
        self._class_title = self.class_axes.set_title("", fontsize=9)

    def show(self, view: ExplorerView) -> None:
        """Put ``view`` into the figure's artists. Drawing is left to the caller."""
        self._set_image(self._image, self.image_axes, view.image)
        self._set_image(self._grid, self.grid_axes, view.grid)
        self._set_image(self._channel, self.channel_axes, view.channel)
        x, y, width, height = view.outline
        self._outline.set_bounds(x, y, width, height)
        self._titles[self.image_axes].set_text(view.image_title)
        self._titles[self.grid_axes].set_text(view.grid_title)
        self._titles[self.channel_axes].set_text(view.channel_title)
        self._show_probabilities(view.probabilities, view.label)

    def _show_probabilities(self, probabilities: np.ndarray | None, label: int | None) -> None:
        self.class_axes.set_visible(probabilities is not None)
        if probabilities is None:
            return
        predicted = int(np.argmax(probabilities))
        for index, (bar, value) in enumerate(zip(self._bars, probabilities, strict=False)):
            bar.set_height(float(value))
            colour = _PREDICTED_COLOUR if index == predicted else _BAR_COLOUR
            if label is not None and index == label and label != predicted:
                colour = _TRUE_COLOUR
            bar.set_color(colour)
        name = self.class_names[predicted] if predicted < len(self.class_names) else predicted
        self._class_title.set_text(f"predicted {name} ({probabilities[predicted]:.0%})")

    @staticmethod
    def _set_image(artist: object, axes: object, pixels: np.ndarray) -> None:
        height, width = pixels.shape[:2]
        if artist.get_array().shape[:2] != (height, width):
            extent = (-0.5, width - 0.5, height - 0.5, -0.5)
            artist.set_extent(extent)
            axes.set_xlim(extent[0], extent[1])
            axes.set_ylim(extent[2], extent[3])
        artist.set_data(pixels)
