"""A matplotlib artist that puts an RGB array into a box of the figure, scaled in numpy."""

from __future__ import annotations

import functools

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import RendererAgg

Box = tuple[float, float, float, float]


class PixelPanel(Artist):
    """Draw an ``(h, w, 3)`` uint8 array into a box of the figure, nearest-neighbour, centred.

    Enlargement is by a whole factor, so every cell of a mosaic comes out the same size.

    matplotlib's image pipeline converts, resamples and composites on every draw, which
    costs several milliseconds per panel. This artist scales its pixels once per size with
    numpy index arrays, caches the result, and hands it to ``renderer.draw_image``: a redraw
    is a copy. It follows the figure's dpi, so ``savefig(dpi=...)`` and HiDPI screens work.

    A scrub sets new pixels on every update, megabytes of them scaled at a HiDPI ratio of 2.
    They are scaled into buffers the panel keeps, stored bottom-up as Agg reads them, so that
    an update allocates nothing that size: blocks freed and allocated again each update may
    be handed back to the system and faulted in again, page by page (glibc trims its heap),
    and whether that happens depends on the process's history, not on this code.

    Parameters
    ----------
    box : (x0, y0, width, height)
        Where to draw, in figure fractions. The pixels keep their aspect ratio inside it.
    outline_colour : (r, g, b)
        Colour of the outline set by :meth:`set_outline`.
    outline_width : float
        Outline width in points.

    """

    def __init__(
        self,
        box: Box,
        outline_colour: tuple[int, int, int] = (255, 45, 85),
        outline_width: float = 1.5,
    ) -> None:
        super().__init__()
        self.box = box
        self.outline_colour = np.asarray([*outline_colour, 255], np.uint8)
        self.outline_width = outline_width
        self._pixels = np.zeros((1, 1), np.uint32)
        self._source: np.ndarray | None = None
        self._outline: Box | None = None
        self.revision = 0  # counts the changes of the source pixels (see PanelComposite)
        self._scaled: tuple[tuple[int, int], np.ndarray] | None = None
        # Reused from update to update (see the class's notes): the scaled words, the gather's
        # intermediate, and the scaled pixels with the outline painted in.
        self._words = np.empty((0, 0), np.uint32)
        self._middle = np.empty((0, 0), np.uint32)
        self._outlined = np.empty((0, 0, 4), np.uint8)

    @property
    def pixels(self) -> np.ndarray:
        """The source pixels as ``(h, w, 3)`` RGB, as last set."""
        return self._pixels.view(np.uint8).reshape(*self._pixels.shape, 4)[..., :3]

    def set_pixels(self, pixels: np.ndarray) -> None:
        """Show ``(h, w)`` grey, ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA ``uint8`` pixels."""
        if pixels is self._source:  # unchanged: keep the scaled copy
            return
        source = self._source
        if source is not None and source.shape == pixels.shape and np.array_equal(source, pixels):
            return  # the same pixels again (a view recomputed): nothing to repaint
        self._source = pixels
        packed = pixels.ndim == 3 and pixels.shape[2] == 4 and pixels.strides[1:] == (4, 1)  # noqa: PLR2004
        if packed:  # RGBA with whole pixels adjacent: view each pixel as one word, no copy
            rgba = pixels
        else:
            rgba = np.empty((*pixels.shape[:2], 4), np.uint8)
            rgba[..., :3] = pixels[..., np.newaxis] if pixels.ndim == 2 else pixels[..., :3]  # noqa: PLR2004
            rgba[..., 3] = 255
        # One uint32 word per pixel: scaling then gathers words, not 4-byte sub-arrays.
        self._pixels = rgba.view(np.uint32)[..., 0]
        self._scaled = None
        self.revision += 1
        self.stale = True

    def set_outline(self, box: Box | None) -> None:
        """Outline ``(x, y, width, height)`` of the source pixels, or nothing for ``None``."""
        self._outline = box
        self.stale = True

    @property
    def outline(self) -> Box | None:
        """The outlined box of the source pixels, as last set."""
        return self._outline

    def draw(self, renderer: RendererBase) -> None:
        """Blit the cached, scaled pixels (plus the outline) into the renderer."""
        if not self.get_visible():
            return
        left, bottom, width, height = self._target(renderer)
        if width < 1 or height < 1:
            return
        upward = self._upward(height, width, renderer)
        gc = renderer.new_gc()
        gc.set_clip_rectangle(None)
        renderer.draw_image(gc, left, bottom, upward)
        gc.restore()
        self.stale = False

    def _upward(self, height: int, width: int, renderer: RendererBase) -> np.ndarray:
        """Return what :meth:`draw` blits: the scaled pixels and outline, as Agg takes them.

        Agg's ``draw_image`` takes rows bottom-up from ``(left, bottom)``, C-contiguous (else
        it copies them), and copies them into its canvas at once: it is handed the panel's
        own buffers. Another renderer (PDF) may keep the array until its file closes: it
        gets a copy of its own.
        """
        agg = isinstance(renderer, RendererAgg)
        upward = self._scaled_upward(height, width)
        if self._outline is None:
            return upward if agg else upward.copy()
        outlined = self._outlined if agg else np.empty_like(upward)
        if outlined.shape != upward.shape:
            outlined = self._outlined = np.empty_like(upward)
        np.copyto(outlined, upward)
        self._paint_outline(outlined[::-1], renderer)
        return outlined

    def drawn(self, renderer: RendererBase) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
        """Return what :meth:`draw` blits: where, and the ``(h, w, 4)`` RGBA pixels.

        Where is ``(left, top, width, height)`` in canvas pixels from the *top*-left corner, as
        numpy indexes a canvas's buffer; ``None`` when it draws nothing (hidden, no size). The
        pixels are the very buffer :meth:`draw` hands an Agg renderer (top-down here): read
        them before the panel draws again, and copy them before writing.
        """
        if not self.get_visible():
            return None
        place = self.place(renderer.get_canvas_width_height())
        width, height = place[2:]
        if width < 1 or height < 1:
            return None
        return place, self._upward(height, width, renderer)[::-1]

    def pixel_at(self, x: float, y: float, size: tuple[float, float]) -> tuple[int, int] | None:
        """Return the source pixel ``(row, col)`` drawn at a point, or ``None`` if none is.

        Parameters
        ----------
        x, y : float
            The point in canvas pixels, from the bottom-left corner (matplotlib's events).
        size : (width, height)
            The canvas size in pixels.

        """
        left, bottom, width, height = self._placement(*size)
        if not (left <= x < left + width and bottom <= y < bottom + height):
            return None
        source_h, source_w = self._pixels.shape[:2]
        row = int((bottom + height - y) * source_h // height)
        col = int((x - left) * source_w // width)
        return min(row, source_h - 1), min(col, source_w - 1)

    def _target(self, renderer: RendererBase) -> tuple[int, int, int, int]:
        return self._placement(*renderer.get_canvas_width_height())

    def _placement(self, figure_width: float, figure_height: float) -> tuple[int, int, int, int]:
        """Return where the pixels land on a canvas of that size: ``(left, bottom, w, h)``."""
        x0, y0, box_width, box_height = self.box
        avail_w, avail_h = box_width * figure_width, box_height * figure_height
        source_h, source_w = self._pixels.shape[:2]
        scale = min(avail_w / source_w, avail_h / source_h)
        if scale >= 1:  # enlarge by a whole factor: every source pixel the same size, crisp
            scale = float(int(scale))
        width, height = max(1, round(source_w * scale)), max(1, round(source_h * scale))
        left = round(x0 * figure_width + (avail_w - width) / 2)
        bottom = round(y0 * figure_height + (avail_h - height) / 2)
        return left, bottom, width, height

    def _scaled_to(self, height: int, width: int) -> np.ndarray:
        """Return the pixels scaled to ``(height, width, 4)`` RGBA, rows top-down.

        A view of the panel's buffer: valid until the pixels are set again.
        """
        return self._scaled_upward(height, width)[::-1]

    def _scaled_upward(self, height: int, width: int) -> np.ndarray:
        """Return the pixels scaled to ``(height, width, 4)`` RGBA, rows bottom-up."""
        if self._scaled is not None and self._scaled[0] == (height, width):
            return self._scaled[1]
        source_h, source_w = self._pixels.shape[:2]
        rows, cols = scale_indices(source_h, height), scale_indices(source_w, width)
        # Two one-axis gathers are several times faster than one two-axis fancy index, and
        # gathering the columns of the fewer rows first, then whole rows, 2-5x faster again.
        # Into the kept buffers, the bottom row first. The indices are in range by making:
        # mode="clip" checks none, where the default "raise" gathers into a temporary first.
        rows = rows[::-1]
        words = self._words = _reused(self._words, (height, width))
        if height >= source_h:
            middle = self._middle = _reused(self._middle, (source_h, width))
            self._pixels.take(cols, axis=1, out=middle, mode="clip")
            middle.take(rows, axis=0, out=words, mode="clip")
        else:
            middle = self._middle = _reused(self._middle, (height, source_w))
            self._pixels.take(rows, axis=0, out=middle, mode="clip")
            middle.take(cols, axis=1, out=words, mode="clip")
        rgba = words.view(np.uint8).reshape(height, width, 4)
        self._scaled = ((height, width), rgba)
        return rgba

    def _paint_outline(self, rgba: np.ndarray, renderer: RendererBase) -> None:
        height, width = rgba.shape[:2]
        boxes = np.asarray([self._outline], float)
        thick = self.outline_thickness(renderer)
        for x, y, w, h in outline_strips(boxes, self._pixels.shape[:2], (height, width), thick)[0]:
            rgba[y : y + h, x : x + w] = self.outline_colour

    # ----- the same pixels into an array, for a caller that assembles figures in numpy --------
    @property
    def words(self) -> np.ndarray:
        """The source pixels as ``(h, w)`` RGBA words (``uint32``), as last set; read-only use."""
        return self._pixels

    @property
    def source_shape(self) -> tuple[int, int]:
        """``(h, w)`` of the source pixels, as last set."""
        height, width = self._pixels.shape[:2]
        return height, width

    def place(self, size: tuple[float, float]) -> tuple[int, int, int, int]:
        """Return where :meth:`draw` puts the pixels on a canvas of ``size`` ``(width, height)``.

        As ``(left, top, width, height)`` in canvas pixels from the *top*-left corner, as
        numpy indexes the canvas's buffer.
        """
        left, bottom, width, height = self._placement(*size)
        return left, round(size[1]) - bottom - height, width, height

    def scaled(self, height: int, width: int) -> np.ndarray:
        """Return the pixels scaled to ``(height, width)`` as :meth:`draw` blits them (RGBA).

        Without the outline; the array is the panel's cache: copy it before writing to it.
        """
        return self._scaled_to(height, width)

    def outline_thickness(self, renderer: RendererBase) -> int:
        """Return the outline's width in pixels on ``renderer`` (its dpi), as drawn."""
        return max(1, round(float(np.asarray(renderer.points_to_pixels(self.outline_width)))))


@functools.lru_cache(maxsize=256)
def scale_indices(source: int, size: int) -> np.ndarray:
    """Return which of ``source`` pixels each of ``size`` scaled pixels shows (nearest).

    Kept per size, read-only: every update asks again for each panel's few sizes.
    """
    return _read_only(np.arange(size) * source // size)


@functools.lru_cache(maxsize=1024)
def shown_runs(
    source: int, size: int, start: int = 0, stop: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the source pixels that scaled pixels ``start:stop`` show, and each one's run.

    A panel scales ``source`` pixels to ``size`` (:func:`scale_indices`); in order, each source
    pixel shown fills a run of neighbouring scaled pixels. Repeating the source pixels by the
    runs gives scaled pixels ``start:stop``, as the panel draws them. Kept, read-only: an
    update asks again for the same boxes of the same panels (about 0.1 ms of small numpy
    calls on a random jump of the Explorer).
    """
    indices = scale_indices(source, size)[start:stop]
    if not len(indices):
        return indices, indices
    starts = np.flatnonzero(np.r_[True, indices[1:] != indices[:-1]])
    return _read_only(indices[starts]), _read_only(np.diff(np.append(starts, len(indices))))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def outline_strips(
    boxes: np.ndarray, source: tuple[int, int], scaled: tuple[int, int], thick: int
) -> np.ndarray:
    """Return the four strips of each outline as a panel paints them, ``(N, 4, 4)``.

    ``boxes`` are ``(N, 4)`` outlines ``(x, y, width, height)`` in source pixels of a panel
    of ``source`` ``(h, w)`` pixels scaled to ``scaled`` ``(h, w)``; each strip (top, bottom,
    left, right) is ``(x, y, width, height)`` in scaled pixels, possibly empty. Painting them
    in the outline's colour is the panel's outline, for one box or many at once.
    """
    height, width = scaled
    source_h, source_w = source
    x, y, box_w, box_h = (boxes[:, i] for i in range(4))
    # The same float arithmetic, and round-half-even, as Python's round() on each number.
    left = np.clip(np.round(x * width / source_w), 0, width - 1).astype(np.int64)
    top = np.clip(np.round(y * height / source_h), 0, height - 1).astype(np.int64)
    right = np.clip(np.round((x + box_w) * width / source_w), left + 1, width).astype(np.int64)
    bottom = np.clip(np.round((y + box_h) * height / source_h), top + 1, height)
    bottom = bottom.astype(np.int64)
    # Each strip as numpy slices it: [top : top + thick] and so on, cut at the panel's edges.
    lower = np.maximum(top, bottom - thick)
    inner = np.maximum(left, right - thick)
    y0 = np.stack([top, lower, top, top], axis=1)
    y1 = np.stack([np.minimum(top + thick, height), bottom, bottom, bottom], axis=1)
    x0 = np.stack([left, left, left, inner], axis=1)
    x1 = np.stack([right, right, np.minimum(left + thick, width), right], axis=1)
    return np.stack([x0, y0, np.maximum(x1 - x0, 0), np.maximum(y1 - y0, 0)], axis=2)


def _reused(buffer: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return ``buffer`` if it has ``shape``, else a new uint32 array of that shape."""
    return buffer if buffer.shape == shape else np.empty(shape, np.uint32)
