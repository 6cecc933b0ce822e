"""A training run kept for replay: a model's weights after chosen epochs, and its history.

Epoch 0 is the weights before training. A run is one ``.npz`` file: every snapshot's arrays,
the epochs they come from, the history, the model's architecture as Keras's own JSON, and a
fingerprint (layer names and weight shapes) that says which model the weights fit.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from convscope.errors import IndexOutOfRangeError, ModelFileError

_FORMAT = "convscope.TrainingRun/1"


@dataclass
class TrainingRun:
    """Weights of one model at several epochs of its training, and what training recorded.

    Attributes
    ----------
    model : keras.Model
        The model; :meth:`use` puts one epoch's weights into it, in place.
    epochs : list of int
        The training epoch of each snapshot, ascending; ``0`` is before training.
    weights : list of list of np.ndarray
        One ``model.get_weights()`` list per snapshot.
    history : dict of str to list of float
        Per snapshot: ``loss``, ``accuracy`` and, when there was held-out data, ``val_loss``
        and ``val_accuracy`` (NaN where unknown).
    steps_per_epoch : int, optional
        Set for a run recorded live (``Explorer.fit``, ``Explorer.live``): its ``epochs`` then
        count training steps (batches), of which an epoch has this many.

    """

    model: keras.Model
    epochs: list[int]
    weights: list[list[np.ndarray]]
    history: dict[str, list[float]] = field(default_factory=dict)
    steps_per_epoch: int | None = None

    def index(self, epoch: int) -> int:
        """Return the snapshot of training epoch ``epoch``, or raise listing the epochs kept."""
        if epoch not in self.epochs:
            raise IndexOutOfRangeError(
                f"Epoch {epoch!r} is not in this run; it keeps epochs {self.epochs}."
            )
        return self.epochs.index(epoch)

    def use(self, epoch: int) -> None:
        """Put the weights of training epoch ``epoch`` into :attr:`model`, in place."""
        self.model.set_weights(self.weights[self.index(epoch)])

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the run to one ``.npz`` file (the suffix is added if missing); return its path."""
        target = Path(path)
        if target.suffix != ".npz":
            target = target.with_suffix(target.suffix + ".npz")
        if not target.parent.is_dir():
            raise ModelFileError(
                f"Cannot save to {str(target)!r}: the folder {str(target.parent)!r} does not "
                "exist. Create it first."
            )
        meta = {
            "format": _FORMAT,
            "epochs": self.epochs,
            "history": self.history,
            "steps_per_epoch": self.steps_per_epoch,
            "fingerprint": fingerprint(self.model),
            "architecture": self.model.to_json(),
        }
        arrays = {
            f"e{snapshot}_{number}": array
            for snapshot, snapshot_weights in enumerate(self.weights)
            for number, array in enumerate(snapshot_weights)
        }
        arrays["meta"] = np.array(json.dumps(meta))
        np.savez_compressed(target, **arrays)  # type: ignore[arg-type]
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: keras.Model | None = None) -> TrainingRun:
        """Read a run written by :meth:`save`.

        Parameters
        ----------
        path : path-like
            The ``.npz`` file.
        model : keras.Model, optional
            The model the weights are for; by default it is rebuilt from the file.

        Raises
        ------
        ModelFileError
            A file that is missing, corrupt or not a run, or whose weights do not fit
            ``model``; the message says which.

        """
        source = Path(path)
        try:
            with np.load(source, allow_pickle=False) as stored:
                meta = json.loads(str(stored["meta"]))
                arrays = {name: np.array(stored[name]) for name in stored.files if name != "meta"}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
            raise ModelFileError(
                f"Cannot read the training run {str(source)!r}: {type(error).__name__}: "
                f"{error}. The file is missing or damaged; save the run again."
            ) from None
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ModelFileError(
                f"{str(source)!r} is not a convscope training run; write one with "
                "TrainingRun.save()."
            )
        count = len(meta.get("fingerprint", []))
        try:
            weights = [
                [arrays[f"e{snapshot}_{n}"] for n in range(count)]
                for snapshot in range(len(meta["epochs"]))
            ]
        except KeyError as missing:
            raise ModelFileError(
                f"The training run {str(source)!r} lacks the array {missing}: it is damaged; "
                "save the run again."
            ) from None
        if model is None:
            model = keras.models.model_from_json(meta["architecture"])
        expected = [_hashable(item) for item in meta["fingerprint"]]
        found = [_hashable(item) for item in fingerprint(model)]
        if found != expected:
            raise ModelFileError(
                f"The training run {str(source)!r} is for another model: its weights "
                f"({_describe(expected)}) do not fit this one ({_describe(found)}). Load it "
                "without model= to rebuild its own model."
            )
        steps = meta.get("steps_per_epoch")
        return cls(
            model,
            [int(e) for e in meta["epochs"]],
            weights,
            meta["history"],
            None if steps is None else int(steps),
        )


