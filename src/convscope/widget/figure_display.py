"""Where the Explorer's figure lives: an ipympl canvas in Jupyter, PNG bytes everywhere else."""

from __future__ import annotations

import functools
import io
import math
import os
import sys
from collections.abc import Mapping
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

# What VS Code leaves in a kernel: its Jupyter extension defines ``__vsc_ipynb_file__`` (the
# notebook's path) in every kernel it starts, local or on a remote Jupyter server, and a local
# kernel inherits the editor's environment: VSCODE_PID and VSCODE_CWD on a desktop, the VS Code
# server's VSCODE_AGENT_FOLDER and VSCODE_IPC_HOOK_CLI over Remote-SSH, WSL and dev containers,
# where VSCODE_PID is missing. TERM_PROGRAM=vscode marks its integrated terminal.
_VSCODE_VARIABLES = (
    "VSCODE_PID",
    "VSCODE_CWD",
    "VSCODE_IPC_HOOK",
    "VSCODE_IPC_HOOK_CLI",
    "VSCODE_AGENT_FOLDER",
)


def choose_mode(requested: str = "auto") -> DisplayMode:
    """Pick ``"ipympl"`` in a Jupyter kernel whose frontend can show it, else ``"png"``.

    Colab (without its custom widget manager) and VS Code do not render ipympl canvases out of
    the box, and outside a kernel there is nothing to render them; the PNG path works there.
    ``"none"`` keeps the figure on a plain Agg canvas and sends no pixels (scripts, benchmarks,
    or a figure placed in a layout of your own). ``CONVSCOPE_FIGURE`` overrides ``requested``.
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
    if "google.colab" in sys.modules or in_vscode():
        return "png"
    if not _in_kernel():
        return "png"
    try:
        import ipympl  # noqa: F401, PLC0415
    except ImportError:
        return "png"
    return "ipympl"


def in_vscode(
    environ: Mapping[str, str] | None = None, namespace: Mapping[str, object] | None = None
) -> bool:
    """Whether VS Code's notebook editor is the frontend of this kernel.

    Parameters
    ----------
    environ : mapping, optional
        The kernel's environment (default: ``os.environ``).
    namespace : mapping, optional
        The notebook's user namespace (default: IPython's, when there is one).

    """
    environ = os.environ if environ is None else environ
    namespace = _user_namespace() if namespace is None else namespace
    if "__vsc_ipynb_file__" in namespace:
        return True
    if environ.get("JPY_SESSION_NAME"):
        # A Jupyter server started this kernel for its own page: JupyterLab started from VS
        # Code's terminal inherits the VSCODE_ variables, yet its page is JupyterLab's.
        return False
    return environ.get("TERM_PROGRAM") == "vscode" or any(
        name in environ for name in _VSCODE_VARIABLES
    )


def make_figure(mode: DisplayMode) -> Figure:
    """Create an empty figure on the canvas that ``mode`` needs, outside pyplot's registry."""
    figure = Figure()
    if mode == "ipympl":
        from ipympl.backend_nbagg import FigureManager  # noqa: PLC0415

        canvas = _quick_canvas_class()(figure)
        FigureManager(canvas, 0)
        canvas.header_visible = False
        canvas.footer_visible = False
        canvas.toolbar_visible = False
        canvas.resizable = False
    else:
        FigureCanvasAgg(figure)
    return figure


@functools.cache
def _quick_canvas_class() -> type[Any]:
    """Return the ipympl canvas class that sends frames as PNG at zlib level 1, not 6.

    matplotlib's webagg canvas (``get_diff_image``) PNG-encodes every frame, the changed
    pixels over transparent ones, at Pillow's default level: 6 ms of a 9 ms update on the
    Explorer's 900×450 figure. Level 1 takes about half that, for a third more bytes (tens of
    kilobytes: the frame stays local in JupyterLab). The diff itself is matplotlib's, unchanged;
    where its state is not what this expects (another matplotlib), its own method runs.
    """
    from ipympl.backend_nbagg import Canvas  # noqa: PLC0415

    class QuickCanvas(Canvas):  # type: ignore[misc]
        def get_diff_image(self) -> bytes | None:
            last = getattr(self, "_last_buff", None)
            if not isinstance(last, np.ndarray) or not hasattr(self, "_force_full"):
                return cast("bytes | None", super().get_diff_image())
            if not self._png_is_old:  # type: ignore[has-type]
                return None
            pixels = np.asarray(self.get_renderer().buffer_rgba())
            words = pixels.view(np.uint32)[..., 0]
            force: bool = self._force_full  # type: ignore[has-type]
            if force or words.shape != last.shape or (pixels[..., 3] != 255).any():  # noqa: PLR2004
                self.set_image_mode("full")
                output = words
            else:
                self.set_image_mode("diff")
                output = np.where(words != last, words, 0)
            self._last_buff = words.copy()
            self._force_full = False
            self._png_is_old = False
            buffer = io.BytesIO()
            rgba = output.view(np.uint8).reshape(*output.shape, 4)
            Image.fromarray(rgba).save(buffer, format="png", compress_level=1)
            return buffer.getvalue()

    return QuickCanvas


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


def _user_namespace() -> Mapping[str, object]:
    shell = _shell()
    return getattr(shell, "user_ns", None) or {}


def _in_kernel() -> bool:
    return getattr(_shell(), "kernel", None) is not None


def _shell() -> Any:
    """IPython's shell, or ``None`` outside IPython (IPython is only imported if loaded)."""
    if "IPython" not in sys.modules:
        return None
    from IPython.core.getipython import get_ipython  # noqa: PLC0415

    return get_ipython()
