"""The static API of data-set insight: what channels do over many images, and where they look.

Also the confusion matrix: where the model fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from convscope.data.labels import check_class_names, class_labels
from convscope.engine.activations import DEFAULT_BATCH_SIZE, engine_for
from convscope.engine.inputs import check_images
from convscope.engine.insight import TOP_KEPT, ChannelStats, confusion_counts
from convscope.engine.insight import channel_stats as _stream_stats
from convscope.engine.receptive import Box
from convscope.engine.receptive import receptive_field as _receptive_field
from convscope.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    LabelError,
    check_index,
    check_int,
    check_layer_name,
    check_layer_names,
    check_real,
)
from convscope.notebook_figures import show_in_notebooks
from convscope.render.insight import confusion_figure, top_images_figure

__all__ = [
    "ChannelStats",
    "channel_stats",
    "confusion",
    "dead_channels",
    "plot_confusion",
    "plot_top_images",
    "receptive_field",
    "top_images",
]


def channel_stats(
    model: Any,
    images: object,
    layer: str,
    *,
    batch_size: int | None = None,
    progress: bool = True,
    strategy: object = None,
    key: object = None,
    top_kept: int = TOP_KEPT,
) -> ChannelStats:
    """Summarise every channel of ``layer`` over a data set, in one streamed pass, remembered.

    Parameters
    ----------
    model : keras.Model
        A built model with one image input.
    images : array-like or stream
        The data set, in the units the model takes (the 10,000 MNIST test digits, say): an
        array, or a ``tf.data.Dataset``, generator or ``keras.utils.PyDataset`` of any length,
        read once, one batch at a time.
    layer : str
        A layer with channels: maps ``(H, W, C)`` or a vector of units.
    batch_size : int, optional
        Images per compiled call (per replica under a strategy), kept as given; a stream's
        smaller batches are joined up to it, in order, and a larger one is kept whole. By
        default (``None``) 256, lowered for a model whose layer outputs for 256 images would
        pass 64 MiB, but not below 64 (ResNet50 at 96 px gets 64, the bundled CNN 256), and a
        stream's batches are joined only within those 64 MiB.
    progress : bool
        Show Keras's progress bar: the count, the time per image, an ETA when the length is
        known.
    strategy : tf.distribute.Strategy, optional
        Run on its replicas (several GPUs, or machines with ``MultiWorkerMirroredStrategy``);
        by default the one of an enclosing ``strategy.scope()``, if any. The results are those
        of one device, bit for bit.
    key : hashable, optional
        Your name for a stream's data, to remember its summary: a promise that the stream gives
        the same images in the same order whenever that key is passed. Arrays need none.
    top_kept : int
        Best images kept per channel of a stream (an array keeps every image's peak).

    Returns
    -------
    ChannelStats
        ``.max``, ``.mean`` and ``.active_fraction`` per channel, ``.dead()`` and ``.top()``,
        and ``.peaks``: each image's spatial maximum of each channel ``(N, C)`` (``None`` for a
        stream: its memory does not grow with its length).

    Notes
    -----
    A pass is remembered per model weights, data set and layer (see
    :mod:`convscope.engine.pass_memo`): asking again, or :func:`top_images` of any channel,
    costs no new pass until the weights or the array's content change.

    """
    engine = engine_for(model)
    name = check_layer_name(layer)
    size = _pass_batch_size(batch_size)
    kept = check_int("top_kept", top_kept, minimum=1, example=100)
    return _stream_stats(
        engine,
        (name,),
        images,
        batch_size=size,
        progress=progress,
        strategy=strategy,
        key=key,
        top_kept=kept,
    )[engine.layer(name).name]


def _pass_batch_size(value: object) -> int | None:
    """Return a pass's ``batch_size``: ``None`` (convscope chooses) or a positive integer.

    Raises
    ------
    ArgumentTypeError
        Not an integer (``True`` and ``8.0`` are refused).
    InvalidArgumentError
        Below 1.

    """
    if value is None:
        return None
    try:
        return check_int("batch_size", value, minimum=1, example=256)
    except (ArgumentTypeError, InvalidArgumentError) as error:
        problem = "is not an integer" if isinstance(error, ArgumentTypeError) else "is below 1"
        raise type(error)(
            f"batch_size={value!r} {problem}: pass a number of images per call, such as "
            "batch_size=256, or leave it out (batch_size=None) for 256, fewer for a large "
            "model (not below 64)."
        ) from None


def dead_channels(
    model: Any,
    images: object,
    layers: str | Iterable[str] | None = None,
    *,
    threshold: float = 0.0,
    batch_size: int | None = None,
    progress: bool = True,
    strategy: object = None,
    key: object = None,
) -> dict[str, list[int]]:
    """List, per layer, the channels that carry nothing over the data set: dead ones.

    A channel is dead when it is off on every image (never above ``threshold``, and never
    below 0: a ReLU that never fires) or constant (one value at every position of every
    image). A channel that goes negative and varies, as a convolution with no activation may,
    is not dead however low it stays; one that is NaN or Inf everywhere is not dead either
    (``channel_stats(...).non_finite`` lists those).

    Parameters
    ----------
    model : keras.Model
        A built model with one image input.
    images : array-like or stream
        The data set, as :func:`channel_stats` takes it.
    layers : str or iterable of str, optional
        The layers to check; by default every layer with a spatial output. All are computed in
        one forward pass per batch (those remembered from an earlier pass are not).
    threshold : float
        A channel that never goes below 0 is dead when its spatial maximum is at most this
        on every image. Finite: NaN is refused.
    batch_size, progress, strategy, key
        As :func:`channel_stats`.

    Returns
    -------
    dict of str to list of int
        Layer name to its dead channels (an empty list when every channel fires somewhere).

    """
    engine = engine_for(model)
    level = check_real("threshold", threshold, 0.0)
    size = _pass_batch_size(batch_size)
    wanted = check_layer_names(layers)
    if wanted is None:
        names = tuple(info.name for info in engine.layers if info.spatial)
    else:
        names = tuple(engine.layer(name).name for name in wanted)
    stats = _stream_stats(
        engine, names, images, batch_size=size, progress=progress, strategy=strategy, key=key
    )
    return {name: summary.dead(level) for name, summary in stats.items()}


def top_images(
    model: Any,
    images: object,
    layer: str,
    channel: int,
    k: int = 9,
    *,
    batch_size: int | None = None,
    progress: bool = True,
    strategy: object = None,
    key: object = None,
) -> np.ndarray:
    """Return the indices of the ``k`` images that excite one channel most, highest first.

    "Most" is the channel's spatial maximum on the image; ties go to the lower index. The pass
    over the data set is remembered (see :func:`channel_stats`), so a loop over every channel
    of a layer costs one pass.

    Raises
    ------
    NotSpatialLayerError
        A layer with no channels (neither maps nor units).
    IndexOutOfRangeError
        ``channel`` outside the layer's channels.

    """
    engine = engine_for(model)
    info = engine.layer(check_layer_name(layer))
    channel = check_index("channel", channel, max(info.channels, 1))
    count = check_int("k", k, minimum=1, example=9)
    stats = channel_stats(
        model,
        images,
        layer,
        batch_size=batch_size,
        progress=progress,
        strategy=strategy,
        key=key,
        top_kept=max(count, TOP_KEPT),
    )
    return stats.top(channel, count)


def confusion(
    model: Any,
    images: object,
    labels: object,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
) -> np.ndarray:
    """Return the confusion matrix ``(classes, classes)``: rows true, columns predicted.

    The images are streamed through the model's compiled pass one batch at a time, each
    batch converted to float32 on its own: only the running counts are kept, so a large
    uint8 data set is never copied whole. The matrix is remembered as passes are (see
    :func:`channel_stats`), keyed also on the labels: asking again about the same weights,
    images and labels runs no pass.

    Parameters
    ----------
    model : keras.Model
        A classifier: its (selected) output is one score per class.
    images : array-like
        The data set.
    labels : array-like
        One label per image: class indices or one-hot rows.
    batch_size : int
        Images per compiled call.
    progress : bool
        Show Keras's progress bar.

    Raises
    ------
    LabelError
        Labels and images of different lengths, or labels that are not classes of the model.

    """
    engine = engine_for(model)
    batch = check_images(images, engine.input_shape)  # uint8 stays uint8: no float copy
    size = check_int("batch_size", batch_size, minimum=1, example=256)
    shape = engine.output_shape
    if len(shape) != 1 or not shape[0] or shape[0] < 2:  # noqa: PLR2004
        raise LabelError(
            f"A confusion matrix needs a classifier, and the model's output has shape {shape}, "
            "not one score per class."
        )
    classes = int(shape[0])
    truth, _ = class_labels(labels, None, samples=len(batch), classes=classes)
    if truth is None:
        raise ArgumentTypeError("labels is None; pass one label per image.")
    return confusion_counts(engine, batch, truth, classes, batch_size=size, progress=progress)


def receptive_field(model: Any, layer: str, unit: tuple[int, int]) -> Box:
    """Return the input pixels that can influence one unit: ``(top, left, bottom, right)``.

    Half-open like a slice (``image[top:bottom, left:right]``) and clipped to the image. It is
    computed from the kernel sizes, strides, dilations, padding and pooling of the layers from
    the input to ``layer``.

    Raises
    ------
    NotSpatialLayerError
        ``layer`` has no maps.
    IndexOutOfRangeError
        ``unit`` is outside its maps.
    ModelNotSupportedError
        The way to ``layer`` is not one chain of convolutions, pooling and per-pixel layers.

    """
    engine = engine_for(model)
    info = engine.layer(check_layer_name(layer))
    if not isinstance(unit, Sequence) or len(unit) != 2:  # noqa: PLR2004
        raise ArgumentTypeError(f"unit must be (row, col), got {unit!r}; e.g. (3, 4).")
    return _receptive_field(engine.graph, info.name, (unit[0], unit[1]))


def plot_top_images(
    model: Any,
    images: object,
    layer: str,
    channel: int,
    k: int = 9,
    *,
    batch_size: int | None = None,
    progress: bool = True,
) -> Figure:
    """Draw the ``k`` images that excite one channel most, each with its peak's receptive field.

    The box on each image outlines the input pixels that can reach the unit where the channel
    peaks on it, and under each image that crop of it is shown enlarged: what the unit saw
    (layers of units, such as ``Dense``, get neither box nor crop).
    """
    engine = engine_for(model)
    batch = engine.prepare(images)
    # The images as given, not their float32 copy: the pass of an earlier top_images or
    # channel_stats on them is remembered under their own bytes.
    best = top_images(model, images, layer, channel, k, batch_size=batch_size, progress=progress)
    info = engine.layer(layer)
    maps = engine.compute(info.name, batch[best])
    values = np.stack([info.channels_last(m) if info.spatial else m for m in maps])
    boxes = None
    if info.spatial:
        plane = values[..., channel].reshape(len(best), -1)
        width = values.shape[2]
        boxes = [
            _receptive_field(engine.graph, info.name, divmod(int(spot), width))
            for spot in plane.argmax(axis=1)
        ]
        peaks = plane.max(axis=1)
    else:
        peaks = values[:, channel]
    unit = "channel" if info.spatial else "unit"
    figure = top_images_figure(
        batch[best],
        best.tolist(),
        peaks.tolist(),
        boxes,
        title=f"the {len(best)} images that excite {unit} {channel} of {info.name} most"
        + ("; under each, its peak's receptive field" if info.spatial else ""),
    )
    return show_in_notebooks(figure)


def plot_confusion(
    model: Any,
    images: object,
    labels: object,
    class_names: Sequence[str] | None = None,
    *,
    progress: bool = True,
) -> Figure:
    """Draw the confusion matrix of a classifier on a data set (see :func:`confusion`)."""
    shape = engine_for(model).output_shape
    if class_names is not None and len(shape) == 1:  # checked before the pass over the data
        check_class_names(class_names, shape[0])
    counts = confusion(model, images, labels, progress=progress)
    names = check_class_names(class_names, len(counts))  # the Explorer's rule, one for all
    return show_in_notebooks(confusion_figure(counts, names))
