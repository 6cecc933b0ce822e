"""Read images from a tf.data.Dataset or any other stream of batches, one numpy batch at a time.

Arrays, lists and tensors are one batch and are read whole. A ``tf.data.Dataset``, a generator,
an iterator or a ``keras.utils.PyDataset`` is a stream: its elements are image batches, or
``(images, labels)`` and ``(images, labels, weights)`` tuples as ``model.fit`` takes them. A
dataset of single images is batched here. Nothing keeps more than one batch of images.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import keras
import numpy as np
import tensorflow as tf

from convscope.engine.inputs import as_image_batch
from convscope.errors import ImageInputError, LabelError

_MAX_PARTS = 3  # (images, labels, sample weights), as Keras unpacks a batch
_GREY = 1


def is_stream(images: object) -> bool:
    """Whether ``images`` is a stream of batches rather than one array-like."""
    if isinstance(images, tf.data.Dataset):
        return True
    if isinstance(images, (str, bytes, list, tuple, set, frozenset, Mapping, np.ndarray)):
        return False
    return not hasattr(images, "__array__") and isinstance(images, Iterable)


def as_array(images: object) -> np.ndarray:
    """Return array-like ``images`` as one numpy array, or raise a clear error.

    Raises
    ------
    ImageInputError
        For ``None``, strings, dicts, and lists that numpy cannot read as one array.

    """
    if images is None or isinstance(images, (str, bytes, Mapping, set, frozenset)):
        raise ImageInputError(
            f"Images must be an array such as (N, H, W, C) pixels, a tensor or a "
            f"tf.data.Dataset, got {type(images).__name__}: {_short(images)}."
        )
    try:
        return np.asarray(images)
    except (ValueError, TypeError) as error:
        raise ImageInputError(
            f"Images could not be read as one array ({error}). Make them one size and stack "
            "them, e.g. np.stack([convscope.load_image(path, size=(H, W)) for path in paths])."
        ) from error


def image_batches(
    images: object, input_shape: tuple[int | None, ...], batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yield ``(images, labels)`` numpy batches from a stream; ``labels`` is ``None`` if absent.

    Parameters
    ----------
    images : tf.data.Dataset or iterable
        The stream, as :func:`is_stream` tells it apart.
    input_shape : tuple
        The model's input shape without the batch axis: it tells single images from batches.
    batch_size : int
        Images per batch for a dataset of single images.

    Raises
    ------
    ImageInputError
        For a dataset that repeats forever, or elements that are not images or tuples.

    """
    if isinstance(images, tf.data.Dataset):
        # Two batches made ahead, on tf.data's own threads, while the caller computes one.
        images = _batched(images, input_shape, batch_size).prefetch(2).as_numpy_iterator()
    elif _endless(images):
        raise ImageInputError(
            f"{type(images).__name__} has no end (num_batches is None); give it a length, or "
            "pass the batches you want, e.g. [dataset[i] for i in range(10)]."
        )
    for element in images:  # type: ignore[attr-defined]
        yield _split(element)


def first_batch(images: object, input_shape: tuple[int | None, ...]) -> np.ndarray:
    """Return the images of a stream's first batch (a dataset of single images: up to 256).

    Raises
    ------
    ImageInputError
        When the stream is empty, or as :func:`image_batches` does.

    """
    for batch, _ in image_batches(images, input_shape, 256):
        return batch
    raise ImageInputError("The dataset gave no images; pass at least one batch.")


