"""Other layers' figures, made while idle and sent ahead: the page repaints a layer move at once.

Once the kernel is idle after a frame (and after the channel sweep, ``previews.py``), it composes,
one layer per turn of its event loop and nearest first, the figure that a move to each other
layer of the slider would show. It composes it as the move does (:meth:`ExplorerController.
view_ahead`, the move's own ``build_view``), but into an off-screen figure of the same panels:
the live figure, ``ex.figure``, never changes. Each is sent as a *layer preview*: the frame's
rectangles that turn the page's picture (the frame ``base``) into that figure
(:meth:`PanelComposite.patches_to`). The page paints the one for the layer the user moves to in
the same task as the input, keeping the pixels it covered; when the kernel's own frame comes,
the page puts them back first and paints the frame over them, so what stays on screen is always
the kernel's figure. Any frame makes every layer preview stale: they are made again for the next
one.
"""

from __future__ import annotations

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

MAX_BYTES = 1_000_000  # the layer previews of one frame stop at this many bytes
VIEWS = ("maps", "heatmap")  # views whose other layers cost one pass each (no gradients)


class LayerPreviewHeader(TypedDict):
    """One layer preview: the frame it paints over, the layer it shows, and its rectangles.

    ``layer`` is the layer's place among the slider's layers, ``channel`` the channel the move
    shows there (the one in view, or the layer's last).
    """

    base: int
    width: int
    height: int
    layer: int
    channel: int
    rects: list[FrameRect]


class LayerPreviews:
    """Make, one at a time, the previews of the other layers for the frame on the page.

    Parameters
    ----------
    controller : ExplorerController
        Composes each layer's view as a move to it would; its engine's layers are the
        slider's, in its order.

    """

    def __init__(self, controller: ExplorerController) -> None:
        self._controller = controller
        self._layers = [info.name for info in controller.engine.layers]
        self._shadow: ExplorerFigure | None = None
        self._base = -1  # the frame the plan is for
        self._todo: list[int] = []  # the layers still to make, nearest first
        self._bytes = 0

    def plan(self, base: int) -> None:
        """Plan the previews over the frame ``base``: every other layer, nearest first.

        None in views whose other layers need more than a pass (Grad-CAM, patterns), while
        two samples are compared, or with the data set's colour scale (a pass over the data
        set for a layer not yet scaled).
        """
        state = self._controller.state
        self._base, self._bytes, self._todo = base, 0, []
        if state.view not in VIEWS or state.compare is not None or state.norm == "fixed":
            return
        if state.layer not in self._layers:
            return
        here = self._layers.index(state.layer)
        others = [i for i in range(len(self._layers)) if i != here]
        self._todo = sorted(others, key=lambda i: (abs(i - here), i))

    def wanted(self, base: int) -> bool:
        """Whether previews over the frame ``base`` remain to be made."""
        return self._base == base and bool(self._todo)

    def next(self, composite: PanelComposite, renderer: RendererBase, dpi: float) -> bytes | None:
        """Make the next layer's preview over the page's picture; ``None`` where it cannot be.

        ``renderer`` is the live figure's at the page's pixel ratio, as the frame ``base`` was
        made; ``dpi`` is the figure's own, at which its panels are composed (a chart's text).
        A move the rules refuse (a view the layer cannot show) has no preview.
        """
        index = self._todo.pop(0)
        controller = self._controller
        live = controller.view
        try:
            state = controller.resolve(layer=self._layers[index])
        except ConvscopeError:
            return None
        view = controller.view_ahead(state)
        shadow = self._shadow_of(live.figure, dpi)
        shadow.show(view)
        patches = composite.patches_to(shadow.panels, renderer)
        if patches is None or not patches:
            return None
        rects, chunks = pack_blocks(patch_blocks(patches))
        self._bytes += sum(map(len, chunks))
        if self._bytes > MAX_BYTES:
            self._todo = []
            return None
        width, height = composite.size(renderer)
        header = LayerPreviewHeader(
            base=self._base, width=width, height=height, layer=index, channel=state.channel,
            rects=rects,
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


def read_layer_preview(data: bytes) -> tuple[LayerPreviewHeader, list[np.ndarray]]:
    """Split a layer preview into its header and each rectangle's pixels ``(h, w, 4)``."""
    header: LayerPreviewHeader
    header, body = split_message(data)
    return header, [rect_pixels(rect, body) for rect in header["rects"]]


def apply_layer_preview(shown: np.ndarray, preview: bytes) -> np.ndarray:
    """Return what a page showing ``shown`` (``(H, W, 4)`` uint8) shows after the preview."""
    header, pixels = read_layer_preview(preview)
    out: np.ndarray = shown.copy()
    paste_rects(out, header["rects"], pixels)
    return out
