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
  (a shuffle, a rescale, one pixel) gives another key and a new pass. The checksum is a
  64-bit sum of the 8-byte words, each weighted by a fixed pseudo-random odd number: changing
  one word always changes it, and a change of several words goes unnoticed only if it
  happens to cancel, about one chance in 2**64. It reads the bytes once with ``np.dot``
  (about 0.8 ms for the 10,000 MNIST digits' 7.8 MB on this project's 2-core machine),
  against a pass's hundreds of milliseconds.
- **A stream** (``tf.data.Dataset``, generator, iterator, ``keras.utils.PyDataset``) is not
  remembered: its content cannot be known without reading it, which is the pass itself, and
  reading it again may give other images (a shuffle, random augmentation, files that changed,
  Python code run again). A generator cannot even be read twice. With ``key=`` the user names
  the data and promises that it is the same each time that key is given; it is then
  remembered under that key.

The memo holds at most :attr:`PassMemo.max_bytes` (256 MiB by default) of summaries, dropping
the least recently used. An entry of an array costs its per-image peaks and minima,
``8 * N * C`` bytes (3.8 MB for conv2 of the 10,000 digits: the minima make the Explorer's
colour scale), plus per-channel numbers; a confusion matrix ``8 * K * K`` bytes for K classes
(keyed also on the labels); an entry of a stream costs only
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

from convscope.engine.weights import weights_version
from convscope.errors import ArgumentTypeError

DEFAULT_MEMO_BYTES = 256 * 2**20
_CHUNK_WORDS = 2**17  # 1 MiB of 8-byte words per step: the weights stay in cache
_MIXER = np.uint64(0x9E3779B97F4A7C15)  # odd: 2**64 divided by the golden ratio


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
    return ("array", batch.shape, batch.dtype.str, content_checksum(batch))


def content_checksum(array: np.ndarray) -> int:
    """Return a position-weighted 64-bit sum of every byte of ``array``.

    The bytes are read as 8-byte words (a short tail zero-padded into one more). Word ``i`` of
    a 1 MiB step is weighted by a fixed pseudo-random odd number ``w[i]``, and each step's sum
    is mixed into the total as ``total * P + step`` with an odd ``P``: every position gets an
    odd weight modulo 2**64, so changing any one word always changes the sum, and weights with
    no pattern leave a change of several words (a swap, a rescale) unnoticed only if it
    happens to cancel: about one chance in 2**64. The steps are read one at a time, each made
    contiguous on its own: no copy of the whole array.
    """
    rows = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
    row_bytes = max(1, rows.shape[1] * rows.itemsize)
    step = max(8, (_CHUNK_WORDS * 8 // row_bytes) // 8 * 8)  # rows per step, a multiple of 8
    total = np.uint64(0)
    with np.errstate(over="ignore"):
        for start in range(0, len(rows), step):
            raw = np.ascontiguousarray(rows[start : start + step]).view(np.uint8).reshape(-1)
            if len(raw) % 8:  # only the last step can have a tail
                raw = np.concatenate([raw, np.zeros(8 - len(raw) % 8, np.uint8)])
            words = raw.view(np.uint64)
            weights = _weights(len(words))
            for begin in range(0, len(words), _CHUNK_WORDS):  # a step of 8 huge rows: in parts
                part = words[begin : begin + _CHUNK_WORDS]
                # np.dot of unsigned integers wraps modulo 2**64 and makes no temporary array.
                total = total * _MIXER + np.dot(part, weights[: len(part)])
    return int(total)


_WEIGHTS: list[np.ndarray] = []


def _weights(count: int) -> np.ndarray:
    """Return the fixed odd weights of a step's words (the same in every process)."""
    if not _WEIGHTS:
        generator = np.random.default_rng(20_231_203)
        drawn = generator.integers(0, 2**63, _CHUNK_WORDS, dtype=np.uint64)
        _WEIGHTS.append(drawn * np.uint64(2) + np.uint64(1))
    return _WEIGHTS[0][: min(count, _CHUNK_WORDS)]
