"""Grad-CAM in a model that calls one nested model twice: refused by name inside the calls,
and equal to a hand-written ``tf.GradientTape`` after them."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import convscope


def _twice() -> keras.Model:
    keras.utils.set_random_seed(0)
    shared = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c"),
            keras.layers.Conv2D(1, 3, padding="same", name="d"),
        ],
        name="shared",
    )
    inputs = keras.Input((28, 28, 1))
    first = shared(inputs)
    merged = keras.layers.Concatenate(name="both")([first, shared(first)])
    flat = keras.layers.Flatten(name="flat")(merged)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(flat))


@pytest.mark.parametrize("row", ["shared/c", "shared#2/c", "shared", "shared#2"])
def test_rows_of_a_model_called_twice_are_refused_with_the_reason(row: str) -> None:
    model = _twice()
    images = np.random.default_rng(1).uniform(0, 1, (2, 28, 28, 1)).astype(np.float32)
    with pytest.raises(convscope.ModelNotSupportedError, match="'shared' is called more than"):
        convscope.grad_cam(model, images, layer=row)
    explorer = convscope.Explorer(model, images, figure="none", layer=row)
    with pytest.raises(convscope.ModelNotSupportedError, match="separate copy"):
        explorer.view = "grad-cam"
    assert explorer.view == "maps"  # nothing changed


def test_a_row_after_both_calls_equals_the_tape() -> None:
    model = _twice()
    images = np.random.default_rng(2).uniform(0, 1, (3, 28, 28, 1)).astype(np.float32)
    shared, both, out = (model.get_layer(name) for name in ("shared", "both", "out"))
    with tf.GradientTape() as tape:
        first = shared(images)
        maps = both([first, shared(first)])
        tape.watch(maps)
        logits = keras.layers.Flatten()(maps) @ out.kernel + out.bias
        score = tf.reduce_sum(logits[:, 1])
    grads = tape.gradient(score, maps)
    cam = tf.nn.relu(tf.einsum("nhwc,nc->nhw", maps, tf.reduce_mean(grads, axis=(1, 2)))).numpy()
    peak = cam.max(axis=(1, 2), keepdims=True)
    reference = np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)
    ours = convscope.grad_cam(model, images, class_index=1, layer="both")
    np.testing.assert_allclose(ours, reference, atol=1e-5)
