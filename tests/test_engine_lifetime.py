"""A model is freed once the notebook drops it: convscope's shared engines, weights watches and
compiled passes go with it, and so does a closed Explorer (with its model and images).

A notebook that builds a model in a loop (a sweep, a retrain, a cell run again) would otherwise
keep every model and its compiled functions in memory until the kernel restarts.
"""

from __future__ import annotations

import copy
import gc
import weakref
from collections.abc import Callable

import keras
import numpy as np
import pytest

import convscope
from convscope.engine.weights import weights_version

IMAGES = np.random.default_rng(0).uniform(0, 1, (6, 12, 12, 1)).astype(np.float32)
LABELS = np.array([0, 1, 2, 0, 1, 2])


def _model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )


def _explorer(model: keras.Model) -> None:
    explorer = convscope.Explorer(model, IMAGES, LABELS, figure="none")
    explorer.update(layer="conv", channel=2, sample=3)
    explorer.view = "grad-cam"
    explorer.close()


USES: dict[str, Callable[[keras.Model], object]] = {
    "get_activations": lambda model: convscope.get_activations(model, IMAGES, "conv"),
    "grad_cam": lambda model: convscope.grad_cam(model, IMAGES[:2], layer="conv"),
    "activation_heatmap": lambda model: convscope.activation_heatmap(model, IMAGES[0], "conv"),
    "channel_stats": lambda model: convscope.channel_stats(model, IMAGES, "conv", progress=False),
    "dead_channels": lambda model: convscope.dead_channels(model, IMAGES, progress=False),
    "weights_version": weights_version,
    "Explorer, closed": _explorer,
}


@pytest.mark.parametrize("use", list(USES))
def test_a_model_is_freed_after_convscope_used_it(use: str) -> None:
    model = _model()
    result = USES[use](model)
    assert result is None or result is not model
    gone = weakref.ref(model)
    del model, result
    gc.collect()
    assert gone() is None, f"after {use}, something still holds the model"


def test_a_copied_model_gets_its_own_engine_and_the_same_numbers() -> None:
    model = _model()
    first = convscope.get_activations(model, IMAGES, "conv")["conv"]
    twin = copy.deepcopy(model)
    np.testing.assert_array_equal(convscope.get_activations(twin, IMAGES, "conv")["conv"], first)
    # The copy's weights are its own: changing them changes its maps, never the original's.
    twin.get_layer("conv").kernel.assign(np.zeros((3, 3, 1, 4), np.float32))
    assert not convscope.get_activations(twin, IMAGES, "conv")["conv"].any()
    np.testing.assert_array_equal(convscope.get_activations(model, IMAGES, "conv")["conv"], first)
