"""Tile the channels of one activation into a grid or a strip, and colour it, in one numpy pass."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib import colormaps

from convscope.errors import ArgumentTypeError, InvalidArgumentError, check_int

GAP_RGB = (255, 255, 255)


@dataclass(frozen=True)
class MosaicLayout:
    """Where each channel sits in a mosaic.

    Attributes
    ----------
    rows, columns : int
        Grid size in cells.
    cell_height, cell_width : int
        One channel's size in pixels.
    gap : int
        Pixels between cells.

    """

    rows: int
    columns: int
    cell_height: int
    cell_width: int
    gap: int

    @property
    def shape(self) -> tuple[int, int]:
        """Height and width of the whole mosaic in pixels."""
        return (
            self.rows * (self.cell_height + self.gap) - self.gap,
            self.columns * (self.cell_width + self.gap) - self.gap,
        )

    def cell_box(self, channel: int) -> tuple[float, float, float, float]:
        """Return ``(x, y, width, height)`` of a channel's cell and half the gap around it.

        In mosaic pixels, from the top-left corner: an outline drawn on this box sits in the
        gaps and leaves the cell's own pixels visible.
        """
        row, column = divmod(channel, self.columns)
        half = self.gap / 2
        x = column * (self.cell_width + self.gap) - half
        y = row * (self.cell_height + self.gap) - half
        return x, y, self.cell_width + self.gap, self.cell_height + self.gap


def as_maps(activation: np.ndarray) -> np.ndarray:
    """View any one-image activation as channel maps ``(H, W, C)``: vectors become ``(1, 1, C)``."""
    activation = np.asarray(activation)
    if activation.ndim == 3:  # noqa: PLR2004
        return activation
    return activation.reshape(1, 1, -1)


def mosaic_layout(
    channels: int, cell: tuple[int, int], images_per_row: int = 16, gap: int = 1
) -> MosaicLayout:
    """Plan a grid of ``channels`` cells, ``images_per_row`` wide (fewer if there are fewer)."""
    columns = min(check_int("images_per_row", images_per_row), channels)
    rows = -(-channels // columns)
    return MosaicLayout(rows, columns, cell[0], cell[1], gap)


def channel_grid(
    pixels: np.ndarray,
    images_per_row: int = 16,
    gap: int = 1,
    fill: int = 0,
    lookup: np.ndarray | None = None,
    *,
    channels_first: bool = False,
) -> tuple[np.ndarray, MosaicLayout]:
    """Tile channel maps ``(H, W, C)`` into one 2-D image, row by row; the last row is padded.

    Parameters
    ----------
    pixels : np.ndarray
        ``(H, W, C)`` values of any dtype (usually ``uint8`` from ``normalise_channels``).
    images_per_row : int
        Cells per row. Use ``C`` for a horizontal strip.
    gap : int
        Pixels between cells.
    fill : int
        Value of the gaps and of the empty cells at the end of the last row.
    lookup : np.ndarray, optional
        A table to pass every value through on the way (a colour table), in the same copy.
    channels_first : bool
        ``pixels`` is ``(C, H, W)``, which tiles without a transposing read.

    Returns
    -------
    mosaic : np.ndarray
        2-D array of ``layout.shape`` (a view into a slightly larger buffer).
    layout : MosaicLayout
        Where each channel landed.

    """
    by_channel = pixels if channels_first else np.moveaxis(pixels, -1, 0)
    channels, height, width = by_channel.shape
    layout = mosaic_layout(channels, (height, width), images_per_row, gap)
    dtype = pixels.dtype if lookup is None else lookup.dtype
    cells = np.full((layout.rows * layout.columns, height + gap, width + gap), fill, dtype=dtype)
    cells[:channels, :height, :width] = by_channel if lookup is None else lookup[by_channel]
    tiled = cells.reshape(layout.rows, layout.columns, height + gap, width + gap)
    tiled = tiled.transpose(0, 2, 1, 3).reshape(
        layout.rows * (height + gap), layout.columns * (width + gap)
    )
    return tiled[: layout.shape[0], : layout.shape[1]], layout


def check_cmap(cmap: object) -> str:
    """Return ``cmap`` if matplotlib has a colormap of that name, else raise.

    Raises
    ------
    ArgumentTypeError
        When ``cmap`` is not a string (colormaps are named, e.g. ``"viridis"``).
    InvalidArgumentError
        When matplotlib has no colormap of that name.

    """
    if not isinstance(cmap, str):
        raise ArgumentTypeError(
            f"cmap must be a matplotlib colormap name such as 'viridis', got {cmap!r}."
        )
    if cmap not in colormaps:
        raise InvalidArgumentError(
            f"Unknown colormap {cmap!r}. Use a matplotlib name such as 'viridis', 'gray', "
            "'magma' or 'RdBu_r'."
        )
    return cmap


@lru_cache(maxsize=32)
def colour_table(cmap: str) -> np.ndarray:
    """Return a ``(257, 3)`` uint8 lookup table: 256 colormap entries, then the gap colour.

    Raises
    ------
    ArgumentTypeError, InvalidArgumentError
        When ``cmap`` is not the name of a matplotlib colormap.

    """
    colormap = colormaps[check_cmap(cmap)]
    table = np.empty((257, 3), dtype=np.uint8)
    table[:256] = np.round(colormap(np.linspace(0.0, 1.0, 256))[:, :3] * 255)
    table[256] = GAP_RGB
    table.setflags(write=False)
    return table


@lru_cache(maxsize=32)
def _rgba_words(cmap: str) -> np.ndarray:
    """Return the colour table as one ``uint32`` RGBA word per entry: one gather per pixel."""
    table = np.full((257, 4), 255, np.uint8)
    table[:, :3] = colour_table(cmap)
    words = table.view(np.uint32)[:, 0]
    words.setflags(write=False)
    return words


def colourise(indices: np.ndarray, cmap: str) -> np.ndarray:
    """Map ``uint8`` values (or 256 for gaps) through ``cmap`` to RGBA: ``(..., 4)`` uint8."""
    return _as_rgba(_rgba_words(cmap)[indices])


def _as_rgba(words: np.ndarray) -> np.ndarray:
    """View ``uint32`` RGBA words as ``(..., 4)`` bytes, without copying."""
    return words.view(np.uint8).reshape(*words.shape, 4)


def coloured_grid(
    pixels: np.ndarray,
    cmap: str,
    images_per_row: int = 16,
    gap: int = 1,
    *,
    channels_first: bool = False,
) -> tuple[np.ndarray, MosaicLayout]:
    """Tile ``uint8`` channel maps ``(H, W, C)`` and colour them (RGBA); gaps come out white."""
    words = _rgba_words(cmap)
    tiled, layout = channel_grid(
        pixels,
        images_per_row,
        gap,
        fill=int(words[256]),
        lookup=words,
        channels_first=channels_first,
    )
    return _as_rgba(tiled), layout


def mark_pixels(
    rgba: np.ndarray, mask: np.ndarray, layout: MosaicLayout | None, rgb: tuple[int, int, int]
) -> np.ndarray:
    """Paint ``rgb`` over the pixels that ``mask`` flags, in place, and return ``rgba``.

    Parameters
    ----------
    rgba : np.ndarray
        A coloured image ``(h, w, 4)``: one channel, or a mosaic of ``layout``.
    mask : np.ndarray
        ``(H, W)`` for one channel, or ``(C, H, W)`` channel maps tiled like the mosaic.
    layout : MosaicLayout or None
        The mosaic's layout, or ``None`` for a single channel.
    rgb : tuple of int
        The marker colour.

    """
    if layout is not None:
        mask, _ = channel_grid(
            mask.astype(np.uint8), layout.columns, layout.gap, channels_first=True
        )
    rgba[mask.astype(bool), :3] = rgb
    return rgba


def cross_marks(chosen: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return ``(C, H, W)`` masks with both diagonals drawn for the ``chosen`` channels.

    Parameters
    ----------
    chosen : np.ndarray
        ``(C,)`` booleans: which channels to cross out (dead ones, say).
    size : (height, width)
        One channel map's size.

    """
    height, width = size
    rows = np.arange(height)
    columns = rows * width // height
    cross = np.zeros(size, bool)
    cross[rows, columns] = True
    cross[rows, width - 1 - columns] = True
    return np.asarray(chosen, bool)[:, np.newaxis, np.newaxis] & cross
