"""Kernel-side state of the Explorer: validate a change, compute only the layer in view, draw."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from convscope.data.labels import class_labels
from convscope.engine.activations import ActivationEngine, NextPass
from convscope.engine.graph import LayerInfo
from convscope.engine.inputs import check_images
from convscope.engine.pass_memo import data_key
from convscope.engine.receptive import receptive_field
from convscope.errors import (
    ConvscopeError,
    ModelNotSupportedError,
    check_layer_name,
)
from convscope.render.compare import (
    difference_cmap,
    difference_pixels,
    joint_pixels,
)
from convscope.render.compose import (
    ChannelSweep,
    DeeperArrays,
    InputArrays,
    LayerFacts,
    MapArrays,
    ReceptiveField,
    channel_sweep,
    compose_view,
    grid_columns,
)
from convscope.render.explorer_figure import ExplorerFigure, ExplorerView, grid_aspect
from convscope.render.mosaic import (
    as_maps,
    coloured_grid,
    cross_marks,
    mark_pixels,
)
from convscope.render.normalise import (
    NON_FINITE_RGB,
    non_finite_mask,
    normalise_channels,
)
from convscope.widget.class_output import ClassOutput, output_classes
from convscope.widget.dataset_stats import DataSetStats
from convscope.widget.drawing_pad import DrawingPad
from convscope.widget.view_state import DRAWN, Source, ViewRules, ViewState, source_of
from convscope.widget.views import PREDICTED, DeeperViews

_PREFETCH = 32  # samples computed together when scrubbing reaches an uncached one
_SCRUB_STEP = 2  # a sample move this small may start a scrub (arrows, play, slider)
_SCRUB_REACH = 8  # one this small goes on with one (the page adds up a burst of arrow presses)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
DEAD_RGB = (205, 210, 216)  # the cross over a channel that never fires on the data set
# One layer view: A's maps (or those of A - B), and B's when two are shown side by side.
LayerView = tuple[MapArrays, MapArrays | None]


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
        self.classes = ClassOutput(engine, self.images)
        self.display_images = display_pixels(self.images)
        self.notice = ""  # what the status line says about the view, e.g. NaN in a layer
        low, high = float(self.images.min()), float(self.images.max())
        self.views = DeeperViews(engine, (low, max(high, low + 1.0)), self._patterns_update)
        self.on_patterns: Callable[[str, bool], None] | None = None  # set by the Explorer
        head, chart = self.classes.head_text.strip(" ·"), self.classes.chart_caption
        caption = "  ·  ".join(filter(None, [head, chart]))
        self.view = ExplorerFigure(figure, self.class_names, caption=caption)
        self.renders = 0
        # Per (weights tag, layer): the data-set colour scale and each sample's channel peaks.
        self.stats = DataSetStats(engine, self.images, self._data)
        self._last_layer_view: tuple[tuple[object, ...], LayerView] | None = None
        self._last_step = 0  # the sample step of the last update shown; 0 for any other move
        self._shown_images: dict[Hashable, np.ndarray] = {}
        self.pad = DrawingPad(engine.input_shape, (low, high))
        self.rules = ViewRules(
            engine,
            len(self.images),
            self.class_names,
            self.views,
            drawable=self.pad.size is not None,
        )
        self.state = ViewState(layer=start, channel=0, sample=0)
        self.apply()

    def probabilities_in_view(self) -> np.ndarray | None:
        """Return what the chart shows for the input in view (sample A); ``None`` for none."""
        if self.state.drawn:
            shown = self.drawn_probabilities()
        else:
            rows = self.classes.rows(np.array([self.state.sample]))
            shown = None if rows is None else rows[0]
        if shown is None or not np.isfinite(shown).all():
            return None
        return shown

    def follow_weights(self, *, full: bool = False, ahead: NextPass | None = None) -> bool:
        """Follow a change of the model's weights (training, ``set_weights``, an ``assign``).

        Asks the engine's cheap tier (``full``: every weight); on a change, the predictions
        are computed again and everything else keyed on the weights (maps, colour scales,
        peaks and dead channels, Grad-CAM, patterns) is looked up afresh. The caller redraws.
        ``ahead`` is the pass the next update needs (:meth:`next_pass`): the engine may run it
        with the check. Returns whether the weights had changed.
        """
        if not self.engine.follow_weights(full=full, ahead=ahead):
            return False
        self._forget_other_live_weights()
        self.classes.follow()
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

        self.classes.forget(stale)
        self.stats.forget(stale)

    def next_pass(self, **changes: Any) -> NextPass | None:
        """Return the one-image pass that :meth:`apply` of ``changes`` would ask for first.

        The maps of the layer in view for the sample in view, which every view draws; ``None``
        where there is none to run ahead: ``changes`` that :meth:`apply` refuses, a drawing, or
        a scrub's second or later step (its batch ahead computes that sample, :meth:`_ahead`).
        """
        try:
            state = self.resolve(**changes)
        except ConvscopeError:  # apply() refuses the same changes; anything else, the
            return None  # caller's guard (WeightsFollower.follow) logs, and checks alone
        if state.drawn or self._ahead(state) is not None:
            return None
        return NextPass(state.layer, self.images[state.sample], state.sample)

    def resolve(self, **changes: Any) -> ViewState:
        """Return the state after ``changes``, or raise; see :meth:`ViewRules.resolve`."""
        return self.rules.resolve(self.state, **changes)

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
        if source_of(state) != source_of(self.state) or state.layer != self.state.layer:
            self._last_step = self._step(state)  # a redraw of the same input leaves it as it was
        self.state = state
        self.notice = view.notice
        self.renders += 1
        return state

    def draw(self, drawing: object, *, follow: bool = True) -> ViewState:
        """Preprocess ``drawing`` as MNIST's digits were and show it; on error nothing changes.

        See :meth:`DrawingPad.drawing`: painted into the model's input size and scaled to the
        data set's range of values (0–255 for MNIST). ``follow`` as for :meth:`apply`.
        """
        self.rules.check_pad()
        with self.pad.drawing(drawing):
            return self.apply(follow=follow, sample=DRAWN)

    def drawn_probabilities(self) -> np.ndarray | None:
        """Return the drawing's class probabilities; ``None`` while it is empty or not a class.

        The model's output from the pass that computed the drawing's maps (see :meth:`_maps`),
        kept until the drawing or the weights change.
        """
        if not self.classes.has_classes:
            return self.pad.probabilities(self.engine.weights_tag, None)
        key = self._image_key(DRAWN)  # its output came with its maps: no pass of its own
        return self.pad.probabilities(
            self.engine.weights_tag, lambda image: self.classes.read_one(image, key)
        )

    def use_weights(self, weights: list[np.ndarray], tag: Hashable) -> None:
        """Show the same model with other weights (a training epoch), and redraw.

        The predictions of the samples are computed per ``tag`` when first asked for (see
        :class:`ClassOutput`) and kept; the maps, Grad-CAM and patterns follow the new weights.
        """
        self.engine.use_weights(weights, tag)
        self.classes.follow()
        self.views.forget()
        self.apply()

    def forget_weights(self, tags: list[Hashable]) -> None:
        """Drop what was kept for these weights (snapshots a live run thinned away)."""
        gone = set(tags)
        self.classes.forget(gone.__contains__)
        self.stats.forget(gone.__contains__)
        self.engine.forget_weights(gone)

    def build_view(
        self,
        state: ViewState,
        on_progress: Callable[[int, int], None] | None = None,
        *,
        prefetch: bool = True,
    ) -> ExplorerView:
        """Compute what ``state`` shows, then compose its panels and titles, once.

        One compiled pass for its layer, or the cache; the panels and titles come from
        :func:`~convscope.render.compose.compose_view`. With ``prefetch``, a step of a scrub
        also computes the next samples that way in the same batch (see :meth:`_ahead`).
        """
        info = self.engine.layer(state.layer)
        maps, other = self._layer_view(state, on_progress, prefetch=prefetch)
        a = self._input_arrays(source_of(state), maps)
        b = None if state.compare is None else self._input_arrays(state.compare, other)
        deeper = None
        if state.compare is None and state.view != "maps":
            deeper = self._deeper_arrays(state, maps.maps, a.image)
        return compose_view(
            state,
            LayerFacts(info.name, info.kind, info.shape_text, info.channels, info.spatial),
            (a, b),
            class_names=self.class_names,
            dead=self.stats.dead_channels(state.layer),
            field=None if state.probe is None else self._field(state.layer, state.probe),
            deeper=deeper,
        )

    def view_ahead(self, state: ViewState) -> ExplorerView:
        """Compose what ``state`` would show, drawing nothing and keeping the state in view.

        As :meth:`build_view` does (a move preview, ``move_previews.py``), but what is kept for
        the state in view stays kept: its layer view, which its next channel move reuses, and
        its input's pixels. Only ``state``'s own sample is computed: the scrub's batch ahead
        is left to the move itself, if it is made.
        """
        kept, images = self._last_layer_view, dict(self._shown_images)
        try:
            return self.build_view(state, prefetch=False)
        finally:
            self._last_layer_view, self._shown_images = kept, images

    def channel_sweep(self) -> ChannelSweep | None:
        """Return every channel of the state in view at once: its panel pixels and outlines.

        For drawing all of a layer's channels without an update each (the static export):
        see :func:`~convscope.render.compose.channel_sweep`. ``None`` where more changes with
        the channel (comparing, a probe, the pattern view). Uses the layer view just drawn.
        """
        maps, _ = self._layer_view(self.state, None)
        return channel_sweep(self.state, maps)

    def _input_arrays(self, sample: Source, maps: MapArrays | None) -> InputArrays:
        """Return one input's pixels, true class and classes, with its maps if drawn."""
        if sample == DRAWN:
            label, probabilities = None, self.drawn_probabilities()
        else:
            index = int(sample)
            label = None if self.labels is None else int(self.labels[index])
            rows = self.classes.rows(np.array([index]))  # this sample's only: no data-set pass
            probabilities = None if rows is None else rows[0]
        return InputArrays(
            sample=-1 if sample == DRAWN else int(sample),
            drawing=sample == DRAWN,
            empty_drawing=self.pad.is_empty,
            image=self._display_image(sample),
            label=label,
            probabilities=probabilities,
            maps=maps,
        )

    def _field(self, layer: str, probe: tuple[int, int]) -> ReceptiveField:
        """Return the probed unit's receptive field on the input, or why it has none."""
        try:
            return ReceptiveField(receptive_field(self.engine.graph, layer, probe))
        except ModelNotSupportedError as error:
            return ReceptiveField(None, str(error))

    def _deeper_arrays(self, state: ViewState, maps: np.ndarray, image: np.ndarray) -> DeeperArrays:
        """Compute what a deeper view of ``state`` draws over the input, or its patterns."""
        if state.view == "heatmap":
            return DeeperArrays(heat=self.views.heatmap(maps, image.shape[:2]))
        if state.view == "grad-cam":
            heat, chosen = self._grad_cam(state)
            return DeeperArrays(heat=heat, chosen=chosen, predicted=state.target_class == PREDICTED)
        patterns = self.views.patterns(state.layer)
        progress = "" if patterns is not None else self.views.progress(state.layer)
        return DeeperArrays(patterns=patterns, progress=progress)

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
            elif self.pad.drawn is not None:
                image = self.pad.drawn
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
        return (DRAWN, self.pad.tag) if sample == DRAWN else sample

    def _grad_cam(self, state: ViewState) -> tuple[np.ndarray, int]:
        """Grad-CAM of the input in view; for an empty drawing, nothing (class -1)."""
        if not state.drawn:
            return self.views.grad_cam(
                state.layer, self.images, state.sample, state.target_class, self._ahead(state)
            )
        if self.pad.is_empty:
            return np.zeros(self.display_images.shape[1:3], np.float32), -1
        return self.views.grad_cam_of(state.layer, self.pad.model_input, state.target_class)

    def _layer_view(
        self,
        state: ViewState,
        on_progress: Callable[[int, int], None] | None,
        *,
        prefetch: bool = True,
    ) -> LayerView:
        """Return the maps, pixels, coloured grid, layout and NaN/Inf mask of one layer view.

        The last result is kept: a channel switch reuses it and only recolours one channel.
        While comparing, A's and B's maps share one colour scale and the second item is B's
        ("side"), or the first is that of ``A - B`` and the second ``None`` ("difference").
        """
        known = self.stats.dead_channels(state.layer) is not None
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
        ahead = self._ahead(state) if prefetch else None
        if ahead is not None and not self.engine.is_cached(state.layer, state.sample):
            self.engine.prefetch(state.layer, self.images, ahead.tolist())
        maps = self._maps(state.layer, source_of(state))
        fixed = state.norm == "fixed"
        value_range = self.stats.channel_ranges(state.layer, on_progress) if fixed else None
        norm: Any = state.norm
        result: LayerView
        if state.compare is None:
            # Channels first: the mosaic tiles whole channels, and one channel is one slice.
            pixels = normalise_channels(maps, norm, value_range, channels_first=True)
            result = (self._mosaic(state, maps, pixels, state.cmap), None)
        elif state.compare_mode == "side":
            maps_b = self._maps(state.layer, state.compare)
            pixels, pixels_b = joint_pixels(maps, maps_b, norm, value_range)
            other = self._mosaic(state, maps_b, pixels_b, state.cmap)
            result = (self._mosaic(state, maps, pixels, state.cmap), other)
        else:
            maps_b = self._maps(state.layer, state.compare)
            difference, pixels = difference_pixels(maps, maps_b, norm, value_range)
            cmap = difference_cmap(state.cmap)
            result = (self._mosaic(state, difference, pixels, cmap), None)
        self._last_layer_view = (key, result)
        return result

    def _maps(self, layer: str, sample: Source) -> np.ndarray:
        """One input's activation of ``layer`` as channel maps ``(H, W, C)``, cached."""
        info = self.engine.layer(layer)
        # A drawing's classes come from the same pass (see drawn_probabilities).
        with_output = sample == DRAWN and self.classes.has_classes
        activation = self.engine.activation(
            layer, self._model_image(sample), key=self._image_key(sample), with_output=with_output
        )
        return as_maps(info.channels_last(activation))

    def _model_image(self, sample: Source) -> np.ndarray:
        """Return the image the model takes for ``sample``: a data-set row, or the drawing."""
        image: np.ndarray = self.pad.model_input[0] if sample == DRAWN else self.images[int(sample)]
        return image

    def cache_every_layer(self) -> None:
        """Compute every layer of the input in view in one pass, where not cached yet.

        For the move previews (``move_previews.py``), which visit the other layers of this
        input: one pass of the model instead of one per layer. Uses the weights of the last
        update, as those previews do.
        """
        sample = source_of(self.state)
        self.engine.cache_every_row(self._model_image(sample), key=self._image_key(sample))

    def _mosaic(
        self, state: ViewState, maps: np.ndarray, pixels: np.ndarray, cmap: str
    ) -> MapArrays:
        """Tile and colour ``pixels`` ``(C, H, W)``, marking NaN/Inf and dead channels."""
        side = state.compare is not None and state.compare_mode == "side"
        columns = grid_columns(maps.shape[-1], grid_aspect("side" if side else "single"))
        gap = max(1, maps.shape[0] // 14)
        grid, layout = coloured_grid(pixels, cmap, columns, gap, channels_first=True)
        bad = non_finite_mask(maps)
        if bad is not None:
            bad = np.moveaxis(bad, -1, 0)
            mark_pixels(grid, bad, layout, NON_FINITE_RGB)
        dead = self.stats.dead_channels(state.layer)
        if dead is not None and dead.any():
            mark_pixels(grid, cross_marks(dead, maps.shape[:2]), layout, DEAD_RGB)
        return MapArrays(maps, pixels, grid, layout, bad)

    def _ahead(self, state: ViewState) -> np.ndarray | None:
        """Return the samples to compute in one batch with ``state``'s, or ``None`` for a jump.

        While scrubbing one way, from its second step on the same layer, the next
        ``_PREFETCH`` samples that way, from the one asked for (see :meth:`_step`). A jump (a
        thumbnail click, a neighbour's included) and a scrub's first step compute only the
        sample asked for: a batch costs several passes, and a lone step would waste most of it.
        """
        step = self._step(state)
        if step * self._last_step <= 0:
            return None
        direction = 1 if step > 0 else -1
        return (state.sample + direction * np.arange(_PREFETCH)) % len(self.images)

    def _step(self, state: ViewState) -> int:
        """Return the sample step from the input shown to ``state``'s, if a scrub's; else 0.

        On the same layer, between two samples of the data set: a step of at most
        ``_SCRUB_STEP`` starts a scrub or goes on with one; after a step that way, one of at
        most ``_SCRUB_REACH`` goes on with it (several arrow presses the page sent as one).
        """
        step = state.sample - self.state.sample
        if state.drawn or self.state.drawn or state.layer != self.state.layer:
            return 0
        reach = _SCRUB_REACH if step * self._last_step > 0 else _SCRUB_STEP
        return step if abs(step) <= reach else 0

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
