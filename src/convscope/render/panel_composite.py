"""Agg's picture of a figure of pixel panels, as patches that repaint only what changed.

A figure whose only visible artists are :class:`PixelPanel` s on an opaque white background is,
once Agg has drawn it, that white with each panel's scaled pixels copied in, in drawing order:
Agg's ``draw_image`` of opaque pixels at whole-pixel offsets is a copy, and a panel's scaled
pixels are its source pixels with each row and column repeated a whole number of times, its
outline painted over them. :class:`PanelComposite` follows what each panel was last painted
with and says, as :class:`Patch` es, how to bring a picture up to date: for each panel that
changed, the boxes it left and took, each whitened and repainted with every panel over it, as
folded source pixels. Nothing is scaled or compared: an update of the Explorer costs the
source pixels of the panels that changed, and those patches are what the page is sent
(``widget/frames.py``).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from matplotlib.backend_bases import RendererBase
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from convscope.render.pixel_panel import PixelPanel, outline_strips, shown_runs

Place = tuple[int, int, int, int]  # (left, top, width, height) from the canvas's top-left
_WHITE = 0xFFFFFFFF  # opaque white as one RGBA word (the same in either byte order)


def only_panels(figure: Figure) -> bool:
    """Whether ``figure`` shows nothing but pixel panels on an opaque white background.

    Anything else visible (a panel title, an axes, a legend) is text or vector drawing that only
    Agg can draw; so is a panel made translucent or clipped by ``set_alpha`` / ``set_clip_*``.
    """
    patch = figure.patch
    if patch.get_visible() and to_rgba(patch.get_facecolor()) != (1.0, 1.0, 1.0, 1.0):
        return False
    if patch.get_visible() and patch.get_linewidth() and to_rgba(patch.get_edgecolor())[3]:
        return False
    for artist in figure.get_children():
        if artist is patch or not artist.get_visible():
            continue
        if not isinstance(artist, PixelPanel) or artist.get_alpha() is not None:
            return False
        if artist.get_animated():  # Agg leaves it out; this would paint it
            return False
        if artist.get_clip_path() is not None or artist.get_clip_box() is not None:
            return False
    return True


@dataclass(frozen=True)
class Patch:
    """A box of the canvas and the pixels that fill it, folded.

    ``words`` are ``(len(rows), len(cols))`` RGBA words (``uint32``); word ``(i, j)`` fills
    ``rows[i]`` rows and ``cols[j]`` columns of the box, the run lengths summing to ``h`` and
    ``w``. A patch is painted by copying, over what the box showed.
    """

    x: int
    y: int
    w: int
    h: int
    rows: np.ndarray
    cols: np.ndarray
    words: np.ndarray

    @classmethod
    def solid(cls, box: Place, word: int) -> Patch:
        """Return the box filled with one colour."""
        x, y, w, h = box
        return cls(x, y, w, h, np.asarray([h]), np.asarray([w]), np.full((1, 1), word, np.uint32))

    def unfolded(self) -> np.ndarray:
        """Return the ``(h, w)`` words the patch paints."""
        return np.repeat(np.repeat(self.words, self.rows, axis=0), self.cols, axis=1)


def paste(words: np.ndarray, patches: Sequence[Patch]) -> None:
    """Paint ``patches`` in order into ``words`` ``(H, W)``, as the page paints a frame."""
    for patch in patches:
        words[patch.y : patch.y + patch.h, patch.x : patch.x + patch.w] = patch.unfolded()


class PanelComposite:
    """Say how to bring Agg's picture of ``panels`` on white up to date, as patches.

    Parameters
    ----------
    panels : sequence of PixelPanel
        Every panel of the figure, in the order the figure draws them (hidden ones included:
        they may show later). The figure must pass :func:`only_panels` whenever
        :meth:`patches` is called.

    """

    def __init__(self, panels: Sequence[PixelPanel]) -> None:
        self._panels = tuple(panels)
        self._size: tuple[int, int] | None = None  # the canvas painted; None: paint it all
        self._painted: dict[PixelPanel, _Mark] = {}  # what each panel was painted with

    def can_paint(self, figure: Figure, renderer: RendererBase) -> bool:
        """Whether :meth:`patches` give Agg's picture of ``figure`` on ``renderer``.

        They do when the figure passes :func:`only_panels` and every visible panel lies on the
        canvas. When it does not, draw with Agg and call :meth:`forget`.
        """
        if not only_panels(figure):
            return False
        width, height = _canvas_size(renderer)
        for panel in self._panels:
            if panel.get_visible():
                left, top, w, h = panel.place((width, height))
                if left < 0 or top < 0 or left + w > width or top + h > height:
                    return False
        return True

    @staticmethod
    def size(renderer: RendererBase) -> tuple[int, int]:
        """Return the canvas's ``(width, height)`` in pixels, as the patches cover it."""
        return _canvas_size(renderer)

    def forget(self) -> None:
        """Paint everything again next time (the picture was drawn some other way meanwhile)."""
        self._size = None

    def signature(self, pixels_free: PixelPanel, outline_free: PixelPanel) -> tuple[object, ...]:
        """Return what the picture painted last was, but one panel's pixels and another's outline.

        Two pictures with equal signatures differ at most in ``pixels_free``'s source pixels and
        ``outline_free``'s outline: what a channel move changes (see ``widget/previews.py``).
        """
        marks: list[_Mark | None] = []
        for panel in self._panels:
            mark = self._painted.get(panel)
            if mark is not None and panel is pixels_free:
                mark = replace(mark, revision=-1)
            if mark is not None and panel is outline_free:
                mark = replace(mark, outline=None)
            marks.append(mark)
        return (self._size, tuple(marks))

    def current(self, renderer: RendererBase) -> bool:
        """Whether the picture painted last is still the panels' picture on ``renderer``."""
        size = _canvas_size(renderer)
        return self._size == size and all(
            self._painted.get(panel) == _Mark.of(panel, renderer, size, self._painted.get(panel))
            for panel in self._panels
        )

    def patches(self, renderer: RendererBase) -> list[Patch]:
        """Return what brings the picture painted last up to date for ``renderer``'s size and dpi.

        Painted in order over the last picture (the first time, after :meth:`forget` or on a
        canvas of another size: over anything), they give Agg's picture of the panels. Empty
        when no panel changed.
        """
        size = _canvas_size(renderer)
        marks = [
            _Mark.of(panel, renderer, size, self._painted.get(panel)) for panel in self._panels
        ]
        befores = [self._painted.get(panel) for panel in self._panels]
        whole = self._size != size
        self._size, self._painted = size, dict(zip(self._panels, marks, strict=True))
        return _patches(befores, marks, size, whole=whole)

    def patches_to(
        self, panels: Sequence[PixelPanel], renderer: RendererBase
    ) -> list[Patch] | None:
        """Return what brings the picture painted last to ``panels``' picture; remember nothing.

        ``panels`` are another figure's, the same kinds in the same order (a figure composed
        off screen): the patches turn the page's picture into the one they would paint.
        Their source pixels are compared, never their revisions, which count another
        figure's changes. ``None`` before anything was painted at ``renderer``'s size.
        """
        size = _canvas_size(renderer)
        if self._size != size or len(panels) != len(self._panels):
            return None
        befores = [self._painted.get(panel) for panel in self._panels]
        marks = [replace(_Mark.of(panel, renderer, size, None), revision=-1) for panel in panels]
        return _patches(befores, marks, size, whole=False)


