"""The Explorer's four-panel figure, built once and updated in place by swapping artist data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from convscope.render.mosaic import colour_table
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
# Comparing two samples. "side": a row per sample, A above B, each input | grid | channel |
# classes. "difference": A above B on the left, the grid and channel of A - B, a legend of
# its colours, and the two samples' classes side by side.
Boxes = dict[str, tuple[float, float, float, float]]


def _rows(y_a: float, y_b: float, height: float, class_height: float) -> Boxes:
    boxes: Boxes = {}
    for suffix, y0 in (("", y_a), ("_b", y_b)):
        boxes["image" + suffix] = (0.010, y0, 0.13, height)
        boxes["grid" + suffix] = (0.150, y0, 0.52, height)
        boxes["channel" + suffix] = (0.680, y0, 0.15, height)
        boxes["classes" + suffix] = (0.845, y0 + (height - class_height) / 2, 0.145, class_height)
    return boxes


def _tagged(boxes: Boxes, y_a: float, y_b: float) -> Boxes:
    """Add the live view's "A" and "B" tags, left of each input (saves have titles)."""
    return {**boxes, "tag": (0.0, y_a, 0.03, 0.07), "tag_b": (0.0, y_b, 0.03, 0.07)}


_LAYOUTS: dict[str, tuple[Boxes, Boxes]] = {
    "single": (
        dict(zip(("image", "grid", "channel", "classes"), _LIVE_BOXES, strict=True)),
        dict(zip(("image", "grid", "channel", "classes"), _TITLED_BOXES, strict=True)),
    ),
    "side": (_tagged(_rows(0.51, 0.02, 0.47, 0.36), 0.90, 0.41), _rows(0.535, 0.05, 0.38, 0.30)),
    "difference": (
        {
            "tag": (0.0, 0.71, 0.03, 0.07),
            "tag_b": (0.0, 0.22, 0.03, 0.07),
            "image": (0.035, 0.51, 0.17, 0.47),
            "image_b": (0.035, 0.02, 0.17, 0.47),
            "grid": _LIVE_BOXES[1],
            "channel": (0.745, 0.44, 0.24, 0.54),
            "legend": (0.745, 0.365, 0.24, 0.06),
            "classes": (0.745, 0.04, 0.115, 0.30),
            "classes_b": (0.870, 0.04, 0.115, 0.30),
        },
        {
            "image": (0.015, 0.535, 0.19, 0.38),
            "image_b": (0.015, 0.05, 0.19, 0.38),
            "grid": _TITLED_BOXES[1],
            "channel": (0.745, 0.47, 0.24, 0.43),
            "legend": (0.745, 0.385, 0.24, 0.06),
            "classes": (0.745, 0.05, 0.115, 0.26),
            "classes_b": (0.870, 0.05, 0.115, 0.26),
        },
    ),
}


