"""The static API for scripts: activations as numpy arrays and feature maps as figures."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from convscope.engine.activations import engine_for
from convscope.engine.errors import check_index
from convscope.render.figures import Layout, channel_figure, feature_maps_figure
from convscope.render.normalise import NormMode


def _show_in_notebooks(figure: Figure) -> Figure:
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


def get_activations(
    model: Any,
    x: object,
    layers: str | Iterable[str] | None = None,
    *,
    batch_size: int = 256,
) -> dict[str, np.ndarray]:
    """Return each layer's output for ``x``, the way keract did, on Keras 3.

    Parameters
    ----------
    model : keras.Model
        A built model with one image input.
    x : array-like
        One image or a batch, in the units the model takes (for the bundled MNIST CNN, raw
        0..255 pixels; the channel axis may be left out for grey models).
    layers : str or iterable of str, optional
        Layer names or nested paths (``"mobilenetv2/block_1_expand"``). By default every
        inspectable layer.
    batch_size : int
        Images per compiled call.

    Returns
    -------
    dict of str to np.ndarray
        ``{layer: array (N, *output_shape)}`` in the order asked for.

    Examples
    --------
    >>> acts = convscope.get_activations(convscope.mnist_cnn(), images[:8], ["conv1", "conv2"])
    >>> acts["conv2"].shape
    (8, 14, 14, 48)

    """
    engine = engine_for(model)
    names = (
        engine.layer_names
        if layers is None
        else [layers]
        if isinstance(layers, str)
        else list(layers)
    )
    outputs = engine.compute_layers(tuple(names), x, batch_size=batch_size)
    return dict(zip(names, outputs, strict=True))


def plot_feature_maps(
    model: Any,
    x: object,
    layer: str,
    *,
    sample: int = 0,
    layout: Layout = "grid",
    images_per_row: int = 16,
    norm: NormMode = "standard",
    value_range: tuple[np.ndarray | float, np.ndarray | float] | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    width: float | None = None,
) -> Figure:
    """Draw every channel of ``layer`` for one image; non-spatial layers become a 1-D strip.

    Parameters
    ----------
    model : keras.Model
        A built model with one image input.
    x : array-like
        One image or a batch; ``sample`` picks the image of a batch.
    layer : str
        Layer name or nested path.
    sample : int
        Which image of the batch to draw.
    layout : {"grid", "strip"}
        Channels tiled ``images_per_row`` to a row, or all in one row.
    images_per_row : int
        Cells per row of the grid (default 16).
    norm : {"standard", "minmax", "layer", "fixed"}
        Normalisation; see :func:`convscope.render.normalise.normalise_channels`.
    value_range : (low, high), optional
        For ``norm="fixed"``: scalars or per-channel arrays.
    cmap : str
        A matplotlib colormap name.
    title : str, optional
        Defaults to the layer's name and shape.
    width : float, optional
        Figure width in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with ``fig.savefig("maps.png", dpi=...)``.

    """
    engine = engine_for(model)
    info = engine.layer(layer)
    image = _pick(engine.prepare(x), sample)
    activation = info.channels_last(engine.compute(layer, image)[0])
    figure = feature_maps_figure(
        activation,
        spatial=info.spatial,
        layout=layout,
        images_per_row=images_per_row,
        norm=norm,
        value_range=value_range,
        cmap=cmap,
        title=title if title is not None else f"{info.name} ({info.kind}, {info.shape_text})",
        width=width,
    )
    return _show_in_notebooks(figure)


def plot_channel(
    model: Any,
    x: object,
    layer: str,
    channel: int,
    *,
    sample: int = 0,
    cmap: str = "viridis",
    title: str | None = None,
) -> Figure:
    """Draw one channel of a spatial layer large, with a colour bar of its raw values.

    Parameters
    ----------
    model : keras.Model
        A built model with one image input.
    x : array-like
        One image or a batch; ``sample`` picks the image of a batch.
    layer : str
        Layer name or nested path.
    channel : int
        Channel index, ``0 <= channel < channels``.
    sample : int
        Which image of the batch to draw.
    cmap : str
        A matplotlib colormap name.
    title : str, optional
        Defaults to the layer, channel and value range.

    Returns
    -------
    matplotlib.figure.Figure

    """
    engine = engine_for(model)
    info = engine.layer(layer)
    check_index("channel", channel, info.channels)
    image = _pick(engine.prepare(x), sample)
    activation = info.channels_last(engine.compute(layer, image)[0])
    channel_map = activation[..., channel] if info.spatial else np.ravel(activation)[[channel]]
    default = f"{info.name} channel {channel} (max {float(channel_map.max()):.3g})"
    figure = channel_figure(channel_map, cmap=cmap, title=title if title is not None else default)
    return _show_in_notebooks(figure)


def _pick(batch: np.ndarray, sample: int) -> np.ndarray:
    check_index("sample", sample, len(batch))
    return batch[sample : sample + 1]
