"""The static export's table of figures: every state drawn, stored as the canvas path's rectangles.

States that differ only by channel (same view, layer, sample and colours) form a group. One
controller update per group (channel 0) composes the figure as live. Its rectangles are then made in
numpy from the panels' own pixels and geometry (:class:`~convscope.render.pixel_panel.PixelPanel`):
one per visible panel, where and as it blits itself into Agg, folded and paletted as ``frames.py``
folds a frame's rectangle (from the source pixels and the scaling's run lengths, so an enlarged map
is never built). Every other channel changes only the channel panel and, in the maps view, the
grid's outline (:func:`convscope.render.compose.channel_sweep`), so its own rectangles are made for
all channels at once: the grid in the box of channel 0's outline (no outline), the channel's outline
(four solid strips) and the channel's whole map. Nothing of that is trusted unchecked: each group's
first and last figures are painted from the stored rectangles, as the page paints them, and compared
with Agg's buffer pixel for pixel; where either differs (or a figure holds anything else, teaching
mode's titles) the group is drawn by Agg throughout, one controller update and one comparison with
the first figure per channel.

Equal rectangles are stored once (an outline's strips serve every sample, a channel's map both
views, a map of one colour is looked up by its colour).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from convscope.errors import ConvscopeError, InvalidArgumentError
from convscope.render.compose import ChannelSweep
from convscope.render.panel_composite import changed_boxes, only_panels, overlaps
from convscope.render.pixel_panel import PixelPanel, outline_strips, shown_runs
from convscope.widget.descriptions import describe_panels, describe_sample
from convscope.widget.frames import fold, paletted

if TYPE_CHECKING:
    from convscope.render.explorer_figure import ExplorerFigure
    from convscope.widget.controller import ExplorerController

_WHITE = np.uint32(0xFFFFFFFF)
_SPLIT_MAX = 12  # a changed box splits into at most this many solid-row bands of runs
_U16_MAX = int(np.iinfo(np.uint16).max)
_BYTE_PALETTE = 256  # colours that one index byte can address
Explorer = Any  # the Explorer, whose module imports the export: named, not imported


@dataclass
class Pieces:
    """Rectangles of figure pixels, each stored once however many states show it.

    Each is stored as :func:`~convscope.widget.frames.fold` and
    :func:`~convscope.widget.frames.paletted` make a frame's rectangle: run lengths of rows
    and columns, a palette, one index per folded pixel.
    """

    ids: dict[tuple[int, int, int, int, bytes, bytes], int] = field(default_factory=dict)
    seen: dict[bytes, int] = field(default_factory=dict)
    solids: dict[tuple[int, ...], int] = field(default_factory=dict)
    meta: list[int] = field(default_factory=list)
    runs: list[np.ndarray] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    run_count: int = 0
    data_bytes: int = 0

    def add(self, words: np.ndarray, x: int, y: int, *, seen: bool = True) -> int:
        """Store the ``(h, w)`` block of pixel words at ``(x, y)``; return its id.

        ``seen``: look the block up among those stored before (a digest of its pixels) before
        folding it; ``False`` for a block that is rarely met twice (a grid with its outline).
        """
        height, width = words.shape
        if not seen:
            rows, cols, folded = fold(words)
            palette, indices = paletted(folded)
            runs = (np.asarray(rows), np.asarray(cols))
            return self.add_folded((x, y, width, height), runs, palette, indices)
        # A block seen before (a sample's input in every layer) is not folded again.
        digest = hashlib.blake2b(
            struct.pack("<4I", x, y, width, height) + np.ascontiguousarray(words).tobytes(),
            digest_size=16,
        ).digest()
        known = self.seen.get(digest)
        if known is not None:
            return known
        rows, cols, folded = fold(words)
        palette, indices = paletted(folded)
        self.seen[digest] = index = self.add_folded(
            (x, y, width, height), (np.asarray(rows), np.asarray(cols)), palette, indices
        )
        return index

    def add_folded(
        self,
        box: tuple[int, int, int, int],
        runs: tuple[np.ndarray, np.ndarray],
        palette: np.ndarray,
        indices: np.ndarray,
    ) -> int:
        """Store a folded rectangle: ``box`` ``(x, y, w, h)``, run lengths, palette, indices.

        ``palette`` is ``<u4`` words (empty: ``indices`` are the words themselves), ``indices``
        the folded pixels row by row, one or two bytes each. Returns its id.
        """
        x, y, width, height = box
        rows, cols = runs
        if max(int(rows.max()), int(cols.max())) > _U16_MAX:
            raise InvalidArgumentError("a figure over 65,535 pixels a side cannot be exported")
        lengths = np.concatenate([rows, cols]).astype("<u2")
        data = palette.astype("<u4").tobytes() + indices.tobytes()
        # The bytes themselves are the key: exact, and kept anyway.
        key = (x, y, width, height, lengths.tobytes(), data)
        found = self.ids.get(key)
        if found is not None:
            return found
        index = len(self.ids)
        self.ids[key] = index
        self.meta += [
            x, y, width, height, len(rows), len(cols), len(palette), indices.itemsize,
            self.data_bytes, len(data), self.run_count,
        ]  # fmt: skip
        self.runs.append(lengths)
        self.data.append(data)
        self.run_count += len(lengths)
        self.data_bytes += len(data)
        return index

    def add_solid(self, box: tuple[int, int, int, int], word: int) -> int:
        """Store a rectangle of one colour (an outline's strip); return its id."""
        key = (*box, word)
        known = self.solids.get(key)
        if known is not None:
            return known
        runs = (np.asarray([box[3]]), np.asarray([box[2]]))
        index = self.add_folded(box, runs, np.asarray([word], "<u4"), np.zeros(1, np.uint8))
        self.solids[key] = index
        return index

    def add_changes(self, new: np.ndarray, old: np.ndarray | None) -> list[int]:
        """Store the rectangles where figure ``new`` differs from ``old`` (``None``: white)."""
        changed = new != (_WHITE if old is None else old)
        ids = []
        for x, y, w, h in changed_boxes(changed):
            for bx, by, bw, bh in _split(changed[y : y + h, x : x + w]):
                block = new[y + by : y + by + bh, x + bx : x + bx + bw]
                ids.append(self.add(block, x + bx, y + by))
        return ids

    def paint(self, words: np.ndarray, ids: Sequence[int]) -> np.ndarray:
        """Paint the stored rectangles ``ids`` over ``words``, in order, as the page does."""
        for piece in ids:
            x, y, w, h, nrows, _, colours, size, _, _, _ = self.meta[11 * piece : 11 * piece + 11]
            lengths, raw = self.runs[piece], self.data[piece]
            rows, cols = lengths[:nrows], lengths[nrows:]
            if colours:
                palette = np.frombuffer(raw[: 4 * colours], "<u4")
                kind = np.uint8 if size == 1 else np.dtype("<u2")
                folded = palette[np.frombuffer(raw[4 * colours :], kind)]
            else:
                folded = np.frombuffer(raw, "<u4")
            block = folded.reshape(len(rows), len(cols)).repeat(rows, axis=0).repeat(cols, axis=1)
            words[y : y + h, x : x + w] = block
        return words


def _split(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Cut a box's mask of changes into bands of equal rows and their runs, if that is few.

    An outline that moved is a hollow rectangle: four solid strips, not the map inside it.
    """
    height, width = mask.shape
    new_band = np.ones(height, bool)
    new_band[1:] = (mask[1:] != mask[:-1]).any(axis=1)
    starts = np.flatnonzero(new_band)
    if len(starts) > _SPLIT_MAX:
        return [(0, 0, width, height)]
    stops = np.append(starts[1:], height)
    boxes = []
    for top, bottom in zip(starts.tolist(), stops.tolist(), strict=True):
        row = np.concatenate([[False], mask[top], [False]])
        edges = np.flatnonzero(row[1:] != row[:-1])
        boxes += [(int(a), top, int(b - a), bottom - top) for a, b in edges.reshape(-1, 2)]
        if len(boxes) > _SPLIT_MAX:
            return [(0, 0, width, height)]
    return boxes


@dataclass
class ExportTable:
    """The states' figures: rectangles, and which of them each group and state shows."""

    pieces: Pieces
    width: int
    height: int
    group_of: np.ndarray  # (views, layers, samples, cmaps) -> group, -1 where refused
    group_offsets: list[int] = field(default_factory=lambda: [0])
    group_pieces: list[int] = field(default_factory=list)
    group_first: list[int] = field(default_factory=list)  # the state of each group's channel 0
    state_offsets: list[int] = field(default_factory=lambda: [0])
    state_pieces: list[int] = field(default_factory=list)
    refusals: dict[str, str] = field(default_factory=dict)
    captions: dict[str, list[str]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    swept: int = 0  # groups whose channels were made in numpy (and checked against Agg)
    drawn: int = 0  # groups drawn by Agg channel by channel
    panels: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def add_state(self, ids: list[int]) -> None:
        """Close the next state with its own rectangles ``ids``."""
        self.state_pieces += ids
        self.state_offsets.append(len(self.state_pieces))


class Painter:
    """The figure in Agg, and where its channel-dependent panels put their pixels."""

    def __init__(self, panels: ExplorerFigure) -> None:
        self.panels = panels
        self.figure = panels.figure
        # An Agg canvas on both paths (ipympl's is one); matplotlib's Agg methods are untyped.
        self.canvas: Any = cast("Any", self.figure.canvas)
        self.renderer = self.canvas.get_renderer()
        self.size: tuple[int, int] = self.canvas.get_width_height()
        self.sources: dict[tuple[object, ...], list[int]] = {}
        # Anything visible but the panels (the teaching titles): only Agg draws it.
        self.only_panels = only_panels(self.figure)

    def agg(self) -> np.ndarray:
        """Draw the figure in Agg; return its pixels as ``(H, W)`` RGBA words.

        A view of the canvas's buffer, which the next drawing overwrites: copy it to keep it.
        """
        self.canvas.draw()
        rgba: np.ndarray = np.asarray(self.canvas.buffer_rgba())
        words: np.ndarray = rgba.view(np.uint32)[..., 0]
        return words

    def inside(self, place: tuple[int, int, int, int]) -> bool:
        """Whether a panel's ``(left, top, w, h)`` lies on the canvas (Agg clips nothing)."""
        left, top, w, h = place
        return left >= 0 and top >= 0 and left + w <= self.size[0] and top + h <= self.size[1]

    def group(
        self, pieces: Pieces, sweep: ChannelSweep
    ) -> tuple[list[int], list[list[int]]] | None:
        """Store a group's figures: its first figure's rectangles, and each channel's own.

        The first figure is each visible panel's block where it draws it (they do not overlap),
        each channel's own rectangles the grid under channel 0's outline, the channel's outline
        as strips and its whole map. ``None`` where the panels are not where this can draw them
        (off the canvas, overlapping, another size than the sweep's). Channel 0's list is empty.
        """
        drawn = [(panel, panel.drawn(self.renderer)) for panel in self.panels.panels]
        placed = [(panel, found) for panel, found in drawn if found is not None]
        if not all(self.inside(place) for _, (place, _) in placed) or _overlap(
            [place for _, (place, _) in placed]
        ):
            return None
        channels = self.channel_pieces(pieces, self.panels.channel_panel, sweep.channels)
        if channels is None:
            return None
        base = []
        for panel, (place, rgba) in placed:
            if panel is self.panels.channel_panel:
                base.append(channels[0])
            elif panel.outline is None:  # folded from its source pixels: no scaled copy
                base += self.source_pieces(pieces, place, panel.words)
            else:
                x, y = place[:2]
                base.append(pieces.add(rgba.view(np.uint32)[..., 0], x, y, seen=False))
        own = [[channel] for channel in channels]
        if sweep.outlines is not None:
            strips = self.outline_pieces(pieces, self.panels.grid_panel, sweep.outlines)
            if strips is None:
                return None
            under, outlines = strips
            own = [[*under, *outline, *mine] for outline, mine in zip(outlines, own, strict=True)]
        own[0] = []
        return base, own

    def source_pieces(
        self, pieces: Pieces, place: tuple[int, int, int, int], words: np.ndarray
    ) -> list[int]:
        """Store one panel's source pixel words scaled into ``place``; a block met before, once.

        A sample's input and classes are the same in each of its groups: looked up by their
        bytes (exact, and small) rather than folded again.
        """
        key = (place, words.shape, words.tobytes())
        known = self.sources.get(key)
        if known is None:
            known = self.sources[key] = self.panel_pieces(pieces, place, words[np.newaxis]) or []
        return known

    def outline_pieces(
        self, pieces: Pieces, grid: PixelPanel, boxes: np.ndarray
    ) -> tuple[list[int], list[list[int]]] | None:
        """Store the grid under channel 0's outline, and each channel's outline as strips."""
        made = self.outline_sweep(pieces, grid, boxes, unders=1)
        if made is None:
            return None
        strips, unders = made
        return unders[0], strips

    def outline_sweep(
        self, pieces: Pieces, grid: PixelPanel, boxes: np.ndarray, unders: int | None = None
    ) -> tuple[list[list[int]], list[list[int]]] | None:
        """Store each channel's outline as strips, and the grid (no outline) under each.

        Under an outline, one block: the grid's pixels in the box that holds its strips.
        Painting a channel's block, then another's strips, moves the outline. Only the first
        ``unders`` channels' blocks are stored (``None``: all). ``None`` where the grid is not
        on the canvas.
        """
        place = grid.place(self.size)
        left, top, width, height = place
        if not self.inside(place):
            return None
        thick = grid.outline_thickness(self.renderer)
        all_strips = outline_strips(boxes, grid.source_shape, (height, width), thick)
        word = int(grid.outline_colour.view(np.uint32)[0])
        scaled = grid.scaled(height, width).view(np.uint32)[..., 0]
        x0 = all_strips[..., 0].min(axis=1)
        y0 = all_strips[..., 1].min(axis=1)
        x1 = (all_strips[..., 0] + all_strips[..., 2]).max(axis=1)
        y1 = (all_strips[..., 1] + all_strips[..., 3]).max(axis=1)
        around = zip(x0.tolist(), y0.tolist(), x1.tolist(), y1.tolist(), strict=True)
        strips: list[list[int]] = []
        under: list[list[int]] = []
        for channel, (a, b, c, d) in zip(all_strips.tolist(), around, strict=True):
            kept = [(x, y, w, h) for x, y, w, h in channel if w and h]
            strips.append(
                [pieces.add_solid((left + x, top + y, w, h), word) for x, y, w, h in kept]
            )
            if unders is None or len(under) < unders:
                under.append([pieces.add(scaled[b:d, a:c], left + a, top + b, seen=False)])
        return strips, under

    def channel_pieces(
        self, pieces: Pieces, panel: PixelPanel, rgba: np.ndarray
    ) -> list[int] | None:
        """Store each channel's whole panel, ``rgba`` ``(C, h, w, 4)`` scaled as it draws."""
        place = panel.place(self.size)
        if not self.inside(place) or panel.source_shape != rgba.shape[1:3]:
            return None
        return self.panel_pieces(pieces, place, np.ascontiguousarray(rgba).view(np.uint32)[..., 0])

    def panel_pieces(
        self, pieces: Pieces, place: tuple[int, int, int, int], words: np.ndarray
    ) -> list[int] | None:
        """Store ``(C, h, w)`` source pixel words, each scaled into ``place`` as a panel draws.

        Folded and paletted from the source pixels, for all of them at once: the same
        rectangles as :meth:`Pieces.add` makes of the scaled pixels. ``None`` past 65,536
        colours.
        """
        left, top, width, height = place
        count, source_h, source_w = words.shape
        # Each source row and column shown fills a run of scaled ones, as the panel draws it.
        shown_rows, row_runs = shown_runs(source_h, height)
        shown_cols, col_runs = shown_runs(source_w, width)
        words = words[:, shown_rows][:, :, shown_cols]
        box = (left, top, width, height)
        flat = words.reshape(count, -1)
        # A map of one colour (a dead channel, a unit) is one solid rectangle.
        solid = (flat == flat[:, :1]).all(axis=1)
        ids = [
            pieces.add_solid(box, word) if one else -1
            for one, word in zip(solid.tolist(), flat[:, 0].tolist(), strict=True)
        ]
        varied = np.flatnonzero(~solid)
        if not len(varied):
            return ids
        words = words[varied]
        # Fold equal neighbouring rows and columns, as frames.fold does, for every map.
        new_row = np.ones(words.shape[:2], bool)
        new_row[:, 1:] = (words[:, 1:] != words[:, :-1]).any(axis=2)
        new_col = np.ones((len(varied), words.shape[2]), bool)
        new_col[:, 1:] = (words[:, :, 1:] != words[:, :, :-1]).any(axis=1)
        # Each map's palette, as frames.paletted makes it: its colours, sorted. One sort for
        # all of them, each colour keyed by its map.
        keyed = (np.arange(len(varied), dtype=np.uint64)[:, np.newaxis, np.newaxis] << 32) | words
        colours = np.unique(keyed)
        starts = np.searchsorted(colours >> 32, np.arange(len(varied) + 1, dtype=np.uint64))
        if int(np.diff(starts).max()) > _U16_MAX + 1:
            return None
        palette = (colours & 0xFFFFFFFF).astype("<u4")
        indices = np.searchsorted(colours, keyed) - starts[:-1, np.newaxis, np.newaxis]
        for k, c in enumerate(varied.tolist()):
            rows, cols = np.flatnonzero(new_row[k]), np.flatnonzero(new_col[k])
            kind = np.uint8 if starts[k + 1] - starts[k] <= _BYTE_PALETTE else np.dtype("<u2")
            ids[c] = pieces.add_folded(
                box,
                (np.add.reduceat(row_runs, rows), np.add.reduceat(col_runs, cols)),
                palette[starts[k] : starts[k + 1]],
                indices[k][rows][:, cols].astype(kind),
            )
        return ids


def _overlap(boxes: list[tuple[int, int, int, int]]) -> bool:
    """Whether any two of the boxes ``(left, top, w, h)`` share a pixel."""
    return any(overlaps(box, other) for i, box in enumerate(boxes) for other in boxes[i + 1 :])


def draw_states(
    explorer: Explorer,
    choices: tuple[Sequence[str], Sequence[str], Sequence[int], Sequence[str]],
    channels: Sequence[int],
    step: Callable[[], None],
) -> ExportTable:
    """Draw every state of ``choices`` (views, layers, samples, cmaps); return the table.

    ``channels`` is each layer's channel count; ``step`` is called once per state.
    """
    views, layers, samples, cmaps = choices
    controller = explorer.internals.controller
    controller.follow_weights(full=True)  # the model as it is now, once
    controller.apply(follow=False, compare=-1, probe=())
    painter = Painter(explorer.panels)
    width, height = painter.size
    group_of = np.full((len(views), len(layers), len(samples), len(cmaps)), -1, np.int32)
    table = ExportTable(Pieces(), width, height, group_of)
    for v, view in enumerate(views):
        for li, layer in enumerate(layers):
            for s, sample in enumerate(samples):
                for m, cmap in enumerate(cmaps):
                    try:
                        controller.apply(
                            follow=False, view=view, layer=layer, sample=sample, cmap=cmap,
                            channel=0,
                        )  # fmt: skip
                    except ConvscopeError as error:
                        table.refusals[f"{view}|{layer}"] = f"{type(error).__name__}: {error}"
                        for _ in range(channels[li] * (len(samples) - s) * len(cmaps)):
                            step()
                        break
                    group_of[v, li, s, m] = len(table.group_first)
                    _draw_group(explorer, painter, table, channels[li])
                    for _ in range(channels[li]):
                        step()
                else:
                    continue
                break
    return table


def _draw_group(explorer: Explorer, painter: Painter, table: ExportTable, channels: int) -> None:
    """Draw one group's channels: its first figure whole, the others where they differ."""
    controller = explorer.internals.controller
    table.group_first.append(len(table.state_offsets) - 1)
    state = controller.state
    if str(state.sample) not in table.texts:
        table.texts[str(state.sample)] = describe_sample(controller, state.sample)
    made = _swept(explorer, painter, table.pieces, channels)
    if made is not None and _checked(controller, painter, table.pieces, made):
        base, own = made
        table.group_pieces += base
        table.group_offsets.append(len(table.group_pieces))
        for ids in own:
            table.add_state(ids)
        table.swept += 1
        return
    # By Agg, channel by channel: one update each, and the rectangles where it differs.
    table.drawn += 1
    if controller.state.channel:
        controller.apply(follow=False, channel=0)
    first = painter.agg().copy()
    table.group_pieces += table.pieces.add_changes(first, None)
    table.group_offsets.append(len(table.group_pieces))
    for channel in range(channels):
        if channel:
            controller.apply(follow=False, channel=channel)
            table.add_state(table.pieces.add_changes(painter.agg(), first))
        else:
            table.add_state([])
        if explorer.internals.teaching:
            key = f"{state.layer}|{channel}"
            if key not in table.captions:
                table.captions[key] = describe_panels(controller)


def _swept(
    explorer: Explorer, painter: Painter, pieces: Pieces, channels: int
) -> tuple[list[int], list[list[int]]] | None:
    """Make the group's rectangles in numpy, or ``None`` where only Agg can draw them."""
    if not painter.only_panels or explorer.internals.teaching:
        return None
    sweep = explorer.internals.controller.channel_sweep()
    made = None if sweep is None else painter.group(pieces, sweep)
    if made is None or len(made[1]) != channels:  # a state per channel, or none
        return None
    return made


def _checked(
    controller: ExplorerController,
    painter: Painter,
    pieces: Pieces,
    made: tuple[list[int], list[list[int]]],
) -> bool:
    """Whether the group's first and last figures, painted from the rectangles, are Agg's."""
    base, own = made
    painted = pieces.paint(np.full(painter.size[::-1], _WHITE, np.uint32), base)
    if not np.array_equal(painted, painter.agg()):
        return False
    if len(own) == 1:
        return True
    controller.apply(follow=False, channel=len(own) - 1)
    return bool(np.array_equal(pieces.paint(painted, own[-1]), painter.agg()))
