"""A least-recently-used store of activation arrays, bounded by the bytes it holds."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from convscope.errors import check_int

DEFAULT_CACHE_BYTES = 256 * 2**20
# What an entry costs beyond its array's data: the ndarray header, the key tuple and the
# ordered dict's node. Counted, so that many tiny arrays (a Dense row) stay within the bound.
ENTRY_OVERHEAD_BYTES = 256


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

    def put(self, key: Hashable, array: np.ndarray) -> np.ndarray:
        """Store ``array`` read-only under ``key`` and return what is stored.

        A view (one image of a batch, or of a tensor's buffer) is copied first, so that what
        the cache holds is exactly what it counts: a view would keep its whole base alive.
        Arrays larger than the bound are not kept, and come back as they were.
        """
        if _cost(array) > self.max_bytes:
            return array
        if array.base is not None:
            array = array.copy()
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= _cost(old)
        array.setflags(write=False)
        self._items[key] = array
        self.nbytes += _cost(array)
        while self.nbytes > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self.nbytes -= _cost(evicted)
        return array

    def clear(self) -> None:
        """Drop everything."""
        self._items.clear()
        self.nbytes = 0


def _cost(array: np.ndarray) -> int:
    return array.nbytes + ENTRY_OVERHEAD_BYTES
