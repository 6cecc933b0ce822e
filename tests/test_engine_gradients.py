"""Grad-CAM, heatmaps, filter patterns and class maximisation, against references and real digits.

Each Grad-CAM reference is the straightforward way, written out here with Keras's own layers
and one ``tf.GradientTape``: run the model up to the layer, watch its output, run the rest of
the layers on it by hand, and take the logit from the output layer's kernel and bias.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import convscope
from convscope.engine import pattern_cache
from convscope.engine.gradients import _noise, gradients_for
from convscope.errors import (
    ConvscopeError,
    ImageInputError,
    IndexOutOfRangeError,
    ModelNotSupportedError,
    NotSpatialLayerError,
    WeightsChangedError,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from run import vgg_like


def finish_cam(maps: tf.Tensor, grads: tf.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Steps 2 to 5 of Grad-CAM, as Chollet writes them out."""
    weights = tf.reduce_mean(grads, axis=(1, 2))
    cam = tf.nn.relu(tf.einsum("nhwc,nc->nhw", maps, weights))
    cam = tf.image.resize(cam[..., tf.newaxis], size, method="bilinear")[..., 0].numpy()
    peak = cam.max(axis=(1, 2), keepdims=True)
    return np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)


def sequential_reference(
    model: keras.Sequential, images: np.ndarray, layer: str, classes: np.ndarray
) -> np.ndarray:
    names = [each.name for each in model.layers]
    up_to = keras.Model(model.inputs[0], model.get_layer(layer).output)
    *rest, output_layer = model.layers[names.index(layer) + 1 :]
    batch = tf.constant(images, tf.float32)
    with tf.GradientTape() as tape:
        maps = up_to(batch, training=False)
        tape.watch(maps)
        x = maps
        for each in rest:
            x = each(x, training=False)
        logits = x @ output_layer.kernel + output_layer.bias
        score = tf.reduce_sum(tf.gather(logits, classes, batch_dims=1))
    return finish_cam(maps, tape.gradient(score, maps), images.shape[1:3])


@pytest.mark.parametrize("layer", ["conv3", "conv2", "pool1"])
def test_grad_cam_equals_the_reference_on_the_mnist_cnn(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray], layer: str
) -> None:
    images, labels = mnist_test
    batch = images[:16, ..., np.newaxis].astype(np.float32)
    ours = convscope.grad_cam(model, images[:16], class_index=labels[:16], layer=layer)
    reference = sequential_reference(model, batch, layer, labels[:16].astype(np.int32))
    assert ours.shape == (16, 28, 28)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_grad_cam_equals_the_reference_on_a_vgg_like_model() -> None:
    model = vgg_like()
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (4, 160, 160, 3)).astype(np.float32)
    classes = np.array([0, 1, 1, 0], np.int32)
    for layer in ("block3_conv1", "block1_conv2"):
        ours = convscope.grad_cam(model, images, class_index=classes, layer=layer)
        reference = sequential_reference(model, images, layer, classes)
        assert ours.shape == (4, 160, 160)
        assert ours.max() == pytest.approx(1.0)  # not all zero: the comparison means something
        np.testing.assert_allclose(ours, reference, atol=1e-5)


