"""The view state's rules: a change of the MNIST CNN's view is checked before anything is drawn."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from convscope.engine.activations import ActivationEngine
from convscope.errors import IndexOutOfRangeError, ModelNotSupportedError, NotSpatialLayerError
from convscope.widget.view_state import DRAWN, ViewRules, ViewState, source_of
from convscope.widget.views import DeeperViews


@pytest.fixture(scope="module")
def rules(model: Any) -> ViewRules:
    engine = ActivationEngine(model)
    views = DeeperViews(engine, (0.0, 255.0), lambda _layer, _finished: None)
    names = [str(digit) for digit in range(10)]
    return ViewRules(engine, 100, names, views, drawable=False)


def test_a_layer_switch_keeps_the_channel_it_has_and_forgets_the_probe(rules: ViewRules) -> None:
    state = ViewState(layer="conv2", channel=40, sample=3, probe=(2, 2))
    moved = rules.resolve(state, layer="conv1")
    channels = rules.engine.layer("conv1").channels
    assert (moved.layer, moved.channel, moved.probe) == ("conv1", channels - 1, None)
    assert state == ViewState(layer="conv2", channel=40, sample=3, probe=(2, 2))  # untouched
    assert rules.resolve(state, target_class="7").target_class == 7


def test_a_bad_change_is_refused_by_name(rules: ViewRules) -> None:
    state = ViewState(layer="conv2", channel=0, sample=0)
    with pytest.raises(IndexOutOfRangeError, match="sample"):
        rules.resolve(state, sample=100)
    with pytest.raises(NotSpatialLayerError, match="no maps to probe"):
        rules.resolve(state, layer="dense", probe=(0, 0))
    with pytest.raises(ModelNotSupportedError, match="one grey input channel"):
        rules.resolve(state, sample=DRAWN)  # this data set's model was said to take none
    assert source_of(replace(state, drawn=True)) == DRAWN


def test_probe_positions_are_checked_against_the_layers_maps(rules: ViewRules) -> None:
    height = (
        rules.engine.layer("conv2")
        .channels_last(np.empty(rules.engine.layer("conv2").output_shape, bool))
        .shape[0]
    )
    state = ViewState(layer="conv2", channel=0, sample=0)
    assert rules.resolve(state, probe=[1, 2]).probe == (1, 2)
    with pytest.raises(IndexOutOfRangeError, match="row"):
        rules.resolve(state, probe=(height, 0))
