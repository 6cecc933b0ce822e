"""The bundled MNIST CNN: its architecture, its accuracy on real MNIST, and retraining."""

from __future__ import annotations

import keras
import numpy as np

from convscope import mnist_cnn, train_mnist_cnn
from convscope.engine.activations import ActivationEngine
from convscope.engine.mnist_cnn import WEIGHTS_PATH


def test_architecture_is_the_tutorial_cnn(model: keras.Model) -> None:
    names = [layer.name for layer in model.layers]
    assert names == [
        "rescale", "conv1", "pool1", "conv2", "pool2", "conv3", "pool3",
        "flatten", "dense", "dropout", "predictions",
    ]  # fmt: skip
    convs = [model.get_layer(name) for name in ("conv1", "conv2", "conv3")]
    assert [conv.filters for conv in convs] == [24, 48, 64]
    for conv in convs:
        assert conv.kernel_size == (3, 3)
        assert conv.padding == "same"
        assert conv.activation.__name__ == "relu"
    assert model.get_layer("dense").units == 128
    assert model.get_layer("dropout").rate == 0.25
    assert model.outputs[0].shape[-1] == 10


def test_pretrained_weights_reach_97_percent_on_the_real_test_set(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    probabilities = ActivationEngine(model).predict(images)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
    print(f"bundled model accuracy on {len(labels)} MNIST test images: {accuracy:.4f}")
    assert accuracy >= 0.97
    assert WEIGHTS_PATH.stat().st_size < 2 * 2**20


def test_untrained_model_is_at_chance(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    fresh = mnist_cnn(pretrained=False)
    accuracy = np.mean(ActivationEngine(fresh).predict(images[:1000]).argmax(1) == labels[:1000])
    assert accuracy < 0.5


def test_training_is_deterministic_and_learns(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    from convscope.data.mnist import offline_digits

    images, labels = offline_digits("train")
    subset = np.arange(0, 4500, 3)  # 1,500 digits keep the test quick
    runs = [
        train_mnist_cnn(images[subset], labels[subset], epochs=2, augment=False, verbose=0)
        for _ in range(2)
    ]
    (first, history), (second, _) = runs
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history.history["loss"][-1] < history.history["loss"][0]
    test_images, test_labels = mnist_test
    predicted = ActivationEngine(first).predict(test_images[:1000]).argmax(1)
    assert np.mean(predicted == test_labels[:1000]) > 0.8
