"""Figures returned to a notebook: drawn there as PNG, as pyplot's are."""

from __future__ import annotations

from matplotlib.figure import Figure


def show_in_notebooks(figure: Figure) -> Figure:
    """Let IPython draw returned figures as PNG, as it does pyplot's, without pyplot's registry."""
    try:
        from IPython import get_ipython  # noqa: PLC0415
        from IPython.core.pylabtools import select_figure_formats  # noqa: PLC0415
    except ImportError:
        return figure
    shell = get_ipython()
    if (
        shell is not None
        and Figure not in shell.display_formatter.formatters["image/png"].type_printers
    ):
        select_figure_formats(shell, {"png"})
    return figure