def _patches(
    befores: list[_Mark | None], marks: list[_Mark], size: tuple[int, int], *, whole: bool
) -> list[Patch]:
    """Return the patches that repaint panels painted as ``befores`` as ``marks`` say.

    ``whole``: everything, over anything (a canvas of another size, or nothing painted).
    """
    if whole:
        dirty = [(0, 0, *size)]
    else:
        dirty = [
            box for before, mark in zip(befores, marks, strict=True) for box in _boxes(before, mark)
        ]
    dirty = _merged(dirty)
    # As Agg draws: by z-order, in the panels' order among equals (a stable sort).
    order = sorted(range(len(marks)), key=lambda i: marks[i].zorder)
    patches = []
    for box in dirty:
        over = [
            (marks[i], place, clip)
            for i in order
            if (place := marks[i].place) is not None and (clip := _clip(place, box)) is not None
        ]
        # Start at the last panel that covers the whole box: what is under it is hidden.
        covering = [k for k, (_, _, clip) in enumerate(over) if clip == box]
        if not covering:
            patches.append(Patch.solid(box, _WHITE))
        for mark, place, clip in over[covering[-1] if covering else 0 :]:
            patches.extend(_panel_patches(mark, place, clip))
    return patches


def _boxes(before: _Mark | None, mark: _Mark) -> list[Place]:
    """Where the picture may have changed from a panel painted with ``before`` to ``mark``.

    New pixels in the same place repaint the boxes around the pixels that differ; a new
    outline alone, the outlines' boxes; any other change, the panel's old and new places.
    """
    if before == mark:
        return []
    if before is not None and before.same_pixels(mark):
        return [box for box in (before.outline_box(), mark.outline_box()) if box is not None]
    if before is not None and mark.place is not None and before.same_but_pixels(mark):
        return _changed_pixels(before.words, mark.words, mark.place)
    return [place for place in (before.place if before else None, mark.place) if place]