def fingerprint(model: keras.Model) -> list[Any]:
    """Return what identifies a model's weights: ``[(layer name, shape), ...]``.

    One entry per array of ``model.get_weights()``, in its order, named by the model's own
    layer that holds it (variable paths depend on where the model was built).
    """
    return [(layer.name, list(weight.shape)) for layer in model.layers for weight in layer.weights]


def _hashable(item: Any) -> tuple[str, tuple[int, ...]]:
    """Return a fingerprint entry as ``(path, shape)``, read from JSON or from the model."""
    name, shape = item
    return str(name), tuple(int(dim) for dim in shape)


def _describe(found: list[Any]) -> str:
    names = [str(name) for name, _ in found]
    return f"{len(found)} arrays, of {', '.join(dict.fromkeys(names))}"[:200]


class Snapshots(keras.callbacks.Callback):  # type: ignore[misc]
    """A Keras callback that keeps a model's weights before training and after chosen epochs.

    Parameters
    ----------
    model : keras.Model
        The model whose weights to keep (inside a trainer with augmentation layers, say).
    epochs : collection of int, optional
        Training epochs to keep (1-based, as Keras prints them); every one by default.

    """

    def __init__(self, model: keras.Model, epochs: Any = None) -> None:
        super().__init__()
        self.kept = model
        self.wanted = None if epochs is None else {int(epoch) for epoch in epochs}
        self.epochs: list[int] = []
        self.weights: list[list[np.ndarray]] = []
        self.logs: list[dict[str, float]] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:  # noqa: ARG002
        """Keep the weights before any training, as epoch 0."""
        self._keep(0, {})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Keep the weights after ``epoch + 1`` if it is wanted."""
        if self.wanted is None or epoch + 1 in self.wanted:
            self._keep(epoch + 1, dict(logs or {}))

    def _keep(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        self.weights.append([np.array(array) for array in self.kept.get_weights()])
        self.logs.append({key: float(value) for key, value in logs.items()})


class EpochProgress(keras.callbacks.Callback):  # type: ignore[misc]
    """One progress bar for a whole training, advanced once per epoch.

    Keras's own output is two lines per epoch (about 60 for the replay's 30 epochs, each a
    separate line in a notebook); this is a single line that fills up in place.

    Parameters
    ----------
    epochs : int
        How many epochs the training runs.

    """

    SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy")

    def __init__(self, epochs: int) -> None:
        super().__init__()
        # The latest value of each metric, not Keras's running mean over updates.
        self.bar = keras.utils.Progbar(epochs, unit_name="epoch", stateful_metrics=self.SHOWN)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Advance the bar to ``epoch + 1`` with that epoch's loss and accuracy."""
        shown = [(name, float(value)) for name, value in (logs or {}).items() if name in self.SHOWN]
        self.bar.update(epoch + 1, values=shown)
