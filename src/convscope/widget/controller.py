"""Kernel-side state of the Explorer: validate a change, compute only the layer in view, draw."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from convscope.data.drawing import mnist_digit
from convscope.data.labels import class_labels
from convscope.engine.activations import ActivationEngine
from convscope.engine.insight import channel_stats
from convscope.engine.layers import LayerInfo
from convscope.engine.receptive import receptive_field
from convscope.errors import (
    ArgumentTypeError,
    IndexOutOfRangeError,
    ModelNotSupportedError,
    NotSpatialLayerError,
    check_choice,
    check_index,
    check_layer_name,
)
from convscope.render.explorer_figure import ExplorerFigure, ExplorerView
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

_GRID_ASPECT = 1.04  # width / height of the grid panel, so cells fill it
_PREFETCH = 32  # samples computed together when scrubbing reaches an uncached one
_SCRUB_STEP = 2  # a sample move this small is a scrub (arrows, play, slider); larger, a jump
_FLOAT32_MAX = float(np.finfo(np.float32).max)
DEAD_RGB = (205, 210, 216)  # the cross over a channel that never fires on the data set
DRAWN = "drawn"
"""``sample`` for the digit drawn on the pad (or given to ``Explorer.draw``)."""
EMPTY_DRAWING = "draw a digit"


@dataclass(frozen=True)
class ViewState:
    """What the Explorer shows: one layer, channel and sample, how to colour them, which view.

    ``target_class`` is the class Grad-CAM explains; ``PREDICTED`` (-1) follows the model.
    ``probe`` is a position ``(row, col)`` in the layer's maps whose receptive field is
    outlined on the input, or ``None``. ``drawn`` shows the drawing instead of ``sample``,
    which stays the last sample of the data set that was shown.
    """

    layer: str
    channel: int
    sample: int
    cmap: str = "viridis"
    norm: str = "standard"
    view: str = "maps"
    target_class: int = PREDICTED
    probe: tuple[int, int] | None = None
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
        self.labels, self.class_names = class_labels(
            labels, class_names, samples=len(self.images), classes=output_classes(engine)
        )
        start = default_layer(engine.layers) if layer is None else check_layer_name(layer)
        start = engine.layer(start).name
        # Samples whose output is NaN or Inf stay: their maps show where the values broke.
        self.probabilities = class_probabilities(engine.predict(self.images))
        self.display_images = display_pixels(self.images)
        self.notice = ""  # what the status line says about the view, e.g. NaN in a layer
        low, high = float(self.images.min()), float(self.images.max())
        self.views = DeeperViews(engine, (low, max(high, low + 1.0)), self._patterns_update)
        self.on_patterns: Callable[[str, bool], None] | None = None  # set by the Explorer
        self.view = ExplorerFigure(figure, self.class_names, caption=self.head_text.strip(" ·"))
        self.renders = 0
        # Per (weights tag, layer): the data-set colour scale and each sample's channel peaks.
        self._ranges: dict[tuple[Hashable, str], tuple[np.ndarray, np.ndarray]] = {}
        self._peaks: dict[tuple[Hashable, str], np.ndarray] = {}
        self._probabilities = {engine.weights_tag: self.probabilities}
        self._predictions: dict[Hashable, tuple[np.ndarray, np.ndarray]] = {}
        self._last_layer_view: tuple[tuple[object, ...], tuple[Any, ...]] | None = None
        self._last_image: tuple[Hashable, np.ndarray] | None = None
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
    ) -> ViewState:
        """Return the state after the changes given, or raise a clear error; nothing is modified.

        ``None`` keeps a value. Switching layer keeps the channel when the new layer has it,
        else the last channel, and forgets the probe; ``probe=()`` forgets it too. An unknown
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
        self.views.check(state.view, self.engine.layer(state.layer), state.target_class)
        return state

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
        self, on_progress: Callable[[int, int], None] | None = None, **changes: Any
    ) -> ViewState:
        """Validate ``changes`` (see :meth:`resolve`), compute the view and draw it.

        On error nothing changes.
        """
        state = self.resolve(**changes)
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
                probabilities = class_probabilities(self.engine.predict(self._drawn_input))
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
        probabilities = self._probabilities.get(tag)
        if probabilities is None:
            probabilities = class_probabilities(self.engine.predict(self.images))
            self._probabilities[tag] = probabilities
        self.probabilities = probabilities
        self.views.forget()
        self.apply()

    def build_view(
        self, state: ViewState, on_progress: Callable[[int, int], None] | None = None
    ) -> ExplorerView:
        """Compute what ``state`` shows: one compiled pass for its layer, or the cache."""
        info = self.engine.layer(state.layer)
        maps, pixels, grid, layout, bad = self._layer_view(state, on_progress)
        values = maps[..., state.channel]
        label = None if self.labels is None or state.drawn else int(self.labels[state.sample])
        label_text = "" if label is None else f"  ·  label {self.class_name(label)}"
        name = sample_name(state)
        unit = "channel" if info.spatial else "unit"
        channel = colourise(pixels[state.channel], state.cmap)
        notices = []
        if bad is not None:
            mark_pixels(channel, bad[state.channel], None, NON_FINITE_RGB)
            notices.append(
                f"{info.name}: {int(bad.sum()):,} NaN/Inf value(s) for {name}, "
                "marked magenta and left out of the colour scale"
            )
        probabilities = self._probabilities_of(state)
        if probabilities is not None and not np.isfinite(probabilities).all():
            notices.append(f"the model's output for {name} is NaN/Inf")
            probabilities = None
        if state.drawn and self.drawing_is_empty:
            label_text = f"  ·  {EMPTY_DRAWING}"
        finite = values[np.isfinite(values)]
        peak = f"{float(finite.max()):.3g}" if finite.size else "n/a"
        dead = self.dead_channels(state.layer)
        dead_text = "" if dead is None or not dead.any() else f"  ·  {int(dead.sum())} dead (×)"
        view = ExplorerView(
            image=self._display_image(state),
            grid=grid,
            outline=layout.cell_box(state.channel),
            channel=channel,
            probabilities=probabilities,
            label=label,
            image_title=f"{name}{label_text}",
            grid_title=f"{info.name}  ·  {info.kind}  ·  {info.shape_text}{dead_text}",
            channel_title=f"{unit} {state.channel}  ·  max {peak}",
            notice="; ".join(notices),
        )
        if state.probe is not None:
            view = self._with_field(state, view)
        if state.view == "maps":
            return view
        return self._deeper_view(state, info, maps, view)

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
        image = self._display_image(state)
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

    def _display_image(self, state: ViewState) -> np.ndarray:
        """Return the input's display pixels, as the same object while the input stays.

        The figure then skips rescaling an unchanged input on a layer or channel switch.
        """
        key = self._image_key(state)
        if self._last_image is None or self._last_image[0] != key:
            if state.drawn:
                pixels = np.zeros(self.display_images.shape[1:], np.uint8)
                if self.drawn is not None:
                    pixels = self.drawn
            else:
                pixels = self.display_images[state.sample]
            self._last_image = (key, pixels)
        return self._last_image[1]

    def _image_key(self, state: ViewState) -> Hashable:
        """Return the input's cache key: its index, or ``("drawn", n)`` for the n-th drawing.

        A drawing never shares a key with a sample of the data set.
        """
        return (DRAWN, self._drawn_tag) if state.drawn else state.sample

    def _probabilities_of(self, state: ViewState) -> np.ndarray | None:
        if state.drawn:
            return self.drawn_probabilities()
        return None if self.probabilities is None else self.probabilities[state.sample]

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
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, MosaicLayout, np.ndarray | None]:
        """Return the maps, pixels, coloured grid, layout and NaN/Inf mask of one layer view.

        The last result is kept: a channel switch reuses it and only recolours one channel.
        The mask is ``(C, H, W)``, or ``None`` when every value is finite.
        """
        known = self.dead_channels(state.layer) is not None
        image_key = self._image_key(state)
        key = (state.layer, image_key, state.cmap, state.norm, known, self.engine.weights_tag)
        if self._last_layer_view is not None and self._last_layer_view[0] == key:
            return self._last_layer_view[1]
        ahead = self._ahead(state)
        if ahead is not None and not self.engine.is_cached(state.layer, state.sample):
            self.engine.prefetch(state.layer, self.images, ahead.tolist())
        image = self._drawn_input[0] if state.drawn else self.images[state.sample]
        info = self.engine.layer(state.layer)
        activation = self.engine.activation(state.layer, image, key=image_key)
        maps = as_maps(info.channels_last(activation))
        fixed = state.norm == "fixed"
        value_range = self.channel_ranges(state.layer, on_progress) if fixed else None
        # Channels first: the mosaic tiles whole channels, and one channel is one slice.
        pixels = normalise_channels(maps, state.norm, value_range, channels_first=True)  # type: ignore[arg-type]
        columns = grid_columns(maps.shape[-1])
        gap = max(1, maps.shape[0] // 14)
        grid, layout = coloured_grid(pixels, state.cmap, columns, gap, channels_first=True)
        bad = non_finite_mask(maps)
        if bad is not None:
            bad = np.moveaxis(bad, -1, 0)
            mark_pixels(grid, bad, layout, NON_FINITE_RGB)
        dead = self.dead_channels(state.layer)
        if dead is not None and dead.any():
            mark_pixels(grid, cross_marks(dead, maps.shape[:2]), layout, DEAD_RGB)
        result = (maps, pixels, grid, layout, bad)
        self._last_layer_view = (key, result)
        return result

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
        """Data-set-wide per-channel ranges of ``layer``, computed once per layer."""
        key = (self.engine.weights_tag, layer)
        ranges = self._ranges.get(key)
        if ranges is None:
            ranges = self.engine.channel_ranges(
                layer, self.images, progress=False, on_batch=on_progress
            )
            self._ranges[key] = ranges
        return ranges

    def channel_peaks(
        self, layer: str, on_progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """Each sample's peak of each channel of ``layer``, ``(N, C)``, computed once per layer.

        A sample whose map is all NaN/Inf gets -Inf: it sorts last.
        """
        key = (self.engine.weights_tag, layer)
        peaks = self._peaks.get(key)
        if peaks is None:
            stats = channel_stats(
                self.engine, (layer,), self.images, progress=False, on_batch=on_progress
            )
            peaks = self._peaks[key] = stats[layer].peaks
        return peaks

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
        """Which channels of ``layer`` never rise above 0 on any sample, once peaks are known.

        ``None`` until :meth:`channel_peaks` has run for the layer (the channel panel or the
        activation order asks for it).
        """
        peaks = self._peaks.get((self.engine.weights_tag, layer))
        return None if peaks is None else np.asarray(~(peaks > 0).any(axis=0))

    def class_name(self, index: int) -> str:
        """Return the name of class ``index``, or the index itself when there is no name."""
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)


def default_layer(layers: tuple[LayerInfo, ...]) -> str:
    """Pick the layer to open on: the first convolution, else the first spatial layer."""
    for info in layers:
        if info.spatial and "Conv" in info.kind:
            return info.name
    spatial = [info.name for info in layers if info.spatial]
    return spatial[0] if spatial else layers[0].name


def sample_name(state: ViewState) -> str:
    """How titles and notices name the input in view: "sample 7" or "your drawing"."""
    return "your drawing" if state.drawn else f"sample {state.sample}"


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


def output_classes(engine: ActivationEngine) -> int | None:
    """Classes of the model's output when it is a class vector ``(classes,)``, else ``None``."""
    shape = engine.output_shape
    return int(shape[0]) if len(shape) == 1 and shape[0] and shape[0] > 1 else None


def class_probabilities(outputs: np.ndarray) -> np.ndarray | None:
    """Read a model's output as class probabilities; logits get a softmax; other shapes None.

    A row with NaN or Inf comes out all NaN: it has no probabilities to show.
    """
    if outputs.ndim != 2 or outputs.shape[1] < 2:  # noqa: PLR2004
        return None
    valid = np.isfinite(outputs).all(axis=1, keepdims=True)
    finite = np.where(valid, outputs, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):  # huge logits still give probabilities
        rows_sum_to_one = np.allclose(finite.sum(axis=1)[valid[:, 0]], 1.0, atol=1e-3)
        if rows_sum_to_one and finite.min() >= 0:
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
