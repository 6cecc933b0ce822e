""" "Dead" means something on layers that go negative: off everywhere, or constant; NaN is named."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import convscope


def _signed_model() -> keras.Model:
    """A convolution with no activation: channel 0 negative but varying, 1 constant at -5,
    2 an ordinary channel, 3 NaN everywhere, 4 off (ReLU-like: 0 everywhere)."""
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255, name="scale"),
            keras.layers.Conv2D(5, 3, padding="same", name="signed"),
        ]
    )
    kernel = np.zeros((3, 3, 1, 5), np.float32)
    kernel[..., 0, 0] = 7.0 / 9  # -54 on black, up to -47 on white
    kernel[..., 0, 2] = np.random.default_rng(0).normal(0, 1, (3, 3))
    bias = np.array([-54.0, -5.0, 0.1, np.nan, 0.0], np.float32)
    model.get_layer("signed").set_weights([kernel, bias])
    return model


def test_dead_against_numpy_on_a_layer_that_goes_negative(
    mnist_test: tuple[np.ndarray, np.ndarray],
) -> None:
    model = _signed_model()
    images = mnist_test[0][:300]
    values = model.predict(images[..., None].astype(np.float32), verbose=0)  # plain Keras
    flat = values.reshape(-1, 5)
    finite = np.isfinite(flat).all(axis=0)
    with np.errstate(invalid="ignore"):
        off = (flat.max(axis=0) <= 0) & (flat.min(axis=0) >= 0)
        constant = flat.max(axis=0) == flat.min(axis=0)
    expected = np.flatnonzero(finite & (off | constant)).tolist()
    assert expected == [1, 4]  # not 0: negative everywhere, but it varies
    assert flat[:, 0].min() < -53
    assert flat[:, 0].max() > -48
    dead = convscope.dead_channels(model, images, "signed", progress=False)
    assert dead == {"signed": expected}
    stats = convscope.channel_stats(model, images, "signed", progress=False)
    assert stats.non_finite == [3]
    assert np.isnan(stats.mean[3])
    np.testing.assert_allclose(stats.mean[[0, 1, 2, 4]], flat[:, [0, 1, 2, 4]].mean(axis=0), 1e-4)
    # top_images ranks by the peak as it is: the least negative first, as argsort says.
    top = convscope.top_images(model, images, "signed", 0, k=5, progress=False)
    peaks = values[..., 0].reshape(len(images), -1).max(axis=1)
    np.testing.assert_array_equal(top, np.argsort(-peaks, kind="stable")[:5])


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), np.float32("nan")])
def test_a_threshold_that_is_not_finite_is_refused(threshold: float) -> None:
    model = _signed_model()
    with pytest.raises(convscope.InvalidArgumentError, match="threshold must be a finite"):
        convscope.dead_channels(model, np.zeros((2, 28, 28)), "signed", threshold=threshold)