def nested_model() -> keras.Model:
    """A feature extractor with a skip connection and a softmax head, each its own model."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((12, 12, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_b")(a)
    features = keras.Model(inputs, keras.layers.Add(name="skip")([a, b]), name="features")
    head = keras.Sequential(
        [
            keras.Input((12, 12, 4)),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, activation="softmax", name="probs"),
        ],
        name="head",
    )
    return keras.Sequential(
        [keras.Input((12, 12, 1)), keras.layers.Rescaling(1 / 255, name="rescale"), features, head]
    )


def test_grad_cam_through_nested_models_and_a_skip_connection() -> None:
    model = nested_model()
    features, head = model.get_layer("features"), model.get_layer("head")
    rng = np.random.default_rng(2)
    images = rng.uniform(0, 255, (5, 12, 12, 1)).astype(np.float32)
    classes = np.array([0, 1, 2, 0, 1], np.int32)

    probs = head.get_layer("probs")
    with tf.GradientTape() as tape:
        a = features.get_layer("conv_a")(model.get_layer("rescale")(images))
        maps = features.get_layer("conv_b")(a)
        tape.watch(maps)
        pooled = head.get_layer("gap")(features.get_layer("skip")([a, maps]))
        logits = pooled @ probs.kernel + probs.bias
        score = tf.reduce_sum(tf.gather(logits, classes, batch_dims=1))
    reference = finish_cam(maps, tape.gradient(score, maps), (12, 12))

    ours = convscope.grad_cam(model, images, class_index=classes, layer="features/conv_b")
    assert reference.max() == pytest.approx(1.0)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert "head/probs" in gradients_for(model).class_scores.description


def transfer_model() -> keras.Model:
    """A small functional base first in a Sequential with a new head, as in transfer learning."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((16, 16, 3))
    conv = {"kernel_size": 3, "padding": "same", "activation": "relu"}
    a = keras.layers.Conv2D(6, name="conv_a", **conv)(inputs)
    pooled = keras.layers.MaxPooling2D(name="pool_a")(a)
    b = keras.layers.Conv2D(8, name="conv_b", **conv)(pooled)
    base = keras.Model(inputs, b, name="base")
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Rescaling(1 / 255, name="rescale"),
            base,
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(4, activation="softmax", name="probs"),
        ]
    )


def inner_output(model: keras.Model, layer: str, images: np.ndarray) -> np.ndarray:
    """``layer`` of the base, run by a plain Keras model on what reaches the base."""
    base = model.get_layer("base")
    probe = keras.Model(base.inputs[0], base.get_layer(layer).output)
    return np.asarray(probe(model.get_layer("rescale")(images)))


def logits_of(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The class scores before the softmax, from the head's own kernel and bias."""
    pooled = keras.Model(model.inputs[0], model.get_layer("gap").output)(images)
    probs = model.get_layer("probs")
    return np.asarray(pooled @ probs.kernel + probs.bias)


def test_activation_heatmap_of_a_layer_inside_a_nested_base() -> None:
    model = transfer_model()
    images = np.random.default_rng(6).uniform(0, 255, (4, 16, 16, 3)).astype(np.float32)
    mean = inner_output(model, "conv_b", images).mean(axis=-1)  # (4, 8, 8)
    expected = tf.image.resize(mean[..., np.newaxis], (16, 16), method="bilinear")[..., 0]
    expected = expected.numpy()
    low = expected.min(axis=(1, 2), keepdims=True)
    expected = (expected - low) / (expected.max(axis=(1, 2), keepdims=True) - low)
    heat = convscope.activation_heatmap(model, images, "base/conv_b")
    assert heat.shape == (4, 16, 16)
    np.testing.assert_allclose(heat, expected, atol=1e-5)


def test_filter_patterns_of_a_layer_inside_a_nested_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))
    model = transfer_model()
    patterns = convscope.filter_patterns(model, "base/conv_b", progress=False)
    assert patterns.shape == (8, 16, 16, 3)
    assert 0.0 <= patterns.min() <= patterns.max() <= 1.0
    seeds = _noise(list(range(8)), (16, 16, 3), 0, 0.0, 255.0)  # where each ascent starts
    own = np.arange(8)
    found = inner_output(model, "conv_b", patterns * 255).mean(axis=(1, 2))[own, own]
    start = inner_output(model, "conv_b", seeds).mean(axis=(1, 2))[own, own]
    assert (found > start).all(), (found, start)


def test_maximize_class_raises_the_score_through_a_nested_base() -> None:
    model = transfer_model()
    classes = np.arange(4)
    images = convscope.maximize_class(model, classes.tolist(), progress=False)
    assert images.shape == (4, 16, 16, 3)
    seeds = _noise(classes.tolist(), (16, 16, 3), 0, 0.0, 255.0)
    after = logits_of(model, images * 255)[classes, classes]
    before = logits_of(model, seeds)[classes, classes]
    assert (after > before).all(), (after, before)