def collect(
    images: object, input_shape: tuple[int | None, ...], batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a whole stream into one float32 image array and, if it has them, one label array.

    For the Explorer, which scrubs through every image and so keeps them all.

    Raises
    ------
    ImageInputError
        When the stream is empty or holds bad images.
    LabelError
        When only some batches have labels, or their labels differ in shape.

    """
    image_parts, label_parts = [], []
    for number, (batch, labels) in enumerate(image_batches(images, input_shape, batch_size)):
        try:
            prepared = as_image_batch(batch, input_shape)
        except ImageInputError as error:
            raise ImageInputError(f"Batch {number} of the dataset: {error}") from error
        image_parts.append(prepared)
        if labels is not None:
            label_parts.append(_batch_labels(labels, len(prepared)))
    if not image_parts:
        raise ImageInputError("The dataset gave no images; pass at least one batch.")
    if label_parts and len(label_parts) != len(image_parts):
        raise LabelError(
            "Some batches of the dataset have labels and some do not; give every batch labels, "
            "or none."
        )
    all_labels = _concatenate_labels(label_parts) if label_parts else None
    return np.concatenate(image_parts), all_labels


def _batched(
    dataset: tf.data.Dataset, input_shape: tuple[int | None, ...], batch_size: int
) -> tf.data.Dataset:
    if int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise ImageInputError(
            "The dataset repeats forever (.repeat() without a count); take a finite part, e.g. "
            "dataset.take(100)."
        )
    spec = dataset.element_spec
    if isinstance(spec, (tuple, list)) and 1 <= len(spec) <= _MAX_PARTS:
        spec = spec[0]
    if isinstance(spec, Mapping):
        raise ImageInputError(
            f"The dataset's elements are dicts ({sorted(spec)}); map them to images or "
            "(images, labels) first, e.g. dataset.map(lambda d: (d['image'], d['label']))."
        )
    if not isinstance(spec, tf.TensorSpec):
        raise ImageInputError(
            f"The dataset's elements are {spec}, not image tensors or (images, labels) pairs; "
            "map them to that first, e.g. dataset.map(lambda x, y: (x, y))."
        )
    return dataset.batch(batch_size) if _one_image(spec.shape, input_shape) else dataset


def _endless(images: object) -> bool:
    """Whether ``images`` is a ``keras.utils.PyDataset`` that has no end."""
    if not isinstance(images, keras.utils.PyDataset):
        return False
    try:
        return images.num_batches is None
    except NotImplementedError:  # neither num_batches nor __len__: it iterates forever
        return True


def _one_image(shape: tf.TensorShape, input_shape: tuple[int | None, ...]) -> bool:
    """Whether elements of ``shape`` are single images that fit the model.

    ``(H, W, C)``, or ``(H, W)`` for a grey model, every size known: a batch has an unknown
    first axis, and a single image of unknown size cannot be batched with the others anyway.
    """
    if shape.rank is None:
        return False
    dims = shape.as_list()
    if input_shape[-1] == _GREY and len(dims) == len(input_shape) - 1:
        dims = [*dims, _GREY]
    return len(dims) == len(input_shape) and all(
        got is not None and want in (None, got) for got, want in zip(dims, input_shape, strict=True)
    )


def _split(element: object) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(element, Mapping):
        raise ImageInputError(
            f"The stream's elements are dicts ({sorted(element)}); yield images or "
            "(images, labels) tuples instead."
        )
    if isinstance(element, (tuple, list)):
        if not 1 <= len(element) <= _MAX_PARTS:
            raise ImageInputError(
                f"The stream's elements are tuples of {len(element)}; yield image batches or "
                "(images, labels) tuples, as model.fit takes them."
            )
        labels = element[1] if len(element) > 1 and element[1] is not None else None
        return as_array(element[0]), None if labels is None else np.asarray(labels)
    return as_array(element), None


def _batch_labels(labels: np.ndarray, count: int) -> np.ndarray:
    """Give a single image's label (a scalar, or a one-hot row) its batch axis."""
    if labels.ndim == 0 or (count == 1 and len(labels) != 1):
        return labels[np.newaxis]
    return labels


def _concatenate_labels(parts: list[np.ndarray]) -> np.ndarray:
    try:
        return np.concatenate(parts)
    except ValueError as error:
        raise LabelError(
            f"The dataset's labels differ in shape from batch to batch ({error}); give every "
            "batch labels of one kind: class indices (N,) or one-hot rows (N, classes)."
        ) from error


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def stream_length(
    images: object, input_shape: tuple[int | None, ...]
) -> tuple[int | None, int | None]:
    """Return what a stream says of its length: ``(images, None)``, ``(None, batches)``, or neither.

    A ``tf.data.Dataset`` of single images knows its images; one of batches, and a
    ``keras.utils.PyDataset``, know their batches; a generator knows nothing.
    """
    if isinstance(images, tf.data.Dataset):
        count = int(images.cardinality())
        if count < 0:  # unknown, or infinite (refused when read)
            return None, None
        spec = images.element_spec
        if isinstance(spec, (tuple, list)) and 1 <= len(spec) <= _MAX_PARTS:
            spec = spec[0]
        single = isinstance(spec, tf.TensorSpec) and _one_image(spec.shape, input_shape)
        return (count, None) if single else (None, count)
    if isinstance(images, keras.utils.PyDataset) and not _endless(images):
        return None, int(images.num_batches)
    return None, None
