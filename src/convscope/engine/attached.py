"""What convscope keeps for one model (its shared engines, its weights watch), stored on the model.

A module-level ``WeakKeyDictionary`` from model to engine never lets the model go: the engine
holds the model, so the value keeps its own key alive, and every model a notebook builds in a
loop would stay in memory. Stored on the model instead, model and engine form a cycle that
Python's garbage collector frees together once nothing else holds the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_SLOT = "_convscope_attached"


class _Attached(dict[str, Any]):
    """The per-model store; a copy of the model starts empty (its engines are its own)."""

    def __copy__(self) -> _Attached:
        return _Attached()

    def __deepcopy__(self, memo: dict[int, Any]) -> _Attached:
        return _Attached()

    def __reduce__(self) -> tuple[type[_Attached], tuple[()]]:
        return (_Attached, ())


def attached(owner: object, key: str, make: Callable[[], T]) -> T:
    """Return what is kept on ``owner`` under ``key``, made by ``make()`` on first use.

    It lives exactly as long as ``owner``. The store is set with ``object.__setattr__`` so that
    Keras's attribute tracking never sees it (it is not a layer, a variable or a weight).
    """
    store = vars(owner).get(_SLOT)
    if not isinstance(store, _Attached):
        store = _Attached()
        object.__setattr__(owner, _SLOT, store)
    if key not in store:
        store[key] = make()
    found: T = store[key]
    return found
