"""The static API for scripts: activations as numpy arrays and feature maps as figures."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from convscope.engine.activations import ActivationEngine, engine_for
from convscope.engine.datasets import as_array, first_batch, image_batches, is_stream
from convscope.errors import (
    ArgumentTypeError,
    ImageInputError,
    InvalidArgumentError,
    check_choice,
    check_index,
    check_int,
    check_layer_name,
    check_layer_names,
    check_number,
    check_text,
)
from convscope.render.figures import Layout, channel_figure, feature_maps_figure
from convscope.render.mosaic import check_cmap
from convscope.render.normalise import NORM_MODES, NormMode

_MAX_WIDTH_IN = 100.0  # wider figures are mistakes, and a pain to draw
_PAIR = 2


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
    x : array-like, tf.data.Dataset or iterable of batches
        One image or a batch (an array, a list or a tensor) in the units the model takes (for
        the bundled MNIST CNN, raw 0..255 pixels; the channel axis may be left out for grey
        models). Or a stream, read one batch at a time so that only the outputs are kept: a
        ``tf.data.Dataset`` of image batches, of ``(images, labels)`` batches (the labels are
        ignored) or of single images (batched here by ``batch_size``), or a generator or
        ``keras.utils.PyDataset`` of such batches.
    layers : str or iterable of str, optional
        Layer names or nested paths (``"mobilenetv2/block_1_expand"``). By default every
        inspectable layer.
    batch_size : int
        Images per compiled call, at least 1.

    Returns
    -------
    dict of str to np.ndarray
        ``{layer: array (N, *output_shape)}`` in the order asked for.

    Raises
    ------
    ConvscopeError
        A subclass that names the problem: ``ArgumentTypeError`` for ``layers=3``,
        ``InvalidArgumentError`` for ``batch_size=0``, ``UnknownLayerError``,
        ``ImageInputError`` for images of the wrong shape or dtype, NaN or Inf.

    Examples
    --------
    >>> acts = convscope.get_activations(convscope.mnist_cnn(), images[:8], ["conv1", "conv2"])
    >>> acts["conv2"].shape
    (8, 14, 14, 48)
    >>> dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(64)
    >>> convscope.get_activations(convscope.mnist_cnn(), dataset, "conv1")["conv1"].shape
    (10000, 28, 28, 24)

    """
    engine = engine_for(model)
    names = check_layer_names(layers) or tuple(engine.layer_names)
    batch_size = check_int("batch_size", batch_size, example=256)
    if is_stream(x):
        return _streamed_activations(engine, names, x, batch_size)
    outputs = engine.compute_layers(names, as_array(x), batch_size=batch_size)
    return dict(zip(names, outputs, strict=True))


