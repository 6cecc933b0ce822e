"""What the kernel sends the page to draw: the view, the channel panel, frames and thumbnails.

:class:`Publisher` reads the controller and the sample browser and writes the Explorer's
traits through a :class:`PublishHost`; it owns what only publishing needs to remember: the
channel panel last filled, the frame encoder and the page's device pixel ratio.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from convscope.render.panel_composite import PanelComposite
from convscope.render.words import panel_line
from convscope.widget.descriptions import describe_drawing, describe_panels, describe_sample
from convscope.widget.explorer_state import trait_values
from convscope.widget.figure_display import LazyAggCanvas
from convscope.widget.frames import FrameEncoder
from convscope.widget.move_previews import VIEWS, MovePreviews
from convscope.widget.previews import IDLE_S, ChannelPreviews

if typing.TYPE_CHECKING:
    from convscope.widget.controller import ExplorerController
    from convscope.widget.samples import SampleBrowser

_LOG = logging.getLogger("convscope")
MOVE_GAP_S = 0.005  # between two turns of move previews: room for the page's messages
MOVE_TURN_S = 0.008  # a turn makes move previews until it has taken this long
READY_CHUNK = 8  # thumbnails made ready per turn of the kernel's loop
_MAX_PIXEL_RATIO = 3.0  # beyond this a frame would cost more than the sharpness is worth


@dataclass(frozen=True)
class PublishHost:
    """What the publisher needs of the widget, as callables (no private access across objects).

    Attributes
    ----------
    set_traits : callable
        Write the given traits, the user's among them, as the kernel's own values.
    hold : callable
        A context in which trait changes go to the page as one message.
    panel_open, teaching : callable
        Whether the channel panel is open; whether the teaching captions show.
    training : callable
        The live training's state for the page, or ``None`` without a live training.
    say_progress : callable
        Show ``what: done/total images`` in the status line at once.
    send : callable
        Send the page buffers of a kind outside the traits, as one message (``"sweep"``: the
        channel previews, ``"move"``: move previews, one per buffer).
    later : callable
        Run a callable after some seconds on the kernel's event loop (nothing in a script);
        returns whether it was scheduled.
    following : callable
        Whether the view follows a live training: frames keep coming, and no sweep is made.

    """

    set_traits: Callable[[dict[str, Any]], None]
    hold: Callable[[], contextlib.AbstractContextManager[Any]]
    panel_open: Callable[[], bool]
    teaching: Callable[[], bool]
    training: Callable[[], dict[str, Any] | None]
    say_progress: Callable[[str, int, int], None]
    send: Callable[[str, list[bytes]], None]
    later: Callable[[float, Callable[[], None]], bool]
    following: Callable[[], bool]


class Publisher:
    """Send the page the state of the view in ``controller`` and the samples of ``samples``."""

    def __init__(
        self,
        controller: ExplorerController,
        samples: SampleBrowser,
        figure_mode: str,
        host: PublishHost,
    ) -> None:
        self._controller = controller
        self._samples = samples
        self._mode = figure_mode
        self._host = host
        self._panel_key: tuple[str, int] | None = None
        self._frames = FrameEncoder()
        self._composite = PanelComposite(controller.view.panels)
        self._pixel_ratio = 1.0  # the page's device pixel ratio (canvas path)
        self._previews = ChannelPreviews(controller.view)
        self._moves = MovePreviews(controller, samples.step)
        self._held: list[bytes] = []  # move previews made by the chain, sent when it ends
        self._framed_at = 0.0  # time.monotonic() of the last frame sent
        self._page = 0  # the page of thumbnails shown
        self._shown_at = 0.0  # time.monotonic() of the last view or page published
        self._thumbs_due = False  # whether thumbnails_when_idle is scheduled
        self._slow_layers: set[str] = set()  # layers whose chunk of thumbnails took too long

    @property
    def frame_id(self) -> int:
        """The number of the last frame sent (0: none yet)."""
        return self._frames.frame_id

    def forget_panel(self) -> None:
        """Fill the channel panel again at the next publish (new weights, or opened again)."""
        self._panel_key = None

    def view(self) -> None:
        """Publish the view: its traits and text lines, the channel panel and the frame."""
        controller = self._controller
        state = controller.state
        info = controller.engine.layer(state.layer)
        figure = controller.view.figure
        with self._host.hold():
            unit = "channel" if info.spatial else "unit"
            self._host.set_traits(
                {"_channel_count": info.channels, "_unit_name": unit} | trait_values(state)
            )
            sample = (
                describe_drawing(controller)
                if state.drawn
                else describe_sample(controller, state.sample)
            )
            compare = "" if state.compare is None else describe_sample(controller, state.compare)
            texts: dict[str, Any] = {"_sample_text": sample, "_compare_text": compare}
            texts["_status"] = controller.notice
            if self._host.teaching():
                texts["_captions"] = describe_panels(controller)
            self._host.set_traits(texts)
            self._panel()
            if self._mode == "png":
                self.frame()
        if self._mode == "ipympl":
            # draw(), not draw_idle(): draw_idle asks the page to ask back for a frame, a
            # second round trip; draw() renders and pushes the changed pixels at once.
            figure.canvas.draw()
        self._shown()

    def new_weights(self, *, lazy: bool = False) -> None:
        """Publish what follows new weights: predictions, filters, orders, confusion, panel.

        ``lazy`` (following a live training): the data set's predictions are computed only
        where something needs them (the sample in view, the page of thumbnails, a filter or
        an order that uses them); the confusion matrix waits for them, hidden meanwhile.
        """
        # The predicted-class and mistake filters, and the orders, follow the weights.
        self._samples.follow_predictions()
        if not lazy:
            self._controller.classes.fill()
        self.forget_panel()
        self.view()
        self.page(self._samples.page_of(self._controller.state.sample))

    def predictions(self, page: int) -> None:
        """Publish the filter, order, captions and confusion once all predictions are known."""
        with self._host.hold():
            self._samples.follow_predictions()
            self.page(page)

    def key_frame(self, ratio: float | None) -> None:
        """Send the whole figure at the page's device pixel ``ratio`` (``None``: as before)."""
        ratio = self._pixel_ratio if ratio is None else ratio
        self._pixel_ratio = min(max(float(ratio), 1.0), _MAX_PIXEL_RATIO)
        self._frames.want_key()  # a view opened, or missed a frame: the whole figure
        self._previews.again()  # and the channel previews, which it holds none of
        self.frame()

    def frame(self) -> None:
        """Send the page what changed in the figure since the last frame, if anything.

        The figure is taken at the page's device pixel ratio. While it shows only pixel panels
        (the live view, titles off), the frame is the patches that repaint the panels that
        changed (:class:`PanelComposite`), and Agg draws the canvas only when its buffer is
        read (:class:`LazyAggCanvas`); otherwise Agg draws it now, and the frame is what
        changed in its pixels. ``ex.figure``, saves and GIFs keep the figure's own dpi either way.
        """
        figure = self._controller.view.figure
        canvas: Any = figure.canvas  # Agg's, or ipympl's: both hold the RGBA buffer drawn
        with self._at_ratio():
            renderer = canvas.get_renderer()
            state = self._controller.state
            if isinstance(canvas, LazyAggCanvas) and self._composite.can_paint(figure, renderer):
                if self._frames.key_wanted:
                    self._composite.forget()  # the whole figure
                patches = self._composite.patches(renderer)
                size = self._composite.size(renderer)
                gen = self._previews.generation(self._composite, state, self._pixel_ratio)
                frame = self._frames.encode_patches(
                    patches, size, self._pixel_ratio, gen=gen, channel=state.channel
                )
                if frame is not None:
                    self._moves.plan(self._frames.frame_id)
                canvas.behind(self._draw)
            else:
                canvas.draw()
                self._composite.forget()
                frame = self._frames.encode(
                    np.asarray(canvas.buffer_rgba()),
                    self._pixel_ratio,
                    gen=self._previews.drawn(),
                    channel=state.channel,
                )
        if frame is not None:
            self._host.set_traits({"_figure_frame": frame})
            self._framed_at = time.monotonic()
            self._held = []  # previews over the frame before: stale
            if self._previews.wanted or self._moves.wanted(self._frames.frame_id):
                self._host.later(IDLE_S, self.sweep_when_idle)

    def thumbnails_when_idle(self) -> None:
        """Compute the layer in view for the page of thumbnails, once the kernel is idle.

        The page's samples not cached yet, :data:`READY_CHUNK` per turn of the kernel's loop
        (turns :data:`MOVE_GAP_S` apart, so a message from the page waits for one chunk at
        most), in batched passes: 3 ms for all 48 digits at ``conv2`` on a 2-core machine. A
        click on any of them then reads that sample's maps from the cache instead of waking
        TensorFlow for a pass of its own, on either figure path. Only once the layer's pass is
        compiled, in the views whose moves cost one pass (maps, heatmap), not while comparing
        or following a training, and only while the weights are those of the last update
        (:meth:`~convscope.engine.activations.ActivationEngine.weights_as_tagged`): the pass
        is cached under that update's weights. A layer whose chunk takes longer than a turn
        (:data:`MOVE_TURN_S`; a large model's) is left alone from then on.
        """
        self._thumbs_due = False
        quiet = time.monotonic() - self._shown_at
        if quiet < IDLE_S:
            self._thumbnails_later(IDLE_S - quiet)
            return
        try:
            if self._make_thumbnails_ready():
                self._thumbnails_later(MOVE_GAP_S)  # the next chunk, at the next turn
        except Exception:  # noqa: BLE001 - logged; a click computes its own sample
            _LOG.exception("convscope: could not make the page of thumbnails ready")

    def _make_thumbnails_ready(self) -> bool:
        """Compute one chunk of the page's thumbnails; whether more are left to compute."""
        controller = self._controller
        state, engine = controller.state, controller.engine
        layer = state.layer
        if state.view not in VIEWS or state.compare is not None or self._host.following():
            return False
        if layer in self._slow_layers or (layer,) not in engine.compiled_layers:
            return False
        page = self._samples.page_samples(self._page).tolist()
        samples = [sample for sample in page if not engine.is_cached(layer, sample)]
        if not samples or not engine.weights_as_tagged():
            return False
        started = time.monotonic()
        done = engine.prefetch(layer, controller.images, samples[:READY_CHUNK])
        if time.monotonic() - started > MOVE_TURN_S:
            self._slow_layers.add(layer)
            return False
        return 0 < done < len(samples)

    def _shown(self) -> None:
        """Note that a view or a page was just published: the page's thumbnails follow."""
        self._shown_at = time.monotonic()
        self._thumbnails_later(IDLE_S)

    def _thumbnails_later(self, delay: float) -> None:
        """Call :meth:`thumbnails_when_idle` after ``delay`` seconds, unless it is due."""
        if not self._thumbs_due:
            self._thumbs_due = self._host.later(delay, self.thumbnails_when_idle)

    def sweep_when_idle(self) -> None:
        """Send the channel previews of the figure in view, once the kernel has been idle.

        After :data:`~convscope.widget.previews.IDLE_S` without a frame; called again later
        while frames keep coming (a burst of moves never waits on the sweep). The move
        previews follow, in turns (:meth:`moves_ahead`).
        """
        if self._mode != "png" or self._host.following():
            return
        quiet = time.monotonic() - self._framed_at
        if quiet < IDLE_S:
            self._host.later(IDLE_S - quiet, self.sweep_when_idle)
            return
        if self._previews.wanted:
            canvas: Any = self._controller.view.figure.canvas
            with self._at_ratio():
                renderer = canvas.get_renderer()
                sweep = self._previews.sweep(
                    self._controller, self._composite, renderer, self._frames.frame_id
                )
            if sweep is not None:
                self._host.send("sweep", [sweep])
            self._host.later(MOVE_GAP_S, functools.partial(self.moves_ahead, self.frame_id))
        else:
            self.moves_ahead(self.frame_id)

    def sample_ahead(self, sample: int) -> None:
        """Make the move preview of ``sample`` next: its thumbnail may be clicked (a hint)."""
        if self._mode != "png" or self._host.following():
            return
        if self._moves.want(self._frames.frame_id, f"sample {sample}"):
            self._host.later(0.0, functools.partial(self.moves_ahead, self.frame_id))  # at once

    def moves_ahead(self, base: int) -> None:
        """Make the next move previews for the frame on the page, then ask for the next turn.

        A turn makes moves, nearest first, until it has taken :data:`MOVE_TURN_S` (a move
        takes 1–4 ms); turns are :data:`MOVE_GAP_S` apart, so a message from the page that
        comes meanwhile is dispatched (several turns of the kernel's event loop) before the
        next turn, and its request waits for one turn at most. The previews go to the page in
        one message when the last is made (one message per frame, not one per move), but a
        move the page hinted at goes at once. ``base`` is the frame the chain started after:
        a frame sent since starts a chain of its own, after its own quiet time. Only a hinted
        move is made within that quiet time (a burst of moves never waits on the others);
        :meth:`sweep_when_idle` goes on with them.
        """
        started = time.monotonic()
        if self._moves.wanted(base) and not self._controller.engine.weights_as_tagged():
            # Changed since the frame (a cell ran set_weights or fit): its passes would be
            # cached as the frame's weights. The next update, or the idle check, follows them.
            return
        while base == self.frame_id and self._moves.wanted(base) and not self._host.following():
            hinted = self._moves.hinted_next
            if time.monotonic() - self._framed_at < IDLE_S and not hinted:
                return
            figure: Any = self._controller.view.figure
            dpi = figure.dpi
            with self._at_ratio():
                renderer = figure.canvas.get_renderer()
                if not self._composite.current(renderer):  # the page's picture: not the panels'
                    return
                preview = self._moves.next(self._composite, renderer, dpi)
            if preview is not None and hinted:
                self._host.send("move", [preview])
            elif preview is not None:
                self._held.append(preview)
            if not self._moves.wanted(base):
                if self._held:
                    self._host.send("move", self._held)
                    self._held = []
                return
            if time.monotonic() - started >= MOVE_TURN_S:
                self._host.later(MOVE_GAP_S, functools.partial(self.moves_ahead, base))
                return

    def _draw(self) -> None:
        """Draw the figure with Agg at the page's device pixel ratio."""
        with self._at_ratio():
            figure: Any = self._controller.view.figure
            figure.canvas.draw()

    @contextlib.contextmanager
    def _at_ratio(self) -> typing.Iterator[None]:
        """Set the figure's dpi to the page's device pixel ratio times its own, for a while."""
        figure = self._controller.view.figure
        dpi = figure.dpi
        if self._pixel_ratio != 1.0:
            figure.set_dpi(dpi * self._pixel_ratio)
        try:
            yield
        finally:
            if self._pixel_ratio != 1.0:
                figure.set_dpi(dpi)

    def page(self, page: int) -> None:
        """Publish a page of thumbnails, and the confusion matrix if its predictions are known.

        Never the matrix of other weights: it is hidden until every prediction is known.
        """
        samples = self._samples
        data, meta = samples.page(page)
        self._page = page
        self._shown()
        with self._host.hold():
            complete = self._controller.classes.complete
            self._host.set_traits({"_confusion": samples.confusion() if complete else []})
            training = self._host.training()
            if training is not None:  # its line says whether the predictions are pending
                self._host.set_traits({"_training": training})
            self._host.set_traits(
                {
                    "page": page,
                    "_page_count": samples.page_count,
                    "_filtered_count": len(samples.passing),
                    "_thumb_meta": meta,
                    "_thumbs": data,
                }
            )

    def _panel(self) -> None:
        """Fill the channel panel for the layer and channel in view, if open and not yet."""
        controller = self._controller
        state = controller.state
        key = (state.layer, state.channel)
        if not self._host.panel_open() or key == self._panel_key:
            return
        first = controller.stats.dead_channels(state.layer) is None
        top, peaks, active = controller.stats.channel_summary(
            state.layer,
            state.channel,
            on_progress=functools.partial(self._host.say_progress, f"peaks of {state.layer}"),
        )
        if first:  # the dead channels are known now: cross them out in the grid
            controller.apply()
        unit = "channel" if controller.engine.layer(state.layer).spatial else "unit"
        dead_channels = controller.stats.dead_channels(state.layer)
        dead = dead_channels is not None and bool(dead_channels[state.channel])
        self._panel_key = key
        text = panel_line(
            unit,
            state.channel,
            state.layer,
            dead=dead,
            active=active,
            samples=len(controller.images),
            shown=len(top),
        )
        meta = [
            {"index": int(index), "peak": float(peak)}
            for index, peak in zip(top, peaks, strict=True)
        ]
        thumbs = np.ascontiguousarray(self._samples.picker.thumbnails[top]).tobytes()
        self._host.set_traits(
            {
                "_panel_text": text,
                "_panel_meta": meta,
                "_panel_thumbs": thumbs,
                "_status": controller.notice,
            }
        )