def grid_aspect(layout: str = "single") -> float:
    """Width / height of the live grid panel in ``layout``, to choose the mosaic's columns."""
    _, _, width, height = _LAYOUTS[layout][0]["grid"]
    return (width * FIGSIZE[0]) / (height * FIGSIZE[1])


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
    compare : ExplorerView or None
        Sample B, when two samples are compared; ``None`` shows one sample.
    mode : {"side", "difference"}
        How two samples are compared: B's own grid and channel in a row below A's (on the
        same colour scale), or one grid and channel of ``A - B`` (this view's) with B's input
        and classes beside A's.
    legend_cmap : str
        The diverging colormap of a difference, for its legend.

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
    compare: ExplorerView | None = None
    mode: str = "side"
    legend_cmap: str = ""


class ExplorerFigure:
    """Own a matplotlib figure laid out as input | channel grid | selected channel + classes.

    While two samples are compared it takes one of two more layouts (:data:`_LAYOUTS`): a row
    per sample, A above B, or A's and B's inputs on the left of one grid of ``A - B`` with a
    legend of its colours; small "A" and "B" tags mark the rows of the live view.

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
        # Sample B's panels and the difference's legend, shown while two samples are compared.
        self.image_b_panel = PixelPanel(_LIVE_BOXES[0])
        self.grid_b_panel = PixelPanel(_LIVE_BOXES[1], outline_colour=OUTLINE_RGB)
        self.channel_b_panel = PixelPanel(_LIVE_BOXES[2])
        self.class_b_panel = PixelPanel(_LIVE_BOXES[3])
        self.legend_panel = PixelPanel(_LIVE_BOXES[3])
        self.tag_panel = PixelPanel(_LIVE_BOXES[3])
        self.tag_b_panel = PixelPanel(_LIVE_BOXES[3])
        for panel, letter in ((self.tag_panel, "A"), (self.tag_b_panel, "B")):
            panel.set_pixels(_text_strip([letter], (28, 24), fontsize=16))
        self._named = {
            "image": self.image_panel,
            "grid": self.grid_panel,
            "channel": self.channel_panel,
            "classes": self.class_panel,
            "image_b": self.image_b_panel,
            "grid_b": self.grid_b_panel,
            "channel_b": self.channel_b_panel,
            "classes_b": self.class_b_panel,
            "legend": self.legend_panel,
            "tag": self.tag_panel,
            "tag_b": self.tag_b_panel,
        }
        self.panels = tuple(self._named.values())
        for panel in self.panels:
            figure.add_artist(panel)
        self._titles = {
            panel: figure.text(
                0,
                0,
                "",
                ha="center",
                va="bottom",
                fontsize=9 if panel in (self.class_panel, self.class_b_panel) else 10,
                visible=False,
                parse_math=False,  # class names are text: "$5" is not maths
            )
            for panel in self.panels
            if panel not in (self.legend_panel, self.tag_panel, self.tag_b_panel)
        }
        self.class_names = list(class_names)
        self._caption = caption
        self._charts: dict[tuple[int, int], ClassChart] = {}
        self._chart_keys: dict[PixelPanel, tuple[object, ...]] = {}
        self._legends: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
        self.layout = "single"
        self._has_classes = {self.class_panel: True, self.class_b_panel: True}
        self._place()

    @property
    def caption(self) -> str:
        """The line written above the bars."""
        return self._caption

    def show(self, view: ExplorerView) -> None:
        """Put ``view`` into the figure's artists. Drawing is left to the caller."""
        other = view.compare
        layout = "single" if other is None else view.mode
        tag = "" if other is None else "A"
        self._show_sample(view, (self.image_panel, self.grid_panel, self.channel_panel), tag)
        self._show_classes(self.class_panel, view, tag, layout)
        if other is not None:
            self._show_sample(
                other, (self.image_b_panel, self.grid_b_panel, self.channel_b_panel), "B"
            )
            self._show_classes(self.class_b_panel, other, "B", layout)
            if layout == "difference":
                self.legend_panel.set_pixels(self._legend(view.legend_cmap, layout))
        if layout != self.layout:
            self.layout = layout
        self._place()

    def _show_sample(
        self, view: ExplorerView, panels: tuple[PixelPanel, PixelPanel, PixelPanel], tag: str
    ) -> None:
        image, grid, channel = panels
        image.set_pixels(view.image)
        image.set_outline(view.image_outline)
        grid.set_pixels(view.grid)
        grid.set_outline(view.outline)
        channel.set_pixels(view.channel)
        channel.set_outline(view.channel_outline)
        # Two short lines over a compared sample's narrow input: "A · sample 3", "label 7".
        title = f"{tag} · {view.image_title}".replace("  ·  ", "\n", 1) if tag else view.image_title
        self._titles[image].set_text(title)
        self._titles[grid].set_text(view.grid_title)
        self._titles[channel].set_text(view.channel_title)

    def _show_classes(self, panel: PixelPanel, view: ExplorerView, tag: str, layout: str) -> None:
        self._has_classes[panel] = view.probabilities is not None
        if view.probabilities is None:
            return
        size = _pixel_size(
            _LAYOUTS[layout][0]["classes_b" if tag == "B" else "classes"], self.figure
        )
        key = (view.probabilities.tobytes(), view.label, size)
        if key == self._chart_keys.get(panel):
            return
        self._chart_keys[panel] = key
        chart = self._charts.get(size)
        if chart is None:
            chart = self._charts[size] = ClassChart(self.class_names, size, caption=self._caption)
        panel.set_pixels(chart.draw(view.probabilities, view.label))
        predicted = int(np.argmax(view.probabilities))
        name = self.class_names[predicted] if predicted < len(self.class_names) else predicted
        said = "" if layout == "difference" else "predicted "  # two narrow charts there
        prefix = f"{tag}: " if tag else ""
        self._titles[panel].set_text(f"{prefix}{said}{name} ({view.probabilities[predicted]:.0%})")

    def _legend(self, cmap: str, layout: str) -> np.ndarray:
        """Return the difference's labelled colour bar, rendered once per colormap and size."""
        size = _pixel_size(_LAYOUTS[layout][0]["legend"], self.figure)
        legend = self._legends.get((cmap, size))
        if legend is None:
            legend = self._legends[(cmap, size)] = difference_legend(cmap, size)
        return legend

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
        self._place()

    def _place(self) -> None:
        """Put each panel of the layout in its box and show it (with its title); hide the rest."""
        boxes = _LAYOUTS[self.layout][1 if self.live_titles else 0]
        for name, panel in self._named.items():
            box = boxes.get(name)
            visible = box is not None and self._has_classes.get(panel, True)
            panel.set_visible(visible)
            if box is not None:
                panel.box = box
            title = self._titles.get(panel)
            if title is not None:
                title.set_visible(self.live_titles and visible)
                if box is not None:
                    title.set_position((box[0] + box[2] / 2, box[1] + box[3] + 0.01))


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
        # Opaque RGBA, whole pixels adjacent: the panel takes each chart as it is, one word a
        # pixel, where RGB would cost a strided copy into RGBA on every update.
        self.background = np.full((height, width, 4), 255, np.uint8)
        rgb = self.background[..., :3]
        self.top = 0
        if caption:
            self.top = _LABEL_ROWS
            rgb[: self.top] = _text_strip([caption], (self.top, width))
        rgb[self.bar_rows] = _AXIS_RGB
        if named:
            rgb[self.bar_rows + 1 :] = _text_strip(class_names, (height - self.bar_rows - 1, width))
        # Pixel columns of each bar: the middle 80 % of its slot.
        edges = np.linspace(0, width, self.count + 1)
        margin = 0.1 * (edges[1] - edges[0])
        self.columns = np.stack([edges[:-1] + margin, edges[1:] - margin], axis=1).round()
        self.columns = self.columns.astype(int)

    def draw(self, probabilities: np.ndarray, label: int | None) -> np.ndarray:
        """Return the chart, opaque RGBA: the predicted class blue, a true class missed green."""
        chart = self.background.copy()
        predicted = int(np.argmax(probabilities))
        heights = np.round(np.clip(probabilities, 0, 1) * (self.bar_rows - self.top - 1))
        heights = heights.astype(int)
        for index, ((left, right), height) in enumerate(zip(self.columns, heights, strict=False)):
            colour = _PREDICTED_RGB if index == predicted else _BAR_RGB
            if index == label and label != predicted:
                colour = _TRUE_RGB
            chart[self.bar_rows - height : self.bar_rows, left:right] = (*colour, 255)  # a bar
        return np.asarray(chart)


def _pixel_size(box: tuple[float, float, float, float], figure: Figure) -> tuple[int, int]:
    """Height and width in pixels of a figure-fraction ``box`` at the figure's dpi."""
    width, height = figure.get_size_inches() * figure.dpi
    return round(box[3] * height), round(box[2] * width)


def _text_strip(names: list[str], size: tuple[int, int], fontsize: float = 8) -> np.ndarray:
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
            fontsize=fontsize,
            parse_math=False,  # class names are text: "$5" is not maths
        )
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
    return np.array(np.asarray(rgba)[:height, :width, :3])


def difference_legend(cmap: str, size: tuple[int, int]) -> np.ndarray:
    """Draw a difference's ``cmap`` as a bar over the words "B stronger · 0 · A stronger"."""
    height, width = size
    bar_rows = max(1, height - _LABEL_ROWS)
    legend = np.full((height, width, 3), 255, np.uint8)
    entries = np.linspace(1, 255, width).round().astype(int)
    legend[:bar_rows] = colour_table(cmap)[entries][np.newaxis]
    if height > bar_rows:
        legend[bar_rows:] = _text_strip(
            ["B stronger", "A − B = 0", "A stronger"], (height - bar_rows, width)
        )
    return legend
