"""Kernel-side state of the Explorer: validate a change, compute only the layer in view, draw."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
from matplotlib.figure import Figure

from convscope.data.drawing import mnist_digit
from convscope.data.labels import class_labels
from convscope.engine.activations import ActivationEngine
from convscope.engine.graph import LayerInfo
from convscope.engine.inputs import check_images
from convscope.engine.insight import ChannelStats, channel_ranges, channel_stats
from convscope.engine.pass_memo import data_key
from convscope.engine.receptive import receptive_field
from convscope.engine.split import SIGMOID, SOFTMAX, GraphValue, find_class_scores
from convscope.errors import (
    ArgumentTypeError,
    IndexOutOfRangeError,
    InvalidArgumentError,
    ModelNotSupportedError,
    NotSpatialLayerError,
    check_choice,
    check_index,
    check_layer_name,
)
from convscope.render.compare import (
    COMPARE_MODES,
    difference_cmap,
    difference_pixels,
    joint_pixels,
)
from convscope.render.explorer_figure import ExplorerFigure, ExplorerView, grid_aspect
from convscope.render.mosaic import (
    MosaicLayout,
    as_maps,
    check_cmap,
    coloured_grid,
    colourise,
    cross_marks,
    mark_pixels,
)
from convscope.render.normalise import (
    NON_FINITE_RGB,
    NORM_MODES,
    non_finite_mask,
    normalise_channels,
)
from convscope.render.overlays import image_grid, overlay
from convscope.widget.views import PREDICTED, VIEWS, DeeperViews
from convscope.widget.words import EMPTY_DRAWING

_GRID_ASPECT = 1.04  # width / height of the grid panel, so cells fill it
_PREFETCH = 32  # samples computed together when scrubbing reaches an uncached one
_SCRUB_STEP = 2  # a sample move this small is a scrub (arrows, play, slider); larger, a jump
_FLOAT32_MAX = float(np.finfo(np.float32).max)
DEAD_RGB = (205, 210, 216)  # the cross over a channel that never fires on the data set
# One sample's layer view: raw maps (H, W, C), pixels (C, H, W), grid, layout, NaN/Inf mask.
MapParts = tuple[np.ndarray, np.ndarray, np.ndarray, MosaicLayout, np.ndarray | None]
LayerView = tuple[np.ndarray, np.ndarray, np.ndarray, MosaicLayout, np.ndarray | None, Any]
DRAWN = "drawn"
"""``sample`` for the digit drawn on the pad (or given to ``Explorer.draw``)."""
Source = int | str
"""An input of the figure: a sample's index, or :data:`DRAWN`."""


@dataclass(frozen=True)
class ViewState:
    """What the Explorer shows: one layer, channel and sample, how to colour them, which view.

    ``target_class`` is the class Grad-CAM explains; ``PREDICTED`` (-1) follows the model.
    ``probe`` is a position ``(row, col)`` in the layer's maps whose receptive field is
    outlined on the input, or ``None``. ``compare`` is a second sample (B) shown with this one
    (A), or ``None``; ``compare_mode`` says how: ``"side"`` or ``"difference"``. ``drawn`` shows
    the drawing instead of ``sample`` as A, and ``sample`` stays the last sample of the data
    set that was shown.
    """

    layer: str
    channel: int
    sample: int
    cmap: str = "viridis"
    norm: str = "standard"
    view: str = "maps"
    target_class: int = PREDICTED
    probe: tuple[int, int] | None = None
    compare: int | None = None
    compare_mode: str = "side"
    drawn: bool = False


