"""The errors convscope raises for bad models and bad input: each names the problem and the fix."""

from __future__ import annotations


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
