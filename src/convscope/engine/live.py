"""Live training: snapshots of a model's weights taken while it trains, thinned to a cap.

A :class:`LiveRun` keeps numpy copies of the weights, taken by the :class:`LiveSnapshots`
callback every ``every`` batches, in a :class:`~convscope.engine.training.TrainingRun` whose
``epochs`` count training steps (batches). Showing a snapshot reads those copies, never the
variables a training thread is changing.

Thinning: a run keeps at most ``cap`` snapshots (:data:`DEFAULT_CAP`). When one more arrives,
the interior snapshot whose two neighbours are closest together relative to its own step is
dropped (the first, before training, and the newest always stay; ties drop the earliest). Taken
at an even cadence, the kept steps become roughly geometric: dense early, when filters change
most, and sparser later, each gap a small share of the step it follows.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from convscope.engine.training import TrainingRun
from convscope.errors import IndexOutOfRangeError, ModelNotSupportedError

DEFAULT_CAP = 64
"""Snapshots a live run keeps at most (see the module's thinning rule)."""
DEFAULT_EVERY = 10
"""Batches between two snapshots by default."""
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def thinned(steps: np.ndarray) -> int:
    """Return the index of the snapshot to drop from ``steps`` (ascending, at least 3).

    The interior one whose neighbours are closest together relative to its own step.
    """
    kept = np.asarray(steps, dtype=np.float64)
    relative_gaps = (kept[2:] - kept[:-2]) / np.maximum(kept[1:-1], 1.0)
    return int(np.argmin(relative_gaps)) + 1


class LiveRun:
    """The snapshots of one training as it runs, safe to read from another thread.

    Parameters
    ----------
    model : keras.Model
        The model the weights belong to (the Explorer's); it is never read from here.
    cap : int
        Snapshots kept at most, at least 3.
    on_snapshot : callable, optional
        Called after each new snapshot, on the thread that took it.

    """

    def __init__(
        self,
        model: keras.Model,
        cap: int = DEFAULT_CAP,
        on_snapshot: Callable[[], None] | None = None,
    ) -> None:
        self.cap = cap
        self.run = TrainingRun(model, [], [], {name: [] for name in METRICS}, steps_per_epoch=None)
        self.on_snapshot = on_snapshot
        self.fault = ""  # why training stopped early, when something broke it
        self.dropped: list[int] = []  # steps thinned away since the reader last looked
        self._lock = threading.Lock()

    def add(self, step: int, weights: list[np.ndarray], logs: dict[str, float]) -> None:
        """Keep ``weights`` (copies the caller will not change) as the snapshot of ``step``."""
        run = self.run
        with self._lock:
            if run.epochs and run.epochs[-1] == step:  # the same step again: newer logs win
                self._set_logs(len(run.epochs) - 1, logs)
            else:
                run.epochs.append(step)
                run.weights.append(weights)
                for name in METRICS:
                    run.history[name].append(math.nan)
                self._set_logs(len(run.epochs) - 1, logs)
                if len(run.epochs) > self.cap:
                    self._drop(thinned(np.asarray(run.epochs)))
        if self.on_snapshot is not None:
            self.on_snapshot()

    def _set_logs(self, index: int, logs: dict[str, float]) -> None:
        for name in METRICS:
            if name in logs:
                self.run.history[name][index] = float(logs[name])

    def _drop(self, index: int) -> None:
        run = self.run
        self.dropped.append(run.epochs.pop(index))
        del run.weights[index]
        for values in run.history.values():
            del values[index]

    def steps(self) -> list[int]:
        """Return the steps kept now, ascending."""
        with self._lock:
            return list(self.run.epochs)

    def history(self) -> dict[str, list[float]]:
        """Per kept snapshot: each metric (NaN where unknown); only metrics with a value."""
        with self._lock:
            return {
                name: list(values)
                for name, values in self.run.history.items()
                if any(value == value for value in values)  # noqa: PLR0124 - NaN test
            }

    def take_dropped(self) -> list[int]:
        """Return the steps thinned away since the last call."""
        with self._lock:
            dropped, self.dropped = self.dropped, []
        return dropped

    def nearest(self, step: int) -> tuple[int, list[np.ndarray]]:
        """Return the kept snapshot at ``step``, or the first kept after it (thinned away).

        Never one before ``step``: nothing older than what was asked for is shown. Past the
        newest, the newest.

        Raises
        ------
        IndexOutOfRangeError
            Before any snapshot was taken.

        """
        with self._lock:
            steps = self.run.epochs
            if not steps:
                raise IndexOutOfRangeError(
                    "No snapshot yet: training has not reached its first one."
                )
            index = min(int(np.searchsorted(steps, step)), len(steps) - 1)
            return steps[index], self.run.weights[index]

    def latest(self) -> tuple[int, list[np.ndarray]] | None:
        """Return the newest snapshot, or ``None`` before the first."""
        with self._lock:
            if not self.run.epochs:
                return None
            return self.run.epochs[-1], self.run.weights[-1]


class TrainingControl:
    """Pause, resume and stop requests for a training, asked between two batches."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self.stop_asked = False

    @property
    def paused(self) -> bool:
        """Whether training waits before its next batch."""
        return not self._running.is_set()

    def pause(self) -> None:
        """Hold training before its next batch."""
        self._running.clear()

    def resume(self) -> None:
        """Let a paused training go on."""
        self._running.set()

    def stop(self) -> None:
        """End training after the batch it is on (a paused one too)."""
        self.stop_asked = True
        self._running.set()

    def wait_if_paused(self) -> None:
        """Block the training thread while paused."""
        self._running.wait()


class LiveSnapshots(keras.callbacks.Callback):  # type: ignore[misc]
    """A Keras callback that fills a :class:`LiveRun` while any ``fit`` runs.

    Before training it keeps the weights as step 0 (if the run has none yet); then every
    ``every`` batches, at each epoch's end (with the held-out scores) and at the end. A loss
    that goes NaN or Inf stops training: no snapshot is taken of those weights, the run's
    :attr:`LiveRun.fault` says so, and at the end the model gets the last finite snapshot
    back. Between batches it honours ``control``'s pause and stop.

    Parameters
    ----------
    store : LiveRun
        Where the snapshots go.
    source : keras.Model
        The model whose weights are copied (the trained one, or a model inside it).
    every : int
        Batches between two snapshots.
    control : TrainingControl, optional
        Pause and stop requests.
    on_end : callable, optional
        Called when training ends, after the last snapshot.

    """

    def __init__(
        self,
        store: LiveRun,
        source: keras.Model,
        every: int = DEFAULT_EVERY,
        control: TrainingControl | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.source = source
        self.every = every
        self.control = control or TrainingControl()
        self.on_end = on_end
        self.step = 0  # batches trained, over every fit this callback has seen

    def _keep(self, logs: dict[str, Any] | None) -> None:
        weights = [np.array(array, copy=True) for array in self.source.get_weights()]
        # Weights can overflow a batch or two before the loss shows it: never keep those.
        if not all(np.isfinite(array).all() for array in weights if array.dtype.kind == "f"):
            self._fail(f"the weights became NaN or Inf at step {self.step}")
            return
        self.store.add(self.step, weights, _floats(logs))

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:  # noqa: ARG002
        """Keep the weights before training as step 0, and the steps per epoch if known.

        Raises
        ------
        ModelNotSupportedError
            When the model that ``fit`` trains is not the one snapshotted, nor holds it.

        """
        if not _holds(self.model, self.source):
            raise ModelNotSupportedError(
                f"This callback keeps the weights of {self.source.name!r}, and this fit trains "
                f"{self.model.name!r}, which does not hold it: pass callbacks=[ex.live()] to "
                "the fit of the model the Explorer shows."
            )
        steps = (self.params or {}).get("steps")
        if steps and self.store.run.steps_per_epoch is None:
            self.store.run.steps_per_epoch = int(steps)
        if self.store.latest() is None:
            self._keep({})

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: ARG002
        """Snapshot every ``every`` batches; stop on a non-finite loss; honour pause and stop."""
        self.step += 1
        found = _floats(logs)
        loss = found.get("loss", 0.0)
        if not math.isfinite(loss):
            self._fail(f"the loss became {loss} at step {self.step}")
            return
        if self.step % self.every == 0:
            self._keep(found)
        self.control.wait_if_paused()
        if self.control.stop_asked:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: ARG002
        """Keep the weights at the epoch's end, with its held-out scores."""
        if self.store.fault:
            return
        found = _floats(logs)
        bad = [name for name in ("loss", "val_loss") if not math.isfinite(found.get(name, 0.0))]
        if bad:
            self._fail(f"the {bad[0]} became {found[bad[0]]} after step {self.step}")
            return
        if self.store.run.steps_per_epoch is None:
            self.store.run.steps_per_epoch = self.step
        self._keep(found)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:  # noqa: ARG002
        """Keep the final weights; after a fault, put the last finite snapshot back."""
        latest = self.store.latest()
        if self.store.fault:
            if latest is not None:
                self.source.set_weights(latest[1])
        elif latest is not None and latest[0] != self.step:
            self._keep({})
        if self.on_end is not None:
            self.on_end()

    def _fail(self, what: str) -> None:
        latest = self.store.latest()
        kept = "" if latest is None else f"; the model is back at step {latest[0]}"
        self.store.fault = f"Training stopped: {what}{kept}, its last finite snapshot."
        self.model.stop_training = True


def _holds(outer: keras.Model, inner: keras.Model) -> bool:
    """Whether ``outer`` is ``inner`` or has it among its layers, at any depth."""
    if outer is inner:
        return True
    return any(_holds(layer, inner) for layer in outer.layers if isinstance(layer, keras.Model))


def _floats(logs: dict[str, Any] | None) -> dict[str, float]:
    """Return the logs' scalar metrics as floats (Keras may hand numpy or tensor scalars)."""
    return {
        name: float(np.asarray(value))
        for name, value in (logs or {}).items()
        if np.size(value) == 1 and np.issubdtype(np.asarray(value).dtype, np.number)
    }


def training_copy(model: keras.Model) -> keras.Model:
    """Return a copy of ``model``, compiled as it is, holding its weights: to train elsewhere.

    A training thread changes the copy's variables while the Explorer reads the model's own.

    Raises
    ------
    ModelNotSupportedError
        For a model that is not compiled, or that Keras cannot clone or compile again from
        its own config (custom objects, say); the message names the blocking form instead.

    """
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    if not config:
        raise ModelNotSupportedError(
            f"The model {model.name!r} is not compiled: call model.compile(optimizer=..., "
            "loss=..., metrics=[...]) before training it in the Explorer."
        )
    try:
        copy = keras.models.clone_model(model)
        copy.compile_from_config(config)
        copy.set_weights(model.get_weights())
    except Exception as error:  # noqa: BLE001 - any failure: name it and the other way
        raise ModelNotSupportedError(
            f"Explorer.fit trains a copy of the model in the background, and Keras cannot "
            f"copy {model.name!r} ({type(error).__name__}: {error}). Train it in a cell "
            "instead: model.fit(..., callbacks=[ex.live()])."
        ) from None
    return copy
