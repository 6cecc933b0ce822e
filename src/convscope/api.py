"""The static API for scripts: activations as numpy arrays and feature maps as figures.

Also the views that look deeper (Grad-CAM, activation heatmaps, filter patterns and class
maximisation), all computed by :mod:`convscope.engine.gradients`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from convscope.data.labels import check_class_names
from convscope.engine.activations import ActivationEngine, engine_for
from convscope.engine.datasets import as_array, first_batch, image_batches, is_stream
from convscope.engine.gradients import gradients_for
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
from convscope.notebook_figures import show_in_notebooks
from convscope.render.figures import Layout, channel_figure, feature_maps_figure
from convscope.render.mosaic import check_cmap
from convscope.render.normalise import NORM_MODES, NormMode
from convscope.render.overlays import image_grid_figure, overlay_figure

_MAX_WIDTH_IN = 100.0  # wider figures are mistakes, and a pain to draw
_PAIR = 2


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
    return show_in_notebooks(figure)


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
    return show_in_notebooks(figure)


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


# ----- looking deeper: which pixels, which patterns ----------------------------------------------
InputRange = tuple[float, float]
PIXELS: InputRange = (0.0, 255.0)  # raw pixels, as the bundled model takes them


def grad_cam(
    model: Any,
    x: object,
    class_index: int | Sequence[int] | None = None,
    layer: str | None = None,
) -> np.ndarray:
    """Return where the model looked for a class: Grad-CAM, at the input's resolution.

    Selvaraju et al. (2017), as Chollet writes it out: the gradient of the class score with
    respect to ``layer``'s maps, averaged over space, weights the maps; their sum, through a
    ReLU, is upsampled bilinearly to the input and divided by its maximum (unless that is 0).
    The class score is taken *before* the softmax (see :mod:`convscope.engine.gradients` for
    how it is found), so confident predictions still have gradients.

    Parameters
    ----------
    model : keras.Model
        A built classifier with one image input.
    x : array-like
        One image or a batch, in the units the model takes.
    class_index : int or sequence of int, optional
        The class to explain, or one per image. By default each image's predicted class.
    layer : str, optional
        Layer name or nested path. By default the last layer with a spatial output, passing
        over pooling layers and whole nested models (``conv3`` on the bundled CNN).

    Returns
    -------
    np.ndarray
        float32 in [0, 1]: ``(H, W)`` for one image, ``(N, H, W)`` for a batch.

    Raises
    ------
    ModelNotSupportedError
        A model with no spatial layer, or whose class scores cannot be read before a softmax.
    NotSpatialLayerError
        ``layer`` has no maps (a ``Dense`` layer, say).
    IndexOutOfRangeError
        ``class_index`` outside ``0 .. classes - 1``.

    Examples
    --------
    >>> heat = convscope.grad_cam(model, images[0])              # the predicted class
    >>> heat = convscope.grad_cam(model, images[0], class_index=3, layer="conv2")

    """
    gradients = gradients_for(model)
    batch = gradients.engine.prepare(x)
    classes = gradients.classes(class_index, len(batch))
    maps, _, _ = gradients.grad_cam(batch, classes, layer)
    return maps[0] if _is_one_image(x, gradients.engine.input_shape) else maps


def activation_heatmap(model: Any, x: object, layer: str) -> np.ndarray:
    """Return ``layer``'s mean over its channels, upsampled bilinearly to the input, in [0, 1].

    keract's ``display_heatmaps``, merged: where the layer responds at all, whatever the class.
    Each map is scaled by its own minimum and maximum; a flat map is all zeros.

    Parameters
    ----------
    model : keras.Model
        A built model with one image input.
    x : array-like
        One image or a batch, in the units the model takes.
    layer : str
        Layer name or nested path of a layer with a spatial output.

    Returns
    -------
    np.ndarray
        float32: ``(H, W)`` for one image, ``(N, H, W)`` for a batch.

    """
    gradients = gradients_for(model)
    maps = gradients.heatmap(gradients.engine.prepare(x), layer)
    return maps[0] if _is_one_image(x, gradients.engine.input_shape) else maps


def filter_patterns(
    model: Any,
    layer: str,
    channels: int | Sequence[int] | None = None,
    *,
    steps: int = 20,
    size: int | tuple[int, int] | None = None,
    seed: int = 0,
    input_range: InputRange = PIXELS,
    progress: bool = True,
) -> np.ndarray:
    """Return, per channel, an image that excites it: gradient ascent from seeded noise.

    All the channels ascend together, one image each in one batch (in a few batches when the
    layer is large), on the mean activation of the image's own channel, plus a fifth of its
    pre-activation where one exists (a leaky ReLU's gradient, so a unit that is off everywhere
    can still climb). Steps are normalised and shrink from 10 % to 1 % of ``input_range``,
    and the images are kept inside it, so a pattern is an input the model could really get.

    Results are cached on disk, keyed by a hash of the model's weights, the layer and these
    settings, under ``$CONVSCOPE_CACHE_DIR/patterns``, else ``$XDG_CACHE_HOME/convscope/patterns``,
    else ``~/.cache/convscope/patterns``.

    Parameters
    ----------
    model : keras.Model
        A built model with one image input.
    layer : str
        Layer name or nested path of a layer with a spatial output.
    channels : int or sequence of int, optional
        Which channels; all by default.
    steps : int
        Gradient steps (about 2 s each for 64 channels of a 160-pixel VGG-like layer on two
        cores; far less for the bundled CNN).
    size : int or (height, width), optional
        Pattern size, for models that take any size; by default the model's input size.
    seed : int
        Seeds the starting noise; channel ``c`` always starts from the same image.
    input_range : (low, high)
        The values the model takes: ``(0, 255)`` for raw pixels (the bundled model, and any
        model that starts with a ``Rescaling(1/255)`` layer); ``(0, 1)`` or ``(-1, 1)`` for
        models that take scaled images.
    progress : bool
        Show Keras's progress bar.

    Returns
    -------
    np.ndarray
        ``(C, H, W, input_channels)`` float32 in [0, 1]: ``low + pattern * (high - low)`` is
        the input in the model's units.

    Raises
    ------
    NotSpatialLayerError
        ``layer`` has no maps.
    IndexOutOfRangeError
        A channel outside the layer's.

    """
    return gradients_for(model).filter_patterns(
        layer,
        [channels] if isinstance(channels, (int, np.integer)) else channels,
        steps=steps,
        size=(size, size) if isinstance(size, (int, np.integer)) else size,
        seed=seed,
        input_range=input_range,
        progress=progress,
    )


def maximize_class(
    model: Any,
    class_index: int | Sequence[int],
    *,
    steps: int = 30,
    seed: int = 0,
    input_range: InputRange = PIXELS,
    progress: bool = True,
) -> np.ndarray:
    """Return the input that maximises a class score before the softmax (the linear swap).

    Gradient ascent from seeded smooth noise on the class's score before the softmax, as
    Simonyan et al. (2013) do: maximising the probability instead would mostly push the other
    classes down. Three light regularisers make the image look like something: random jitter
    of up to 1/14 of the image, a slight blur every fourth step (neither in the last quarter of
    the steps), and a pull of 2 % a step towards the model's zero input (an L2 penalty; black,
    for raw pixels), clipped into ``input_range``.

    Parameters
    ----------
    model : keras.Model
        A built classifier with one image input.
    class_index : int or sequence of int
        One class, or several (ascended together in one batch).
    steps : int
        Gradient steps.
    seed : int
        Seeds the starting noise and the jitter.
    input_range : (low, high)
        The values the model takes; see :func:`filter_patterns`.
    progress : bool
        Show Keras's progress bar.

    Returns
    -------
    np.ndarray
        float32 in [0, 1]: ``(H, W, input_channels)`` for one class, ``(K, H, W,
        input_channels)`` for several.

    """
    gradients = gradients_for(model)
    one = np.ndim(class_index) == 0
    classes = gradients.classes(class_index, int(np.size(class_index)))
    images = gradients.maximize_class(
        classes, steps=steps, seed=seed, input_range=input_range, progress=progress
    )
    return images[0] if one else images


def plot_grad_cam(
    model: Any,
    x: object,
    class_index: int | None = None,
    layer: str | None = None,
    *,
    sample: int = 0,
    cmap: str = "jet",
    alpha: float = 0.5,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Draw the input and its Grad-CAM over it, with alpha and a colormap.

    Parameters are those of :func:`grad_cam`, and ``sample`` picks the image of a batch;
    ``class_names`` names classes in the default title.

    Returns
    -------
    matplotlib.figure.Figure

    """
    title = check_text("title", title)
    gradients = gradients_for(model)
    name = _class_namer(class_names, gradients.class_count)
    image = _pick(gradients.engine, x, sample)
    info = gradients.spatial_layer(layer, "Grad-CAM")
    maps, chosen, predicted = gradients.grad_cam(
        image, gradients.classes(class_index, 1), info.name
    )
    verdict = (
        "the predicted class"
        if chosen[0] == predicted[0]
        else f"predicted {name(int(predicted[0]))}"
    )
    default = f"Grad-CAM of class {name(int(chosen[0]))} ({verdict}) at {info.name}"
    figure = overlay_figure(
        image[0],
        maps[0],
        cmap=cmap,
        alpha=alpha,
        title=title if title is not None else default,
        label="Grad-CAM",
    )
    return show_in_notebooks(figure)


