"""The Explorer's four-panel figure, built once and updated in place by swapping artist data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from convscope.render.pixel_panel import PixelPanel

FIGSIZE = (9.0, 4.5)  # 900×450 px at dpi 100
OUTLINE_RGB = (255, 45, 85)  # #ff2d55
_BAR_RGB = (154, 165, 177)
_PREDICTED_RGB = (47, 111, 223)
_TRUE_RGB = (31, 157, 85)
_AXIS_RGB = (87, 96, 106)
_MAX_NAMED_CLASSES = 12  # more names than that would not fit under the bars
_LABEL_ROWS = 14  # pixel rows under the bars for the class names
# Panel boxes (x0, y0, width, height) in figure fractions: input, grid, channel, classes.
# The live view has no titles (the widget's controls say the same), so panels fill the
# height; saved figures make room for titles above each panel.
_LIVE_BOXES = (
    (0.015, 0.34, 0.19, 0.64),
    (0.225, 0.02, 0.50, 0.96),
    (0.745, 0.38, 0.24, 0.60),
    (0.765, 0.04, 0.21, 0.30),
)
_TITLED_BOXES = (
    (0.015, 0.40, 0.19, 0.50),
    (0.225, 0.03, 0.50, 0.87),
    (0.745, 0.42, 0.24, 0.48),
    (0.765, 0.05, 0.21, 0.29),
)


@dataclass(frozen=True)
class ExplorerView:
    """Everything the figure shows for one state of the Explorer, as ready-to-draw arrays.

    Attributes
    ----------
    image : np.ndarray
        The input, ``(H, W)`` grey or ``(H, W, 3)`` RGB ``uint8``.
    grid : np.ndarray
        The coloured channel mosaic ``(h, w, 3)`` ``uint8``.
    outline : (x, y, width, height) or None
        Box around the selected channel's cell, in mosaic pixels; ``None`` for none.
    channel : np.ndarray
        The selected channel, coloured, ``(h, w, 3)`` ``uint8``.
    probabilities : np.ndarray or None
        Class probabilities, or ``None`` for a model without a class output.
    label : int or None
        The true class, highlighted in the probability panel when known.
    image_title, grid_title, channel_title : str
        Panel titles.
    notice : str
        Something the viewer should know about this view (NaN values, say), or ``""``.
    image_outline, channel_outline : (x, y, width, height) or None
        Boxes on the input (a receptive field) and on the selected channel (its unit), in
        their pixels; ``None`` for none.

    """

    image: np.ndarray
    grid: np.ndarray
    outline: tuple[float, float, float, float] | None
    channel: np.ndarray
    probabilities: np.ndarray | None
    label: int | None
    image_title: str
    grid_title: str
    channel_title: str
    notice: str = ""
    image_outline: tuple[float, float, float, float] | None = None
    channel_outline: tuple[float, float, float, float] | None = None


class ExplorerFigure:
    """Own a matplotlib figure laid out as input | channel grid | selected channel + classes.

    Each panel is a :class:`PixelPanel`: pixels composed in numpy and copied into the canvas,
    with no axes, ticks or image pipeline, so a full Agg redraw of the 900×450 figure costs a
    few milliseconds. Panel titles are text, the costliest thing matplotlib draws, so they are
    off in the live view (the widget's controls say the same) and on in :meth:`titled` saves.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        An empty figure (Agg, or an ipympl canvas). It is resized to 9×4.5 inches.
    class_names : sequence of str
        Names of the model's output classes, for the probability panel.
    caption : str
        A line written above the bars, such as which of several model outputs they show.

    """

    def __init__(self, figure: Figure, class_names: list[str], caption: str = "") -> None:
        self.figure = figure
        self.live_titles = False
        figure.set_size_inches(*FIGSIZE)
        figure.patch.set_facecolor("white")
        self.image_panel = PixelPanel(_LIVE_BOXES[0])
        self.grid_panel = PixelPanel(_LIVE_BOXES[1], outline_colour=OUTLINE_RGB)
        self.channel_panel = PixelPanel(_LIVE_BOXES[2])
        self.class_panel = PixelPanel(_LIVE_BOXES[3])
        self.panels = (self.image_panel, self.grid_panel, self.channel_panel, self.class_panel)
        for panel in self.panels:
            figure.add_artist(panel)
        self._titles = {
            panel: figure.text(
                box[0] + box[2] / 2,
                box[1] + box[3] + 0.01,
                "",
                ha="center",
                va="bottom",
                fontsize=9 if panel is self.class_panel else 10,
                visible=False,
                parse_math=False,  # class names are text: "$5" is not maths
            )
            for panel, box in zip(self.panels, _TITLED_BOXES, strict=True)
        }
        self.class_names = list(class_names)
        self._chart = ClassChart(
            self.class_names, _pixel_size(_LIVE_BOXES[3], figure), caption=caption
        )
        self._chart_key: tuple[object, object] | None = None

    def show(self, view: ExplorerView) -> None:
        """Put ``view`` into the figure's artists. Drawing is left to the caller."""
        self.image_panel.set_pixels(view.image)
        self.image_panel.set_outline(view.image_outline)
        self.grid_panel.set_pixels(view.grid)
        self.grid_panel.set_outline(view.outline)
        self.channel_panel.set_pixels(view.channel)
        self.channel_panel.set_outline(view.channel_outline)
        self._titles[self.image_panel].set_text(view.image_title)
        self._titles[self.grid_panel].set_text(view.grid_title)
        self._titles[self.channel_panel].set_text(view.channel_title)
        visible = view.probabilities is not None
        self.class_panel.set_visible(visible)
        key = None if view.probabilities is None else (view.probabilities.tobytes(), view.label)
        if view.probabilities is not None and key != self._chart_key:
            self._chart_key = key
            self.class_panel.set_pixels(self._chart.draw(view.probabilities, view.label))
            predicted = int(np.argmax(view.probabilities))
            name = self.class_names[predicted] if predicted < len(self.class_names) else predicted
            self._titles[self.class_panel].set_text(
                f"predicted {name} ({view.probabilities[predicted]:.0%})"
            )

    @contextmanager
    def titled(self) -> Iterator[None]:
        """Make room for panel titles and show them while the block runs (for saving)."""
        was = self.live_titles
        self.set_live_titles(True)
        try:
            yield
        finally:
            self.set_live_titles(was)

    def set_live_titles(self, show: bool) -> None:
        """Show the panel titles on the live figure too (teaching mode), or hide them."""
        self.live_titles = show
        boxes = _TITLED_BOXES if show else _LIVE_BOXES
        for (panel, title), box in zip(self._titles.items(), boxes, strict=True):
            title.set_visible(show and panel.get_visible())
            panel.box = box


class ClassChart:
    """A bar chart of class probabilities drawn straight into an RGB array.

    Ten bar patches with ten tick labels cost more to draw than all the feature maps in the
    figure; one small image costs almost nothing. The class names are rendered once.

    Parameters
    ----------
    class_names : list of str
        One bar per name; the names are written under the bars when there are at most 12.
    size : (height, width)
        Size of the chart in pixels.
    caption : str
        A line of text above the bars, rendered once; ``""`` for none.

    """

    def __init__(self, class_names: list[str], size: tuple[int, int], caption: str = "") -> None:
        self.count = max(1, len(class_names))
        height, width = size
        named = len(class_names) <= _MAX_NAMED_CLASSES
        self.bar_rows = height - (_LABEL_ROWS if named else 0) - 1
        self.background = np.full((height, width, 3), 255, np.uint8)
        self.top = 0
        if caption:
            self.top = _LABEL_ROWS
            self.background[: self.top] = _text_strip([caption], (self.top, width))
        self.background[self.bar_rows] = _AXIS_RGB
        if named:
            self.background[self.bar_rows + 1 :] = _text_strip(
                class_names, (height - self.bar_rows - 1, width)
            )
        # Pixel columns of each bar: the middle 80 % of its slot.
        edges = np.linspace(0, width, self.count + 1)
        margin = 0.1 * (edges[1] - edges[0])
        self.columns = np.stack([edges[:-1] + margin, edges[1:] - margin], axis=1).round()
        self.columns = self.columns.astype(int)

    def draw(self, probabilities: np.ndarray, label: int | None) -> np.ndarray:
        """Return the chart: the predicted class blue, a true class the model missed green."""
        chart = self.background.copy()
        predicted = int(np.argmax(probabilities))
        heights = np.round(np.clip(probabilities, 0, 1) * (self.bar_rows - self.top - 1))
        heights = heights.astype(int)
        for index, ((left, right), height) in enumerate(zip(self.columns, heights, strict=False)):
            colour = _PREDICTED_RGB if index == predicted else _BAR_RGB
            if index == label and label != predicted:
                colour = _TRUE_RGB
            chart[self.bar_rows - height : self.bar_rows, left:right] = colour  # one bar per class
        return np.asarray(chart)


def _pixel_size(box: tuple[float, float, float, float], figure: Figure) -> tuple[int, int]:
    """Height and width in pixels of a figure-fraction ``box`` at the figure's dpi."""
    width, height = figure.get_size_inches() * figure.dpi
    return round(box[3] * height), round(box[2] * width)


def _text_strip(names: list[str], size: tuple[int, int]) -> np.ndarray:
    """Render ``names`` centred in equal slots, once, into an RGB array of ``size``."""
    height, width = size
    dpi = 100
    strip = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(strip)
    for index, name in enumerate(names):
        strip.text(
            (index + 0.5) / len(names),
            0.5,
            name,
            ha="center",
            va="center",
            fontsize=8,
            parse_math=False,  # class names are text: "$5" is not maths
        )
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
    return np.array(np.asarray(rgba)[:height, :width, :3])
