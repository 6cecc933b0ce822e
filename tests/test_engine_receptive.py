"""Receptive fields against the gradient: the box holds every input pixel that reaches a unit,
and no more."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import convscope
from convscope.engine.mnist_cnn import build_mnist_cnn
from convscope.errors import IndexOutOfRangeError, ModelNotSupportedError, NotSpatialLayerError


def _positive(model: keras.Model) -> keras.Model:
    """The model's geometry with every path open: its twin for the gradient.

    Every weight is positive, so every ReLU passes; max pooling becomes average pooling of the
    same window, stride and padding, whose gradient reaches every pixel of the window (max
    pooling's reaches one, chosen by the values).
    """

    def twin(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.MaxPooling2D):
            return keras.layers.AveragePooling2D.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    model = keras.models.clone_model(model, clone_function=twin)
    rng = np.random.default_rng(0)
    model.set_weights(
        [rng.uniform(0.05, 1.0, w.shape).astype(np.float32) for w in model.get_weights()]
    )
    return model


def _gradient_support(
    model: keras.Model, layer: str, unit: tuple[int, int], tries: int = 24
) -> np.ndarray:
    """Input pixels with a non-zero gradient of the unit's first channel, over random inputs."""
    probe = keras.Model(model.inputs, model.get_layer(layer).output)
    shape = (tries, *model.input_shape[1:])
    images = tf.constant(np.random.default_rng(1).uniform(1.0, 255.0, shape), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        value = tf.reduce_sum(probe(images)[:, unit[0], unit[1], 0])
    grads = tape.gradient(value, images).numpy()
    return (np.abs(grads) > 0).any(axis=(0, -1))


def _box_of(support: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(support.any(axis=1)), np.flatnonzero(support.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _strided() -> keras.Model:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((41, 37, 1)),
            layers.ZeroPadding2D(((2, 0), (1, 3)), name="pad"),
            layers.Conv2D(3, 5, strides=2, padding="valid", activation="relu", name="c1"),
            layers.MaxPooling2D(3, strides=2, padding="same", name="p1"),
            layers.BatchNormalization(name="bn"),
            layers.Conv2D(3, 3, dilation_rate=2, padding="same", name="c2"),
            layers.Cropping2D(((1, 0), (0, 1)), name="crop"),
            layers.AveragePooling2D(2, padding="valid", name="p2"),
            layers.Conv2D(2, (3, 2), strides=(1, 2), padding="valid", name="c3"),
        ]
    )


@pytest.mark.parametrize(
    ("layer", "units"),
    [("conv1", [(0, 0), (13, 20), (27, 27)]), ("pool2", [(0, 0), (3, 4), (6, 6)]),
     ("conv3", [(0, 6), (3, 3), (6, 0)])],
)  # fmt: skip
def test_mnist_cnn_fields_match_the_gradient(layer: str, units: list[tuple[int, int]]) -> None:
    model = _positive(build_mnist_cnn())
    for unit in units:
        box = convscope.receptive_field(model, layer, unit)
        assert _box_of(_gradient_support(model, layer, unit)) == box, (layer, unit)


@pytest.mark.parametrize("layer", ["c1", "p1", "c2", "crop", "p2", "c3"])
def test_strides_valid_padding_dilation_cropping_match_the_gradient(layer: str) -> None:
    model = _positive(_strided())
    height, width = model.get_layer(layer).output.shape[1:3]
    for unit in [(0, 0), (height // 2, width // 3), (height - 1, width - 1)]:
        box = convscope.receptive_field(model, layer, unit)
        support = _gradient_support(model, layer, unit)
        assert _box_of(support) == box, (layer, unit)


def test_the_bundled_cnn_field_sizes() -> None:
    model = convscope.mnist_cnn()
    # 3×3 convolutions and 2×2 pools: conv3's unit sees 18×18 pixels, away from the border.
    assert convscope.receptive_field(model, "conv3", (3, 3)) == (5, 5, 23, 23)
    assert convscope.receptive_field(model, "conv1", (0, 0)) == (0, 0, 2, 2)  # clipped


def test_fields_that_cannot_be_traced_say_why() -> None:
    model = convscope.mnist_cnn()
    with pytest.raises(NotSpatialLayerError, match=r"'dense'.*has none"):
        convscope.receptive_field(model, "dense", (0, 0))
    with pytest.raises(IndexOutOfRangeError, match="maps of 'pool3' are 3×3"):
        convscope.receptive_field(model, "pool3", (3, 0))
    inputs = keras.Input((16, 16, 1))
    left = keras.layers.Conv2D(2, 3, padding="same", name="left")(inputs)
    right = keras.layers.Conv2D(2, 5, padding="same", name="right")(inputs)
    merged = keras.layers.Add(name="add")([left, right])
    branched = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="after")(merged))
    with pytest.raises(ModelNotSupportedError, match="'add' \\(Add\\)"):
        convscope.receptive_field(branched, "after", (2, 2))
    assert convscope.receptive_field(branched, "left", (5, 5)) == (4, 4, 7, 7)


def _support_of_every_unit(model: keras.Model, layer: str, high: float) -> np.ndarray:
    """Per unit of ``layer`` (summed over channels), the input pixels with a non-zero gradient.

    ``(H, W, h, w)``: one full ``tf.GradientTape`` Jacobian on a random image, so every unit of
    the layer is checked, not a few. Pixels are drawn from (0, ``high``): small enough that no
    softmax saturates into a zero gradient.
    """
    probe = keras.Model(model.inputs, model.get_layer(layer).output)
    image = tf.constant(
        np.random.default_rng(2).uniform(0.0, high, (1, *model.input_shape[1:])), tf.float32
    )
    with tf.GradientTape() as tape:
        tape.watch(image)
        units = tf.reduce_sum(probe(image)[0], axis=-1)
    jacobian = tape.jacobian(units, image).numpy()  # (H, W, 1, h, w, c)
    return np.abs(jacobian[:, :, 0]).sum(axis=-1) > 0


def _assert_every_unit_matches(model: keras.Model, layer: str, high: float = 255.0) -> None:
    support = _support_of_every_unit(model, layer, high)
    wrong = [
        (unit, convscope.receptive_field(model, layer, unit), _box_of(support[unit]))
        for unit in np.ndindex(support.shape[:2])
        if convscope.receptive_field(model, layer, unit) != _box_of(support[unit])
    ]
    assert not wrong, f"{len(wrong)} of {support.shape[0] * support.shape[1]} units: {wrong[:3]}"


@pytest.mark.parametrize(
    "convolutions",
    [
        [(3, 2, "same"), (3, 2, "same")],
        [(3, 2, "same"), (3, 3, "same"), (2, 2, "valid")],
        [(5, 3, "valid"), (3, 2, "same")],
        [(3, 4, "same"), (3, 2, "same"), (3, 1, "same")],
    ],
)
def test_stacked_dilated_convolutions_are_exact_for_every_unit(
    convolutions: list[tuple[int, int, str]],
) -> None:
    # Near a border, a dilated tap of the second convolution lands on a unit the first one
    # computes from padding only at some offsets: a range would count pixels nothing reads.
    layers = [keras.Input((27, 30, 1))]
    for number, (kernel, dilation, padding) in enumerate(convolutions):
        layers.append(
            keras.layers.Conv2D(
                2, kernel, dilation_rate=dilation, padding=padding, name=f"d{number}"
            )
        )
    model = _positive(keras.Sequential(layers))
    _assert_every_unit_matches(model, f"d{len(convolutions) - 1}")


@pytest.mark.parametrize(
    "mixer",
    [
        lambda: keras.layers.GroupNormalization(groups=2),
        lambda: keras.layers.LayerNormalization(axis=[1, 2, 3]),
        lambda: keras.layers.LayerNormalization(axis=[1, 3]),  # along rows only
        keras.layers.LayerNormalization,  # over the channels: per pixel
        lambda: keras.layers.Softmax(axis=(1, 2)),
        lambda: keras.layers.Softmax(axis=2),  # along columns only
        keras.layers.Softmax,  # over the channels: per pixel
        lambda: keras.layers.UnitNormalization(axis=[1, 2]),
        lambda: keras.layers.Activation("softmax"),
        lambda: keras.layers.Activation("gelu"),
    ],
)
def test_layers_that_mix_positions_widen_the_field_to_what_they_reach(
    mixer: object,
) -> None:
    model = _positive(
        keras.Sequential(
            [
                keras.Input((12, 11, 1)),
                keras.layers.Conv2D(4, 3, padding="same", name="before"),
                mixer(),  # type: ignore[operator]
                keras.layers.Conv2D(2, 3, padding="valid", name="after"),
            ]
        )
    )
    _assert_every_unit_matches(model, "after", high=0.1)


def test_a_layer_that_cannot_be_told_per_pixel_is_refused_by_name() -> None:
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(2, 3, name="before"),
            keras.layers.Activation(lambda t: t - keras.ops.mean(t), name="centred"),
            keras.layers.Conv2D(2, 3, name="after"),
        ]
    )
    with pytest.raises(ModelNotSupportedError, match=r"'centred' \(Activation of '<lambda>'\)"):
        convscope.receptive_field(model, "after", (3, 3))
    assert convscope.receptive_field(model, "before", (3, 3)) == (3, 3, 6, 6)
    resized = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.UpSampling2D(name="up"),
            keras.layers.Conv2D(2, 3, name="after"),
        ]
    )
    with pytest.raises(ModelNotSupportedError, match=r"'up' \(UpSampling2D\)"):
        convscope.receptive_field(resized, "after", (3, 3))
