"""The engine's errors, kept importable here; they live in :mod:`convscope.errors`."""

from __future__ import annotations

from convscope.errors import (
    ArgumentTypeError,
    ConvscopeError,
    ImageInputError,
    IndexOutOfRangeError,
    InvalidArgumentError,
    ModelFileError,
    ModelNotSupportedError,
    NotSpatialLayerError,
    UnknownLayerError,
    check_index,
)

__all__ = [
    "ArgumentTypeError",
    "ConvscopeError",
    "ImageInputError",
    "IndexOutOfRangeError",
    "InvalidArgumentError",
    "ModelFileError",
    "ModelNotSupportedError",
    "NotSpatialLayerError",
    "UnknownLayerError",
    "check_index",
]
