"""Every row of real ``keras.applications`` models, alone and built the way people build them.

Each family is built offline (``weights=None``) at a small input size, then inspected three
ways: alone, as the first layer of a ``Sequential``, and inside a functional model after
augmentation layers (``base(x, training=False)``). Every row the engine lists must match the
independent reference in ``graph_reference`` (each nested model run on the tensor that really
reached it), through the compiled path that scrubbing uses.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import pytest

import convscope
from convscope import ActivationEngine
from graph_reference import reference_rows

FAMILIES: dict[str, tuple[Callable[..., keras.Model], int]] = {
    "MobileNetV2": (keras.applications.MobileNetV2, 48),
    "MobileNetV3Small": (keras.applications.MobileNetV3Small, 48),
    "ResNet50": (keras.applications.ResNet50, 48),
    "ResNet50V2": (keras.applications.ResNet50V2, 48),
    "EfficientNetB0": (keras.applications.EfficientNetB0, 48),
    "ConvNeXtTiny": (keras.applications.ConvNeXtTiny, 48),
    "DenseNet121": (keras.applications.DenseNet121, 48),
    "Xception": (keras.applications.Xception, 71),
    "InceptionV3": (keras.applications.InceptionV3, 75),
    "VGG16": (keras.applications.VGG16, 48),
    "NASNetMobile": (keras.applications.NASNetMobile, 48),
}
WAYS = ("alone", "sequential", "functional_after_augmentation")
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}


def build(family: str, way: str) -> tuple[keras.Model, int]:
    constructor, size = FAMILIES[family]
    keras.utils.set_random_seed(0)
    base = constructor(weights=None, include_top=False, input_shape=(size, size, 3))
    if way == "alone":
        return base, size
    if way == "sequential":
        model = keras.Sequential(
            [
                keras.Input((size, size, 3)),
                base,
                keras.layers.GlobalAveragePooling2D(name="pool"),
                keras.layers.Dense(5, name="head"),
            ]
        )
        return model, size
    inputs = keras.Input((size, size, 3))
    x = keras.layers.RandomFlip("horizontal", name="flip")(inputs)
    x = keras.layers.RandomRotation(0.1, name="rotate")(x)
    x = keras.layers.Rescaling(1 / 255, name="scale")(x)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(5, name="head")(keras.layers.Dropout(0.2, name="drop")(x))
    return keras.Model(inputs, outputs, name=f"{family.lower()}_classifier"), size


@pytest.mark.slow
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_row_matches_the_recorded_input_reference(family: str, way: str) -> None:
    model, size = build(family, way)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255 if way.startswith("functional") else 1, (2, size, size, 3))
    images = images.astype(np.float32)

    engine = ActivationEngine(model, cache_bytes=0)
    names = engine.layer_names
    # batch_size=1 makes two calls, so the compiled extractor (what scrubbing uses) runs.
    got = dict(zip(names, engine.compute_layers(tuple(names), images, batch_size=1), strict=True))
    expected = reference_rows(model, images)

    assert set(expected) <= set(names), "the engine lists every layer of the model"
    extra = {engine.layer(name).kind for name in set(names) - set(expected)}
    assert extra <= {"Add", "Multiply", "Subtract", "Divide", "Concatenate"}  # ops like x + y
    names = [name for name in names if name in expected]
    worst = {
        name: float(np.max(np.abs(got[name] - expected[name]) / (1 + np.abs(expected[name]))))
        for name in names
    }
    wrong = [
        name
        for name in names
        if not np.allclose(got[name], expected[name], **TOLERANCE)  # type: ignore[arg-type]
    ]
    assert not wrong, f"{len(wrong)} rows differ, e.g. {wrong[:5]}; worst {max(worst.values())}"
    if way != "alone":
        np.testing.assert_allclose(
            engine.predict(images), np.asarray(model(images, training=False)), **TOLERANCE
        )


@pytest.mark.slow
def test_transfer_learning_rows_draw_and_the_explorer_scrubs_them() -> None:
    """The issue's model: MobileNetV2 first in a Sequential, every row usable everywhere."""
    model, size = build("MobileNetV2", "sequential")
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, (6, size, size, 3)).astype(np.float32)
    acts = convscope.get_activations(model, images)
    assert "mobilenetv2_1.00_48" in acts  # the nested model's own row, which used to fail
    assert acts["mobilenetv2_1.00_48"].shape == (6, 2, 2, 1280)
    figure = convscope.plot_feature_maps(model, images, "mobilenetv2_1.00_48")
    assert figure.get_size_inches()[0] > 0

    explorer = convscope.Explorer(model, images, figure="none")
    for name in explorer.layers:
        explorer.layer = name
        assert explorer.layer == name
    explorer.layer = "mobilenetv2_1.00_48/block_16_project"
    explorer.sample = 3
    assert explorer.panels.grid_panel.pixels.std() > 0