def _changed_pixels(old: np.ndarray, new: np.ndarray, place: Place) -> list[Place]:
    """Return the box of a panel at ``place`` showing the source pixels where ``old`` != ``new``.

    One box around every change: within one panel, what changes between two updates is one
    area (a new sample's maps, a stroke of the pad, the bars of a chart), and the frame folds
    away the repeated pixels of what did not. Where a source pixel starts and ends on the
    canvas is worked out in integers, as :func:`~convscope.render.pixel_panel.scale_indices` rounds.
    """
    changed = old != new
    rows = np.flatnonzero(changed.any(axis=1))
    if not rows.size:
        return []
    cols = np.flatnonzero(changed.any(axis=0))
    left, top, width, height = place
    (source_h, source_w), y, x = new.shape, rows[0].item(), cols[0].item()
    y0, y1 = _first_shown(y, source_h, height), _first_shown(rows[-1].item() + 1, source_h, height)
    x0, x1 = _first_shown(x, source_w, width), _first_shown(cols[-1].item() + 1, source_w, width)
    if y0 < y1 and x0 < x1:  # else no pixel shown changed (a panel shrunk)
        return [(left + x0, top + y0, x1 - x0, y1 - y0)]
    return []


def _first_shown(source_pixel: int, source: int, size: int) -> int:
    """Return the first of ``size`` scaled pixels that shows ``source_pixel`` or a later one.

    Scaled pixel ``i`` shows source pixel ``i * source // size``
    (:func:`~convscope.render.pixel_panel.scale_indices`), so this is
    ``ceil(source_pixel * size / source)``, at most ``size``.
    """
    return min(-(-source_pixel * size // source), size)


def _merged(boxes: list[Place]) -> list[Place]:
    """Return the boxes, those that overlap joined into one: no pixel is painted twice."""
    merged: list[Place] = []
    for box in boxes:
        joined = box
        while (other := next((m for m in merged if overlaps(m, joined)), None)) is not None:
            merged.remove(other)
            joined = typing.cast("Place", _union(joined, other))
        merged.append(joined)
    return merged


def _panel_patches(mark: _Mark, place: Place, clip: Place) -> list[Patch]:
    """Return the patches that paint the part ``clip`` of a panel marked ``mark`` at ``place``."""
    left, top, width, height = place
    x, y, w, h = clip
    source_h, source_w = mark.source
    row_starts, rows = shown_runs(source_h, height, y - top, y - top + h)
    col_starts, cols = shown_runs(source_w, width, x - left, x - left + w)
    words = mark.words.take(row_starts, axis=0).take(col_starts, axis=1)
    patches = [Patch(x, y, w, h, rows, cols, words)]
    for strip in mark.strips:
        part = _clip(strip, clip)
        if part is not None:
            patches.append(Patch.solid(part, mark.outline_word))
    return patches


@dataclass(frozen=True)
class _Mark:
    """What decides a panel's pixels on a canvas and its turn among the others."""

    revision: int  # of the source pixels
    source: tuple[int, int]  # their (h, w)
    zorder: float
    place: Place | None  # None: hidden, or no pixel in size
    outline: tuple[float, float, float, float] | None  # in source pixels
    outline_word: int  # its colour as an RGBA word
    thickness: int  # its width, in pixels at this dpi
    words: np.ndarray = field(compare=False)  # the source pixels (the revision tells them apart)

    @classmethod
    def of(
        cls, panel: PixelPanel, renderer: RendererBase, size: tuple[int, int], last: _Mark | None
    ) -> _Mark:
        """Return the panel's mark now; ``last``, its mark last painted, lends its pixels' copy."""
        place = panel.place(size) if panel.get_visible() else None
        if place is not None and (place[2] < 1 or place[3] < 1):
            place = None
        word = int(panel.outline_colour.view(np.uint32)[0])
        # A copy: the panel may have been handed an array its caller writes to later.
        same = last is not None and last.revision == panel.revision
        words = last.words if last is not None and same else panel.words.copy()
        thickness = panel.outline_thickness(renderer)
        return cls(
            panel.revision, panel.source_shape, panel.get_zorder(), place, panel.outline,
            word, thickness, words,
        )  # fmt: skip

    def same_pixels(self, other: _Mark) -> bool:
        """Whether only the outline can differ between the two."""
        return (self.revision, self.source, self.zorder, self.place) == (
            other.revision, other.source, other.zorder, other.place
        )  # fmt: skip

    def same_but_pixels(self, other: _Mark) -> bool:
        """Whether only the source pixels can differ, keeping their shape."""
        return (self.source, self.zorder, self.place, self.outline, self.outline_word,
                self.thickness) == (other.source, other.zorder, other.place, other.outline,
                                    other.outline_word, other.thickness)  # fmt: skip

    @functools.cached_property
    def strips(self) -> tuple[Place, ...]:
        """The outline's strips on the canvas, as the panel paints them (none if hidden).

        Worked out once per mark, and kept per outline and place (:func:`_strips`): an update
        asks for them again for each box they may cross, and most keep their outline.
        """
        if self.place is None or self.outline is None:
            return ()
        return _strips(self.place, tuple(self.outline), self.source, self.thickness)

    def outline_box(self) -> Place | None:
        """Return the smallest box holding the outline's strips, or ``None`` without one."""
        box = None
        for strip in self.strips:
            box = _union(box, strip)
        return box


@functools.lru_cache(maxsize=256)
def _strips(
    place: Place, outline: tuple[float, float, float, float], source: tuple[int, int], thick: int
) -> tuple[Place, ...]:
    """Return the strips of ``outline`` (source pixels) on the canvas, the panel at ``place``."""
    left, top, width, height = place
    boxes = np.asarray([outline], float)
    strips = outline_strips(boxes, source, (height, width), thick)[0]
    return tuple((left + x, top + y, w, h) for x, y, w, h in strips.tolist() if w and h)


def _canvas_size(renderer: RendererBase) -> tuple[int, int]:
    width, height = renderer.get_canvas_width_height()
    return round(width), round(height)


def _union(box: Place | None, other: Place | None) -> Place | None:
    """Return the smallest box holding both (either may be ``None``: nothing)."""
    if box is None or other is None:
        return other if box is None else box
    left, top = min(box[0], other[0]), min(box[1], other[1])
    right = max(box[0] + box[2], other[0] + other[2])
    bottom = max(box[1] + box[3], other[1] + other[3])
    return left, top, right - left, bottom - top


def _clip(box: Place, within: Place) -> Place | None:
    """Return the part of ``box`` inside ``within``, or ``None`` when they share no pixel."""
    left, top = max(box[0], within[0]), max(box[1], within[1])
    right = min(box[0] + box[2], within[0] + within[2])
    bottom = min(box[1] + box[3], within[1] + within[3])
    return (left, top, right - left, bottom - top) if left < right and top < bottom else None


def overlaps(box: Place, other: Place) -> bool:
    """Whether the two boxes ``(left, top, width, height)`` share a pixel."""
    return (
        box[0] < other[0] + other[2]
        and other[0] < box[0] + box[2]
        and box[1] < other[1] + other[3]
        and other[1] < box[1] + box[3]
    )


def changed_boxes(changed: np.ndarray, gap: int = 8) -> list[tuple[int, int, int, int]]:
    """Cut a ``(H, W)`` mask of changed pixels into boxes ``(x, y, w, h)`` that cover it.

    Columns are split where ``gap`` or more columns in a row hold no change, then each band's
    rows likewise, and each box is trimmed to its changes: the figure's panels come out as
    boxes of their own, and what did not change (the gaps between panels) is left out.
    """
    boxes = []
    for left, right in _flag_runs(np.asarray(changed.any(axis=0)), gap):
        band = changed[:, left:right]
        for top, bottom in _flag_runs(np.asarray(band.any(axis=1)), gap):
            columns = np.flatnonzero(band[top:bottom].any(axis=0))
            x0, x1 = left + int(columns[0]), left + int(columns[-1]) + 1
            boxes.append((x0, top, x1 - x0, bottom - top))
    return boxes


def _flag_runs(flags: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of the runs of true ``flags``, joining runs fewer than ``gap`` apart."""
    where = np.flatnonzero(flags)
    if where.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(where) > gap)
    starts = where[np.append(0, breaks + 1)]
    stops = where[np.append(breaks, where.size - 1)] + 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))