class ExplorerController:
    """Turn state changes into figure updates, touching only the layer in view.

    Parameters
    ----------
    engine : ActivationEngine
        Computes and caches activations.
    images : array-like
        The samples, as the model takes them (one per row).
    labels : array-like or None
        True class of every sample, if known: indices, one-hot rows or class names; see
        :func:`convscope.data.labels.class_labels`.
    class_names : list of str or None
        Names of the model's output classes; by default their indices.
    figure : matplotlib.figure.Figure
        An empty figure to draw into (Agg or ipympl).
    layer : str, optional
        Layer to start on; by default the first convolution.

    Raises
    ------
    ConvscopeError
        A subclass that names the problem, before any forward pass or drawing.

    """

    def __init__(
        self,
        engine: ActivationEngine,
        images: object,
        labels: object,
        class_names: object,
        figure: Figure,
        *,
        layer: str | None = None,
    ) -> None:
        self.engine = engine
        self.images = engine.prepare(images)
        self.reading = output_reading(engine)
        # The data set's identity in the shared memo of passes, from the images as given (uint8
        # digits, say), so a pass of the static API on them serves the channel panel and sorts.
        self._data = data_key(check_images(images, engine.input_shape))
        self.labels, self.class_names = class_labels(
            labels, class_names, samples=len(self.images), classes=output_classes(engine)
        )
        start = default_layer(engine.layers) if layer is None else check_layer_name(layer)
        start = engine.layer(start).name
        # One check of the weights per update, here, rather than one per activation.
        engine.follow_each_call = False
        engine.follow_weights()
        # Samples whose output is NaN or Inf stay: their maps show where the values broke.
        self.probabilities = self._read_probabilities(self.images)
        self.display_images = display_pixels(self.images)
        self.notice = ""  # what the status line says about the view, e.g. NaN in a layer
        low, high = float(self.images.min()), float(self.images.max())
        self.views = DeeperViews(engine, (low, max(high, low + 1.0)), self._patterns_update)
        self.on_patterns: Callable[[str, bool], None] | None = None  # set by the Explorer
        caption = "  ·  ".join(filter(None, [self.head_text.strip(" ·"), self.chart_caption]))
        self.view = ExplorerFigure(figure, self.class_names, caption=caption)
        self.renders = 0
        # Per (weights tag, layer): the data-set colour scale and each sample's channel peaks.
        self._ranges: dict[tuple[Hashable, str], tuple[np.ndarray, np.ndarray]] = {}
        self._stats: dict[tuple[Hashable, str], ChannelStats] = {}
        self._probabilities = {engine.weights_tag: self.probabilities}
        self._predictions: dict[Hashable, tuple[np.ndarray, np.ndarray]] = {}
        self._last_layer_view: tuple[tuple[object, ...], LayerView] | None = None
        self._shown_images: dict[Hashable, np.ndarray] = {}
        self.pad_size = drawing_size(engine.input_shape)
        self.drawn: np.ndarray | None = None  # the drawing, preprocessed; None: none yet
        shape = (1, *self.pad_size, 1) if self.pad_size is not None else (0,)
        self._drawn_input = np.full(shape, low, np.float32)  # in the model's units
        self._drawn_range = (low, high if high > low else low + 255.0)  # black to white
        self._drawn_tag = 0  # one per drawing, never reused: its key in the caches
        self._drawn_tags = itertools.count(1)
        self._drawn_probabilities: tuple[Hashable, np.ndarray | None] | None = None
        self.state = ViewState(layer=start, channel=0, sample=0)
        self.apply()

    @property
    def predictions(self) -> np.ndarray | None:
        """Predicted class of every sample (-1 where the output is not finite), or ``None``.

        ``None`` when the output is not a class vector.
        """
        if self.probabilities is None:
            return None
        found = self._predictions.get(self.engine.weights_tag)
        if found is None or found[0] is not self.probabilities:
            valid = np.isfinite(self.probabilities).all(axis=1)
            best = np.where(valid, np.nan_to_num(self.probabilities).argmax(axis=1), -1)
            found = self._predictions[self.engine.weights_tag] = (self.probabilities, best)
        return found[1]

    @property
    def head_text(self) -> str:
        """Which output the probabilities come from, for a model with several; else ``""``."""
        if len(self.engine.output_names) < 2:  # noqa: PLR2004
            return ""
        names = self.engine.output_names[self.engine.output_index]
        return f"  ·  output {names[0] if names else self.engine.output_index}"

    @property
    def chart_caption(self) -> str:
        """What the class chart's bars are, in a few words: the model's own, or a softmax."""
        if self.reading is None:
            return ""
        if self.reading.two_sided:
            return "sigmoid: p of class 1, and 1 − p"
        return {
            SOFTMAX: "softmax: the model's probabilities",
            SIGMOID: "sigmoid: each class on its own",
        }.get(self.reading.squash, "softmax of the model's scores")

    def probabilities_in_view(self) -> np.ndarray | None:
        """Return what the chart shows for the input in view (sample A); ``None`` for none."""
        if self.state.drawn:
            shown = self.drawn_probabilities()
        else:
            shown = None if self.probabilities is None else self.probabilities[self.state.sample]
        if shown is None or not np.isfinite(shown).all():
            return None
        return shown

    def follow_weights(self, *, full: bool = False) -> bool:
        """Follow a change of the model's weights (training, ``set_weights``, an ``assign``).

        Asks the engine's cheap tier (``full``: every weight); on a change, the predictions
        are computed again and everything else keyed on the weights (maps, colour scales,
        peaks and dead channels, Grad-CAM, patterns) is looked up afresh. The caller redraws.
        Returns whether the weights had changed.
        """
        if not self.engine.follow_weights(full=full):
            return False
        self._forget_other_live_weights()
        self._follow_probabilities()
        self.views.forget()
        return True

    def _forget_other_live_weights(self) -> None:
        """Drop what was kept for earlier live weights (a training run's epochs stay).

        Training under an open Explorer changes the weights at every step: keeping each
        version's predictions and statistics would grow without bound.
        """
        tag = self.engine.weights_tag

        def stale(key: Hashable) -> bool:
            return isinstance(key, tuple) and key[:1] == ("weights",) and key != tag

        for kept in (self._probabilities, self._predictions):
            for key in [key for key in kept if stale(key)]:
                del kept[key]
        for per_layer in (self._ranges, self._stats):
            for key in [key for key in per_layer if stale(key[0])]:
                del per_layer[key]

    def _follow_probabilities(self) -> None:
        tag = self.engine.weights_tag
        probabilities = self._probabilities.get(tag)
        if probabilities is None:
            probabilities = self._read_probabilities(self.images)
            self._probabilities[tag] = probabilities
        self.probabilities = probabilities

    def _read_probabilities(self, images: np.ndarray) -> np.ndarray | None:
        if self.reading is None:
            return None
        return class_probabilities(self.engine.predict(images), self.reading)

    def resolve(
        self,
        *,
        layer: str | None = None,
        channel: int | None = None,
        sample: int | str | None = None,
        cmap: str | None = None,
        norm: str | None = None,
        view: str | None = None,
        target_class: int | None = None,
        probe: tuple[int, int] | tuple[()] | None = None,
        compare: int | None = None,
        compare_mode: str | None = None,
    ) -> ViewState:
        """Return the state after the changes given, or raise a clear error; nothing is modified.

        ``None`` keeps a value. Switching layer keeps the channel when the new layer has it,
        else the last channel, and forgets the probe; ``probe=()`` forgets it too, and
        ``compare=-1`` stops comparing. Comparing needs the maps view. An unknown
        argument name raises ``TypeError``. ``sample="drawn"`` shows the drawing (an empty
        one, "draw a digit", before anything was drawn). A deeper view
        (see :data:`~convscope.widget.views.VIEWS`) is checked against the layer it would
        show, so a layer without maps, or a model without classes, is refused before drawing.
        """
        state = self.state
        if layer is not None:
            info = self.engine.layer(check_layer_name(layer))
            kept = min(state.channel, info.channels - 1)
            held = state.probe if info.name == state.layer else None
            state = replace(state, layer=info.name, channel=kept, probe=held)
        if channel is not None:
            channels = self.engine.layer(state.layer).channels
            state = replace(state, channel=check_index("channel", channel, channels))
        if isinstance(sample, str) and sample == DRAWN:
            self._check_pad()
            state = replace(state, drawn=True)
        elif sample is not None:
            index = check_index("sample", sample, len(self.images))
            state = replace(state, sample=index, drawn=False)
        if cmap is not None:
            state = replace(state, cmap=check_cmap(cmap))
        if norm is not None:
            norm = check_choice("norm", norm, NORM_MODES, "normalisation mode")
            state = replace(state, norm=norm)
        if probe is not None:
            state = replace(state, probe=self._check_probe(state.layer, probe))
        if view is not None:
            state = replace(state, view=check_choice("view", view, VIEWS, "view"))
        if target_class is not None:
            state = replace(state, target_class=self.check_class(target_class))
        state = self._resolve_compare(state, compare, compare_mode)
        self.views.check(state.view, self.engine.layer(state.layer), state.target_class)
        return state

    def _resolve_compare(
        self, state: ViewState, compare: int | None, compare_mode: str | None
    ) -> ViewState:
        """Apply a change of sample B or of how the two show; only the maps view compares."""
        if compare is not None:
            state = replace(state, compare=self._check_compare(compare))
        if compare_mode is not None:
            mode = check_choice("compare_mode", compare_mode, COMPARE_MODES, "comparison mode")
            state = replace(state, compare_mode=mode)
        if state.compare is not None and state.view != "maps":
            raise InvalidArgumentError(
                f"Comparing two samples shows their feature maps, not the {state.view!r} view; "
                "set ex.view = 'maps', or ex.compare = None to stop comparing."
            )
        return state

    def _check_compare(self, value: object) -> int | None:
        """Return the sample to compare with, or ``None`` for ``-1`` (stop comparing)."""
        count = len(self.images)
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise ArgumentTypeError(
                f"compare must be a sample index (an integer 0..{count - 1}), or None to stop "
                f"comparing; got {value!r}."
            )
        if value == -1:
            return None
        if not 0 <= value < count:
            raise IndexOutOfRangeError(
                f"compare {value} is out of range: there are {count} samples, so use "
                f"0..{count - 1}, or None to stop comparing."
            )
        return int(value)

    def _check_probe(self, layer: str, probe: object) -> tuple[int, int] | None:
        """Return a position in ``layer``'s maps as ``(row, col)``; ``()`` gives ``None``."""
        if probe == ():
            return None
        info = self.engine.layer(layer)
        if not info.spatial:
            raise NotSpatialLayerError(
                f"{info.name!r} ({info.kind}, {info.shape_text}) has no maps to probe; pick a "
                "convolutional or pooling layer."
            )
        if not isinstance(probe, (tuple, list)) or len(probe) != 2:  # noqa: PLR2004
            raise ArgumentTypeError(f"probe must be (row, col) in the maps, got {probe!r}.")
        height, width = info.channels_last(np.empty(info.output_shape, bool)).shape[:2]
        return check_index("row", probe[0], height), check_index("col", probe[1], width)

    def check_class(self, value: object) -> int:
        """Return a class to explain as an index: an index, a class name, or -1 (predicted)."""
        if isinstance(value, str):
            if value not in self.class_names:
                raise IndexOutOfRangeError(
                    f"Unknown class {value!r}; the classes are {list(self.class_names)}, or use "
                    "None for the predicted class."
                )
            return self.class_names.index(value)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value == -1:
            return PREDICTED
        return int(self.views.gradients.classes(value, 1)[0])

    def apply(
        self,
        on_progress: Callable[[int, int], None] | None = None,
        *,
        follow: bool = True,
        **changes: Any,
    ) -> ViewState:
        """Validate ``changes`` (see :meth:`resolve`), compute the view and draw it.

        With ``follow``, a change of the model's weights is followed first (see
        :meth:`follow_weights`); a caller that has just asked passes ``False``. On error
        nothing changes.
        """
        state = self.resolve(**changes)
        if follow:
            self.follow_weights()
        view = self.build_view(state, on_progress)
        self.view.show(view)
        self.state = state
        self.notice = view.notice
        self.renders += 1
        return state

    def draw(self, drawing: object) -> ViewState:
        """Preprocess ``drawing`` as MNIST's digits were and show it; on error nothing changes.

        See :func:`convscope.data.drawing.mnist_digit`. The digit is painted into the model's
        input size and scaled to the data set's range of values (0–255 for MNIST).
        """
        self._check_pad()
        digit = mnist_digit(drawing, self.pad_size)  # type: ignore[arg-type]
        low, high = self._drawn_range
        before = (self.drawn, self._drawn_input, self._drawn_tag)
        self.drawn = digit
        scaled = low + digit.astype(np.float32) * np.float32((high - low) / 255.0)
        self._drawn_input = scaled.reshape(1, *digit.shape, 1).astype(np.float32)
        self._drawn_tag = next(self._drawn_tags)
        try:
            return self.apply(sample=DRAWN)
        except Exception:
            self.drawn, self._drawn_input, self._drawn_tag = before
            raise

    @property
    def drawing_is_empty(self) -> bool:
        """Whether the drawing has no ink (nothing drawn yet, or a cleared pad)."""
        return self.drawn is None or not self.drawn.any()

    def drawn_probabilities(self) -> np.ndarray | None:
        """Return the drawing's class probabilities; ``None`` while it is empty or not a class.

        One compiled pass of the model's output, kept until the drawing or the weights change.
        """
        key = (self.engine.weights_tag, self._drawn_tag)
        if self._drawn_probabilities is None or self._drawn_probabilities[0] != key:
            found = None
            if not self.drawing_is_empty and self.probabilities is not None:
                probabilities = self._read_probabilities(self._drawn_input)
                found = None if probabilities is None else probabilities[0]
            self._drawn_probabilities = (key, found)
        return self._drawn_probabilities[1]

    def _check_pad(self) -> None:
        if self.pad_size is None:
            raise ModelNotSupportedError(
                f"Drawing needs a model with one grey input channel, (H, W, 1); this one takes "
                f"{self.engine.input_shape}. Show your images with Explorer(model, images=...)."
            )

    def use_weights(self, weights: list[np.ndarray], tag: Hashable) -> None:
        """Show the same model with other weights (a training epoch), and redraw.

        The predictions of every sample are computed once per ``tag`` (one compiled pass over
        the data set) and kept; the maps, Grad-CAM and patterns follow the new weights.
        """
        self.engine.use_weights(weights, tag)
        self._follow_probabilities()
        self.views.forget()
        self.apply()

    def build_view(
        self, state: ViewState, on_progress: Callable[[int, int], None] | None = None
    ) -> ExplorerView:
        """Compute what ``state`` shows: one compiled pass for its layer, or the cache."""
        info = self.engine.layer(state.layer)
        maps, pixels, grid, layout, bad, other = self._layer_view(state, on_progress)
        difference = state.compare is not None and state.compare_mode == "difference"
        view = self._sample_view(state, source_of(state), (maps, pixels, grid, layout, bad))
        if difference:
            view = self._as_difference(state, view, maps)
        if state.probe is not None:
            view = self._with_field(state, view)
        if state.compare is not None:
            return self._with_compare(state, view, other)
        if state.view == "maps":
            return view
        return self._deeper_view(state, info, maps, view)

    def _sample_view(
        self,
        state: ViewState,
        sample: Source,
        parts: MapParts,
    ) -> ExplorerView:
        """Return the view of one input's maps (A's, or B's when compared side by side)."""
        maps, pixels, grid, layout, bad = parts
        info = self.engine.layer(state.layer)
        values = maps[..., state.channel]
        unit = "channel" if info.spatial else "unit"
        difference = state.compare is not None and state.compare_mode == "difference"
        cmap = difference_cmap(state.cmap) if difference else state.cmap
        channel = colourise(pixels[state.channel], cmap)
        notices = []
        if bad is not None:
            mark_pixels(channel, bad[state.channel], None, NON_FINITE_RGB)
            which = "A − B" if difference else source_name(sample)
            notices.append(
                f"{info.name}: {int(bad.sum()):,} NaN/Inf value(s) for {which}, "
                "marked magenta and left out of the colour scale"
            )
        header = self._sample_header(sample)
        finite = values[np.isfinite(values)]
        peak = f"{float(finite.max()):.3g}" if finite.size else "n/a"
        dead = self.dead_channels(state.layer)
        dead_text = "" if dead is None or not dead.any() else f"  ·  {int(dead.sum())} dead (×)"
        return replace(
            header,
            grid=grid,
            outline=layout.cell_box(state.channel),
            channel=channel,
            grid_title=f"{info.name}  ·  {info.kind}  ·  {info.shape_text}{dead_text}",
            channel_title=f"{unit} {state.channel}  ·  max {peak}",
            notice="; ".join(filter(None, [*notices, header.notice])),
        )

    def _sample_header(self, sample: Source) -> ExplorerView:
        """Return a view of one input's pixels and classes only, with no maps yet."""
        name = source_name(sample)
        if sample == DRAWN:
            label = None
            label_text = f"  ·  {EMPTY_DRAWING}" if self.drawing_is_empty else ""
            probabilities = self.drawn_probabilities()
        else:
            index = int(sample)
            label = None if self.labels is None else int(self.labels[index])
            label_text = "" if label is None else f"  ·  label {self.class_name(label)}"
            probabilities = None if self.probabilities is None else self.probabilities[index]
        notice = ""
        if probabilities is not None and not np.isfinite(probabilities).all():
            notice = f"the model's output for {name} is NaN/Inf"
            probabilities = None
        image = self._display_image(sample)
        return ExplorerView(
            image=image,
            grid=image,
            outline=None,
            channel=image,
            probabilities=probabilities,
            label=label,
            image_title=f"{name}{label_text}",
            grid_title="",
            channel_title="",
            notice=notice,
        )

    def _as_difference(
        self, state: ViewState, view: ExplorerView, maps: np.ndarray
    ) -> ExplorerView:
        """Title the grid and channel of ``A - B`` (``maps``) and name its colour scale."""
        info = self.engine.layer(state.layer)
        unit = "channel" if info.spatial else "unit"
        values = np.abs(maps[..., state.channel])
        finite = values[np.isfinite(values)]
        largest = f"{float(finite.max()):.3g}" if finite.size else "n/a"
        scale = {
            "fixed": "scale: the data set's range",
            "layer": "one scale for the layer",
        }.get(state.norm, "each channel to its largest |A − B|")
        return replace(
            view,
            grid_title=f"A − B  ·  {info.name}  ·  {scale}",
            channel_title=f"{unit} {state.channel}  ·  |A − B| ≤ {largest}",
            legend_cmap=difference_cmap(state.cmap),
        )

    def _with_compare(
        self,
        state: ViewState,
        view: ExplorerView,
        other: MapParts | None,
    ) -> ExplorerView:
        """Attach sample B to A's view: its own maps side by side, or its input and classes."""
        sample = state.compare
        assert sample is not None  # only called while comparing
        if other is not None:  # side by side: B's maps, on A's colour scale
            b_view = self._sample_view(state, sample, other)
        else:  # the difference: A's view holds A - B; B brings its input and classes
            b_view = self._sample_header(sample)
        b_view = replace(
            b_view, image_outline=view.image_outline, channel_outline=view.channel_outline
        )
        notice = "; ".join(filter(None, [view.notice, b_view.notice]))
        return replace(view, compare=b_view, mode=state.compare_mode, notice=notice)

    def _with_field(self, state: ViewState, view: ExplorerView) -> ExplorerView:
        """Outline the probed unit on its channel, and its receptive field on the input."""
        row, col = state.probe  # type: ignore[misc]
        unit = (col, row, 1, 1)
        try:
            top, left, bottom, right = receptive_field(self.engine.graph, state.layer, (row, col))
        except ModelNotSupportedError as error:  # say why, draw no box on the input
            notice = f"no receptive field: {error}"
            return replace(
                view, channel_outline=unit, notice="; ".join(filter(None, [view.notice, notice]))
            )
        seen = f"rows {top}-{bottom - 1}, cols {left}-{right - 1}"
        title = f"{state.layer}  ·  unit ({row}, {col}) sees {seen}"
        return replace(
            view,
            image_outline=(left, top, right - left, bottom - top),
            channel_outline=unit,
            grid_title=title,
        )

    def _deeper_view(
        self, state: ViewState, info: LayerInfo, maps: np.ndarray, view: ExplorerView
    ) -> ExplorerView:
        """Replace the feature-map mosaic of ``view`` with the picture of a deeper view."""
        image = self._display_image(source_of(state))
        if state.view == "heatmap":
            heat = self.views.heatmap(maps, image.shape[:2])
            title = f"heatmap  ·  {info.name}  ·  mean of its {info.channels} channels"
            grid = overlay(image, heat, state.cmap)
            return replace(view, grid=grid, outline=None, grid_title=title)
        if state.view == "grad-cam":
            heat, chosen = self._grad_cam(state)
            which = "predicted" if state.target_class == PREDICTED else "chosen"
            title = f"Grad-CAM  ·  {info.name}  ·  class {self.class_name(chosen)} ({which})"
            if chosen < 0:
                title = f"Grad-CAM  ·  {info.name}  ·  {EMPTY_DRAWING} first"
            grid = overlay(image, heat, state.cmap)
            return replace(view, grid=grid, outline=None, grid_title=title)
        patterns = self.views.patterns(state.layer)
        if patterns is None:  # computing in the background: the maps meanwhile, and progress
            progress = self.views.progress(state.layer)
            return replace(view, notice="; ".join(filter(None, [progress, view.notice])))
        gap = max(1, patterns.shape[1] // 14)
        grid, layout = image_grid(patterns, grid_columns(len(patterns)), gap)
        pattern = np.round(np.clip(patterns[state.channel], 0.0, 1.0) * 255).astype(np.uint8)
        return replace(
            view,
            grid=grid,
            outline=layout.cell_box(state.channel),
            channel=pattern[..., 0] if pattern.shape[-1] == 1 else pattern,
            grid_title=f"filter patterns  ·  {info.name}  ·  what excites each channel",
            channel_title=f"channel {state.channel}  ·  its pattern",
        )

    def _patterns_update(self, layer: str, finished: bool) -> None:
        """Pass the worker thread's news on to the Explorer (which redraws on its own thread)."""
        if self.on_patterns is not None:
            self.on_patterns(layer, finished)

    def _display_image(self, sample: Source) -> np.ndarray:
        """Return the input's display pixels, as the same object while the input stays.

        The figure then skips rescaling an unchanged input on a layer or channel switch. The
        last two inputs are kept: A and B, when two are compared.
        """
        key = self._image_key(sample)
        image = self._shown_images.pop(key, None)
        if image is None:
            if sample != DRAWN:
                image = self.display_images[int(sample)]
            elif self.drawn is not None:
                image = self.drawn
            else:
                image = np.zeros(self.display_images.shape[1:], np.uint8)
            if len(self._shown_images) > 1:
                self._shown_images.pop(next(iter(self._shown_images)))
        self._shown_images[key] = image  # the most recently used last
        return image

    def _image_key(self, sample: Source) -> Hashable:
        """Return the input's cache key: its index, or ``("drawn", n)`` for the n-th drawing.

        A drawing never shares a key with a sample of the data set.
        """
        return (DRAWN, self._drawn_tag) if sample == DRAWN else sample

    def _grad_cam(self, state: ViewState) -> tuple[np.ndarray, int]:
        """Grad-CAM of the input in view; for an empty drawing, nothing (class -1)."""
        if not state.drawn:
            return self.views.grad_cam(
                state.layer, self.images, state.sample, state.target_class, self._ahead(state)
            )
        if self.drawing_is_empty:
            return np.zeros(self.display_images.shape[1:3], np.float32), -1
        return self.views.grad_cam_of(state.layer, self._drawn_input, state.target_class)

    def _layer_view(
        self, state: ViewState, on_progress: Callable[[int, int], None] | None
    ) -> LayerView:
        """Return the maps, pixels, coloured grid, layout and NaN/Inf mask of one layer view.

        The last result is kept: a channel switch reuses it and only recolours one channel.
        The mask is ``(C, H, W)``, or ``None`` when every value is finite. While comparing,
        A's and B's maps share one colour scale and the last item is B's five ("side"), or
        the first five are those of ``A - B`` and the last is ``None`` ("difference").
        """
        known = self.dead_channels(state.layer) is not None
        key = (
            state.layer,
            self._image_key(source_of(state)),
            state.cmap,
            state.norm,
            known,
            self.engine.weights_tag,
            state.compare,
            state.compare_mode,
        )
        if self._last_layer_view is not None and self._last_layer_view[0] == key:
            return self._last_layer_view[1]
        ahead = self._ahead(state)
        if ahead is not None and not self.engine.is_cached(state.layer, state.sample):
            self.engine.prefetch(state.layer, self.images, ahead.tolist())
        maps = self._maps(state.layer, source_of(state))
        fixed = state.norm == "fixed"
        value_range = self.channel_ranges(state.layer, on_progress) if fixed else None
        norm: Any = state.norm
        result: tuple[Any, ...]
        if state.compare is None:
            # Channels first: the mosaic tiles whole channels, and one channel is one slice.
            pixels = normalise_channels(maps, norm, value_range, channels_first=True)
            result = (*self._mosaic(state, maps, pixels, state.cmap), None)
        elif state.compare_mode == "side":
            maps_b = self._maps(state.layer, state.compare)
            pixels, pixels_b = joint_pixels(maps, maps_b, norm, value_range)
            other = self._mosaic(state, maps_b, pixels_b, state.cmap)
            result = (*self._mosaic(state, maps, pixels, state.cmap), other)
        else:
            maps_b = self._maps(state.layer, state.compare)
            difference, pixels = difference_pixels(maps, maps_b, norm, value_range)
            cmap = difference_cmap(state.cmap)
            result = (*self._mosaic(state, difference, pixels, cmap), None)
        self._last_layer_view = (key, result)
        return result

    def _maps(self, layer: str, sample: Source) -> np.ndarray:
        """One input's activation of ``layer`` as channel maps ``(H, W, C)``, cached."""
        info = self.engine.layer(layer)
        image = self._drawn_input[0] if sample == DRAWN else self.images[int(sample)]
        activation = self.engine.activation(layer, image, key=self._image_key(sample))
        return as_maps(info.channels_last(activation))

    def _mosaic(
        self, state: ViewState, maps: np.ndarray, pixels: np.ndarray, cmap: str
    ) -> MapParts:
        """Tile and colour ``pixels`` ``(C, H, W)``, marking NaN/Inf and dead channels."""
        side = state.compare is not None and state.compare_mode == "side"
        columns = grid_columns(maps.shape[-1], grid_aspect("side" if side else "single"))
        gap = max(1, maps.shape[0] // 14)
        grid, layout = coloured_grid(pixels, cmap, columns, gap, channels_first=True)
        bad = non_finite_mask(maps)
        if bad is not None:
            bad = np.moveaxis(bad, -1, 0)
            mark_pixels(grid, bad, layout, NON_FINITE_RGB)
        dead = self.dead_channels(state.layer)
        if dead is not None and dead.any():
            mark_pixels(grid, cross_marks(dead, maps.shape[:2]), layout, DEAD_RGB)
        return maps, pixels, grid, layout, bad

    def _ahead(self, state: ViewState) -> np.ndarray | None:
        """Return the samples to compute in one batch with ``state``'s, or ``None`` for a jump.

        While scrubbing one way (a step of at most ``_SCRUB_STEP`` on the same layer), the next
        ``_PREFETCH`` samples that way, from the one asked for. A jump (a thumbnail click)
        computes only the sample asked for: a batch would cost more than it saves.
        """
        step = state.sample - self.state.sample
        if state.drawn or self.state.drawn:
            return None
        if state.layer != self.state.layer or not 0 < abs(step) <= _SCRUB_STEP:
            return None
        direction = 1 if step > 0 else -1
        return (state.sample + direction * np.arange(_PREFETCH)) % len(self.images)

    def channel_ranges(
        self, layer: str, on_progress: Callable[[int, int], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Data-set-wide per-channel ranges of ``layer``, computed once per layer.

        From the memo of passes: no pass when the panel, a sort or ``channel_stats`` already
        saw this layer, these weights and images (and the panel then costs none either).
        """
        key = (self.engine.weights_tag, layer)
        ranges = self._ranges.get(key)
        if ranges is None:
            ranges = channel_ranges(
                self.engine,
                layer,
                self.images,
                data=self._data,
                on_batch=None if on_progress is None else functools.partial(_report, on_progress),
            )
            self._ranges[key] = ranges
        return ranges

    def channel_peaks(
        self, layer: str, on_progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """Each sample's peak of each channel of ``layer``, ``(N, C)``, computed once per layer.

        From the memo of passes that the static API shares: no pass when ``channel_stats``,
        ``top_images`` or ``dead_channels`` already saw this layer, these weights and images.
        A sample whose map is all NaN/Inf gets -Inf: it sorts last.
        """
        key = (self.engine.weights_tag, layer)
        stats = self._stats.get(key)
        if stats is None:
            stats = channel_stats(
                self.engine,
                (layer,),
                self.images,
                progress=False,
                on_batch=None if on_progress is None else functools.partial(_report, on_progress),
                data=self._data,
            )[layer]
            self._stats[key] = stats
        # An array's pass keeps every image's peaks (only a stream's does not).
        return cast("np.ndarray", stats.peaks)

    def channel_summary(
        self,
        layer: str,
        channel: int,
        count: int = 9,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Return the ``count`` samples that excite a channel most, their peaks, its firing rate.

        The samples are those with the highest spatial maximum, highest first, ties to the
        lower index; "fires" is a peak above 0. One pass over the data set per layer, once.
        """
        peaks = self.channel_peaks(layer, on_progress)[:, channel]
        top = np.argsort(-peaks, kind="stable")[:count]
        return top, peaks[top], float(np.mean(peaks > 0))

    def dead_channels(self, layer: str) -> np.ndarray | None:
        """Which channels of ``layer`` are dead on the samples, once their statistics are known.

        Dead as :meth:`~convscope.engine.insight.ChannelStats.dead` says: off everywhere, or
        constant. ``None`` until :meth:`channel_peaks` has run for the layer (the channel
        panel or the activation order asks for it).
        """
        stats = self._stats.get((self.engine.weights_tag, layer))
        if stats is None:
            return None
        dead = np.zeros(len(stats.max), bool)
        dead[stats.dead()] = True
        return dead

    def class_name(self, index: int) -> str:
        """Return the name of class ``index``, or the index itself when there is no name."""
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)


def _report(on_progress: Callable[[int, int], None], done: int, total: int | None) -> None:
    on_progress(done, done if total is None else total)


def default_layer(layers: tuple[LayerInfo, ...]) -> str:
    """Pick the layer to open on: the first convolution, else the first spatial layer."""
    for info in layers:
        if info.spatial and "Conv" in info.kind:
            return info.name
    spatial = [info.name for info in layers if info.spatial]
    return spatial[0] if spatial else layers[0].name


def source_of(state: ViewState) -> Source:
    """Return what ``state`` shows as A: the drawing, or its sample's index."""
    return DRAWN if state.drawn else state.sample


def source_name(sample: Source) -> str:
    """Return how titles name an input: "your drawing", or "sample 42"."""
    return "your drawing" if sample == DRAWN else f"sample {sample}"


def drawing_size(input_shape: tuple[int | None, ...]) -> tuple[int, int] | None:
    """Return the size to paint a drawing at: a grey input's ``(H, W)``; else ``None``.

    Models with colour inputs, or inputs of no fixed size, get no drawing pad.
    """
    if len(input_shape) != 3 or input_shape[-1] != 1:  # noqa: PLR2004
        return None
    height, width = input_shape[0], input_shape[1]
    if height is None or width is None or min(height, width) < 4:  # noqa: PLR2004
        return None
    return int(height), int(width)


def grid_columns(channels: int, aspect: float = _GRID_ASPECT) -> int:
    """Columns that give the largest square cells in a panel of ``aspect`` (width / height).

    Ties go to the layout with fewer empty cells: 16 channels make a 4×4 grid, not 5×4.
    """
    candidates = np.arange(1, channels + 1)
    rows = -(-channels // candidates)
    cell = np.minimum(aspect / candidates, 1.0 / rows)
    empty = candidates * rows - channels
    best = np.lexsort((empty, -np.round(cell, 9)))[0]
    return int(candidates[best])


def output_reading(engine: ActivationEngine) -> GraphValue | None:
    """Return how the selected output reads as classes; ``None`` when it does not.

    ``None`` for an output that is not one value per class, and for one whose last operation
    convscope cannot tell apart from a squashing of the scores (refused by Grad-CAM too): its
    values are never shown as probabilities they may not be.
    """
    shape = engine.output_shape
    if len(shape) != 1 or not shape[0]:
        return None
    try:
        return find_class_scores(engine.graph, engine.output_index)
    except ModelNotSupportedError:
        return None


def output_classes(engine: ActivationEngine) -> int | None:
    """Classes of the model's output when it is a class vector ``(classes,)``, else ``None``.

    A one-unit sigmoid has two: the negative side and the positive side.
    """
    shape = engine.output_shape
    if len(shape) != 1 or not shape[0]:
        return None
    if shape[0] == 1:
        reading = output_reading(engine)
        return 2 if reading is not None and reading.two_sided else None
    return int(shape[0])


def class_probabilities(outputs: np.ndarray, reading: GraphValue) -> np.ndarray | None:
    """Read a model's outputs as the chart shows them, by what ends the model.

    A softmax or a sigmoid gives the model's own values, as they are (a multi-label sigmoid
    does not sum to 1); a one-unit sigmoid ``p`` gives ``(1 - p, p)``; scores get a softmax.
    A row with NaN or Inf comes out all NaN: it has no probabilities to show.
    """
    if outputs.ndim != 2:  # noqa: PLR2004
        return None
    valid = np.isfinite(outputs).all(axis=1, keepdims=True)
    finite = np.where(valid, outputs, 0.0).astype(np.float64)
    if reading.two_sided:
        probabilities = np.concatenate([1.0 - finite, finite], axis=1)
    elif reading.squash in (SOFTMAX, SIGMOID):
        probabilities = finite
    else:
        shifted = np.exp(finite - finite.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    return np.where(valid, probabilities, np.nan).astype(np.float32)


def display_pixels(images: np.ndarray) -> np.ndarray:
    """Return images as display ``uint8``: ``(N, H, W)`` grey or ``(N, H, W, 3)``, any scale."""
    pixels = images[..., 0] if images.shape[-1] == 1 else images[..., :3]
    low, high = float(pixels.min()), float(pixels.max())
    if low >= 0 and high <= 255 and high > 1:  # noqa: PLR2004 - already 0..255
        return pixels.astype(np.uint8)
    span = high - low if high > low else 1.0
    if span > _FLOAT32_MAX:  # pixels near float32's limits: halve first, so nothing overflows
        return ((pixels / 2 - low / 2) / (span / 2) * 255).astype(np.uint8)
    return ((pixels - low) / span * 255).astype(np.uint8)
