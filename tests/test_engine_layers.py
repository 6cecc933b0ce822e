"""Which models and layers the engine accepts, and the errors for the ones it cannot take."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope import ActivationEngine
from convscope.errors import ModelNotSupportedError, UnknownLayerError


def test_layers_are_listed_with_shapes_and_spatial_flags(model: keras.Model) -> None:
    engine = ActivationEngine(model)
    listed = {info.name: (info.output_shape, info.spatial) for info in engine.layers}
    assert listed["conv1"] == ((28, 28, 24), True)
    assert listed["pool3"] == ((3, 3, 64), True)
    assert listed["flatten"] == ((576,), False)
    assert listed["predictions"] == ((10,), False)
    assert engine.layer("conv2").shape_text == "14×14×48"
    assert engine.layer("dense").channels == 128


@pytest.fixture(scope="module")
def nested_classifier() -> tuple[keras.Model, keras.Model]:
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), include_top=False, weights=None, alpha=0.35
    )
    classifier = keras.Sequential(
        [
            keras.Input((96, 96, 3)),
            keras.layers.Rescaling(1 / 127.5, offset=-1, name="scale"),
            base,
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(2, name="head"),
        ]
    )
    return classifier, base


def test_nested_model_layers_are_paths_and_compute_correctly(
    nested_classifier: tuple[keras.Model, keras.Model],
) -> None:
    classifier, base = nested_classifier
    engine = ActivationEngine(classifier)
    path = f"{base.name}/block_1_expand"
    assert path in engine.layer_names
    assert engine.layer(path).output_shape == (48, 48, 48)

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 96, 96, 3)).astype(np.float32)
    got = engine.compute(path, images)
    inner = keras.Model(base.inputs, base.get_layer("block_1_expand").output)
    expected = inner.predict(images / 127.5 - 1, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert got.std() > 0  # a real map, not zeros


def test_functional_model_with_nested_base_works(
    nested_classifier: tuple[keras.Model, keras.Model],
) -> None:
    _, base = nested_classifier
    inputs = keras.Input((96, 96, 3))
    features = base(keras.layers.Rescaling(1 / 255.0)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(features)))
    engine = ActivationEngine(model)
    out = engine.activation(f"{base.name}/Conv1", np.full((96, 96, 3), 128, np.uint8))
    assert out.shape == (48, 48, 16)


def test_model_that_is_not_built_is_refused() -> None:
    model = keras.Sequential([keras.layers.Conv2D(4, 3), keras.layers.Flatten()])
    with pytest.raises(ModelNotSupportedError, match="not built"):
        ActivationEngine(model)


def test_model_with_two_inputs_is_refused() -> None:
    a, b = keras.Input((8, 8, 1), name="left"), keras.Input((8, 8, 1), name="right")
    model = keras.Model([a, b], keras.layers.Add()([a, b]))
    with pytest.raises(ModelNotSupportedError, match="2 inputs"):
        ActivationEngine(model)


def test_model_without_image_input_is_refused() -> None:
    inputs = keras.Input((16,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ModelNotSupportedError, match="not images"):
        ActivationEngine(model)


def test_not_a_model_is_refused() -> None:
    with pytest.raises(TypeError, match=r"keras\.Model"):
        ActivationEngine("model.keras")  # type: ignore[arg-type]


def test_unknown_layer_suggests_the_closest_names(model: keras.Model) -> None:
    engine = ActivationEngine(model)
    with pytest.raises(UnknownLayerError, match="Did you mean 'conv2'"):
        engine.layer("conv_2")
    assert engine.compiled_layers == []  # nothing was built for the bad request