def plot_heatmap(
    model: Any,
    x: object,
    layer: str,
    *,
    sample: int = 0,
    cmap: str = "jet",
    alpha: float = 0.5,
    title: str | None = None,
) -> Figure:
    """Draw the input and ``layer``'s activation heatmap over it (see :func:`activation_heatmap`).

    Returns
    -------
    matplotlib.figure.Figure

    """
    title = check_text("title", title)
    gradients = gradients_for(model)
    image = _pick(gradients.engine, x, sample)
    info = gradients.spatial_layer(layer, "An activation heatmap")
    heat = gradients.heatmap(image, info.name)[0]
    default = f"Mean activation of {info.name} ({info.kind}, {info.shape_text})"
    figure = overlay_figure(
        image[0],
        heat,
        cmap=cmap,
        alpha=alpha,
        title=title if title is not None else default,
        label="mean activation",
    )
    return show_in_notebooks(figure)


def plot_filter_patterns(
    model: Any,
    layer: str,
    channels: int | Sequence[int] | None = None,
    *,
    images_per_row: int = 16,
    steps: int = 20,
    size: int | tuple[int, int] | None = None,
    seed: int = 0,
    input_range: InputRange = PIXELS,
    progress: bool = True,
    title: str | None = None,
    width: float | None = None,
) -> Figure:
    """Draw :func:`filter_patterns` in a grid tiled like the layer's feature maps.

    Returns
    -------
    matplotlib.figure.Figure

    """
    patterns = filter_patterns(
        model,
        layer,
        channels,
        steps=steps,
        size=size,
        seed=seed,
        input_range=input_range,
        progress=progress,
    )
    info = engine_for(model).layer(layer)
    default = f"What excites each channel of {info.name} ({info.kind}, {info.shape_text})"
    figure = image_grid_figure(
        patterns,
        images_per_row=images_per_row,
        title=title if title is not None else default,
        width=width,
    )
    return show_in_notebooks(figure)


