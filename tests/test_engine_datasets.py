"""tf.data datasets, generators and PyDatasets go through the API one batch at a time."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import convscope
from convscope.engine.activations import engine_for
from convscope.engine.datasets import is_stream
from convscope.errors import ImageInputError, LabelError

Digits = tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def digits(mnist_test: Digits) -> Digits:
    images, labels = mnist_test
    return images[:20], labels[:20]


class Batches(keras.utils.PyDataset):
    def __init__(self, images: np.ndarray, size: int) -> None:
        super().__init__()
        self.images, self.size = images, size

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.size)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.images[index * self.size : (index + 1) * self.size]


def test_arrays_lists_and_tensors_are_not_streams(digits: Digits) -> None:
    images, _ = digits
    dataset = tf.data.Dataset.from_tensor_slices(images)
    assert not any(is_stream(x) for x in (images, images.tolist(), tf.constant(images), (1, 2)))
    assert all(is_stream(x) for x in (dataset, iter([images]), Batches(images, 8)))


@pytest.mark.parametrize(
    "make",
    [
        lambda x, _y: tf.data.Dataset.from_tensor_slices(x).batch(6),
        lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)).batch(6),
        lambda x, y: tf.data.Dataset.from_tensor_slices((x[..., None], y, y)).batch(6),
        lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)),  # single images
        lambda x, _y: (x[i : i + 6] for i in range(0, len(x), 6)),
        lambda x, y: ((x[i : i + 6], y[i : i + 6]) for i in range(0, len(x), 6)),
        lambda x, _y: Batches(x, 6),
    ],
    ids=["images", "pairs", "triples", "unbatched", "generator", "pair-generator", "pydataset"],
)
def test_every_stream_gives_what_the_array_gives(
    model: keras.Model, digits: Digits, make: object
) -> None:
    images, labels = digits
    expected = convscope.get_activations(model, images, ["conv1", "predictions"])
    streamed = convscope.get_activations(model, make(images, labels), ["conv1", "predictions"])  # type: ignore[operator]
    assert streamed.keys() == expected.keys()
    for name, values in expected.items():
        np.testing.assert_allclose(streamed[name], values, atol=1e-5)


def test_a_stream_is_computed_one_batch_at_a_time(
    model: keras.Model, digits: Digits, monkeypatch: pytest.MonkeyPatch
) -> None:
    images, _ = digits
    engine = engine_for(model)
    sizes: list[int] = []
    compute_layers = engine.compute_layers

    def spy(layers: tuple[str, ...], batch: object, **options: object) -> list[np.ndarray]:
        sizes.append(len(np.asarray(batch)))
        return compute_layers(layers, batch, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "compute_layers", spy)
    read = []

    def batches():
        for start in range(0, len(images), 8):
            read.append(start)
            assert len(read) == len(sizes) + 1  # the previous batch was computed before this one
            yield images[start : start + 8]

    acts = convscope.get_activations(model, batches(), "pool3", batch_size=3)
    assert sizes == [8, 8, 4]
    assert acts["pool3"].shape == (20, 3, 3, 64)


def test_unbatched_datasets_are_batched_by_batch_size(
    model: keras.Model, digits: Digits, monkeypatch: pytest.MonkeyPatch
) -> None:
    images, _ = digits
    engine = engine_for(model)
    sizes: list[int] = []
    compute_layers = engine.compute_layers
    monkeypatch.setattr(
        engine,
        "compute_layers",
        lambda layers, batch, **options: (
            sizes.append(len(batch))
            or compute_layers(  # type: ignore[func-returns-value]
                layers, batch, **options
            )
        ),
    )
    convscope.get_activations(
        model, tf.data.Dataset.from_tensor_slices(images[..., None]), "conv1", batch_size=16
    )
    assert sizes == [16, 4]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda x: tf.data.Dataset.from_tensor_slices(x).repeat(), "repeats forever"),
        (lambda x: tf.data.Dataset.from_tensor_slices({"image": x}), r"dicts \(\['image'\]\)"),
        (lambda x: tf.data.Dataset.from_tensor_slices(x).take(0), "gave no images"),
        (lambda _x: iter([]), "gave no images"),
        (lambda x: iter([{"image": x}]), "elements are dicts"),
        (lambda x: iter([(x, x, x, x)]), "tuples of 4"),
        (lambda x: iter([x[:4], x[:4, :14]]), r"Batch 1 of the dataset: .* got \(4, 14, 28\)\."),
        (lambda x: tf.data.Dataset.from_tensor_slices(x.astype(float) / 0).batch(5), "NaN or Inf"),
    ],
    ids=["infinite", "dict", "empty", "empty-iter", "dict-iter", "long-tuple", "bad-batch", "nan"],
)
def test_streams_that_cannot_work_are_explained(
    model: keras.Model, digits: Digits, make: object, message: str
) -> None:
    images, _ = digits
    with np.errstate(divide="ignore", invalid="ignore"):
        stream = make(images)  # type: ignore[operator]
    with pytest.raises(ImageInputError, match=message):
        convscope.get_activations(model, stream, "conv1")


def test_plots_of_a_stream_use_its_first_batch(model: keras.Model, digits: Digits) -> None:
    images, labels = digits
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    from_dataset = convscope.plot_feature_maps(model, dataset, "conv1", sample=3)
    from_array = convscope.plot_feature_maps(model, images, "conv1", sample=3)
    np.testing.assert_array_equal(
        from_dataset.axes[0].images[0].get_array(), from_array.axes[0].images[0].get_array()
    )
    with pytest.raises(convscope.IndexOutOfRangeError, match=r"sample 4 .* use 0\.\.3"):
        convscope.plot_channel(model, dataset, "conv1", 0, sample=4)


def test_the_explorer_reads_a_dataset_with_its_labels(model: keras.Model, digits: Digits) -> None:
    images, labels = digits
    dataset = tf.data.Dataset.from_tensor_slices((images, np.eye(10)[labels])).batch(8)
    explorer = convscope.Explorer(model, dataset, figure="none")
    assert explorer.sample_count == 20
    np.testing.assert_array_equal(explorer._controller.labels, labels)
    np.testing.assert_array_equal(explorer._controller.images[..., 0], images)
    single = (  # a generator of (image, label) pairs, one image each
        (image, label) for image, label in zip(images[:3], labels[:3], strict=True)
    )
    assert convscope.Explorer(model, single, figure="none").sample_count == 3
    mixed = iter([(images[:2], labels[:2]), images[2:4]])
    with pytest.raises(LabelError, match="Some batches of the dataset have labels"):
        convscope.Explorer(model, mixed, figure="none")
