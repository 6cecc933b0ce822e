"""The errors convscope raises, and the argument checks that raise them: each names the fix.

Every error is a :class:`ConvscopeError`, so ``except convscope.ConvscopeError`` catches all
of them. Each also keeps the built-in base that code written before the hierarchy may catch:
``TypeError`` for a value of the wrong type, ``KeyError`` for an unknown layer, ``IndexError``
for an index out of range, ``FileNotFoundError`` for missing MNIST files. This module needs
only numpy, so every layer (data, engine, render, widget) can raise these errors.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

import numpy as np


class ConvscopeError(ValueError):
    """Base class: something the caller passed cannot be inspected as it is."""


class ArgumentTypeError(ConvscopeError, TypeError):
    """An argument of the wrong type, such as ``layers=3`` or ``batch_size="8"``."""


class InvalidArgumentError(ConvscopeError):
    """An argument of the right type but a value that cannot work, such as ``batch_size=0``."""


class ModelNotSupportedError(ConvscopeError):
    """The model has no single image input, or is not built."""


class ModelFileError(ConvscopeError):
    """A model file that is missing, corrupt or not a Keras model."""


class UnknownLayerError(ConvscopeError, KeyError):
    """A layer name that the model does not have."""

    def __str__(self) -> str:
        """Show the message as is, not as a quoted ``KeyError`` repr."""
        return str(self.args[0])


class ImageInputError(ConvscopeError):
    """Images of the wrong shape or dtype, or with NaN or Inf."""


class LabelError(ConvscopeError):
    """Labels or class names that do not fit the images or the model."""


class IndexOutOfRangeError(ConvscopeError, IndexError):
    """A channel or sample index outside the valid range."""


class ExportTooLargeError(ConvscopeError):
    """A static export whose file would pass the size limit it was given."""


class NotSpatialLayerError(ConvscopeError):
    """A layer asked for maps (Grad-CAM, heatmaps, filter patterns) whose output has none."""


class MnistNotFoundError(ConvscopeError, FileNotFoundError):
    """No source holds the requested MNIST split."""


class BackendNotSupportedError(ConvscopeError):
    """Keras is set to a backend other than TensorFlow (JAX, PyTorch...)."""


class TrainingBusyError(ConvscopeError):
    """A training was asked for while one is already running in the same Explorer."""


class WeightsChangedError(ConvscopeError):
    """The model's weights changed while a result was computed from them: it fits none."""


def check_index(what: str, value: object, size: int) -> int:
    """Return ``value`` as an ``int`` if it indexes one of ``size`` things, else raise.

    Raises
    ------
    ArgumentTypeError
        When ``value`` is not an integer (``True`` and ``2.0`` are refused).
    IndexOutOfRangeError
        When ``value`` is outside ``0 .. size - 1``; the message names the valid range.

    """
    if not _is_int(value):
        raise ArgumentTypeError(f"{what} must be an integer, got {value!r}.")
    if not 0 <= operator.index(value) < size:  # type: ignore[arg-type]
        raise IndexOutOfRangeError(
            f"{what} {value} is out of range: there are {size} {what}s, so use 0..{size - 1}."
        )
    return operator.index(value)  # type: ignore[arg-type]


def check_int(name: str, value: object, *, minimum: int = 1, example: int = 16) -> int:
    """Return ``value`` as an ``int`` of at least ``minimum``, else raise with an example.

    Raises
    ------
    ArgumentTypeError
        When ``value`` is not an integer (``True`` and ``8.0`` are refused).
    InvalidArgumentError
        When ``value`` is below ``minimum``.

    """
    if not _is_int(value):
        raise ArgumentTypeError(f"{name} must be an integer such as {example}, got {value!r}.")
    if operator.index(value) < minimum:  # type: ignore[arg-type]
        raise InvalidArgumentError(
            f"{name} must be >= {minimum}, got {value}; use e.g. {name}={example}."
        )
    return operator.index(value)  # type: ignore[arg-type]


def check_number(name: str, value: object, *, maximum: float, example: float) -> float:
    """Return ``value`` as a ``float`` in ``(0, maximum]``, else raise with an example.

    Raises
    ------
    ArgumentTypeError
        When ``value`` is not a real number (``True`` is refused).
    InvalidArgumentError
        When ``value`` is NaN, not positive, or above ``maximum``.

    """
    number = _as_real(name, value, example)
    if not 0 < number <= maximum:  # NaN fails this too
        raise InvalidArgumentError(
            f"{name} must be a number above 0 and at most {maximum:g}, got {value!r}; "
            f"use e.g. {name}={example}."
        )
    return number


def check_real(name: str, value: object, example: float) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number (not ``True``), else raise.

    Raises
    ------
    ArgumentTypeError
        When ``value`` is not a real number.
    InvalidArgumentError
        When ``value`` is NaN or infinite: every comparison with NaN is false, so it would
        pass or fail every test silently.

    """
    number = _as_real(name, value, example)
    if not np.isfinite(number):
        raise InvalidArgumentError(
            f"{name} must be a finite number such as {example}, got {value!r}."
        )
    return number


def _as_real(name: str, value: object, example: float) -> float:
    """Return ``value`` as a ``float`` if it is a real number (not ``True``), NaN included."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise ArgumentTypeError(f"{name} must be a number such as {example}, got {value!r}.")
    return float(value)


def check_choice(
    name: str, value: object, choices: tuple[str, ...], what: str | None = None
) -> str:
    """Return ``value`` if it is one of the strings ``choices``, else raise listing them.

    ``what`` names the thing in the message (``"normalisation mode"``); by default ``name``.

    Raises
    ------
    ArgumentTypeError
        When ``value`` is not a string.
    InvalidArgumentError
        When ``value`` is not one of ``choices``.

    """
    options = ", ".join(repr(choice) for choice in choices)
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be one of {options}, got {value!r}.")
    if value not in choices:
        raise InvalidArgumentError(f"Unknown {what or name} {value!r}; choose one of {options}.")
    return value


def check_text(name: str, value: object) -> str | None:
    """Return ``value`` if it is a string or ``None``, else raise.

    Raises
    ------
    ArgumentTypeError
        When ``value`` is anything else.

    """
    if value is not None and not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be a string or None, got {value!r}.")
    return value


def check_layer_name(value: object, name: str = "layer") -> str:
    """Return ``value`` if it can name a layer (a string), else raise.

    Raises
    ------
    ArgumentTypeError
        When ``value`` is not a string.

    """
    if not isinstance(value, str):
        raise ArgumentTypeError(
            f"A layer is named by a string such as 'conv1', got {name}={value!r}."
        )
    return value


def check_layer_names(value: object) -> tuple[str, ...] | None:
    """Return a layer name or an iterable of names as a tuple (``None`` stays ``None``).

    Raises
    ------
    ArgumentTypeError
        When ``value`` is neither a string nor an iterable of strings.
    InvalidArgumentError
        When the iterable is empty.

    """
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (bytes, dict)) or not isinstance(value, Iterable):
        raise ArgumentTypeError(
            f"layers must be a layer name or a list of names such as ['conv1', 'conv2'], got "
            f"{value!r}."
        )
    names = tuple(value)
    for item in names:
        check_layer_name(item, "an item of layers")
    if not names:
        raise InvalidArgumentError(
            "layers is empty; name at least one layer, or leave out layers= for all of them."
        )
    return names


def _is_int(value: object) -> bool:
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))
