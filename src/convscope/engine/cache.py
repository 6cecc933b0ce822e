"""A least-recently-used store of activation arrays, bounded by the bytes it holds."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from convscope.errors import check_int

DEFAULT_CACHE_BYTES = 256 * 2**20


class ActivationCache:
    """Keep recent activations, dropping the least recently used when over ``max_bytes``.

    Parameters
    ----------
    max_bytes : int
        Upper bound on the bytes of arrays held. ``0`` disables caching.

    Raises
    ------
    ArgumentTypeError, InvalidArgumentError
        When ``max_bytes`` is not an integer >= 0.

    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = check_int("max_bytes", max_bytes, minimum=0, example=DEFAULT_CACHE_BYTES)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        """Return the number of arrays held."""
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        """Whether ``key`` is held (without counting a hit or a miss)."""
        return key in self._items

    def get(self, key: Hashable) -> np.ndarray | None:
        """Return the array stored under ``key`` (marking it recently used), or ``None``."""
        array = self._items.get(key)
        if array is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return array

    def put(self, key: Hashable, array: np.ndarray) -> None:
        """Store ``array`` read-only under ``key``; arrays larger than the bound are not kept."""
        if array.nbytes > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        array.setflags(write=False)
        self._items[key] = array
        self.nbytes += array.nbytes
        while self.nbytes > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self.nbytes -= evicted.nbytes

    def clear(self) -> None:
        """Drop everything."""
        self._items.clear()
        self.nbytes = 0
