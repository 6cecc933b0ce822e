"""Every form of a final softmax or sigmoid is recognised, or refused: never taken as a score.

Each variant below is the bundled CNN with its own weights and a different way of writing the
last softmax; Grad-CAM and class maximisation must equal those of the same network ending in
its plain logits, computed by hand with a ``tf.GradientTape``.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

import convscope
from convscope.engine.gradients import gradients_for

Ending = Callable[[keras.layers.Dense, object], object]


def _dense(kernel_and_bias: list[np.ndarray], activation: object = None) -> keras.layers.Dense:
    layer = keras.layers.Dense(10, activation=activation, name="scores")
    layer.build((None, kernel_and_bias[0].shape[0]))
    layer.set_weights(kernel_and_bias)
    return layer


ENDINGS: dict[str, Callable[[list[np.ndarray], object], object]] = {
    "Dense(tf.nn.softmax)": lambda w, x: _dense(w, tf.nn.softmax)(x),
    "Dense(keras.ops.softmax)": lambda w, x: _dense(w, keras.ops.softmax)(x),
    "Dense(lambda: softmax)": lambda w, x: _dense(w, lambda t: keras.ops.softmax(t))(x),  # noqa: PLW0108
    "Activation(tf.nn.softmax)": lambda w, x: keras.layers.Activation(tf.nn.softmax)(_dense(w)(x)),
    "Activation(keras.ops.softmax)": lambda w, x: keras.layers.Activation(keras.ops.softmax)(
        _dense(w)(x)
    ),
    "Lambda(softmax)": lambda w, x: keras.layers.Lambda(lambda t: keras.ops.softmax(t))(  # noqa: PLW0108
        _dense(w)(x)
    ),
    "keras.ops.softmax(tensor)": lambda w, x: keras.ops.softmax(_dense(w)(x)),
    "Softmax()": lambda w, x: keras.layers.Softmax()(_dense(w)(x)),
    "Dense('softmax')": lambda w, x: _dense(w, "softmax")(x),
}


def _variant(ending: Callable[[list[np.ndarray], object], object]) -> keras.Model:
    """The bundled CNN, rebuilt up to its last Dense, ending in ``ending``."""
    cnn = convscope.mnist_cnn()
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for layer in cnn.layers[:-1]:
        x = layer(x)
    return keras.Model(inputs, ending(cnn.layers[-1].get_weights(), x))


def _reference_cam(images: np.ndarray, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM of each image's predicted class on the logits, by hand (Chollet's steps)."""
    cnn = convscope.mnist_cnn()
    names = [each.name for each in cnn.layers]
    *rest, last = cnn.layers[names.index(layer) + 1 :]
    batch = tf.constant(images, tf.float32)
    with tf.GradientTape() as tape:
        maps = keras.Model(cnn.inputs[0], cnn.get_layer(layer).output)(batch)
        tape.watch(maps)
        x = maps
        for each in rest:
            x = each(x, training=False)
        logits = x @ last.kernel + last.bias
        predicted = tf.argmax(logits, axis=-1)
        score = tf.reduce_sum(tf.gather(logits, predicted, batch_dims=1))
    grads = tape.gradient(score, maps)
    cam = tf.nn.relu(tf.einsum("nhwc,nc->nhw", maps, tf.reduce_mean(grads, axis=(1, 2))))
    cam = tf.image.resize(cam[..., tf.newaxis], (28, 28), method="bilinear")[..., 0].numpy()
    peak = cam.max(axis=(1, 2), keepdims=True)
    return np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0), predicted.numpy()


@pytest.fixture(scope="module")
def digits(mnist_test: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return mnist_test[0][:48, ..., np.newaxis].astype(np.float32)


@pytest.mark.parametrize("form", list(ENDINGS))
def test_every_form_of_softmax_gives_the_grad_cam_of_the_scores(
    form: str, digits: np.ndarray
) -> None:
    model = _variant(ENDINGS[form])
    reference, predicted = _reference_cam(digits, "conv3")
    ours = convscope.grad_cam(model, digits, layer="conv3")
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    _, chosen, ours_predicted = gradients_for(model).grad_cam(
        digits, np.full(len(digits), -1, np.int32), "conv3"
    )
    np.testing.assert_array_equal(ours_predicted, predicted)
    np.testing.assert_array_equal(chosen, predicted)
    assert gradients_for(model).class_scores.squash == "softmax"


@pytest.mark.parametrize("form", ["Lambda(softmax)", "Dense(tf.nn.softmax)"])
def test_class_maximisation_climbs_the_scores_not_the_probabilities(form: str) -> None:
    logits = _variant(lambda w, x: _dense(w)(x))
    ours = convscope.maximize_class(_variant(ENDINGS[form]), 3, steps=4, progress=False)
    plain = convscope.maximize_class(logits, 3, steps=4, progress=False)
    np.testing.assert_allclose(ours, plain, atol=1e-5)


@pytest.mark.parametrize(
    "ending",
    [
        lambda w, x: keras.layers.Lambda(lambda t: keras.ops.log_softmax(t))(  # noqa: PLW0108
            _dense(w)(x)
        ),
        lambda w, x: _dense(w, lambda t: keras.ops.softmax(t / 2.0))(x),
        lambda w, x: keras.layers.Activation(lambda t: keras.ops.softmax(t) ** 2)(_dense(w)(x)),
    ],
    ids=["Lambda(log_softmax)", "Dense(tempered softmax)", "Activation(squared softmax)"],
)
def test_a_final_operation_that_cannot_be_told_apart_is_refused(ending: Ending) -> None:
    model = _variant(ending)
    with pytest.raises(convscope.ModelNotSupportedError, match="none of softmax, sigmoid"):
        convscope.grad_cam(model, np.zeros((28, 28), np.float32))
    with pytest.raises(convscope.ModelNotSupportedError, match="none of softmax, sigmoid"):
        convscope.maximize_class(model, 1, steps=1, progress=False)


def _binary(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid", name="out"),
        ]
    )


def test_a_one_unit_sigmoid_explains_the_predicted_side(digits: np.ndarray) -> None:
    model = _binary(5)
    conv, out = model.get_layer("conv"), model.get_layer("out")
    probability = model(digits).numpy()[:, 0]
    with tf.GradientTape() as tape:
        maps = conv(model.layers[0](digits))
        tape.watch(maps)
        logit = (keras.layers.Flatten()(maps) @ out.kernel + out.bias)[:, 0]
        side = tf.where(logit >= 0, 1.0, -1.0)  # the predicted side's score: z or -z
        score = tf.reduce_sum(side * logit)
    grads = tape.gradient(score, maps)
    cam = tf.nn.relu(tf.einsum("nhwc,nc->nhw", maps, tf.reduce_mean(grads, axis=(1, 2))))
    cam = tf.image.resize(cam[..., tf.newaxis], (28, 28), method="bilinear")[..., 0].numpy()
    peak = cam.max(axis=(1, 2), keepdims=True)
    reference = np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)
    assert 0 < (probability < 0.5).sum() < len(digits)  # both sides are predicted
    ours = convscope.grad_cam(model, digits, layer="conv")
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    _, chosen, predicted = gradients_for(model).grad_cam(
        digits, np.full(len(digits), -1, np.int32), "conv"
    )
    np.testing.assert_array_equal(predicted, (probability >= 0.5).astype(np.int32))
    np.testing.assert_array_equal(chosen, predicted)
    assert gradients_for(model).class_count == 2
    with pytest.raises(convscope.IndexOutOfRangeError, match=r"use 0\.\.1"):
        convscope.grad_cam(model, digits[0], class_index=2)