def plot_maximize_class(
    model: Any,
    class_index: int | Sequence[int] | None = None,
    *,
    images_per_row: int = 10,
    steps: int = 30,
    seed: int = 0,
    input_range: InputRange = PIXELS,
    class_names: Sequence[str] | None = None,
    progress: bool = True,
    title: str | None = None,
    width: float | None = None,
) -> Figure:
    """Draw :func:`maximize_class` for some classes (all of them by default), labelled.

    Returns
    -------
    matplotlib.figure.Figure

    """
    gradients = gradients_for(model)
    name = _class_namer(class_names, gradients.class_count)
    wanted = (
        list(range(gradients.class_count))
        if class_index is None
        else np.atleast_1d(class_index).tolist()
    )
    images = maximize_class(
        model, wanted, steps=steps, seed=seed, input_range=input_range, progress=progress
    )
    figure = image_grid_figure(
        images,
        images_per_row=images_per_row,
        labels=[name(int(c)) for c in wanted],
        title=title if title is not None else "The input each class scores highest",
        width=width,
    )
    return show_in_notebooks(figure)


def _is_one_image(x: object, input_shape: tuple[int | None, ...]) -> bool:
    """Whether ``x`` is one image (no batch axis), as ``check_images`` reads it."""
    shape = np.shape(np.asarray(x))
    grey_without_channel = input_shape[-1] == 1 and len(shape) in (2, 3) and shape[-1] != 1
    return len(shape) + grey_without_channel == len(input_shape)


def _class_namer(class_names: Sequence[str] | None, classes: int) -> Callable[[int], str]:
    """Name classes by ``class_names``, checked as the Explorer checks them; else by index."""
    if class_names is None:
        return str
    names = check_class_names(class_names, classes)
    return lambda index: names[index] if index < len(names) else str(index)
