"""The PNG-free figure path: only the pixels that changed travel to the page, losslessly.

Outside ipympl (Colab, VS Code, marimo, ``figure="png"``) the page holds a ``<canvas>`` with
the figure's pixels, and each frame paints rectangles over it. While the live figure shows only
pixel panels, the rectangles are the patches that
:class:`~convscope.render.panel_composite.PanelComposite` gives: around what changed in each
panel, its source pixels with the run lengths that enlarge them, and its outline, nothing
compared or scaled (:meth:`FrameEncoder.encode_patches`). While
Agg draws the figure (titles show), the kernel compares Agg's pixels with the last ones it
sent, cuts the changed pixels into a few rectangles (a panel each, roughly), and folds away the
repeated rows and columns of each (:meth:`FrameEncoder.encode`): the panels are feature maps
enlarged by whole factors, so a 450×432 mosaic of conv1 folds to about 170×120 distinct pixels.
Either way the pixels are sent as indices into the rectangle's own palette (a colormap has 256
colours): one byte a pixel, or two beyond 256 colours. Only a rectangle still larger than 64 KB
is deflated (zlib, level 1), because the page inflates asynchronously, which costs a frame or
more. No image codec runs on either side, and a frame stays within tens of kilobytes, which
matters where every message is relayed (Colab, VS Code).

A frame, as bytes: a little-endian ``uint32`` header length, the header as UTF-8 JSON
(:class:`FrameHeader`), then the rectangles' data back to back. A frame with ``base == 0`` is a
key frame: the whole figure, what a newly opened view starts from. Any other frame applies only
on top of the frame numbered ``base``; a view that holds another one asks for a key frame.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np

from convscope.render.panel_composite import Patch, changed_boxes

GAP = 8  # unchanged pixels that split two changed areas into two rectangles
DEFLATE_ABOVE = 65_536  # bytes of packed pixels above which a rectangle is deflated
_PALETTE_LIMIT = 65_536  # colours a palette can hold: indices of at most two bytes
_LEVEL = 1  # zlib level: the fastest; folding already removed most of the redundancy
_HASH_BITS = 20  # buckets of colour_indices's table: 2**20 (2 MiB of uint16 per thread)
# Odd 32-bit multipliers (Knuth's golden ratio, then MurmurHash3's two mixing constants).
_MULTIPLIERS = tuple(np.uint32(m) for m in (0x9E3779B1, 0x85EBCA6B, 0xC2B2AE35))
_SCRATCH = threading.local()


class FrameRect(TypedDict):
    """One rectangle of a frame, in the figure's pixels from its top-left corner.

    ``rows`` and ``cols`` are run lengths: folded row ``i`` fills ``rows[i]`` rows of the
    rectangle (they sum to ``h``), folded column ``j`` fills ``cols[j]`` columns (sum ``w``).
    Its data, at ``offset`` in the data after the header and ``length`` bytes long, deflated
    (zlib) when ``deflate`` is true, is ``colours`` RGBA words of the palette, then one index
    per folded pixel, row by row, of ``index_bytes`` bytes each (1 or 2, little-endian). With
    ``colours == 0`` there is no palette: the folded pixels are RGBA words themselves.
    """

    x: int
    y: int
    w: int
    h: int
    rows: list[int]
    cols: list[int]
    colours: int
    index_bytes: int
    offset: int
    length: int
    deflate: bool


class FrameHeader(TypedDict):
    """What a frame holds: its number, the frame it applies to, the figure size, rectangles.

    ``ratio`` is how many pixels per CSS pixel the figure was drawn at (the page's device
    pixel ratio): the page shows ``width / ratio`` CSS pixels wide. ``gen`` is the frame's
    generation for the channel previews (``previews.py``; 0: none apply) and ``channel`` the
    channel it shows.
    """

    id: int
    base: int
    width: int
    height: int
    ratio: float
    gen: int
    channel: int
    rects: list[FrameRect]


Block = tuple[tuple[int, int, int, int], list[int], list[int], np.ndarray]
"""A rectangle ``(x, y, w, h)`` of a frame: its row and column run lengths, its folded words."""


class FrameEncoder:
    """Turn successive RGBA buffers of one figure into frames of what changed.

    Parameters
    ----------
    gap : int
        Changed pixels closer than this (in unchanged pixels) share a rectangle.

    """

    def __init__(self, gap: int = GAP) -> None:
        self.gap = gap
        self.frame_id = 0
        self._last: np.ndarray | None = None  # the page's picture, for the next comparison
        self._changed = np.empty((0, 0), bool)
        self._key_wanted = True

    def want_key(self) -> None:
        """Make the next frame a key frame (a view opened, or lost track of the frames)."""
        self._key_wanted = True

    @property
    def key_wanted(self) -> bool:
        """Whether the next frame must be a key frame: the whole figure."""
        return self._key_wanted

    def encode(
        self, rgba: np.ndarray, ratio: float = 1.0, *, gen: int = 0, channel: int = -1
    ) -> bytes | None:
        """Return the frame from the last buffer to ``rgba`` (``(H, W, 4)`` uint8), or ``None``.

        ``None`` means nothing changed and no key frame is wanted: there is nothing to send.
        ``ratio`` is the device pixel ratio it was drawn at; the gap between rectangles
        follows it, so that a panel stays one rectangle. ``gen`` and ``channel`` go in the
        header (:class:`FrameHeader`).
        """
        words = np.ascontiguousarray(rgba).view(np.uint32)[..., 0]
        height, width = words.shape
        last = self._last
        if self._key_wanted or last is None or last.shape != words.shape:
            key, boxes = True, [(0, 0, width, height)]
            self._last = words.copy()
        else:
            changed = np.not_equal(words, last, out=_reused(self._changed, words.shape))
            self._changed = changed
            boxes = changed_boxes(changed, round(self.gap * ratio))
            if not boxes:
                return None
            key = False
            for x, y, w, h in boxes:  # outside the boxes nothing changed: copy only these
                last[y : y + h, x : x + w] = words[y : y + h, x : x + w]
        blocks = []
        for x, y, w, h in boxes:
            rows, cols, folded = fold(words[y : y + h, x : x + w])
            blocks.append(((x, y, w, h), rows, cols, folded))
        return self._pack(blocks, (width, height), ratio, key=key, tags=(gen, channel))

    def encode_patches(
        self,
        patches: Sequence[Patch],
        size: tuple[int, int],
        ratio: float = 1.0,
        *,
        gen: int = 0,
        channel: int = -1,
    ) -> bytes | None:
        """Return the frame that paints ``patches`` on a figure of ``size`` ``(W, H)``, or ``None``.

        The patches must bring the page's last frame up to date, and cover the whole figure
        when :attr:`key_wanted` (a :class:`PanelComposite` told to forget). No pixel is
        compared: their folded pixels are sent as they are. The next :meth:`encode` sends a
        key frame, having no buffer of the page's picture to compare with.
        """
        key = self.key_wanted
        self._last = None
        if not patches and not key:
            return None
        return self._pack(patch_blocks(patches), size, ratio, key=key, tags=(gen, channel))

    def _pack(
        self,
        blocks: list[Block],
        size: tuple[int, int],
        ratio: float,
        *,
        key: bool,
        tags: tuple[int, int] = (0, -1),
    ) -> bytes:
        """Return the frame, numbered: its header, then each block's paletted pixels.

        ``tags`` are the header's ``gen`` and ``channel``.
        """
        base = 0 if key else self.frame_id
        self._key_wanted = False
        self.frame_id += 1
        rects, chunks = pack_blocks(blocks)
        width, height = size
        header = FrameHeader(
            id=self.frame_id, base=base, width=width, height=height, ratio=ratio,
            gen=tags[0], channel=tags[1], rects=rects,
        )  # fmt: skip
        return pack_message(header, chunks)


def patch_blocks(patches: Sequence[Patch]) -> list[Block]:
    """Return the patches as blocks, equal neighbouring source rows and columns folded too."""
    blocks: list[Block] = []
    for patch in patches:
        if patch.words.size == 1:  # one colour (an outline's strip, say): nothing to fold
            blocks.append(((patch.x, patch.y, patch.w, patch.h), [patch.h], [patch.w],
                           patch.words.reshape(1, 1)))  # fmt: skip
            continue
        row_starts, col_starts, folded = fold_starts(patch.words)
        # A folded run of source rows paints the rows of all of them; none folded: the patch's.
        rows = patch.rows if row_starts is None else np.add.reduceat(patch.rows, row_starts)
        cols = patch.cols if col_starts is None else np.add.reduceat(patch.cols, col_starts)
        blocks.append(((patch.x, patch.y, patch.w, patch.h), rows.tolist(), cols.tolist(), folded))
    return blocks


def pack_blocks(blocks: Sequence[Block]) -> tuple[list[FrameRect], list[bytes]]:
    """Return each block's rectangle and its data: a palette and an index per folded pixel.

    Data over :data:`DEFLATE_ABOVE` bytes is deflated. The offsets count from the first block.
    """
    rects: list[FrameRect] = []
    chunks: list[bytes] = []
    offset = 0
    for (x, y, w, h), rows, cols, folded in blocks:
        palette, indices = paletted(folded)
        data = palette.tobytes() + indices.tobytes()
        deflate = len(data) > DEFLATE_ABOVE
        if deflate:
            data = zlib.compress(data, _LEVEL)
        rects.append(
            FrameRect(
                x=x, y=y, w=w, h=h, rows=rows, cols=cols, colours=len(palette),
                index_bytes=indices.itemsize, offset=offset, length=len(data), deflate=deflate,
            )
        )  # fmt: skip
        chunks.append(data)
        offset += len(data)
    return rects, chunks


def fold(block: np.ndarray) -> tuple[list[int], list[int], np.ndarray]:
    """Fold runs of equal rows, then of equal columns, of a ``(h, w)`` block of pixel words.

    Returns the run lengths of the rows and of the columns, and the distinct pixels
    ``(len(rows), len(cols))``; repeating them by those run lengths gives ``block`` back.
    The distinct pixels may be ``block`` itself, where nothing folds: read them, never write.
    """
    height, width = block.shape
    row_starts, col_starts, folded = fold_starts(block)
    return _runs(row_starts, height), _runs(col_starts, width), folded


def fold_starts(block: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Fold ``block`` as :func:`fold` does; return where each run of rows and of columns starts.

    ``None`` for an axis where no two neighbours are equal (every run is one long): most
    feature maps' rows and columns, which then cost no index and no copy of their own (a
    block that is not contiguous is still copied once, into the contiguous pixels returned).
    """
    height, width = block.shape
    new_row = np.empty(height, bool)
    new_row[:1] = True
    np.any(block[1:] != block[:-1], axis=1, out=new_row[1:])
    row_starts = None if new_row.all() else np.flatnonzero(new_row)
    kept = block if row_starts is None else block[row_starts]
    new_col = np.empty(width, bool)
    new_col[:1] = True
    np.any(kept[:, 1:] != kept[:, :-1], axis=0, out=new_col[1:])
    col_starts = None if new_col.all() else np.flatnonzero(new_col)
    folded = kept if col_starts is None else kept[:, col_starts]
    return row_starts, col_starts, np.ascontiguousarray(folded)


