"""Live snapshots: thinning to a cap, the callback's cadence, and the faults that stop training."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from convscope.data.mnist import offline_digits
from convscope.engine.live import LiveRun, LiveSnapshots, TrainingControl, thinned, training_copy
from convscope.engine.mnist_cnn import mnist_cnn
from convscope.errors import IndexOutOfRangeError, ModelNotSupportedError


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = offline_digits("train")
    order = np.random.default_rng(0).permutation(len(labels))[:640]  # every class, 10 batches
    return images[order][..., np.newaxis].astype(np.float32), labels[order]


def _brute_force_drop(steps: list[int]) -> int:
    """The interior snapshot whose neighbours are closest relative to its step, earliest first."""
    best, found = math.inf, -1
    for i in range(1, len(steps) - 1):
        gap = (steps[i + 1] - steps[i - 1]) / max(steps[i], 1)
        if gap < best:
            best, found = gap, i
    return found


def test_thinning_keeps_the_cap_the_ends_and_dense_early_steps() -> None:
    store = LiveRun(mnist_cnn(pretrained=False), cap=64)
    weights = [np.zeros(1, np.float32)]
    for step in range(0, 2001, 10):  # 201 snapshots at an even cadence
        expected = [*store.steps(), step]
        if len(expected) > 64:
            del expected[_brute_force_drop(expected)]
        store.add(step, weights, {"loss": 1.0 / (step + 1)})
        assert store.steps() == expected
    steps = np.array(store.steps())
    assert len(steps) == 64
    assert steps[0] == 0  # before training
    assert steps[-1] == 2000  # the newest
    gaps = np.diff(steps)
    assert gaps[0] == 10  # dense early
    assert gaps[-10:-1].min() > 5 * gaps[0]  # sparse later (the newest comes at any gap)
    later = steps[1:-1] >= 100  # past the cadence's floor: each gap a small share of its step
    assert (gaps[1:][later] / steps[1:-1][later]).max() < 0.15
    # The history is thinned with the snapshots: each value is still its own step's.
    assert np.allclose(store.history()["loss"], 1.0 / (steps + 1))
    assert sorted(store.take_dropped() + steps.tolist()) == list(range(0, 2001, 10))


def test_a_tie_drops_the_earliest() -> None:
    assert thinned(np.array([0, 10, 20, 40, 80])) == 2  # 20: (40-10)/20; 40: (80-20)/40 too


def test_nearest_never_answers_an_older_snapshot() -> None:
    store = LiveRun(mnist_cnn(pretrained=False), cap=3)
    with pytest.raises(IndexOutOfRangeError, match="No snapshot yet"):
        store.nearest(0)
    for step in (0, 10, 20, 30):
        store.add(step, [np.full(1, step, np.float32)], {})
    assert store.steps() == [0, 10, 30]  # 20 was thinned away
    step, weights = store.nearest(20)
    assert step == 30  # the next kept one, not 10
    assert weights[0][0] == 30
    assert store.nearest(5)[0] == 10
    assert store.nearest(99)[0] == 30


def test_the_callback_snapshots_every_n_batches_each_epoch_and_the_end(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = digits
    model = mnist_cnn(pretrained=False)
    store = LiveRun(model)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=2, batch_size=64, callbacks=[LiveSnapshots(store, model, every=3)],
              verbose=0, validation_data=(x[:64], y[:64]))  # fmt: skip
    assert store.steps() == [0, 3, 6, 9, 10, 12, 15, 18, 20]
    assert store.run.steps_per_epoch == 10
    assert all(np.array_equal(a, b) for a, b in zip(store.run.weights[0], before, strict=True))
    final = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(store.run.weights[-1], final, strict=True))
    history = store.history()
    assert not math.isnan(history["val_accuracy"][4])  # the epoch's end has held-out scores
    assert history["loss"][-1] < history["loss"][1]


def test_a_nan_loss_stops_at_the_last_finite_snapshot(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = digits
    weights = np.ones(len(y), np.float32)
    weights[3 * 64 + 5] = np.nan  # the fourth batch's loss is NaN, and so its update
    model = mnist_cnn(pretrained=False)
    store = LiveRun(model)
    history = model.fit(x, y, sample_weight=weights, epochs=3, batch_size=64, shuffle=False,
                        verbose=0, callbacks=[LiveSnapshots(store, model, every=2)])  # fmt: skip
    assert len(history.history["loss"]) == 1  # stopped in the first epoch
    assert store.steps() == [0, 2]
    assert store.fault == (
        "Training stopped: the loss became nan at step 4; the model is back at step 2, its "
        "last finite snapshot."
    )
    kept = store.run.weights[-1]
    assert all(np.isfinite(w).all() for w in kept)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), kept, strict=True))


def test_weights_that_overflow_before_the_loss_are_never_kept() -> None:
    model = mnist_cnn(pretrained=False)
    store = LiveRun(model)
    callback = LiveSnapshots(store, model, every=1)
    callback.set_model(model)
    callback.on_train_begin()
    bias = model.get_layer("predictions").bias
    bias.assign(np.full(10, np.inf, np.float32))  # as a diverging update would leave it
    callback.on_train_batch_end(0, {"loss": 1.5})  # the loss has not caught up yet
    assert store.steps() == [0]
    assert store.fault.startswith("Training stopped: the weights became NaN or Inf at step 1")
    assert model.stop_training


def test_stop_and_pause_are_honoured_between_batches(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = digits
    model = mnist_cnn(pretrained=False)
    store = LiveRun(model)
    control = TrainingControl()

    class StopAfterSeven(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: object = None) -> None:  # noqa: ARG002
            if batch == 6:
                control.stop()

    model.fit(x, y, epochs=3, batch_size=64, verbose=0,
              callbacks=[StopAfterSeven(), LiveSnapshots(store, model, 5, control)])  # fmt: skip
    assert store.steps() == [0, 5, 7]  # the last completed batch is kept
    final = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(store.run.weights[-1], final, strict=True))
    assert not store.fault


def test_a_model_that_is_not_compiled_is_refused_by_name() -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ModelNotSupportedError, match=r"not compiled.*model\.compile"):
        training_copy(model)


def test_the_training_copy_holds_the_weights_and_trains_apart() -> None:
    model = mnist_cnn(pretrained=False)
    copy = training_copy(model)
    assert all(
        np.array_equal(a, b) for a, b in zip(model.get_weights(), copy.get_weights(), strict=True)
    )
    copy.fit(np.zeros((8, 28, 28, 1), np.float32), np.zeros(8, np.int64), verbose=0)
    assert not np.array_equal(model.get_weights()[-1], copy.get_weights()[-1])  # output bias


def test_a_fit_of_another_model_is_refused_by_name(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    shown, other = mnist_cnn(pretrained=False), mnist_cnn(pretrained=False)
    with pytest.raises(ModelNotSupportedError, match=r"ex\.live\(\)"):
        other.fit(x[:64], y[:64], verbose=0, callbacks=[LiveSnapshots(LiveRun(shown), shown)])
    # A model that holds it (an augmenting trainer, say) is the same training.
    trainer = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Identity(), shown])
    trainer.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    store = LiveRun(shown)
    trainer.fit(x[:128], y[:128], batch_size=64, verbose=0,
                callbacks=[LiveSnapshots(store, shown, every=1)])  # fmt: skip
    assert store.steps() == [0, 1, 2]
    assert np.array_equal(store.run.weights[-1][0], shown.get_weights()[0])
