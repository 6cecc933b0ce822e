"""The Explorer on models that are not the bundled CNN: several outputs, NaN and Inf, layouts."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import convscope
from convscope.render.normalise import NON_FINITE_RGB


def images(count: int = 12) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, (count, 16, 16, 3)).astype(np.float32)


def trunk(inputs: keras.KerasTensor) -> keras.KerasTensor:
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    return keras.layers.Flatten(name="flat")(x)


def has_colour(rgba: np.ndarray, rgb: tuple[int, int, int]) -> int:
    return int(np.all(rgba[..., :3] == rgb, axis=-1).sum())


@pytest.mark.parametrize("structure", ["list", "dict"])
def test_heads_of_different_sizes_show_the_first_and_say_which(structure: str) -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = trunk(inputs)
    digit = keras.layers.Dense(10, activation="softmax", name="digit")(x)
    size = keras.layers.Dense(3, name="size")(x)
    outputs = [digit, size] if structure == "list" else {"digit": digit, "size": size}
    model = keras.Model(inputs, outputs)

    explorer = convscope.Explorer(model, images(), figure="png")
    assert explorer.engine.predict(images(4)).shape == (4, 10)
    assert "output digit" in explorer._sample_text
    assert len(explorer.class_names) == 10
    chosen = convscope.Explorer(model, images(), figure="none", output="size")
    assert chosen.engine.predict(images(4)).shape == (4, 3)
    assert "output size" in chosen._sample_text
    assert len(chosen.class_names) == 3
    chosen.layer = "conv"
    chosen.sample = 5
    assert chosen.panels.class_panel.get_visible()


def test_equal_sized_heads_predict_one_head_not_a_stack() -> None:
    keras.utils.set_random_seed(1)
    inputs = keras.Input((16, 16, 3))
    x = trunk(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(4, name=f"h{i}")(x) for i in range(2)])
    explorer = convscope.Explorer(model, images(), figure="none", output="h1")
    predicted = explorer.engine.predict(images(3))
    assert predicted.shape == (3, 4)
    np.testing.assert_allclose(predicted, np.asarray(model(images(3))[1]), atol=1e-5)


def test_nan_and_inf_in_a_layer_are_marked_and_named_never_drawn_as_colour() -> None:
    keras.utils.set_random_seed(2)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    huge = keras.layers.Rescaling(1e30, name="huge")(x)
    overflow = keras.layers.Rescaling(1e30, name="overflow")(huge)  # ±Inf where conv != 0
    nan = keras.layers.Subtract(name="inf_minus_inf")([overflow, overflow])  # NaN there
    logits = keras.layers.Dense(10, name="logits")(keras.layers.Flatten()(nan))
    model = keras.Model(inputs, logits)

    explorer = convscope.Explorer(model, images(), figure="png", layer="conv")
    assert explorer.status == "the model's output for sample 0 is NaN/Inf"  # the logits
    clean = explorer.panels.grid_panel.pixels.copy()
    assert has_colour(clean, NON_FINITE_RGB) == 0
    explorer.layer = "inf_minus_inf"
    assert "inf_minus_inf" in explorer.status
    assert "NaN/Inf" in explorer.status
    grid = explorer.panels.grid_panel.pixels
    assert has_colour(grid, NON_FINITE_RGB) > 0.5 * grid.shape[0] * grid.shape[1] * 0.5
    assert has_colour(explorer.panels.channel_panel.pixels, NON_FINITE_RGB) > 0
    assert not explorer.panels.class_panel.get_visible()  # no NaN probability drawn
    assert "output NaN/Inf" in explorer._sample_text
    explorer.layer = "conv"
    assert "inf_minus_inf" not in explorer.status


def test_channels_first_maps_are_drawn_one_cell_per_channel() -> None:
    # TensorFlow's CPU kernels have no channels-first convolution; padding has one.
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, name="conv")(inputs)
    x = keras.layers.Permute((3, 1, 2), name="to_nchw")(x)
    x = keras.layers.ZeroPadding2D((2, 1), data_format="channels_first", name="pad_cf")(x)
    model = keras.Model(inputs, keras.layers.Flatten()(x))
    explorer = convscope.Explorer(model, images(), figure="none", layer="pad_cf")
    assert explorer._channel_count == 6
    explorer.channel = 5
    maps = explorer.engine.activation("pad_cf", images(1)[0])
    assert maps.shape == (6, 18, 16)
    reference = explorer.engine.activation("conv", images(1)[0])
    np.testing.assert_allclose(maps[5, 2:-2, 1:-1], reference[..., 5], atol=1e-6)
