"""Tell cheaply whether a model's weights changed, so that every cache can follow the model.

Training, ``set_weights``, ``load_weights`` or any ``assign`` may change a model under an open
Explorer or a memoised data-set pass. :class:`WeightsWatch` gives each state of the weights a
:meth:`~WeightsWatch.version`; caches key their entries on it.

The version is a fingerprint of every weight, computed on the device by compiled calls: each
variable's bytes, as they are, hashed by TensorFlow's ``tf.fingerprint`` (FarmHash, 64 bits
per variable). The same weights always give the same version, and changing any element (even
``0.0`` to ``-0.0``, or one NaN to another) changes it but for a 2**-64 chance. Reading the
weights costs about one pass over their bytes; :func:`checksum_seconds` measures it for a
given model.

That pass costs well under a millisecond on the MNIST CNN but tens of milliseconds on ResNet50
(25.6 M weights): too much for every move of a slider. :meth:`WeightsWatch.changed` is the
cheap tier that an interactive view asks on every update: the list of variables, the
optimizer's step counter (``fit`` moves it), and the exact checksum of *one slice* of the
variables, a different slice each call. Slices hold about half a million weights, so a small
model is one slice, checked whole on every call. A change the cheap tier cannot see yet (an
``assign`` to one weight of another slice) is seen within one round of the slices, or by
:meth:`WeightsWatch.version` when the view is idle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from convscope.engine.attached import attached

SLICE_WEIGHTS = 2**19
"""Weights per slice of the cheap tier: ResNet50 makes 26 slices (19 slices of 2**20 made each
check take longer on the loaded 2-core machine)."""


def _fingerprint_of(values: list[Any]) -> tf.Tensor:
    """One 8-byte fingerprint per tensor of ``values``, in order: ``(len(values), 8)`` uint8.

    Each tensor is hashed whole, from its own buffer (no copy, no joined vector): one
    operation per variable. On the MNIST CNN's 10 variables a call took 0.19 ms against
    0.29 ms for the wrap-around integer sums used before (medians of 3,000 calls).
    """
    return tf.concat([tf.fingerprint(tf.reshape(value, [1, -1])) for value in values], axis=0)


@dataclass(frozen=True)
class InlineCheck:
    """The cheap tier's check of a one-slice watch, for tracing into another compiled call.

    A pass compiled with it (:meth:`WeightsWatch.inline_check`) returns the check's fingerprints
    and step counter with its outputs: the update that needs that pass calls TensorFlow once,
    not twice (after a pause between a user's events, each call costs most in waking up).
    """

    variables: tuple[Any, ...]
    """The variables it reads, in order: the watch's, when it was made."""
    counter: Any
    """The optimizer's step counter it reads (``None``: none then)."""
    checksum: Callable[[], tuple[tf.Tensor, tf.Tensor]]
    """Traces the fingerprints, ``(len(variables), 8)`` uint8, and the step counter (int64)."""


class WeightsWatch:
    """The version of one model's weights: it changes whenever any weight changes.

    Parameters
    ----------
    model : keras.Model
        Its ``weights`` (trainable and not, batch-norm statistics included) are watched. Weights
        added later (a model built after the watch was made) are picked up.
    slice_size : int
        Weights per slice of the cheap tier (:meth:`changed`).

    Examples
    --------
    >>> watch = WeightsWatch(model)
    >>> before = watch.version()
    >>> model.fit(x, y, epochs=1)
    >>> watch.changed(), watch.version() == before
    (True, False)

    """

    def __init__(self, model: keras.Model, slice_size: int = SLICE_WEIGHTS) -> None:
        self._model = model
        self._slice_size = slice_size
        self._variables: tuple[Any, ...] = ()
        self._counter: Any = None  # the optimizer's step counter the checksums read
        # One compiled call per slice of the variables: its checksum, and the step counter.
        self._slices: list[Any] = []
        self._sums: list[bytes] = []  # each slice's checksum at the last look
        self._steps: int | None = None  # the optimizer's step counter at the last look
        self._next = 0  # the slice the cheap tier checks next

    @property
    def slice_count(self) -> int:
        """How many slices the cheap tier checks in turn (1 for a small model)."""
        self._refresh()
        return len(self._slices)

    def version(self) -> Hashable:
        """Return a value that is equal for equal weights and differs after any change."""
        self._refresh()
        if not self._variables:
            return ()
        looks = [_read(checksum) for checksum in self._slices]
        self._sums = [sums for sums, _ in looks]
        self._steps = looks[0][1]
        return (len(self._variables), b"".join(self._sums))

    def changed(self) -> bool:
        """Whether the cheap tier sees a change since the last :meth:`version`.

        ``True`` when the variables are others, the optimizer has stepped, or the next slice's
        checksum differs. ``False`` vouches for that slice and the step counter only (for
        every weight when there is one slice): call :meth:`version` when idle to be sure.
        """
        before = self._variables
        self._refresh()
        if self._variables != before or len(self._sums) != len(self._slices):
            return True
        if not self._slices:
            return False
        index = self._next % len(self._slices)
        self._next = index + 1
        # One call: waking TensorFlow costs most.
        return not self._seen_before(index, _read(self._slices[index]))

    def inline_check(self) -> InlineCheck | None:
        """Return the cheap tier's check, to trace into a pass; ``None`` unless one slice.

        With one slice the check reads every weight, so a pass that returns its look
        (:meth:`vouches_for`) shows whether the pass itself ran on the weights of the last
        :meth:`version`. A model of several slices keeps its separate check.
        """
        self._refresh()
        if len(self._slices) != 1:
            return None
        checksum = _checksum_function(self._variables, self._counter)
        return InlineCheck(self._variables, self._counter, checksum)

    def reads_as(self, check: InlineCheck) -> bool:
        """Whether ``check`` reads what the cheap tier reads now: the same variables, counter.

        Not after the model gained variables or an optimizer (``compile``) since ``check`` was
        made: a pass carrying it could then never vouch, so it is not worth running ahead.
        """
        self._refresh()
        return (
            len(self._slices) == 1
            and check.variables == self._variables
            and check.counter is self._counter
        )

    def vouches_for(self, check: InlineCheck, sums: Any, steps: Any) -> bool:
        """Whether a look taken by ``check`` shows every weight as at the last :meth:`version`.

        ``sums`` and ``steps`` are what a pass traced with ``check`` returned. ``False`` when
        anything differs, or the variables are no longer those ``check`` reads: then ask
        :meth:`changed` as usual. Nothing is kept, as for :meth:`changed`.
        """
        self._refresh()
        if check.variables != self._variables or len(self._sums) != 1:
            return False
        return self._seen_before(0, _look(sums, steps))

    def unchanged(self) -> bool:
        """Whether every weight is as at the last :meth:`version`; nothing is kept.

        Reads every slice (for an idle moment, as :meth:`version` does) but, unlike it, leaves
        the last look as it was: a change seen here is still :meth:`changed` afterwards.
        """
        before = self._variables
        self._refresh()
        if self._variables != before or len(self._sums) != len(self._slices):
            return False
        looks = [_read(checksum) for checksum in self._slices]
        return all(self._seen_before(index, look) for index, look in enumerate(looks))

    def _seen_before(self, index: int, look: tuple[bytes, int]) -> bool:
        """Whether ``look`` (slice ``index``'s fingerprints, the steps) is the last version's."""
        sums, steps = look
        return steps == self._steps and sums == self._sums[index]

    def _refresh(self) -> None:
        variables = tuple(self._model.weights)
        counter = getattr(getattr(self._model, "optimizer", None), "iterations", None)
        if variables != self._variables or counter is not self._counter:
            self._variables, self._counter = variables, counter
            parts = _slices(variables, self._slice_size)
            self._slices = [_compiled_checksum(part, counter) for part in parts]
            self._sums = []


def _slices(variables: tuple[Any, ...], size: int) -> list[tuple[Any, ...]]:
    """Split ``variables``, in order, into runs of about ``size`` weights each."""
    runs: list[tuple[Any, ...]] = []
    run: list[Any] = []
    count = 0
    for variable in variables:
        run.append(variable)
        count += int(np.prod(variable.shape))
        if count >= size:
            runs.append(tuple(run))
            run, count = [], 0
    if run:
        runs.append(tuple(run))
    return runs


def _compiled_checksum(variables: tuple[Any, ...], counter: Any) -> Any:
    """Compile one call giving the slice's fingerprints and the optimizer's step counter.

    The counter (``fit`` moves it) is read in the same call: after a pause between a user's
    events, each call into TensorFlow costs about a millisecond of waking up, not the work.
    ``-1`` stands for no optimizer.
    """
    checksum = _checksum_function(variables, counter)
    # The concrete function, traced now: calling it skips tf.function's dispatch, a tenth of
    # the cheap check's time on the MNIST CNN.
    return tf.function(checksum, autograph=False).get_concrete_function()


def _checksum_function(
    variables: tuple[Any, ...], counter: Any
) -> Callable[[], tuple[tf.Tensor, tf.Tensor]]:
    """Return the function that :func:`_compiled_checksum` compiles, to trace elsewhere too."""
    values = [variable.value for variable in variables]
    steps = None if counter is None else getattr(counter, "value", counter)

    def checksum() -> tuple[tf.Tensor, tf.Tensor]:
        read = tf.constant(-1, tf.int64) if steps is None else tf.cast(steps, tf.int64)
        return _fingerprint_of(values), read

    return checksum


def _read(checksum: Any) -> tuple[bytes, int]:
    """Call a compiled checksum; return its fingerprints' bytes and the step counter."""
    return _look(*checksum())


def _look(sums: Any, steps: Any) -> tuple[bytes, int]:
    """Return a checksum's outputs as compared: the fingerprints' bytes, the step counter."""
    return np.asarray(sums).tobytes(), int(steps)


def weights_watch(model: keras.Model) -> WeightsWatch:
    """Return the :class:`WeightsWatch` kept on ``model`` (:mod:`.attached`), made on first use."""
    return attached(model, "weights_watch", lambda: WeightsWatch(model))


def weights_version(model: keras.Model) -> Hashable:
    """Return the version of ``model``'s weights (see :class:`WeightsWatch`).

    A watch is kept per model, so repeated calls reuse its compiled checksums.
    """
    return weights_watch(model).version()


def checksum_seconds(model: keras.Model, repeats: int = 20, *, cheap: bool = False) -> float:
    """Median seconds of one :meth:`WeightsWatch.version` call on ``model``, after a warm-up.

    With ``cheap``, of one :meth:`WeightsWatch.changed` call (the cheap tier, one slice).
    """
    watch = WeightsWatch(model)
    watch.version()
    for _ in range(watch.slice_count):  # trace every slice's checksum first
        watch.changed()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        if cheap:
            watch.changed()
        else:
            watch.version()
        times.append(time.perf_counter() - start)
    return float(np.median(times))
