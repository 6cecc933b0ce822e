"""The weights' version follows every change of a model's weights, and only a change."""

from __future__ import annotations

import keras
import numpy as np

from convscope.engine.weights import WeightsWatch, weights_version


def test_the_version_changes_with_any_one_weight_and_comes_back(model) -> None:
    watch = WeightsWatch(model)
    before = watch.version()
    assert watch.version() == before
    original = model.get_weights()
    for index in (0, len(original) - 1):  # the first kernel and the last bias
        changed = [w.copy() for w in original]
        changed[index].flat[-1] = np.nextafter(changed[index].flat[-1], np.float32(np.inf))
        model.set_weights(changed)
        try:
            assert watch.version() != before
            assert weights_version(model) != before
        finally:
            model.set_weights(original)
    assert watch.version() == before


def test_swapping_two_weights_changes_the_version(model) -> None:
    original = model.get_weights()
    before = weights_version(model)
    swapped = [w.copy() for w in original]
    kernel = swapped[0].reshape(-1)
    kernel[[0, 1]] = kernel[[1, 0]]
    model.set_weights(swapped)
    try:
        assert not np.array_equal(swapped[0], original[0])
        assert weights_version(model) != before
    finally:
        model.set_weights(original)


def test_moving_a_value_to_another_variable_changes_the_version(model) -> None:
    original = model.get_weights()
    before = weights_version(model)
    moved = [w.copy() for w in original]
    first, last = moved[0].reshape(-1), moved[-1].reshape(-1)  # the same index, two variables
    first[0], last[0] = last[0], first[0]
    model.set_weights(moved)
    try:
        assert weights_version(model) != before
    finally:
        model.set_weights(original)
    assert weights_version(model) == before


def test_the_cheap_tier_sees_one_changed_weight_anywhere(model) -> None:
    """A small model is one slice: every update's check sees a change to any single weight."""
    watch = WeightsWatch(model)
    watch.version()
    original = model.get_weights()
    rng = np.random.default_rng(0)
    try:
        for index in range(len(original)):  # every variable, a random element of each
            changed = [w.copy() for w in original]
            flat = changed[index].reshape(-1)
            where = int(rng.integers(flat.size))
            flat[where] = np.nextafter(flat[where], np.float32(-np.inf))
            model.set_weights(changed)
            assert watch.changed(), (index, where)
            model.set_weights(original)
            assert not watch.changed(), (index, where)
    finally:
        model.set_weights(original)


def test_the_idle_check_reads_every_slice_and_keeps_nothing() -> None:
    """``unchanged`` sees one weight moved in any slice, and leaves the change to ``changed``.

    Idle work asks it before its passes (``ActivationEngine.weights_as_tagged``): were the
    change kept as seen, the next update's check would miss it and key new maps as old ones.
    """
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), *(keras.layers.Dense(64) for _ in range(4))])
    watch = WeightsWatch(model, slice_size=600)  # a slice per layer or so: several slices
    watch.version()
    assert watch.slice_count > 2
    assert watch.unchanged()
    original = model.get_weights()
    try:
        for index in range(len(original)):  # every variable, so every slice
            changed = [w.copy() for w in original]
            changed[index].flat[-1] += 1.0
            model.set_weights(changed)
            assert not watch.unchanged(), index
            assert not watch.unchanged(), index  # asking again still sees it
            model.set_weights(original)
            assert watch.unchanged(), index
        model.set_weights([w * 2 for w in original])
        assert not watch.unchanged()
        assert any(watch.changed() for _ in range(watch.slice_count))  # still there to see
    finally:
        model.set_weights(original)


def test_the_sign_of_a_zero_weight_is_seen(model) -> None:
    """The version hashes the weights' bytes: ``0.0`` and ``-0.0`` are two states."""
    original = model.get_weights()
    versions = []
    try:
        for zero in (0.0, -0.0):
            changed = [w.copy() for w in original]
            changed[-1].flat[0] = zero
            model.set_weights(changed)
            versions.append(weights_version(model))
    finally:
        model.set_weights(original)
    assert versions[0] != versions[1]


def test_a_step_of_the_optimizer_is_seen_even_when_no_weight_moves() -> None:
    """``fit`` at a learning rate of 0 moves only the step counter; a new optimizer is followed."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "mse")
    watch = WeightsWatch(model)
    before = watch.version()
    assert not watch.changed()
    weights = model.get_weights()
    model.fit(np.ones((8, 4)), np.zeros((8, 3)), epochs=1, batch_size=8, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights(), strict=True))
    assert watch.changed()
    watch.version()
    assert not watch.changed()
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "mse")  # another step counter, at 0
    model.fit(np.ones((8, 4)), np.zeros((8, 3)), epochs=1, batch_size=8, verbose=0)
    assert watch.changed()
    assert watch.version() == before  # the same weights: the version is the weights' alone


def test_a_pass_carries_the_check_only_where_one_slice_reads_every_weight() -> None:
    """The check traced into a pass vouches for the weights of the last version, and only them.

    A zero weight's sign and an optimizer's step are changes to it too; a model of several
    slices carries no check (its cheap tier reads one slice at a time).
    """
    import tensorflow as tf

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "mse")
    watch = WeightsWatch(model)
    watch.version()
    check = watch.inline_check()
    assert check is not None
    assert WeightsWatch(model, slice_size=4).inline_check() is None
    look = tf.function(check.checksum)
    assert watch.vouches_for(check, *look())
    original = model.get_weights()
    changed = [w.copy() for w in original]
    changed[1].flat[0] = -0.0  # the bias starts at +0.0
    model.set_weights(changed)
    assert not watch.vouches_for(check, *look())
    model.set_weights(original)
    assert watch.vouches_for(check, *look())
    model.fit(np.ones((8, 4)), np.zeros((8, 3)), epochs=1, batch_size=8, verbose=0)
    assert not watch.vouches_for(check, *look())  # the step counter moved, no weight did
    watch.version()
    assert watch.vouches_for(check, *look())
