"""The errors convscope raises for bad models and bad input: each names the problem and the fix."""

from __future__ import annotations

import numpy as np


class ConvscopeError(ValueError):
    """Base class: something the caller passed cannot be inspected as it is."""


class ModelNotSupportedError(ConvscopeError):
    """The model has no single image input, or is not built."""


class UnknownLayerError(ConvscopeError, KeyError):
    """A layer name that the model does not have."""

    def __str__(self) -> str:
        """Show the message as is, not as a quoted ``KeyError`` repr."""
        return str(self.args[0])


class ImageInputError(ConvscopeError):
    """Images of the wrong shape or dtype, or with NaN or Inf."""


class IndexOutOfRangeError(ConvscopeError, IndexError):
    """A channel or sample index outside the valid range."""


def check_index(what: str, value: object, size: int) -> int:
    """Return ``value`` as an ``int`` if it indexes one of ``size`` things, else raise.

    Raises
    ------
    TypeError
        When ``value`` is not an integer (``True`` and ``2.0`` are refused).
    IndexOutOfRangeError
        When ``value`` is outside ``0 .. size - 1``; the message names the valid range.

    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}.")
    if not 0 <= int(value) < size:
        raise IndexOutOfRangeError(
            f"{what} {value} is out of range: there are {size} {what}s, so use 0..{size - 1}."
        )
    return int(value)


class NotSpatialLayerError(ConvscopeError):
    """A layer asked for maps (Grad-CAM, heatmaps, filter patterns) whose output has none."""