def test_grad_cam_is_traced_once_per_layer_whatever_the_class(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    gradients = gradients_for(model)
    for digit in range(10):
        convscope.grad_cam(model, images[digit], class_index=digit, layer="conv2")
    convscope.grad_cam(model, images[:7], layer="conv2")
    assert gradients._grad_cam["conv2"].experimental_get_tracing_count() == 1


def test_grad_cam_puts_more_mass_on_the_digit_than_on_the_background(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    digits = images[:100]
    maps = convscope.grad_cam(model, digits, class_index=labels[:100])  # the default: conv3
    ink = digits > 0
    on_digit = (maps * ink).sum(axis=(1, 2)) / ink.sum(axis=(1, 2))
    on_background = (maps * ~ink).sum(axis=(1, 2)) / (~ink).sum(axis=(1, 2))
    assert np.mean(on_digit > on_background) > 0.85  # 93 of 100 when written
    assert on_digit.mean() / on_background.mean() > 1.5  # 1.81 when written


def test_default_layer_is_the_last_convolutional_one(model: keras.Model) -> None:
    assert gradients_for(model).last_spatial_layer().name == "conv3"  # not pool3 (3×3)
    assert gradients_for(vgg_like()).last_spatial_layer().name == "block3_conv1"
    assert gradients_for(nested_model()).last_spatial_layer().name == "features/skip"


@pytest.mark.parametrize(
    "ending",
    [
        [keras.layers.Dense(3, name="logits"), keras.layers.Softmax(name="probs")],
        [keras.layers.Dense(3, name="logits"), keras.layers.Activation("softmax", name="probs")],
        [keras.layers.Dense(3, name="logits")],
    ],
    ids=["Softmax", "Activation", "linear"],
)
def test_scores_before_a_separate_softmax_are_the_layer_before_it(ending: list) -> None:
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((10, 10, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flatten"),
            *ending,
        ]
    )
    images = np.random.default_rng(4).uniform(0, 1, (3, 10, 10, 1)).astype(np.float32)
    logits_model = keras.Model(model.inputs[0], model.get_layer("logits").output)
    conv = model.get_layer("conv")
    with tf.GradientTape() as tape:
        maps = conv(images)
        tape.watch(maps)
        logits = model.get_layer("logits")(model.get_layer("flatten")(maps))
        score = tf.reduce_sum(logits[:, 2])
    reference = finish_cam(maps, tape.gradient(score, maps), (10, 10))
    np.testing.assert_allclose(logits_model(images), logits, atol=1e-6)
    np.testing.assert_allclose(convscope.grad_cam(model, images, 2), reference, atol=1e-5)


def test_activation_heatmap_is_the_upsampled_channel_mean(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    heat = convscope.activation_heatmap(model, images[:3], "conv2")
    mean = convscope.get_activations(model, images[:3], "conv2")["conv2"].mean(axis=-1)
    expected = tf.image.resize(mean[..., np.newaxis], (28, 28), method="bilinear")[..., 0]
    expected = expected.numpy()
    low = expected.min(axis=(1, 2), keepdims=True)
    expected = (expected - low) / (expected.max(axis=(1, 2), keepdims=True) - low)
    assert heat.shape == (3, 28, 28)
    np.testing.assert_allclose(heat, expected, atol=1e-5)
    assert convscope.activation_heatmap(model, images[0], "conv1").shape == (28, 28)


def channel_means_over_digits(
    model: keras.Model, images: np.ndarray, layers: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per layer: each channel's best spatial-mean activation on any digit, and its peak."""
    best = {layer: [] for layer in layers}
    for start in range(0, len(images), 1000):
        acts = convscope.get_activations(model, images[start : start + 1000], layers)
        for layer, act in acts.items():
            best[layer].append((act.mean(axis=(1, 2)).max(axis=0), act.max(axis=(0, 1, 2))))
    return {
        layer: (np.max([m for m, _ in found], axis=0), np.max([p for _, p in found], axis=0))
        for layer, found in best.items()
    }


def test_filter_patterns_excite_their_channel_more_than_any_test_digit(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    digits = channel_means_over_digits(model, images, ["conv1", "conv2"])
    for layer, channels in (("conv1", 24), ("conv2", 48)):
        patterns = convscope.filter_patterns(model, layer, progress=False)
        assert patterns.shape == (channels, 28, 28, 1)
        assert patterns.dtype == np.float32
        assert 0.0 <= patterns.min() <= patterns.max() <= 1.0
        # back in the model's units (raw 0..255 pixels), each through its own channel
        acts = convscope.get_activations(model, patterns * 255, layer)[layer]
        own = acts.mean(axis=(1, 2))[np.arange(channels), np.arange(channels)]
        best_digit, peak = digits[layer]
        alive = peak > 0
        assert np.mean(own[alive] > best_digit[alive]) >= 0.9, layer  # all but conv2's 23


def test_filter_patterns_are_seeded_batched_and_cached_on_disk(
    model: keras.Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gradients = gradients_for(model)
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "warm"))
    convscope.filter_patterns(model, "conv2", [0], steps=1, progress=False)  # compiles the step
    step = gradients._ascent["conv2"]
    batches: list[list[int]] = []

    def counted(images: tf.Tensor, channels: tf.Tensor, *rest: tf.Tensor) -> tf.Tensor:
        assert images.shape[0] == channels.shape[0]  # one image per channel, in one tensor
        batches.append(channels.numpy().tolist())
        return step(images, channels, *rest)

    def impossible(*_: tf.Tensor) -> tf.Tensor:
        raise AssertionError("the ascent ran although the patterns are cached on disk")

    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(gradients._ascent, "conv2", counted)
    first = convscope.filter_patterns(model, "conv2", [5, 9, 40], steps=5, progress=False)
    # batched: five steps, each one call with all three channels, not one ascent per channel
    assert batches == [[5, 9, 40]] * 5
    files = list((tmp_path / "patterns").glob("*.npz"))
    assert len(files) == 1

    # served from the disk cache: the ascent cannot run, and the images are the same
    monkeypatch.setitem(gradients._ascent, "conv2", impossible)
    again = convscope.filter_patterns(model, "conv2", [40, 5], steps=5, progress=False)
    np.testing.assert_array_equal(again, first[[2, 0]])
    # ...and from that file: without it, the ascent is needed again
    moved = files[0].rename(tmp_path / "elsewhere.npz")
    with pytest.raises(AssertionError, match="the ascent ran"):
        convscope.filter_patterns(model, "conv2", [40, 5], steps=5, progress=False)
    moved.rename(files[0])
    monkeypatch.setitem(gradients._ascent, "conv2", step)

    # a new setting is a new file; a new seed, a new pattern
    other = convscope.filter_patterns(model, "conv2", [5], steps=5, seed=1, progress=False)
    assert len(list((tmp_path / "patterns").glob("*.npz"))) == 2
    assert not np.array_equal(other[0], first[0])
    # the same search without the cache gives the same images
    fresh = gradients._ascend(
        gradients.engine.layer("conv2"), [5, 9, 40], 5, (28, 28, 1), 0, (0.0, 255.0), False
    )
    np.testing.assert_array_equal(fresh, first)


def test_cached_patterns_follow_the_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))
    model = convscope.mnist_cnn()
    before = convscope.filter_patterns(model, "conv1", [3], steps=3, progress=False)
    kernel = model.get_layer("conv1").kernel
    kernel.assign(-kernel)
    after = convscope.filter_patterns(model, "conv1", [3], steps=3, progress=False)
    assert len(list((tmp_path / "patterns").glob("*.npz"))) == 2
    assert not np.array_equal(before, after)


def test_patterns_whose_weights_moved_during_the_ascent_are_refused_and_never_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another thread (an Explorer's epoch slider, a training) moves the weights mid-ascent.

    The steps then mixed two models: nothing is returned or saved under the first weights, so
    asking again on them gives what a quiet ascent gives, not the mixed patterns.
    """
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "moved"))
    model = convscope.mnist_cnn()
    gradients = gradients_for(model)
    original = model.get_weights()
    other = [weight * 1.5 for weight in original]

    def patterns(on_step: object = None) -> np.ndarray:
        return gradients.filter_patterns(
            "conv1", [3, 7], steps=6, size=None, seed=0, input_range=(0.0, 255.0),
            progress=False, on_step=on_step,
        )  # fmt: skip

    try:
        model.set_weights(other)
        with pytest.raises(WeightsChangedError, match=r"changed while the filter patterns"):
            patterns(lambda done, _total: done == 3 and model.set_weights(original))
        assert not list((tmp_path / "moved").rglob("*.npz"))
        model.set_weights(other)
        again = patterns()
        monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "quiet"))
        np.testing.assert_array_equal(again, patterns())
    finally:
        model.set_weights(original)


def test_cache_home_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "mine"))
    assert pattern_cache.cache_home() == tmp_path / "mine"
    monkeypatch.delenv("CONVSCOPE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert pattern_cache.cache_home() == tmp_path / "xdg" / "convscope"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert pattern_cache.cache_home() == Path.home() / ".cache" / "convscope"


def test_class_maximisation_is_read_as_its_class(model: keras.Model) -> None:
    images = convscope.maximize_class(model, list(range(10)), progress=False)
    assert images.shape == (10, 28, 28, 1)
    assert 0.0 <= images.min() <= images.max() <= 1.0
    predicted = convscope.get_activations(model, images * 255, "predictions")["predictions"]
    np.testing.assert_array_equal(predicted.argmax(axis=1), np.arange(10))
    one = convscope.maximize_class(model, 3, progress=False)
    assert one.shape == (28, 28, 1)


def test_errors_name_the_fix(model: keras.Model) -> None:
    flat = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, "softmax")]
    )
    with pytest.raises(ModelNotSupportedError, match=r"no spatial|has none"):
        convscope.grad_cam(flat, np.zeros((8, 8)))
    with pytest.raises(IndexOutOfRangeError, match=r"class_index 10 .* use 0\.\.9"):
        convscope.grad_cam(model, np.zeros((28, 28)), class_index=10)
    with pytest.raises(IndexOutOfRangeError, match=r"class_index -1"):
        convscope.maximize_class(model, -1, progress=False)
    with pytest.raises(NotSpatialLayerError, match=r"'dense' .* conv1"):
        convscope.filter_patterns(model, "dense", progress=False)
    with pytest.raises(NotSpatialLayerError, match="Grad-CAM"):
        convscope.grad_cam(model, np.zeros((28, 28)), layer="flatten")
    with pytest.raises(IndexOutOfRangeError, match=r"channel 24 .* 0\.\.23"):
        convscope.filter_patterns(model, "conv1", [0, 24], progress=False)
    with pytest.raises(ImageInputError, match="size=None"):
        convscope.filter_patterns(model, "conv1", size=32, progress=False)
    with pytest.raises(ValueError, match="input_range"):
        convscope.filter_patterns(model, "conv1", input_range=(1, 0), progress=False)
    for error in (NotSpatialLayerError, ModelNotSupportedError, IndexOutOfRangeError):
        assert issubclass(error, ConvscopeError)


def test_a_softmax_inside_another_layer_is_refused_with_the_fix() -> None:
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(3, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.EinsumDense("ab,bc->ac", 3, activation="softmax", name="probs"),
        ]
    )
    with pytest.raises(ModelNotSupportedError, match=r"activation=None .*Activation\('softmax'\)"):
        convscope.maximize_class(model, 0, progress=False)


def test_an_unwritable_cache_only_costs_the_next_call(
    model: keras.Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(blocked))
    patterns = convscope.filter_patterns(model, "conv1", [1], steps=2, progress=False)
    assert patterns.shape == (1, 28, 28, 1)
    assert blocked.read_text() == "not a folder"
