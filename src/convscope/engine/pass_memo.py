"""Remember the summaries of data-set passes, per model weights, data set and layer.

A loop such as ``for ch in range(C): top_images(model, images, "conv2", ch)`` then costs one
pass, not C. An entry is keyed on

- the model (a token per live model object, never reused),
- :func:`~convscope.engine.weights.weights_version` of its weights, so training,
  ``set_weights`` or an epoch switch in the Explorer never serve summaries of other weights,
- the data set's identity (:func:`data_key`),
- the layer.

How a data set is identified:

- **An in-memory array** (numpy, a list, a tensor) by its shape, dtype and a checksum of every
  byte (:func:`content_checksum`), computed again on every call, so changing the array in place
  (a shuffle, a rescale, one pixel) gives another key and a new pass. The checksum is two
  independent position-weighted 64-bit sums of the 8-byte words, every weight odd: changing
  one word always changes both, and a change of several words goes unnoticed only if it
  cancels in both sums at once (about one chance in 2**128 for changes unrelated to the
  weights). It reads the bytes once with ``np.dot`` (1.4 ms for the 10,000 MNIST digits'
  7.8 MB on this project's 2-core machine under load), against a pass's hundreds of
  milliseconds.
- **A stream** (``tf.data.Dataset``, generator, iterator, ``keras.utils.PyDataset``) is not
  remembered: its content cannot be known without reading it, which is the pass itself, and
  reading it again may give other images (a shuffle, random augmentation, files that changed,
  Python code run again). A generator cannot even be read twice. With ``key=`` the user names
  the data and promises that it is the same each time that key is given; it is then
  remembered under that key.

The memo holds at most :attr:`PassMemo.max_bytes` (256 MiB by default) of summaries, dropping
the least recently used. An entry of an array costs its per-image peaks, ``4 * N * C`` bytes
(2 MB for conv2 of the 10,000 digits), plus per-channel numbers; an entry of a stream costs only
its per-channel numbers and best images, whatever its length. An entry is stored only once its
pass has finished, so an interrupted pass leaves nothing behind.
"""

from __future__ import annotations

import itertools
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Protocol

import numpy as np

from convscope.engine.errors import ArgumentTypeError
from convscope.engine.weights import weights_version

DEFAULT_MEMO_BYTES = 256 * 2**20
_CHUNK_WORDS = 2**17  # 1 MiB of 8-byte words per step: the weights stay in cache
_WEIGHT_SETS = 16  # weight vectors kept (2 per step size, 1 MiB each at most)
# (M, P) per sum: odd 64-bit constants from well-known hash functions (golden ratio; xxHash).
_MIXERS = (
    (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)),
    (np.uint64(0x165667B19E3779F9), np.uint64(0x27D4EB2F165667C5)),
)


class Sized(Protocol):
    """What the memo needs of an entry: its size in bytes."""

    @property
    def nbytes(self) -> int:
        """Bytes the entry holds."""
        ...


class PassMemo:
    """A least-recently-used store of pass summaries, bounded by the bytes they hold.

    Parameters
    ----------
    max_bytes : int
        Upper bound on the bytes held; ``0`` remembers nothing.

    """

    def __init__(self, max_bytes: int = DEFAULT_MEMO_BYTES) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def __len__(self) -> int:
        """Return the number of entries held."""
        return len(self._items)

    def get(self, key: Hashable) -> Any:
        """Return the entry under ``key`` (marking it recently used), or ``None``."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: Hashable, entry: Sized) -> None:
        """Keep ``entry`` under ``key``; one larger than the bound is not kept."""
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        if entry.nbytes > self.max_bytes:
            return
        self._items[key] = entry
        self.nbytes += entry.nbytes
        while self.nbytes > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self.nbytes -= evicted.nbytes

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()
        self.nbytes = 0


PASS_MEMO = PassMemo()
"""The memo every data-set pass shares: the static API and every Explorer."""

_TOKENS: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_NEXT_TOKEN = itertools.count()


def model_key(model: Any) -> Hashable:
    """Return ``(token, weights version)`` of ``model``: equal only for this model, these weights.

    The token is unique per model object for the life of the process (an ``id`` may be reused
    by a later model).
    """
    token = _TOKENS.get(model)
    if token is None:
        token = _TOKENS[model] = next(_NEXT_TOKEN)
    return token, weights_version(model)


def data_key(batch: np.ndarray | None, key: object = None) -> Hashable | None:
    """Identify a data set for the memo, or return ``None`` when it must not be remembered.

    Parameters
    ----------
    batch : np.ndarray or None
        An in-memory data set as the engine checked it (``None`` for a stream).
    key : hashable, optional
        The user's name for the data, which replaces the checksum.

    Raises
    ------
    ArgumentTypeError
        A ``key`` that cannot be hashed.

    """
    if key is not None:
        try:
            hash(key)
        except TypeError as error:
            raise ArgumentTypeError(
                f"key must be hashable, such as a string, got {type(key).__name__}; e.g. "
                "key='mnist-test'."
            ) from error
        return ("key", key)
    if batch is None:
        return None
    return ("array", batch.shape, batch.dtype.str, *content_checksum(batch))


def content_checksum(array: np.ndarray) -> tuple[int, int]:
    """Return two independent position-weighted 64-bit sums of every byte of ``array``.

    The bytes are read as 8-byte words (a short tail zero-padded into one more). Word ``i`` of
    a 1 MiB step is weighted by an odd number, ``2 * M * i + 1``, and each step's sum is mixed
    into the total as ``total * P + step``, with odd ``M`` and ``P`` per sum: every position
    gets an odd weight modulo 2**64, so changing any one word always changes both sums. The
    steps are read one at a time, each made contiguous on its own: no copy of the whole array.
    """
    rows = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
    row_bytes = max(1, rows.shape[1] * rows.itemsize)
    step = max(8, (_CHUNK_WORDS * 8 // row_bytes) // 8 * 8)  # rows per step, a multiple of 8
    totals = [np.uint64(0), np.uint64(0)]
    with np.errstate(over="ignore"):
        for start in range(0, len(rows), step):
            raw = np.ascontiguousarray(rows[start : start + step]).view(np.uint8).reshape(-1)
            if len(raw) % 8:  # only the last step can have a tail
                raw = np.concatenate([raw, np.zeros(8 - len(raw) % 8, np.uint8)])
            words = raw.view(np.uint64)
            for which, (multiplier, mixer) in enumerate(_MIXERS):
                # np.dot of unsigned integers wraps modulo 2**64 and makes no temporary array.
                step_sum = np.dot(words, _weights(len(words), multiplier))
                totals[which] = totals[which] * mixer + step_sum
    return int(totals[0]), int(totals[1])


_WEIGHTS: dict[tuple[int, int], np.ndarray] = {}


def _weights(count: int, multiplier: np.uint64) -> np.ndarray:
    key = (count, int(multiplier))
    found = _WEIGHTS.get(key)
    if found is None:
        with np.errstate(over="ignore"):
            found = np.arange(count, dtype=np.uint64) * (np.uint64(2) * multiplier) + np.uint64(1)
        if len(_WEIGHTS) >= _WEIGHT_SETS:  # a few step sizes in use at once: keep those
            _WEIGHTS.clear()
        _WEIGHTS[key] = found
    return found
