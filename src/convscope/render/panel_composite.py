"""Agg's picture of a figure of pixel panels, assembled in numpy, repainting only what changed.

A figure whose only visible artists are :class:`PixelPanel` s on an opaque white background is,
once Agg has drawn it, that white with each panel's scaled pixels copied in, in drawing order:
Agg's ``draw_image`` of opaque pixels at whole-pixel offsets is a copy. :class:`PanelComposite`
keeps that picture in a buffer of its own and, on each call, repaints only the panels whose
pixels, outline, place, drawing order or visibility changed since the last one, and says
where. An update of the Explorer thus costs a copy of the panels that changed, not a whole
redraw of the figure, and the frame for the page is looked for only where something was
repainted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backend_bases import RendererBase
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from convscope.render.pixel_panel import PixelPanel

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


class PanelComposite:
    """Keep the RGBA words Agg would draw for ``panels`` on white, repainting what changed.

    Parameters
    ----------
    panels : sequence of PixelPanel
        Every panel of the figure, in the order the figure draws them (hidden ones included:
        they may show later). The figure must pass :func:`only_panels` whenever
        :meth:`paint` is called.

    """

    def __init__(self, panels: Sequence[PixelPanel]) -> None:
        self._panels = tuple(panels)
        self._words = np.empty((0, 0), np.uint32)
        self._fresh = False  # whether the picture follows the marks painted (see forget)
        self._painted: dict[PixelPanel, _Mark] = {}  # what each panel was painted with

    def can_paint(self, figure: Figure, renderer: RendererBase) -> bool:
        """Whether :meth:`paint` gives Agg's picture of ``figure`` on ``renderer``.

        It does when the figure passes :func:`only_panels` and every visible panel lies on the
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

    def forget(self) -> None:
        """Paint everything again next time (the figure was drawn some other way meanwhile)."""
        self._fresh = False

    @property
    def words(self) -> np.ndarray:
        """The picture as ``(H, W)`` RGBA words, as of the last :meth:`paint`; read-only use."""
        return self._words

    def paint(self, renderer: RendererBase) -> Place | None:
        """Bring the picture up to date for ``renderer``'s size and dpi; return where it changed.

        Returns the smallest box ``(left, top, width, height)`` holding every pixel that may
        have changed (the whole canvas after a change of size or dpi, or at first), or ``None``
        when no panel changed. Outside that box the picture is as it was.
        """
        size = _canvas_size(renderer)
        marks = {panel: _Mark.of(panel, renderer, size) for panel in self._panels}
        dirty = self._changed(marks, size)
        if dirty is None:
            return None
        left, top, box_w, box_h = dirty
        self._words[top : top + box_h, left : left + box_w] = _WHITE
        for panel in sorted(self._panels, key=lambda panel: panel.get_zorder()):  # as Agg
            place = marks[panel].place
            if place is not None and overlaps(place, dirty):
                self._paste(panel, renderer, dirty)
        self._painted = marks
        return dirty

    def _changed(self, marks: dict[PixelPanel, _Mark], size: tuple[int, int]) -> Place | None:
        """Return the box that holds every panel's old and new place where its mark changed.

        The whole canvas, on a new buffer, when its size is not the last one's. A change of
        dpi alone shows in the marks: the outlines' thickness.
        """
        width, height = size
        if self._words.shape != (height, width) or not self._fresh:
            self._words = np.full((height, width), _WHITE, np.uint32)
            self._fresh = True
            return 0, 0, width, height
        dirty = None
        for panel, mark in marks.items():
            before = self._painted.get(panel)
            if before != mark:
                dirty = _union(dirty, before.place if before else None)
                dirty = _union(dirty, mark.place)
        return dirty

    def _paste(self, panel: PixelPanel, renderer: RendererBase, dirty: Place) -> None:
        """Copy the part of ``panel``'s pixels inside ``dirty`` into the picture."""
        drawn = panel.drawn(renderer)
        if drawn is None:
            return
        (left, top, width, height), rgba = drawn
        words = rgba.view(np.uint32)[..., 0]
        x0, y0 = max(left, dirty[0]), max(top, dirty[1])
        x1 = min(left + width, dirty[0] + dirty[2])
        y1 = min(top + height, dirty[1] + dirty[3])
        if x0 < x1 and y0 < y1:
            self._words[y0:y1, x0:x1] = words[y0 - top : y1 - top, x0 - left : x1 - left]


@dataclass(frozen=True)
class _Mark:
    """What decides a panel's pixels on a canvas and its turn among the others."""

    revision: int
    outline: bytes  # colour
    thickness: int  # outline's, in pixels at this dpi
    zorder: float
    place: Place | None  # None: hidden, or no pixel in size

    @classmethod
    def of(cls, panel: PixelPanel, renderer: RendererBase, size: tuple[int, int]) -> _Mark:
        place = panel.place(size) if panel.get_visible() else None
        if place is not None and (place[2] < 1 or place[3] < 1):
            place = None
        thickness = panel.outline_thickness(renderer)
        outline = panel.outline_colour.tobytes()
        return cls(panel.revision, outline, thickness, panel.get_zorder(), place)


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


def overlaps(box: Place, other: Place) -> bool:
    """Whether the two boxes ``(left, top, width, height)`` share a pixel."""
    return (
        box[0] < other[0] + other[2]
        and other[0] < box[0] + box[2]
        and box[1] < other[1] + other[3]
        and other[1] < box[1] + box[3]
    )
