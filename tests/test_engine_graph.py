"""The real graph: branches, chains of nested models, shared calls, several outputs, layouts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from convscope import ActivationEngine, get_activations
from convscope.errors import ModelNotSupportedError
from graph_reference import reference_rows

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


def small_base(name: str, channels: int = 4) -> keras.Model:
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu", name="b1")(inputs)
    x = keras.layers.Conv2D(channels, 3, padding="same", name="b2")(x)
    return keras.Model(inputs, x, name=name)


def images(count: int = 3, shape: tuple[int, ...] = (12, 12, 3)) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (count, *shape)).astype(np.float32)


def assert_rows_match_reference(model: keras.Model, x: np.ndarray) -> ActivationEngine:
    engine = ActivationEngine(model, cache_bytes=0)
    expected = reference_rows(model, x)
    assert set(engine.layer_names) == set(expected)
    got = engine.compute_layers(tuple(engine.layer_names), x)
    for name, value in zip(engine.layer_names, got, strict=True):
        np.testing.assert_allclose(value, expected[name], **TOLERANCE, err_msg=name)
    return engine


def test_a_nested_model_fed_from_a_branch_gets_its_real_input() -> None:
    keras.utils.set_random_seed(1)
    base = small_base("base")
    inputs = keras.Input((12, 12, 3))
    negated = keras.layers.Rescaling(-1.0, name="negate")(inputs)
    side = keras.layers.Conv2D(3, 1, name="side_conv")(negated)
    main = base(keras.layers.Rescaling(2.0, name="double")(inputs))
    merged = keras.layers.Concatenate(name="merge")([main, side])
    model = keras.Model(inputs, merged)
    # The layer listed just before the base is on the other branch.
    listed = [layer.name for layer in model.layers]
    assert listed[listed.index("base") - 1] == "negate"

    engine = assert_rows_match_reference(model, images())
    direct = keras.Model(base.inputs[0], base.get_layer("b2").output)(images() * 2.0)
    np.testing.assert_allclose(engine.compute("base/b2", images()), direct, **TOLERANCE)


def test_two_nested_models_in_a_chain() -> None:
    keras.utils.set_random_seed(2)
    features = small_base("features", channels=6)
    head = keras.Sequential(
        [
            keras.Input((12, 12, 6)),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, name="logits"),
        ],
        name="head",
    )
    model = keras.Sequential([keras.Input((12, 12, 3)), features, head])
    engine = assert_rows_match_reference(model, images())
    assert {"head/gap", "head/logits", "features/b1"} <= set(engine.layer_names)


def test_a_nested_model_called_twice_has_one_row_per_call() -> None:
    keras.utils.set_random_seed(3)
    shared = small_base("shared")
    inputs = keras.Input((12, 12, 3))
    left = shared(inputs)
    right = shared(keras.layers.Rescaling(0.5, name="half")(inputs))
    model = keras.Model(inputs, keras.layers.Subtract(name="diff")([left, right]))

    engine = assert_rows_match_reference(model, images())
    assert {"shared/b2", "shared#2/b2", "shared", "shared#2"} <= set(engine.layer_names)
    first, second = engine.compute_layers(("shared/b2", "shared#2/b2"), images())
    assert not np.allclose(first, second)  # two calls, two different inputs


def test_a_subclassed_nested_model_is_a_row_but_its_inside_is_refused_clearly() -> None:
    class Block(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="block")
            self.conv = keras.layers.Conv2D(2, 3, padding="same", name="inner")

        def call(self, x: object) -> object:
            return self.conv(x)

    inputs = keras.Input((12, 12, 3))
    model = keras.Model(inputs, keras.layers.Flatten(name="flat")(Block()(inputs)))
    engine = ActivationEngine(model)
    assert "block" in engine.layer_names
    assert engine.compute("block", images(1)).shape == (1, 12, 12, 2)
    with pytest.raises(ModelNotSupportedError, match="subclassed model") as error:
        engine.layer("block/inner")
    assert "model.get_layer('block')" in str(error.value)


def two_headed() -> keras.Model:
    keras.utils.set_random_seed(4)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Flatten()(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    digits = keras.layers.Dense(10, activation="softmax", name="digit")(x)
    size = keras.layers.Dense(3, name="size")(x)
    return keras.Model(inputs, {"digit": digits, "size": size})


def test_several_outputs_predict_the_head_asked_for() -> None:
    model = two_headed()
    x = images(3)
    by_default = ActivationEngine(model)
    assert by_default.predict(x).shape == (3, 10)
    sized = ActivationEngine(model, output="size")
    np.testing.assert_allclose(sized.predict(x), np.asarray(model(x)["size"]), **TOLERANCE)
    assert sized.output_shape == (3,)
    assert ActivationEngine(model, output=1).output_shape == (3,)
    with pytest.raises(ModelNotSupportedError, match=r"no output named 'age'.*digit"):
        ActivationEngine(model, output="age")
    with pytest.raises(ModelNotSupportedError, match="out of range"):
        ActivationEngine(model, output=2)


def test_channels_first_layers_count_their_channels() -> None:
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Permute((3, 1, 2), name="to_nchw")(inputs)
    x = keras.layers.Conv2D(5, 3, data_format="channels_first", name="conv_cf")(x)
    x = keras.layers.ReLU(name="relu_cf")(x)
    model = keras.Model(inputs, x)
    engine = ActivationEngine(model)
    conv = engine.layer("conv_cf")
    assert conv.output_shape == (5, 10, 10)
    assert conv.channels_first
    assert conv.channels == 5
    assert engine.layer("relu_cf").channels == 5  # inherits the layout of what feeds it


def test_reading_the_graph_leaves_the_model_as_it_was(tmp_path: Path) -> None:
    model = two_headed()
    before = {key: np.asarray(value) for key, value in model(images()).items()}
    ActivationEngine(model).compute_layers(("conv",), images())
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    for key, value in again(images()).items():
        np.testing.assert_allclose(np.asarray(value), before[key], **TOLERANCE)


@pytest.mark.slow
def test_get_activations_on_a_large_batch_stays_near_the_size_it_returns() -> None:
    """Peak memory above the start stays within 1.3× the arrays returned (plus TF's fixed cost)."""
    script = textwrap.dedent(
        """
        import json, os, resource
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import keras, numpy as np
        import convscope

        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((96, 96, 3)),
            keras.layers.Conv2D(8, 3, padding="same", name="c1"),
            keras.layers.MaxPooling2D(name="p1"),
            keras.layers.Conv2D(16, 3, padding="same", name="c2"),
        ])
        images = np.random.default_rng(0).integers(0, 256, (3000, 96, 96, 3), dtype=np.uint8)
        convscope.get_activations(model, images[:300])  # compile and warm up
        start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        acts = convscope.get_activations(model, images)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        returned = sum(a.nbytes for a in acts.values())
        print(json.dumps({"returned": returned, "growth": peak - start}))
        """
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    print(measured)
    assert measured["returned"] > 800e6
    assert measured["growth"] <= 1.3 * measured["returned"], measured


def test_get_activations_names_every_row_of_a_chain_of_nested_models() -> None:
    keras.utils.set_random_seed(5)
    inner = keras.Sequential([keras.Input((12, 12, 4)), keras.layers.ReLU(name="r")], name="inner")
    middle = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(4, 1), inner])
    model = keras.Sequential([keras.Input((12, 12, 3)), middle], name="outer")
    acts = get_activations(model, images(2))
    assert f"{middle.name}/inner/r" in acts
    assert acts[f"{middle.name}/inner/r"].min() >= 0
