"""Where the Explorer's figure lives: a canvas inside the widget, or ipympl's when asked for."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from convscope.errors import ArgumentTypeError, InvalidArgumentError, check_real

FigureMode = Literal["auto", "ipympl", "png", "none"]
DisplayMode = Literal["ipympl", "png", "none"]
_MODES = ("auto", "ipympl", "png", "none")
# Formats a saved view can take: matplotlib's, less those that need LaTeX or are raw bytes.
SAVE_FORMATS = ("png", "jpg", "jpeg", "webp", "tif", "tiff", "gif", "pdf", "svg", "svgz", "eps")
MAX_SAVED_MEGAPIXELS = 50  # Pillow refuses to open images much larger than this by default
MIN_SAVED_DPI = 10  # below about 4, FreeType cannot draw the titles' letters at all


def choose_mode(requested: str = "auto") -> DisplayMode:
    """Pick the figure path: ``"auto"`` is the canvas inside the widget (``"png"``) everywhere.

    The canvas path receives only the changed pixels and paints them itself, in JupyterLab,
    Notebook 7, Voilà, Colab, VS Code and marimo alike; ``"ipympl"`` is matplotlib's own
    canvas widget, for code that wants ``ex.figure.canvas`` to be one. ``"none"`` keeps the
    figure on a plain Agg canvas and sends no pixels (scripts, benchmarks, or a figure placed
    in a layout of your own). ``CONVSCOPE_FIGURE`` overrides ``requested``.
    """
    if not isinstance(requested, str) or requested not in _MODES:
        error = InvalidArgumentError if isinstance(requested, str) else ArgumentTypeError
        raise error(f"figure must be 'auto', 'ipympl', 'png' or 'none', not {requested!r}.")
    requested = os.environ.get("CONVSCOPE_FIGURE", requested)
    if requested in ("ipympl", "png", "none"):
        return requested  # type: ignore[return-value]
    if requested != "auto":
        raise InvalidArgumentError(
            f"CONVSCOPE_FIGURE must be 'auto', 'ipympl', 'png' or 'none', not {requested!r}."
        )
    return "png"


class LazyAggCanvas(FigureCanvasAgg):
    """An Agg canvas that may be drawn late: its buffer is brought up to date when read.

    The canvas path sends the page patches of the panels' own pixels
    (:class:`~convscope.render.panel_composite.PanelComposite`), so Agg need not draw on every
    update. :meth:`behind` records how to draw the pixels the page was sent;
    :meth:`buffer_rgba` draws them first if they are due, so ``ex.figure.canvas.buffer_rgba()``
    always holds the figure in view, drawn by Agg itself. Any other :meth:`draw` (a GIF's, a
    save's) supersedes the pending one.
    """

    _due: Callable[[], None] | None = None

    def behind(self, draw: Callable[[], None]) -> None:
        """Call ``draw`` (which draws this canvas) before the buffer is next read."""
        self._due = draw

    def draw(self) -> None:
        """Draw the figure now, as Agg does; a pending late drawing is no longer needed."""
        self._due = None
        super().draw()  # type: ignore[no-untyped-call]

    def buffer_rgba(self) -> Any:
        """Return Agg's RGBA buffer, drawn first if a drawing is due."""
        due, self._due = self._due, None
        if due is not None:
            due()
        return super().buffer_rgba()  # type: ignore[no-untyped-call]


def make_figure(mode: DisplayMode) -> Figure:
    """Create an empty figure on the canvas that ``mode`` needs, outside pyplot's registry."""
    figure = Figure()
    if mode == "ipympl":
        from ipympl.backend_nbagg import FigureManager  # noqa: PLC0415

        from convscope.widget.ipympl_canvas import WholeFrameCanvas  # noqa: PLC0415

        canvas = WholeFrameCanvas(figure)
        FigureManager(canvas, 0)
        canvas.header_visible = False
        canvas.footer_visible = False
        canvas.toolbar_visible = False
        canvas.resizable = False
    elif mode == "png":
        LazyAggCanvas(figure)
    else:
        FigureCanvasAgg(figure)
    return figure


def check_save(figure: Figure, path: object, dpi: object) -> tuple[Path, str, float]:
    """Return where, in which format and at what dpi ``figure`` can be saved, or raise.

    Nothing is written: a bad path or dpi is refused before any file is touched.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure to save.
    path : path-like
        A file name whose extension names the format, in a folder that exists.
    dpi : float
        Dots per inch: at least 10, and at most what keeps the image within 50 megapixels.

    Returns
    -------
    path : Path
    format : str
        The extension, lower case, without the dot.
    dpi : float

    Raises
    ------
    ArgumentTypeError
        When ``path`` is not a path or ``dpi`` not a number.
    InvalidArgumentError
        When the extension is not an image format, the folder does not exist, or ``dpi`` is
        below 10 or would make an image above 50 megapixels.

    """
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"path must be a file name such as 'view.png', got {path!r}.")
    target = Path(path).expanduser()
    formats = [name for name in SAVE_FORMATS if name in figure.canvas.get_supported_filetypes()]
    if "\0" in str(target):
        raise InvalidArgumentError(f"path {str(target)!r} holds a NUL character; no file can.")
    if target.is_dir():
        raise InvalidArgumentError(
            f"{target} is a folder; name a file in it, e.g. {target}/view.png."
        )
    extension = target.suffix.lower().lstrip(".")
    if extension not in formats:
        listed = ", ".join(f".{name}" for name in formats)
        raise InvalidArgumentError(
            f"Cannot tell an image format from {str(target)!r}: end the file name with one of "
            f"{listed}, e.g. 'view.png'."
        )
    if not target.parent.is_dir():
        raise InvalidArgumentError(
            f"There is no folder {target.parent} to save {target.name} in. Create it first, "
            f"e.g. Path({str(target.parent)!r}).mkdir(parents=True), or save somewhere else."
        )
    width, height = figure.get_size_inches()
    most = math.floor(math.sqrt(MAX_SAVED_MEGAPIXELS * 1e6 / (width * height)))
    dots = check_real("dpi", dpi, example=150)
    if not MIN_SAVED_DPI <= dots <= most:  # NaN fails this too
        problem = (
            f"would save a {round(width * dots):,}×{round(height * dots):,} pixels image"
            if math.isfinite(dots)
            else "is not a finite number"
        )
        raise InvalidArgumentError(
            f"dpi={dpi!r} {problem}; use a dpi from {MIN_SAVED_DPI} to {most}, which keeps "
            f"this {width:g}×{height:g}-inch figure within {MAX_SAVED_MEGAPIXELS} megapixels, "
            "e.g. dpi=150."
        )
    return target, extension, dots


def png_bytes(figure: Figure) -> bytes:
    """Draw ``figure`` with Agg and encode it as PNG, favouring speed over file size."""
    canvas = cast("FigureCanvasAgg", figure.canvas)  # Agg, or ipympl's Agg-based canvas
    canvas.draw()  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    rgba = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
    Image.fromarray(np.asarray(rgba)[..., :3]).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()
