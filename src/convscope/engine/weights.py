"""Tell cheaply whether a model's weights changed, so that every cache can follow the model.

Training, ``set_weights``, ``load_weights`` or any ``assign`` may change a model under an open
Explorer or a memoised data-set pass. :class:`WeightsWatch` gives each state of the weights a
:meth:`~WeightsWatch.version`; caches key their entries on it.

The version is a checksum of every weight, computed on the device by one compiled call: each
variable's float32 bits, read as integers, times an odd multiplier per position, summed with
integer wrap-around. Integer sums do not depend on the order of addition, so the same weights
always give the same version, and changing any one element always changes it (an odd
multiplier is invertible modulo 2**32). Reading the weights costs about one pass over their
bytes; :func:`checksum_seconds` measures it for a given model.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Hashable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# Two independent odd multipliers per position, from a multiplicative hash of the index.
_MULTIPLIERS = (np.int32(-1640531535), np.int32(-2048144777))  # 2654435761, 2246822519


def _variable_checksum(value: Any) -> tf.Tensor:
    """Two wrap-around integer sums over one variable's bits, position-weighted."""
    flat = tf.reshape(value, [-1])
    if flat.dtype != tf.float32:
        flat = tf.cast(flat, tf.float32)
    bits = tf.bitcast(flat, tf.int32)
    index = tf.range(tf.size(bits, out_type=tf.int32), dtype=tf.int32)
    sums = [
        tf.reduce_sum(bits * tf.bitwise.bitwise_or(index * multiplier, 1))
        for multiplier in _MULTIPLIERS
    ]
    return tf.stack(sums)


class WeightsWatch:
    """The version of one model's weights: it changes whenever any weight changes.

    Parameters
    ----------
    model : keras.Model
        Its ``weights`` (trainable and not, batch-norm statistics included) are watched. Weights
        added later (a model built after the watch was made) are picked up.

    Examples
    --------
    >>> watch = WeightsWatch(model)
    >>> before = watch.version()
    >>> model.fit(x, y, epochs=1)
    >>> watch.version() == before
    False

    """

    def __init__(self, model: keras.Model) -> None:
        self._model = model
        self._variables: tuple[Any, ...] = ()
        self._checksum: Any = None

    def version(self) -> Hashable:
        """Return a value that is equal for equal weights and differs after any change."""
        variables = tuple(self._model.weights)
        if variables != self._variables or self._checksum is None:
            self._variables = variables
            self._checksum = _compiled_checksum(variables)
        if not variables:
            return ()
        sums = self._checksum()
        return (len(variables), np.asarray(sums).tobytes())


def _compiled_checksum(variables: tuple[Any, ...]) -> Any:
    values = [variable.value for variable in variables]

    def checksum() -> tf.Tensor:
        if not values:
            return tf.zeros((0, 2), tf.int32)
        return tf.stack([_variable_checksum(value) for value in values])

    return tf.function(checksum, autograph=False)


def weights_version(model: keras.Model) -> Hashable:
    """Return the version of ``model``'s weights (see :class:`WeightsWatch`).

    A watch is kept per model, so repeated calls reuse one compiled checksum.
    """
    watch = _WATCHES.get(id(model))
    if watch is None or watch[0]() is not model:
        watch = (weakref.ref(model), WeightsWatch(model))
        _WATCHES[id(model)] = watch
    return watch[1].version()


def checksum_seconds(model: keras.Model, repeats: int = 20) -> float:
    """Median seconds of one :meth:`WeightsWatch.version` call on ``model``, after a warm-up."""
    watch = WeightsWatch(model)
    watch.version()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        watch.version()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


_WATCHES: dict[int, tuple[Any, WeightsWatch]] = {}
