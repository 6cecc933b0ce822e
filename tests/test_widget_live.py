"""Live training in the Explorer: ``ex.fit`` in a thread, ``ex.live()`` in a blocking fit.

Each snapshot shown is checked against plain Keras: a fresh ``mnist_cnn(pretrained=False)``
given the snapshot's weights.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import keras
import numpy as np
import pytest

import convscope
from convscope.data.mnist import offline_digits
from convscope.errors import LabelError, TrainingBusyError


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, ...]:
    images, labels = offline_digits("train")
    order = np.random.default_rng(0).permutation(len(labels))[:640]  # 10 batches of 64
    shown, shown_labels = offline_digits("test")
    return images[order][..., np.newaxis], labels[order], shown[:200], shown_labels[:200]


def _explorer(data: tuple[np.ndarray, ...], figure: str = "none") -> convscope.Explorer:
    model = convscope.mnist_cnn(pretrained=False)
    return convscope.Explorer(model, data[2], data[3], figure=figure)  # type: ignore[arg-type]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _plain_keras(weights: list[np.ndarray], layer: str, image: np.ndarray) -> np.ndarray:
    fresh = convscope.mnist_cnn(pretrained=False)
    fresh.set_weights(weights)
    extractor = keras.Model(fresh.inputs[0], fresh.get_layer(layer).output)
    return np.asarray(extractor(image[np.newaxis, ..., np.newaxis].astype(np.float32)))[0]


def test_fit_trains_in_the_background_and_shows_what_plain_keras_computes(
    data: tuple[np.ndarray, ...], tmp_path: Path
) -> None:
    x, y, shown, _ = data
    ex = _explorer(data)
    run = ex.fit(x, y, epochs=2, batch_size=64, every=3, validation_data=(x[:64], y[:64]))
    ex.pause()  # held before its next batch: the refusals below are not a race
    with pytest.raises(TrainingBusyError, match=r"already training.*ex\.wait\(\).*ex\.stop\(\)"):
        ex.fit(x, y)
    with pytest.raises(TrainingBusyError):
        ex.live()
    assert ex.status.startswith("training paused")
    ex.resume()
    ex.wait()
    assert run.epochs == ex.epochs == [0, 3, 6, 9, 10, 12, 15, 18, 20]
    assert run.steps_per_epoch == 10
    assert ex.epoch == 20
    assert _same(ex.engine.model.get_weights(), run.weights[-1])  # the model is trained
    assert ex.status == "training finished: step 20 (epoch 2.0), 9 snapshots"
    assert not ex.error
    # A snapshot on the slider shows what a fresh model given its weights computes.
    ex.epoch = 6
    assert not ex.follow  # choosing a snapshot stops following
    ex.update(layer="conv1", sample=5)
    shown_maps = ex.engine.activation("conv1", ex.engine.prepare(shown[5])[0], key=5)
    np.testing.assert_allclose(
        shown_maps, _plain_keras(run.weights[2], "conv1", shown[5]), rtol=1e-5, atol=1e-5
    )
    probabilities = _plain_keras(run.weights[2], "predictions", shown[5])
    np.testing.assert_allclose(ex.probabilities, probabilities, rtol=1e-5, atol=1e-6)
    first, last = run.weights[0][0], run.weights[-1][0]  # conv1's kernels changed
    assert np.abs(first - last).max() > 1e-3
    # Saved like the replay, read back whole.
    loaded = convscope.TrainingRun.load(run.save(tmp_path / "live"))
    assert loaded.epochs == run.epochs
    assert loaded.steps_per_epoch == 10
    assert all(_same(a, b) for a, b in zip(loaded.weights, run.weights, strict=True))
    np.testing.assert_equal(loaded.history["val_accuracy"], run.history["val_accuracy"])


def test_stop_keeps_the_snapshots_and_the_last_completed_batch(
    data: tuple[np.ndarray, ...],
) -> None:
    x, y = data[0], data[1]
    ex = _explorer(data)
    run = ex.fit(x, y, epochs=50, batch_size=64, every=4)
    ex.pause()
    ex.resume()
    ex.stop()  # returns once the thread has ended
    assert "training stopped" in ex.status
    assert 0 < run.epochs[-1] < 500
    assert _same(ex.engine.model.get_weights(), run.weights[-1])
    copy = ex._trainer.model  # the copy that trained: it stopped at that very batch
    assert _same(copy.get_weights(), run.weights[-1])
    with pytest.raises(LabelError, match="no training to pause"):
        convscope.Explorer(convscope.mnist_cnn(pretrained=False), data[2], figure="none").pause()


def test_a_snapshot_thinned_away_is_never_replaced_by_an_older_one(
    data: tuple[np.ndarray, ...],
) -> None:
    x, y = data[0], data[1]
    ex = _explorer(data)
    run = ex.fit(x, y, epochs=1, batch_size=64, every=1, cap=4)
    ex.wait()
    assert len(run.epochs) == 4
    assert run.epochs[0] == 0
    assert run.epochs[-1] == 10
    missing = next(step for step in range(11) if step not in run.epochs)
    ex.epoch = missing
    assert ex.epoch > missing  # the next kept one
    assert _same(ex.engine.model.get_weights(), run.weights[run.epochs.index(ex.epoch)])


def test_a_nan_loss_stops_training_and_the_banner_says_so(
    data: tuple[np.ndarray, ...],
) -> None:
    x, y = data[0], data[1]
    weights = np.ones(len(y), np.float32)
    weights[3 * 64] = np.nan  # the fourth batch's loss is NaN
    ex = _explorer(data)
    run = ex.fit(x, y, sample_weight=weights, epochs=3, batch_size=64, every=1, shuffle=False)
    ex.wait()
    assert ex.error == (
        "Training stopped: the loss became nan at step 4; the model is back at step 3, its "
        "last finite snapshot."
    )
    assert ex.status.startswith("training failed: step 3")
    assert all(np.isfinite(w).all() for w in ex.engine.model.get_weights())
    assert _same(ex.engine.model.get_weights(), run.weights[-1])
    assert run.epochs == [0, 1, 2, 3]


def test_a_failing_fit_is_named_in_the_banner(data: tuple[np.ndarray, ...]) -> None:
    ex = _explorer(data)
    ex.fit(data[0], None, epochs=1)  # no labels: Keras refuses in the thread
    ex.wait()
    assert ex.error.startswith("Training failed: ")
    assert ex.status.startswith("training failed")


def test_in_a_notebook_the_slider_grows_and_follows_while_training_runs(
    data: tuple[np.ndarray, ...],
) -> None:
    x, y = data[0], data[1]
    seen: list[tuple[int, int | None]] = []

    async def train() -> convscope.TrainingRun:
        ex = _explorer(data, figure="png")  # made inside the loop: news comes through it
        frames = len(ex._figure_frame)
        run = ex.fit(x, y, epochs=3, batch_size=64, every=2)
        while ex._live is not None and ex._live.running:
            seen.append((len(ex.epochs), ex.epoch))
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # the end's news
        assert frames > 0
        assert ex.epoch == run.epochs[-1]
        return run

    run = asyncio.run(train())
    counts = sorted({count for count, _ in seen})
    assert len(counts) >= 3, seen  # the slider grew while training ran
    followed = {epoch for _, epoch in seen if epoch is not None}
    assert len(followed) >= 2, seen  # and the view followed it before the end
    assert max(followed) < run.epochs[-1] or len(followed) >= 3


def test_the_blocking_form_pushes_frames_and_snapshots_while_fit_runs(
    data: tuple[np.ndarray, ...],
) -> None:
    x, y = data[0], data[1]
    ex = _explorer(data, figure="png")
    model = ex.engine.model
    running = {"now": False}
    during = {"_figure_frame": 0, "_epochs": 0}

    def count(change: dict[str, object]) -> None:
        if running["now"]:
            during[str(change["name"])] += 1

    ex.observe(count, names=["_figure_frame", "_epochs"])

    class Running(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_begin(self, logs: object = None) -> None:  # noqa: ARG002
            running["now"] = True

        def on_train_end(self, logs: object = None) -> None:  # noqa: ARG002
            running["now"] = False

    live = ex.live(every=2)
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[Running(), live])
    assert during["_epochs"] >= 5  # the slider grew during the cell
    assert during["_figure_frame"] >= 1  # and the figure was sent while it ran
    run = live.store.run
    assert ex.epochs == run.epochs
    assert run.epochs[-1] == 20
    assert _same(model.get_weights(), run.weights[-1])
    assert ex.status.startswith("training finished")
    assert not ex._training["controls"]  # the page's pause cannot reach a busy kernel
    live = ex.live(every=2)
    ex.pause()  # nothing could resume a blocking fit: pausing one does nothing
    model.fit(x[:128], y[:128], epochs=1, batch_size=64, verbose=0, callbacks=[live])
    assert ex.status.startswith("training finished: step 2")


def test_the_pages_buttons_pause_follow_and_stop(data: tuple[np.ndarray, ...]) -> None:
    x, y = data[0], data[1]
    ex = _explorer(data)
    ex.fit(x, y, epochs=50, batch_size=64, every=5)
    for seq, action in enumerate(["pause", "unfollow"], start=1):
        ex._receive({"type": "training", "seq": seq, "action": action})
    ex._flush()
    assert ex._training["state"] == "paused"
    assert not ex.follow
    ex._receive({"type": "training", "seq": 3, "action": "jump"})
    ex._flush()
    assert "'training' request: action 'jump'" in ex.error
    ex._receive({"type": "training", "seq": 4, "action": "stop"})
    ex._flush()
    ex.wait()
    assert ex._training["state"] == "stopped"
    assert ex._ack == 4


def test_closing_the_widget_stops_training(data: tuple[np.ndarray, ...]) -> None:
    ex = _explorer(data)
    ex.fit(data[0], data[1], epochs=100, batch_size=64)
    thread = ex._live.thread if ex._live is not None else None
    ex.close()
    assert thread is not None
    assert not thread.is_alive()


def test_a_keyboard_interrupt_in_a_blocking_fit_keeps_the_snapshots_and_the_last_batch(
    data: tuple[np.ndarray, ...],
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    x, y = data[0], data[1]
    shell = InteractiveShell.instance()
    try:
        ex = _explorer(data)
        model = ex.engine.model

        class Interrupt(keras.callbacks.Callback):  # type: ignore[misc]
            def on_train_batch_end(self, batch: int, logs: object = None) -> None:  # noqa: ARG002
                if batch == 6:
                    raise KeyboardInterrupt

        live = ex.live(every=5)
        shell.events.trigger("post_run_cell", None)  # the cell that made it: fit comes later
        with pytest.raises(KeyboardInterrupt):
            model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[live, Interrupt()])
        assert ex.status.startswith("training: step 5")  # Keras told no callback
        shell.events.trigger("post_run_cell", None)  # the interrupted cell ends
        assert ex.status.startswith("training interrupted: step 7")
        run = live.store.run
        assert run.epochs == [0, 5, 7]
        assert ex.epoch == 7
        assert _same(model.get_weights(), run.weights[-1])  # the last completed batch
    finally:
        InteractiveShell.clear_instance()


def test_what_is_kept_per_snapshot_stays_within_the_cap(data: tuple[np.ndarray, ...]) -> None:
    x, y = data[0], data[1]
    ex = _explorer(data)
    ex.update(norm="fixed")  # a data-set colour scale per weights, too
    run = ex.fit(x, y, epochs=2, batch_size=64, every=1, cap=4)
    ex.wait()
    for step in range(0, 21, 2):  # visit many snapshots; most are thinned away meanwhile
        ex.epoch = step
    run2 = ex.fit(x[:128], y[:128], epochs=4, batch_size=64, every=1, cap=4)
    ex.wait()
    assert len(run.epochs) == len(run2.epochs) == 4
    tags = {ex._live.tag(step) for step in run2.epochs}  # type: ignore[union-attr]
    # Predictions and colour scales are kept only for the snapshots the slider can show.
    controller = ex._controller
    kept = [key for key in controller.classes.kept if isinstance(key, tuple)]
    kept += [key for key, _ in controller.stats.ranges if isinstance(key, tuple)]
    assert set(kept) <= tags


def test_any_compiled_model_trains_on_a_tf_data_dataset(data: tuple[np.ndarray, ...]) -> None:
    import tensorflow as tf

    inputs = keras.Input((28, 28, 1))
    hidden = keras.layers.Conv2D(4, 3, activation="relu", name="edges")(inputs)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ex = convscope.Explorer(model, data[2][:50], data[3][:50], figure="none")
    images = data[0].astype(np.float32) / 255
    dataset = tf.data.Dataset.from_tensor_slices((images, data[1])).batch(128)
    run = ex.fit(dataset, epochs=2, every=2)
    ex.wait()
    assert run.epochs == [0, 2, 4, 5, 6, 8, 10]  # 5 batches an epoch
    assert run.steps_per_epoch == 5
    assert not ex.error
    assert _same(model.get_weights(), run.weights[-1])
    ex.epoch = 4
    image = data[2][7]
    fresh = keras.models.clone_model(model)
    fresh.set_weights(run.weights[2])
    expected = keras.Model(fresh.inputs[0], fresh.get_layer("edges").output)(
        image[np.newaxis, ..., np.newaxis].astype(np.float32)
    )
    shown = ex.engine.activation("edges", ex.engine.prepare(image)[0], key=7)
    np.testing.assert_allclose(shown, np.asarray(expected)[0], rtol=1e-5, atol=1e-6)


def test_a_keras_py_dataset_trains_and_its_snapshots_read_as_keras_does(
    data: tuple[np.ndarray, ...],
) -> None:
    class Batches(keras.utils.PyDataset):  # type: ignore[misc]
        def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
            super().__init__()
            self.images, self.labels = images, labels

        def __len__(self) -> int:
            return len(self.labels) // 128

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            rows = slice(index * 128, (index + 1) * 128)
            return self.images[rows], self.labels[rows]

    ex = _explorer(data)
    images = data[0].astype(np.float32)
    run = ex.fit(Batches(images, data[1]), epochs=1, every=2)
    ex.wait()
    assert not ex.error
    assert run.epochs == [0, 2, 4, 5]  # 5 batches, a snapshot every 2 and at the end
    assert _same(ex.engine.model.get_weights(), run.weights[-1])
    assert not _same(run.weights[0], run.weights[-1])  # it learnt something
    ex.epoch = 2
    fresh = convscope.mnist_cnn(pretrained=False)
    fresh.set_weights(run.weights[run.index(2)])
    image = data[2][3]
    expected = keras.Model(fresh.inputs[0], fresh.get_layer("conv1").output)(
        image[np.newaxis, ..., np.newaxis].astype(np.float32)
    )
    shown = ex.engine.activation("conv1", ex.engine.prepare(image)[0], key=3)
    np.testing.assert_allclose(shown, np.asarray(expected)[0], rtol=1e-5, atol=1e-5)


def test_ctrl_c_in_wait_stops_training_and_keeps_the_snapshots(
    data: tuple[np.ndarray, ...],
) -> None:
    import _thread
    import threading

    ex = _explorer(data)
    run = ex.fit(data[0], data[1], epochs=100, batch_size=64, every=3)
    threading.Timer(2.0, _thread.interrupt_main).start()  # as Ctrl-C in the kernel would
    with pytest.raises(KeyboardInterrupt):
        ex.wait()
    assert ex._live is not None
    assert ex._live.done.is_set()  # training ended before the interrupt went on
    ex.wait()  # shows where it ended
    assert ex.status.startswith("training stopped")
    assert 0 < run.epochs[-1] < 1000
    assert _same(ex.engine.model.get_weights(), run.weights[-1])


def test_following_computes_only_the_predictions_shown_and_never_stale_ones(
    data: tuple[np.ndarray, ...],
) -> None:
    """While following, a snapshot's data-set predictions are computed only where needed.

    The page's captions and the chart are the snapshot's own; the confusion matrix hides,
    and the training line says the predictions are pending, until a filter needs them all.
    """
    x, y, shown, labels = data
    ex = _explorer(data)
    seen: dict[str, object] = {}

    class Inspect(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: object = None) -> None:  # noqa: ARG002
            step = ex.epoch
            if seen or not isinstance(step, int) or step == 0:
                return
            run = live.store.run
            weights = run.weights[run.epochs.index(step)]
            seen["step"], seen["confusion"], seen["status"] = step, ex._confusion, ex.status
            seen["weights"], seen["meta"] = weights, list(ex._thumb_meta)
            seen["probabilities"] = ex.probabilities
            ex.filter(misclassified=True)  # needs every prediction: computed now, these weights'
            seen["mistakes"], seen["after"] = ex.filtered_samples, ex._confusion

    live = ex.live(every=2)
    ex.engine.model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[live, Inspect()])
    assert seen, "no snapshot was followed during the fit"
    fresh = convscope.mnist_cnn(pretrained=False)
    fresh.set_weights(seen["weights"])
    plain = fresh.predict(shown[..., np.newaxis].astype(np.float32), verbose=0)
    predicted = plain.argmax(axis=1)
    assert seen["confusion"] == []  # hidden: never the matrix of other weights
    assert f"predictions for step {seen['step']:,} pending" in str(seen["status"])
    meta = seen["meta"]
    assert isinstance(meta, list)
    assert [row["predicted"] for row in meta] == predicted[: len(meta)].tolist()
    np.testing.assert_allclose(seen["probabilities"], plain[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(seen["mistakes"], np.flatnonzero(predicted != labels))
    expected = np.zeros((10, 10), dtype=np.int64)
    np.add.at(expected, (labels.astype(np.int64), predicted), 1)
    assert seen["after"] == expected.tolist()


@pytest.mark.parametrize("fill", ["idle turn", "ex.wait()"])
def test_predictions_filled_while_idle_never_mix_in_weights_set_since(
    data: tuple[np.ndarray, ...], fill: str
) -> None:
    """After a run, the data set's predictions are filled in chunks between requests.

    A cell that sets other weights meanwhile must not have its predictions kept as the last
    snapshot's, nor may ``ex.wait()``, which fills them all: back on that snapshot, the sample
    line and the thumbnails' classes are Keras's.
    """
    x, y, shown, _ = data
    ex = _explorer(data)
    run = ex.fit(x, y, epochs=1, batch_size=64, every=5)
    ex._trainer.wait(None)  # the run ends as in a kernel: ex.wait() would fill them all
    last = run.epochs[-1]
    assert ex.epoch == last
    assert not ex._controller.classes.complete  # filled between requests, lazily
    model = ex.engine.model
    model.set_weights(convscope.mnist_cnn().get_weights())  # pretrained: other classes
    if fill == "idle turn":
        ex._weights._fill()  # an idle turn of the kernel's loop
    else:
        ex.wait()
    ex.epoch = 0
    ex.epoch = last  # back on the run's last snapshot
    probabilities = _plain_keras(run.weights[-1], "predictions", shown[150])
    ex.update(sample=150)
    np.testing.assert_allclose(ex.probabilities, probabilities, rtol=1e-5, atol=1e-6)
    expected = _plain_keras_all(run.weights[-1], shown).argmax(axis=1)
    thumbs = ex._thumb_meta
    assert [t["predicted"] for t in thumbs] == expected[[t["index"] for t in thumbs]].tolist()
    ex.close()


def _plain_keras_all(weights: list[np.ndarray], images: np.ndarray) -> np.ndarray:
    fresh = convscope.mnist_cnn(pretrained=False)
    fresh.set_weights(weights)
    return np.asarray(fresh(images[..., np.newaxis].astype(np.float32)))
