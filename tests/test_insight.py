"""Data-set insight against brute-force numpy references, on the 10,000 real MNIST test digits."""

from __future__ import annotations

import tracemalloc

import keras
import numpy as np
import pytest

import convscope
from convscope.engine.pass_memo import PASS_MEMO
from convscope.errors import IndexOutOfRangeError, LabelError, NotSpatialLayerError

LAYERS = ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3"]


@pytest.fixture(scope="module")
def brute_peaks(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """Each digit's maximum of each channel, every layer, from one plain Keras model."""
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in LAYERS])
    outputs = probe.predict(mnist_test[0], batch_size=500, verbose=0)
    return {name: out.max(axis=(1, 2)) for name, out in zip(LAYERS, outputs, strict=True)}


def test_dead_channels_agree_with_brute_force_on_the_bundled_cnn(
    model: keras.Model,
    mnist_test: tuple[np.ndarray, np.ndarray],
    brute_peaks: dict[str, np.ndarray],
) -> None:
    found = convscope.dead_channels(model, mnist_test[0], progress=False)
    assert set(found) == {"rescale", *LAYERS}
    for name in LAYERS:
        assert found[name] == np.flatnonzero((brute_peaks[name] <= 0).all(axis=0)).tolist(), name
    assert found["conv3"]  # the bundled CNN has a channel that never fires on the test set


