"""Every channel of the figure in view, sent ahead: the page repaints a channel move at once.

A channel move changes two things in the live figure: the channel panel's pixels and the grid's
outline. Once the kernel has been idle for :data:`IDLE_S` after a frame, it sends the page one
*sweep*: for every channel of the layer in view, its whole panel, its outline's strips and the
grid's pixels under those strips, as a frame's rectangles (``frames.py``), made in numpy for all
channels at once (``export_table.Painter``, as the static export makes them). With it, the page
paints the channel the user moves to in the same task as the input, before the kernel's frame
comes; that frame then replaces the preview (``widget.js``), so what stays on screen is always
the kernel's own figure.

Each frame names its *generation*: frames that differ only where the sweep paints (the
channel panel's pixels, the grid's outline) share one. Anything else (a sample, a layer, the
colours, new weights, another pixel ratio) starts a new generation, and the page drops a sweep
of another one. Nothing is trusted unchecked: a sweep is sent only if the figure on the page is
still the panels' picture, and the channel in view's rectangles are what its panel shows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from convscope.widget.export_table import Painter, Pieces
from convscope.widget.frames import (
    FrameRect,
    pack_message,
    paste_rects,
    rect_pixels,
    split_message,
)

if TYPE_CHECKING:
    from matplotlib.backend_bases import RendererBase

    from convscope.render.explorer_figure import ExplorerFigure
    from convscope.render.panel_composite import PanelComposite
    from convscope.widget.controller import ExplorerController
    from convscope.widget.view_state import ViewState

IDLE_S = 0.1  # quiet after a frame before the sweep is made: a burst of moves never waits on it
MAX_BYTES = 2_000_000  # a sweep larger than this is not sent (a layer of thousands of channels)


class SweepHeader(TypedDict):
    """What a sweep holds: for which frame and generation, and each channel's rectangles.

    ``maps[c]`` is channel ``c``'s whole panel, ``strips[c]`` its outline's strips and
    ``unders[c]`` the grid's pixels (no outline) in the box that holds them, as indices into
    ``rects`` (empty lists where the grid has no outline). Going from channel ``a`` to ``c``
    paints ``unders[a]``, then ``strips[c]``, then ``maps[c]``.
    """

    gen: int
    base: int
    width: int
    height: int
    channel: int
    maps: list[int]
    strips: list[list[int]]
    unders: list[list[int]]
    rects: list[FrameRect]


class ChannelPreviews:
    """Number the figure's generations, and make the sweep of the one in view once.

    Parameters
    ----------
    panels : ExplorerFigure
        The live figure: its channel panel and grid are what a sweep paints.

    """

    def __init__(self, panels: ExplorerFigure) -> None:
        self._panels = panels
        self.gen = 0  # 0: a frame Agg drew, which no sweep follows
        self._signature: tuple[object, ...] | None = None
        self._last = 0  # the highest generation handed out
        self._swept = 0  # the generation whose sweep was made (or found impossible)

    def generation(self, composite: PanelComposite, state: ViewState, ratio: float) -> int:
        """Return the generation of the frame just made from ``composite``'s patches."""
        panels = self._panels
        signature = (
            replace(state, channel=0),
            ratio,
            composite.signature(panels.channel_panel, panels.grid_panel),
        )
        if signature != self._signature:
            self._signature = signature
            self._last += 1
            self.gen = self._last
        return self.gen

    def drawn(self) -> int:
        """Return the generation of a frame Agg drew: 0, none (no sweep applies to it)."""
        self._signature = None
        self.gen = 0
        return 0

    def again(self) -> None:
        """Make the sweep of the generation in view again (a view opened: it holds none)."""
        self._swept = 0

    @property
    def wanted(self) -> bool:
        """Whether the generation in view still has no sweep."""
        return self.gen not in (0, self._swept)

    def sweep(
        self,
        controller: ExplorerController,
        composite: PanelComposite,
        renderer: RendererBase,
        frame_id: int,
    ) -> bytes | None:
        """Return the sweep of the generation in view, once; ``None`` where none can be made.

        Call it with the figure at the page's pixel ratio, as the frame ``frame_id`` was made.
        """
        self._swept = self.gen
        if not composite.current(renderer):  # the page's picture is not the panels' any more
            return None
        sweep = controller.channel_sweep()
        if sweep is None:
            return None
        panels = self._panels
        painter = Painter(panels)
        pieces = Pieces()
        maps = painter.channel_pieces(pieces, panels.channel_panel, sweep.channels)
        channel = controller.state.channel
        shown = np.ascontiguousarray(sweep.channels[channel]).view(np.uint32)[..., 0]
        if maps is None or not np.array_equal(shown, panels.channel_panel.words):
            return None
        count = len(maps)
        strips: list[list[int]] = [[] for _ in range(count)]
        unders: list[list[int]] = [[] for _ in range(count)]
        grid = panels.grid_panel
        if sweep.outlines is not None:
            if grid.outline is None or not np.array_equal(sweep.outlines[channel], grid.outline):
                return None
            made = painter.outline_sweep(pieces, grid, sweep.outlines)
            if made is None:
                return None
            strips, unders = made
        return _pack(
            pieces,
            {"gen": self.gen, "base": frame_id, "channel": channel},
            painter.size,
            (maps, strips, unders),
        )


def _pack(
    pieces: Pieces,
    head: dict[str, int],
    size: tuple[int, int],
    lists: tuple[list[int], list[list[int]], list[list[int]]],
) -> bytes | None:
    """Return the sweep as bytes: a ``uint32`` header length, the header, the rectangles' data."""
    if pieces.data_bytes > MAX_BYTES:
        return None
    rects: list[FrameRect] = []
    for piece in range(len(pieces.data)):
        x, y, w, h, nrows, _, colours, size_, offset, length, _ = pieces.meta[
            11 * piece : 11 * piece + 11
        ]
        runs = pieces.runs[piece].tolist()
        rects.append(
            FrameRect(
                x=x, y=y, w=w, h=h, rows=runs[:nrows], cols=runs[nrows:], colours=colours,
                index_bytes=size_, offset=offset, length=length, deflate=False,
            )
        )  # fmt: skip
    maps, strips, unders = lists
    width, height = size
    header = SweepHeader(
        gen=head["gen"], base=head["base"], width=width, height=height, channel=head["channel"],
        maps=maps, strips=strips, unders=unders, rects=rects,
    )  # fmt: skip
    return pack_message(header, pieces.data)


def read_sweep(data: bytes) -> tuple[SweepHeader, list[np.ndarray]]:
    """Split a sweep into its header and each rectangle's pixels ``(h, w, 4)``, for tests."""
    header: SweepHeader
    header, body = split_message(data)
    return header, [rect_pixels(rect, body) for rect in header["rects"]]


def apply_preview(shown: np.ndarray, sweep: bytes, since: int, channel: int) -> np.ndarray:
    """Return what a page showing channel ``since`` shows after previewing ``channel``.

    As ``widget.js`` paints it: the grid under ``since``'s outline, then ``channel``'s outline
    and panel. ``shown`` is ``(H, W, 4)`` uint8, a figure of the sweep's generation.
    """
    header, pixels = read_sweep(sweep)
    out: np.ndarray = shown.copy()
    pieces = [*header["unders"][since], *header["strips"][channel], header["maps"][channel]]
    paste_rects(out, [header["rects"][p] for p in pieces], [pixels[p] for p in pieces])
    return out
