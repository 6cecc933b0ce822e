"""The class chart shows what the model outputs and says which: softmax, sigmoid or scores."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import convscope


def _small(ending: list[keras.layers.Layer], seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            *ending,
        ]
    )


@pytest.fixture(scope="module")
def digits(mnist_test: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return mnist_test[0][:30]


def _model_says(model: keras.Model, digits: np.ndarray, sample: int) -> np.ndarray:
    return model(digits[sample : sample + 1, ..., np.newaxis].astype(np.float32)).numpy()[0]


def test_a_multi_label_sigmoid_is_shown_as_the_model_outputs_it(digits: np.ndarray) -> None:
    model = _small([keras.layers.Dense(3, activation=tf.nn.sigmoid, name="labels")])
    explorer = convscope.Explorer(model, digits, figure="none", layer="conv")
    for sample in (0, 11):
        explorer.sample = sample
        np.testing.assert_allclose(explorer.probabilities, _model_says(model, digits, sample), 1e-6)
    assert abs(float(explorer.probabilities.sum()) - 1.0) > 1e-3  # not made to sum to 1
    assert explorer._controller.classes.chart_caption == "sigmoid: each class on its own"


def test_a_one_unit_sigmoid_is_two_classes(digits: np.ndarray) -> None:
    model = _small([keras.layers.Dense(1, activation="sigmoid", name="p")], seed=5)
    explorer = convscope.Explorer(model, digits, figure="none", layer="conv")
    assert explorer.class_names == ["0", "1"]
    probability = float(_model_says(model, digits, 4)[0])
    explorer.sample = 4
    np.testing.assert_allclose(explorer.probabilities, [1 - probability, probability], atol=1e-6)
    explorer.view = "grad-cam"
    side = "1" if probability >= 0.5 else "0"
    title = explorer.panels._titles[explorer.panels.grid_panel].get_text()
    assert f"class {side} (predicted)" in title


@pytest.mark.parametrize(
    ("ending", "caption"),
    [
        ([keras.layers.Dense(10, activation=keras.ops.softmax)], "softmax: the model's"),
        ([keras.layers.Dense(10), keras.layers.Lambda(keras.ops.softmax)], "softmax: the model's"),
        ([keras.layers.Dense(10)], "softmax of the model's scores"),
    ],
    ids=["Dense(ops.softmax)", "Lambda(softmax)", "scores"],
)
def test_softmax_in_any_form_and_scores(
    digits: np.ndarray, ending: list[keras.layers.Layer], caption: str
) -> None:
    model = _small(ending, seed=2)
    explorer = convscope.Explorer(model, digits, figure="none", layer="conv")
    explorer.sample = 9
    said = _model_says(model, digits, 9).astype(np.float64)
    if caption.startswith("softmax of"):
        said = np.exp(said - said.max()) / np.exp(said - said.max()).sum()
    np.testing.assert_allclose(explorer.probabilities, said, atol=1e-6)
    assert explorer._controller.classes.chart_caption.startswith(caption)


def test_an_output_that_cannot_be_read_shows_no_probabilities(digits: np.ndarray) -> None:
    model = _small([keras.layers.Dense(10), keras.layers.Lambda(keras.ops.log_softmax)])
    explorer = convscope.Explorer(model, digits, figure="none", layer="conv")
    assert explorer.probabilities is None
    with pytest.raises(convscope.ModelNotSupportedError, match="none of softmax, sigmoid"):
        explorer.view = "grad-cam"
