"""The figures of the moves a user may make next, made while idle: the page paints them at once.

Once the kernel is idle after a frame (and after the channel sweep, ``previews.py``), it
composes, one at a time and nearest first, the figure that each move of the layer slider,
PageUp/PageDown and ←/→ would show: every other layer, and the samples one step back and on
(through the filter and order in use); and, first, the sample of a thumbnail the pointer or
the focus is on, when the page hints at it (``protocol.AheadHint``). It composes each as the
move does (:meth:`ExplorerController.view_ahead`, the move's own ``build_view``), but into an
off-screen figure of the same panels: the live figure, ``ex.figure``, never changes (the
first layer move computes every layer of the input in one pass, and a step its own sample
only). Each is a *move preview*: the frame's rectangles that turn the page's picture (the
frame ``base``) into that figure (:meth:`PanelComposite.patches_to`); they go to the page
together, in one message once the last is made (a hinted one at once). The page paints the
one for the move the user makes in the same task as the input, keeping the pixels it covered;
when the kernel's own frame comes, the page puts them back first and paints the frame over
them, so what stays on screen is always the kernel's figure. Any frame makes every move
preview stale: they are made again for the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from convscope.errors import ConvscopeError
from convscope.render.explorer_figure import ExplorerFigure
from convscope.widget.frames import (
    FrameRect,
    pack_blocks,
    pack_message,
    paste_rects,
    patch_blocks,
    rect_pixels,
    split_message,
)

if TYPE_CHECKING:
    from matplotlib.backend_bases import RendererBase

    from convscope.render.panel_composite import PanelComposite
    from convscope.widget.controller import ExplorerController

MAX_BYTES = 1_000_000  # the move previews over one frame stop at this many bytes
VIEWS = ("maps", "heatmap")  # views whose moves cost one pass each (no gradients)
STEPS = (1, -1)  # the sample steps made ahead: → and ←


class MovePreviewHeader(TypedDict):
    """One move preview: the frame it paints over, the move it shows, and its rectangles.

    ``move`` names the move as the page does: ``"layer 5"`` for the layer at place 5 of the
    slider, ``"step 1"`` or ``"step -1"`` for → and ←, ``"sample 42"`` for a click on sample
    42's thumbnail (made when the page hints at it, ``protocol.AheadHint``). ``sample`` and
    ``channel`` are those the move shows.
    """

    base: int
    width: int
    height: int
    move: str
    sample: int
    channel: int
    rects: list[FrameRect]


class MovePreviews:
    """Make, one at a time, the previews of the moves from the frame on the page.

    Parameters
    ----------
    controller : ExplorerController
        Composes each move's view as the move would; its engine's layers are the slider's,
        in its order.
    step : callable
        ``step(start, delta)``: the sample ``delta`` places on from ``start`` through the
        samples that pass the filter, in the order in use (as ←/→ move).

    """

    def __init__(self, controller: ExplorerController, step: Callable[[int, int], int]) -> None:
        self._controller = controller
        self._step = step
        self._layers = [info.name for info in controller.engine.layers]
        self._shadow: ExplorerFigure | None = None
        self._base = -1  # the frame the plan is for
        self._todo: list[str] = []  # the moves still to make, nearest first
        self._asked: set[str] = set()  # every move planned over the frame, made or not
        self._hinted: set[str] = set()  # the moves the page asked for over the frame
        self._open = False  # whether moves over the frame are made at all
        self._bytes = 0

    def plan(self, base: int) -> None:
        """Plan the previews over the frame ``base``: the nearest moves first.

        None in views whose moves need more than a pass (Grad-CAM, patterns), while two
        samples are compared, or with the data set's colour scale (a pass over the data set
        for a layer not yet scaled); no sample steps from a drawing.
        """
        state = self._controller.state
        self._base, self._bytes, self._todo, self._open = base, 0, [], False
        self._asked, self._hinted = set(), set()
        if state.view not in VIEWS or state.compare is not None or state.norm == "fixed":
            return
        if state.layer not in self._layers:
            return
        self._open = True
        here = self._layers.index(state.layer)
        moves = [(abs(i - here), 0, f"layer {i}") for i in range(len(self._layers)) if i != here]
        if not state.drawn:
            moves += [(abs(delta), 1, f"step {delta}") for delta in STEPS]
        self._todo = [move for *_, move in sorted(moves)]
        self._asked = set(self._todo)

    def want(self, base: int, move: str) -> bool:
        """Make ``move`` next over the frame ``base``; return whether it is to be made.

        Not where the plan made none (see :meth:`plan`), nor a move made or planned already.
        """
        if base != self._base or not self._open or move in self._asked:
            return False
        self._asked.add(move)
        self._hinted.add(move)
        self._todo.insert(0, move)
        return True

    @property
    def hinted_next(self) -> bool:
        """Whether the next move to make is one the page asked for (:meth:`want`)."""
        return bool(self._todo) and self._todo[0] in self._hinted

    def wanted(self, base: int) -> bool:
        """Whether previews over the frame ``base`` remain to be made."""
        return self._base == base and bool(self._todo)

    def next(self, composite: PanelComposite, renderer: RendererBase, dpi: float) -> bytes | None:
        """Make the next move's preview over the page's picture; ``None`` where it cannot be.

        ``renderer`` is the live figure's at the page's pixel ratio, as the frame ``base`` was
        made; ``dpi`` is the figure's own, at which its panels are composed (a chart's text).
        A move the rules refuse (a view the layer cannot show) has no preview.
        """
        move = self._todo.pop(0)
        kind, value = move.split()
        controller = self._controller
        try:
            if kind == "layer":
                state = controller.resolve(layer=self._layers[int(value)])
                controller.cache_every_layer()  # the first layer move: one pass for them all
            elif kind == "step":
                state = controller.resolve(sample=self._step(controller.state.sample, int(value)))
            else:  # a thumbnail's sample
                state = controller.resolve(sample=int(value))
        except ConvscopeError:
            return None
        shadow = self._shadow_of(controller.view.figure, dpi)
        shadow.show(controller.view_ahead(state))
        patches = composite.patches_to(shadow.panels, renderer)
        if not patches:  # None: nothing painted yet; []: the move changes no pixel
            return None
        rects, chunks = pack_blocks(patch_blocks(patches))
        self._bytes += sum(map(len, chunks))
        if self._bytes > MAX_BYTES:
            self._todo = []
            return None
        width, height = composite.size(renderer)
        header = MovePreviewHeader(
            base=self._base, width=width, height=height, move=move, sample=state.sample,
            channel=state.channel, rects=rects,
        )  # fmt: skip
        return pack_message(header, chunks)

    def _shadow_of(self, figure: Any, dpi: float) -> ExplorerFigure:
        """Return the off-screen figure, at the live figure's size and its own ``dpi``."""
        shadow = self._shadow
        if shadow is None:
            live = self._controller.view
            off = Figure(figsize=figure.get_size_inches(), dpi=dpi)
            FigureCanvasAgg(off)
            shadow = self._shadow = ExplorerFigure(off, live.class_names, caption=live.caption)
        if shadow.figure.dpi != dpi:
            shadow.figure.set_dpi(dpi)
        return shadow


def read_move_preview(data: bytes) -> tuple[MovePreviewHeader, list[np.ndarray]]:
    """Split a move preview into its header and each rectangle's pixels ``(h, w, 4)``."""
    header: MovePreviewHeader
    header, body = split_message(data)
    return header, [rect_pixels(rect, body) for rect in header["rects"]]


def apply_move_preview(shown: np.ndarray, preview: bytes) -> np.ndarray:
    """Return what a page showing ``shown`` (``(H, W, 4)`` uint8) shows after the preview."""
    header, pixels = read_move_preview(preview)
    out: np.ndarray = shown.copy()
    paste_rects(out, header["rects"], pixels)
    return out
