"""The bundled MNIST CNN: its architecture, its pretrained weights and how to retrain it.

The architecture is built in code and the weights ship as plain arrays, one per layer weight,
named by layer: every Keras 3 loads them the same way (a ``.keras`` file saved by one Keras
release often fails to deserialise in an older one).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from convscope.engine.pattern_cache import cache_home, settings_key
from convscope.engine.training import EpochProgress, Snapshots, TrainingRun
from convscope.errors import ModelFileError

WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "weights" / "pretrained_cnn.npz"
REPLAY_EPOCHS = (1, 2, 3, 5, 8, 12, 20, 30)  # kept by the replay, with 0 (before training)
REPLAY_SEED = 1234  # the bundled model's seed
CLASS_NAMES = tuple(str(digit) for digit in range(10))
TrainedModel = tuple[keras.Model, keras.callbacks.History]
"""What training returns without snapshots: the model and what ``fit`` recorded."""


def build_mnist_cnn() -> keras.Model:
    """Build the untrained classic tutorial CNN for 28×28 grey digits.

    The model takes raw pixel values (0..255, as :func:`convscope.load_mnist` returns them)
    and scales them itself, so activations never depend on the caller remembering to divide.

    Returns
    -------
    keras.Model
        ``rescale → conv1 (24) → pool1 → conv2 (48) → pool2 → conv3 (64) → pool3 → flatten →
        dense (128) → dropout (0.25) → predictions (10, softmax)``.

    """
    conv = {"kernel_size": 3, "padding": "same", "activation": "relu"}
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="digit"),
            keras.layers.Rescaling(1.0 / 255, name="rescale"),
            keras.layers.Conv2D(24, name="conv1", **conv),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(48, name="conv2", **conv),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Conv2D(64, name="conv3", **conv),
            keras.layers.MaxPooling2D(name="pool3"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(128, activation="relu", name="dense"),
            keras.layers.Dropout(0.25, name="dropout"),
            keras.layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="mnist_cnn",
    )


def mnist_cnn(pretrained: bool = True) -> keras.Model:
    """Return the bundled MNIST CNN.

    Parameters
    ----------
    pretrained : bool
        Load the weights that ship with convscope (trained by ``scripts/train_mnist_cnn.py``
        on real MNIST digits, never on the test set) into the architecture of
        :func:`build_mnist_cnn`. ``False`` gives fresh random weights.

    Returns
    -------
    keras.Model
        A built, compiled model that maps ``(N, 28, 28, 1)`` raw pixels to 10 class
        probabilities.

    """
    model = build_mnist_cnn()
    if pretrained:
        load_layer_weights(model, WEIGHTS_PATH)
    compile_mnist_cnn(model)
    return model


def save_layer_weights(model: keras.Model, path: str | os.PathLike[str]) -> Path:
    """Write every layer's weights to one ``.npz`` file, as ``"<layer name>.<index>"`` arrays.

    Returns
    -------
    Path
        ``path``, which :func:`load_layer_weights` reads back into the same architecture.

    """
    arrays = {
        f"{layer.name}.{number}": np.asarray(array)
        for layer in model.layers
        for number, array in enumerate(layer.get_weights())
    }
    target = Path(path)
    np.savez_compressed(target, **arrays)  # type: ignore[arg-type]
    return target


def load_layer_weights(model: keras.Model, path: str | os.PathLike[str]) -> None:
    """Put the arrays written by :func:`save_layer_weights` into ``model``'s layers, by name.

    Raises
    ------
    ModelFileError
        When the file is missing or damaged, or its arrays do not fit ``model``'s layers; the
        model's weights are then left as they were.

    """
    source = Path(path)
    try:
        with np.load(source, allow_pickle=False) as stored:
            arrays = {name: np.array(stored[name]) for name in stored.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ModelFileError(
            f"Cannot read the weights file {str(source)!r}: {error}. Reinstall convscope."
        ) from None
    layers = [layer for layer in model.layers if layer.weights]
    wanted = {
        f"{layer.name}.{n}": layer.weights[n] for layer in layers for n in range(len(layer.weights))
    }
    misfits = sorted(
        name
        for name, variable in wanted.items()
        if name not in arrays or tuple(arrays[name].shape) != tuple(variable.shape)
    )
    if misfits or set(arrays) != set(wanted):
        raise ModelFileError(
            f"The weights in {str(source)!r} do not fit the model {model.name!r} (no array of "
            f"the right shape for {', '.join(misfits) or 'none'}; extra arrays "
            f"{', '.join(sorted(set(arrays) - set(wanted))) or 'none'})."
        )
    for layer in layers:
        layer.set_weights([arrays[f"{layer.name}.{n}"] for n in range(len(layer.weights))])


def replay_path() -> Path:
    """Where :func:`mnist_training_run` keeps the replay: under convscope's cache home.

    ``$CONVSCOPE_CACHE_DIR/replay``, else ``$XDG_CACHE_HOME/convscope/replay``, else
    ``~/.cache/convscope/replay``; the file name holds a hash of the recipe, so a change of
    epochs or seed never reads an old replay.
    """
    key = settings_key("mnist_cnn", REPLAY_EPOCHS, REPLAY_SEED, keras.__version__)
    return cache_home() / "replay" / f"mnist_cnn-{key}.npz"


def compile_mnist_cnn(model: keras.Model, learning_rate: float = 1e-3) -> None:
    """Compile ``model`` as the recipe trains it: Adam, sparse cross-entropy, accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def fit_mnist_cnn(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 30,
    batch_size: int = 64,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    augment: bool = True,
    seed: int = 1234,
    verbose: int | str = "auto",
    save_to: str | os.PathLike[str] | None = None,
    snapshots: bool | Iterable[int] = False,
) -> TrainedModel | TrainingRun:
    """Train the tutorial CNN from scratch on ``images`` and ``labels``, with one progress bar.

    See :func:`convscope.recipes.train_mnist_cnn`, which documents every parameter and picks
    the default digits (the data layer's, which the engine does not import).
    """
    import tensorflow as tf  # noqa: PLC0415 - determinism switch lives in TF, not in Keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    model = build_mnist_cnn()
    compile_mnist_cnn(model)
    steps: list[Any] = [keras.Input(shape=(28, 28, 1))]
    if augment:
        steps += [
            keras.layers.RandomRotation(0.04, fill_mode="constant", seed=seed),
            keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 1),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed + 2),
        ]
    trainer = keras.Sequential([*steps, model], name="mnist_cnn_trainer")
    compile_mnist_cnn(trainer)

    x = np.asarray(images, np.float32)[..., np.newaxis]
    y = np.asarray(labels, np.int64)
    validation = None
    if validation_data is not None:
        validation = (
            np.asarray(validation_data[0], np.float32)[..., np.newaxis],
            np.asarray(validation_data[1], np.int64),
        )
    callbacks = [keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=3)]
    kept = None
    if snapshots is not False:
        kept = Snapshots(model, None if snapshots is True else snapshots)
        callbacks.append(kept)
    if verbose == "auto":
        callbacks.append(EpochProgress(epochs))
    history = trainer.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation,
        shuffle=True,
        callbacks=callbacks,
        verbose=0 if verbose == "auto" else verbose,
    )
    if save_to is not None:
        model.save(save_to)
    if kept is None:
        return model, history
    return _replay(model, kept, (x, y), validation)


def _replay(
    model: keras.Model,
    kept: Snapshots,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray] | None,
) -> TrainingRun:
    """Make the :class:`TrainingRun` of a finished training, measuring epoch 0 as the others."""
    final = model.get_weights()
    model.set_weights(kept.weights[0])
    first = dict(zip(("loss", "accuracy"), model.evaluate(*train, verbose=0), strict=True))
    if validation is not None:
        scores = model.evaluate(*validation, verbose=0)
        first.update(zip(("val_loss", "val_accuracy"), scores, strict=True))
    model.set_weights(final)
    logs = [first, *kept.logs[1:]]
    names: list[str] = [
        name for name in ("loss", "accuracy", "val_loss", "val_accuracy") if name in first
    ]
    history = {name: [float(log.get(name, np.nan)) for log in logs] for name in names}
    return TrainingRun(model, kept.epochs, kept.weights, history)