def test_dead_channels_finds_exactly_the_channels_killed(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    killed = keras.models.clone_model(model)
    killed.set_weights(model.get_weights())
    for name, channels in {"conv1": [2, 11], "conv2": [0, 30, 47]}.items():
        kernel, bias = killed.get_layer(name).get_weights()
        kernel[..., channels] = 0.0
        bias[channels] = -0.5
        killed.get_layer(name).set_weights([kernel, bias])
    before = convscope.dead_channels(
        model, mnist_test[0][:2000], ["conv1", "conv2"], progress=False
    )
    found = convscope.dead_channels(
        killed, mnist_test[0][:2000], ["conv1", "conv2"], progress=False
    )
    assert before == {"conv1": [], "conv2": []}
    assert found == {"conv1": [2, 11], "conv2": [0, 30, 47]}
    loose = convscope.dead_channels(
        killed, mnist_test[0][:2000], "conv1", threshold=1e9, progress=False
    )
    assert loose == {"conv1": list(range(24))}  # nothing reaches a threshold that high


@pytest.mark.parametrize(
    ("layer", "channel"), [("conv1", 3), ("conv2", 5), ("conv3", 17), ("pool2", 40)]
)
def test_top_images_agree_with_argsort_over_the_test_set(
    model: keras.Model,
    mnist_test: tuple[np.ndarray, np.ndarray],
    brute_peaks: dict[str, np.ndarray],
    layer: str,
    channel: int,
) -> None:
    top = convscope.top_images(model, mnist_test[0], layer, channel, k=9, progress=False)
    expected = np.argsort(-brute_peaks[layer][:, channel], kind="stable")[:9]
    # The compiled and the plain pass may differ in the last bits: compare the peaks exactly
    # where the order is unambiguous, and the indices themselves.
    np.testing.assert_allclose(
        brute_peaks[layer][top, channel], brute_peaks[layer][expected, channel], rtol=1e-5
    )
    assert top.tolist() == expected.tolist()


def test_ties_go_to_the_lower_index(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    digit = mnist_test[0][7]
    images = np.stack([mnist_test[0][0], digit, mnist_test[0][1], digit, digit])
    stats = convscope.channel_stats(model, images, "conv2", progress=False)
    best = int(stats.peaks[:, 0].argmax())
    ties = np.flatnonzero(stats.peaks[:, 0] == stats.peaks[best, 0])
    top = convscope.top_images(model, images, "conv2", 0, k=len(ties), progress=False)
    assert top.tolist() == sorted(top.tolist()) == ties.tolist()


def test_channel_stats_are_the_per_channel_summaries(
    model: keras.Model,
    mnist_test: tuple[np.ndarray, np.ndarray],
    brute_peaks: dict[str, np.ndarray],
) -> None:
    images = mnist_test[0][:3000]
    stats = convscope.channel_stats(model, images, "conv2", progress=False)
    probe = keras.Model(model.inputs, model.get_layer("conv2").output)
    maps = probe.predict(images, batch_size=500, verbose=0)
    np.testing.assert_allclose(stats.max, maps.max(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(
        stats.mean, maps.mean(axis=(0, 1, 2), dtype=np.float64), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        stats.active_fraction, (brute_peaks["conv2"][:3000] > 0).mean(axis=0)
    )
    assert stats.peaks.shape == (3000, 48)
    assert stats.peaks.dtype == np.float32


def test_confusion_matches_numpy(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    counts = convscope.confusion(model, images, labels, progress=False)
    predicted = model.predict(images, batch_size=500, verbose=0).argmax(axis=1)
    expected = np.zeros((10, 10), np.int64)
    np.add.at(expected, (labels, predicted), 1)
    np.testing.assert_array_equal(counts, expected)
    one_hot = np.eye(10)[labels[:100]]
    np.testing.assert_array_equal(
        convscope.confusion(model, images[:100], one_hot, progress=False),
        convscope.confusion(model, images[:100], labels[:100], progress=False),
    )
    # batches that do not divide the data set count every image once
    np.testing.assert_array_equal(
        convscope.confusion(model, images[:1000], labels[:1000], batch_size=37, progress=False),
        expected - confusion_of(labels[1000:], predicted[1000:]),
    )


def confusion_of(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    counts = np.zeros((10, 10), np.int64)
    np.add.at(counts, (truth, predicted), 1)
    return counts


def test_confusion_streams_in_batches_with_a_progress_bar(
    model: keras.Model,
    mnist_test: tuple[np.ndarray, np.ndarray],
    capsys: pytest.CaptureFixture[str],
) -> None:
    images, labels = mnist_test
    convscope.confusion(model, images[:10], labels[:10], progress=False)  # compiles the pass
    PASS_MEMO.clear()  # a pass, not the memo's answer from an earlier test
    tracemalloc.start()
    try:
        counts = convscope.confusion(model, images, labels, progress=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert counts.sum() == len(images)
    # the uint8 digits are never copied whole to float32 (31 MB): one batch at a time
    assert peak < images.size * 4 / 10
    assert "10000/10000" in capsys.readouterr().out  # Keras's bar reached the end


def test_figures_show_the_top_images_with_their_fields_and_the_matrix(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    figure = convscope.plot_top_images(model, images[:1000], "conv2", 5, progress=False)
    shown = {a.get_label(): a for a in figure.axes if a.images}
    assert sorted(shown) == sorted(
        [f"image {i}" for i in range(9)] + [f"crop {i}" for i in range(9)]
    )
    top = convscope.top_images(model, images[:1000], "conv2", 5, progress=False)
    assert shown["image 0"].get_title().startswith(f"#{top[0]}  ·  ")
    maps = keras.Model(model.inputs, model.get_layer("conv2").output).predict(
        images[top], verbose=0
    )[..., 5]
    for position, index in enumerate(top):
        image, crop = shown[f"image {position}"], shown[f"crop {position}"]
        (box,) = image.patches  # one receptive-field box on each image
        unit = np.unravel_index(maps[position].argmax(), maps[position].shape)
        top_row, left, bottom, right = convscope.receptive_field(model, "conv2", unit)
        assert (box.get_x(), box.get_y()) == (left - 0.5, top_row - 0.5)
        assert (box.get_width(), box.get_height()) == (right - left, bottom - top_row)
        # the crop is the digit's pixels inside that box, on the image's own grey scale
        pixels = np.asarray(image.images[0].get_array())
        assert pixels[..., 0].max() == 1.0  # the whole digit, scaled by its own range
        digit = images[index].astype(np.float32)
        np.testing.assert_allclose(pixels[..., 0], digit / digit.max())
        np.testing.assert_array_equal(
            crop.images[0].get_array(), pixels[top_row:bottom, left:right]
        )
        assert crop.images[0].get_array().shape[:2] == (bottom - top_row, right - left)
    figure = convscope.plot_confusion(model, images[:1000], labels[:1000])
    assert "of 1,000 right" in figure.axes[0].get_title()


def test_bad_requests_name_the_fix(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    with pytest.raises(LabelError, match="100"):
        convscope.confusion(model, images[:100], labels[:99])
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Reshape((28, 28), name="plane")(inputs)
    planes = keras.Model(inputs, keras.layers.Dense(3, name="score")(flat))
    with pytest.raises(NotSpatialLayerError, match=r"'plane'.*has no channels"):
        convscope.top_images(planes, images[:10], "plane", 0, progress=False)
    with pytest.raises(IndexOutOfRangeError, match=r"channel 24 is out of range"):
        convscope.top_images(model, images[:10], "conv1", 24, progress=False)
    # Dense units count as channels: the 9 images that drive a class score highest.
    top = convscope.top_images(model, images[:500], "predictions", 3, progress=False)
    assert (labels[:500][top] == 3).all()