def _streamed_activations(
    engine: ActivationEngine, names: tuple[str, ...], stream: object, batch_size: int
) -> dict[str, np.ndarray]:
    """Compute a stream batch by batch, keeping only the outputs."""
    parts: list[list[np.ndarray]] = [[] for _ in names]
    for number, (batch, _) in enumerate(image_batches(stream, engine.input_shape, batch_size)):
        try:
            outputs = engine.compute_layers(names, batch, batch_size=batch_size)
        except ImageInputError as error:
            raise ImageInputError(f"Batch {number} of the dataset: {error}") from error
        for part, output in zip(parts, outputs, strict=True):
            part.append(output)
    if not parts[0]:
        raise ImageInputError("The dataset gave no images; pass at least one batch.")
    # One layer at a time, so that the batches of a layer go as soon as it is joined.
    return {name: np.concatenate(parts.pop(0)) for name in names}


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
    x : array-like, tf.data.Dataset or iterable of batches
        One image or a batch; ``sample`` picks the image of a batch. Of a dataset or another
        stream, only the first batch is read, and ``sample`` picks from it.
    layer : str
        Layer name or nested path.
    sample : int
        Which image of the batch to draw.
    layout : {"grid", "strip"}
        Channels tiled ``images_per_row`` to a row, or all in one row.
    images_per_row : int
        Cells per row of the grid (default 16), at least 1.
    norm : {"standard", "minmax", "layer", "fixed"}
        Normalisation; see :func:`convscope.render.normalise.normalise_channels`.
    value_range : (low, high), optional
        Only with ``norm="fixed"``, which needs it: finite scalars, or arrays of one value per
        channel, with ``low <= high``.
    cmap : str
        A matplotlib colormap name.
    title : str, optional
        Defaults to the layer's name and shape.
    width : float, optional
        Figure width in inches, above 0 and at most 100.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with ``fig.savefig("maps.png", dpi=...)``.

    Raises
    ------
    ConvscopeError
        A subclass that names the problem and the fix, for any argument that cannot work.

    """
    engine = engine_for(model)
    info = engine.layer(check_layer_name(layer))
    layout = check_choice("layout", layout, ("grid", "strip"))  # type: ignore[assignment]
    images_per_row = check_int("images_per_row", images_per_row, example=16)
    norm = check_choice("norm", norm, NORM_MODES, "normalisation mode")  # type: ignore[assignment]
    value_range = _check_value_range(value_range, norm, info.channels)
    cmap = check_cmap(cmap)
    title = check_text("title", title)
    if width is not None:
        width = check_number("width", width, maximum=_MAX_WIDTH_IN, example=10)
    image = _pick(engine, x, sample)
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
    x : array-like, tf.data.Dataset or iterable of batches
        One image or a batch; ``sample`` picks the image of a batch. Of a dataset or another
        stream, only the first batch is read, and ``sample`` picks from it.
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

    Raises
    ------
    ConvscopeError
        A subclass that names the problem and the fix, for any argument that cannot work.

    """
    engine = engine_for(model)
    info = engine.layer(check_layer_name(layer))
    check_index("channel", channel, info.channels)
    cmap = check_cmap(cmap)
    title = check_text("title", title)
    image = _pick(engine, x, sample)
    activation = info.channels_last(engine.compute(layer, image)[0])
    channel_map = activation[..., channel] if info.spatial else np.ravel(activation)[[channel]]
    default = f"{info.name} channel {channel} (max {float(channel_map.max()):.3g})"
    figure = channel_figure(channel_map, cmap=cmap, title=title if title is not None else default)
    return _show_in_notebooks(figure)


def _pick(engine: ActivationEngine, x: object, sample: int) -> np.ndarray:
    """Return image ``sample`` of ``x`` (of its first batch, for a stream) as a batch of one."""
    images = first_batch(x, engine.input_shape) if is_stream(x) else as_array(x)
    batch = engine.prepare(images)
    check_index("sample", sample, len(batch))
    return batch[sample : sample + 1]


def _check_value_range(
    value_range: object, norm: str, channels: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return ``value_range`` as two float arrays that fit ``channels``, or raise."""
    if value_range is None:
        if norm == "fixed":
            raise InvalidArgumentError(
                "norm='fixed' needs value_range=(low, high): numbers, or one value per channel, "
                "e.g. ActivationEngine(model).channel_ranges(layer, images)."
            )
        return None
    if norm != "fixed":
        raise InvalidArgumentError(
            f"value_range is only used with norm='fixed'; pass norm='fixed' too, or leave out "
            f"value_range for norm={norm!r}."
        )
    shape_hint = f"numbers, or arrays of {channels} values (one per channel)"
    if not isinstance(value_range, (tuple, list)) or len(value_range) != _PAIR:
        raise ArgumentTypeError(f"value_range must be a pair (low, high) of {shape_hint}.")
    try:
        low, high = (np.asarray(bound, dtype=np.float64) for bound in value_range)
    except (TypeError, ValueError) as error:
        raise ArgumentTypeError(
            f"value_range must be a pair (low, high) of {shape_hint}; got {value_range!r}."
        ) from error
    for bound in (low, high):
        if bound.shape not in ((), (1,), (channels,)):
            raise InvalidArgumentError(
                f"value_range bounds must be {shape_hint}, got shape {bound.shape}."
            )
        if not np.isfinite(bound).all():
            raise InvalidArgumentError("value_range must be finite; NaN and Inf have no colour.")
    if (low > high).any():
        raise InvalidArgumentError(f"value_range must have low <= high, got {value_range!r}.")
    return low, high