def _runs(starts: np.ndarray | None, size: int) -> list[int]:
    """Return the run lengths of ``size`` items whose runs begin at ``starts`` (``None``: 1s)."""
    if starts is None:
        return [1] * size
    runs: list[int] = np.diff(starts, append=size).tolist()
    return runs


def paletted(folded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return a palette of ``folded``'s colours and each pixel's index into it, flattened.

    Beyond 65,536 colours, or for one pixel (its word is shorter than a palette and an index),
    there is no palette (an empty one) and the pixels are their own words.
    """
    if folded.size == 1:
        return np.empty(0, np.uint32), folded.ravel().astype("<u4")
    words = folded.ravel()
    colours = np.unique(words)  # sorted; the page reads the palette in any order
    if len(colours) > _PALETTE_LIMIT:
        return np.empty(0, np.uint32), words
    kind = np.uint8 if len(colours) <= 256 else np.dtype("<u2")  # noqa: PLR2004
    return colours.astype("<u4"), colour_indices(colours, words).astype(kind)


def colour_indices(colours: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Return each of ``words``' index in ``colours`` (distinct ``uint32``, at most 65,536).

    Every word must be one of the colours. A table of the colours by a multiplicative hash
    of their words gives each index in one gather: on the Explorer's conv2 mosaic (10,800
    pixels, 164 colours) 23 µs against 320 µs for a binary search of each word
    (``np.searchsorted``). Colours that share a bucket under every multiplier tried fall back
    to that search: rare up to about 1,000 colours (3 %), the rule beyond 2,000; a frame's
    rectangles hold at most a few hundred. So do words that are not ``uint32``.
    """
    if colours.dtype.kind != "u" or colours.dtype.itemsize != 4:  # noqa: PLR2004
        return np.searchsorted(colours, words)
    table: np.ndarray | None = getattr(_SCRATCH, "table", None)
    if table is None:  # one per thread: frames may be made off the kernel's main thread
        table = _SCRATCH.table = np.zeros(1 << _HASH_BITS, np.uint16)
    positions = np.arange(len(colours), dtype=np.uint16)
    shift = np.uint32(32 - _HASH_BITS)
    for multiplier in _MULTIPLIERS:
        buckets = (colours * multiplier) >> shift  # modulo 2**32, as hashing wants
        table[buckets] = positions
        if np.array_equal(table[buckets], positions):  # no two colours share a bucket
            found: np.ndarray = table[(words * multiplier) >> shift]
            return found
    return np.searchsorted(colours, words)


def pack_message(header: Mapping[str, object], chunks: Sequence[bytes]) -> bytes:
    """Return a frame or a sweep as bytes: a ``uint32`` header length, the JSON header, data."""
    text = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([len(text).to_bytes(4, "little"), text, *chunks])


def split_message(message: bytes) -> tuple[Any, memoryview]:
    """Return a frame's or a sweep's header (parsed) and the data after it."""
    size = int.from_bytes(message[:4], "little")
    return json.loads(message[4 : 4 + size]), memoryview(message)[4 + size :]


def read_frame(frame: bytes) -> tuple[FrameHeader, list[np.ndarray]]:
    """Split a frame into its header and each rectangle's pixels, unfolded to ``(h, w, 4)``."""
    header: FrameHeader
    header, data = split_message(frame)
    return header, [rect_pixels(rect, data) for rect in header["rects"]]


def rect_pixels(rect: FrameRect, data: memoryview) -> np.ndarray:
    """Return one rectangle's pixels ``(h, w, 4)``, from the data after a header."""
    raw = bytes(data[rect["offset"] : rect["offset"] + rect["length"]])
    if rect["deflate"]:
        raw = zlib.decompress(raw)
    shape = (len(rect["rows"]), len(rect["cols"]))
    if rect["colours"]:
        palette = np.frombuffer(raw[: 4 * rect["colours"]], "<u4")
        kind = np.uint8 if rect["index_bytes"] == 1 else np.dtype("<u2")
        folded = palette[np.frombuffer(raw[4 * rect["colours"] :], kind)].reshape(shape)
    else:
        folded = np.frombuffer(raw, np.uint32).reshape(shape)
    words = np.repeat(np.repeat(folded, rect["rows"], axis=0), rect["cols"], axis=1)
    pixels: np.ndarray = words.view(np.uint8).reshape(rect["h"], rect["w"], 4)
    return pixels


def apply_frame(shown: np.ndarray | None, frame: bytes) -> np.ndarray:
    """Return what a page showing ``shown`` shows after ``frame``, as ``widget.js`` paints it.

    ``shown`` is ``(H, W, 4)`` uint8, or ``None`` before any frame (then ``frame`` must be a
    key frame). For tests and tools: the page does the same in JavaScript.
    """
    header, pixels = read_frame(frame)
    if header["base"] == 0 or shown is None:
        if header["base"] != 0:
            raise ValueError("the first frame a page paints must be a key frame (base 0)")
        shown = np.zeros((header["height"], header["width"], 4), np.uint8)
    else:
        shown = shown.copy()
    paste_rects(shown, header["rects"], pixels)
    return shown


def paste_rects(
    shown: np.ndarray, rects: Sequence[FrameRect], pixels: Sequence[np.ndarray]
) -> None:
    """Paint each rectangle's pixels over ``shown`` ``(H, W, 4)``, in order, as the page does."""
    for rect, block in zip(rects, pixels, strict=True):
        shown[rect["y"] : rect["y"] + rect["h"], rect["x"] : rect["x"] + rect["w"]] = block


def _reused(buffer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``buffer`` if it has ``shape``, else a new bool array of that shape."""
    return buffer if buffer.shape == shape else np.empty(shape, bool)
