"""The drawing pad's digit: preprocessed as MNIST's were, in the model's units, with its classes."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Hashable, Iterator

import numpy as np

from convscope.data.drawing import mnist_digit


class DrawingPad:
    """Own the drawing in view: its pixels, the model's input made of it, its tag and classes.

    Parameters
    ----------
    input_shape : tuple
        The model's input shape ``(H, W, C)``; only one grey channel of a fixed size takes
        drawings (:attr:`size` is ``None`` otherwise).
    value_range : (float, float)
        The data set's values for black and white (0 and 255 for MNIST).

    """

    def __init__(
        self, input_shape: tuple[int | None, ...], value_range: tuple[float, float]
    ) -> None:
        self.size = drawing_size(input_shape)
        low, high = value_range
        self._range = (low, high if high > low else low + 255.0)  # black to white
        self.drawn: np.ndarray | None = None  # the drawing, preprocessed; None: none yet
        shape = (1, *self.size, 1) if self.size is not None else (0,)
        self.model_input = np.full(shape, low, np.float32)  # in the model's units
        self.tag = 0  # one per drawing, never reused: its key in the caches
        self._tags = itertools.count(1)
        self._probabilities: tuple[Hashable, np.ndarray | None] | None = None

    @property
    def is_empty(self) -> bool:
        """Whether the drawing has no ink (nothing drawn yet, or a cleared pad)."""
        return self.drawn is None or not self.drawn.any()

    @contextlib.contextmanager
    def drawing(self, drawing: object) -> Iterator[None]:
        """Hold ``drawing``, preprocessed (see :func:`~convscope.data.drawing.mnist_digit`).

        Painted into the model's input size and scaled to the data set's range of values; the
        drawing before comes back if the block raises. The caller checks :attr:`size` first.
        """
        digit = mnist_digit(drawing, self.size)  # type: ignore[arg-type]
        low, high = self._range
        before = (self.drawn, self.model_input, self.tag)
        self.drawn = digit
        scaled = low + digit.astype(np.float32) * np.float32((high - low) / 255.0)
        self.model_input = scaled.reshape(1, *digit.shape, 1).astype(np.float32)
        self.tag = next(self._tags)
        try:
            yield
        except BaseException:
            self.drawn, self.model_input, self.tag = before
            raise

    def probabilities(
        self, weights: Hashable, read: Callable[[np.ndarray], np.ndarray | None] | None
    ) -> np.ndarray | None:
        """Return the drawing's classes, read by ``read`` from its one image (``None``: none).

        ``None`` while the drawing is empty. Kept until the drawing or the ``weights`` change.
        """
        key = (weights, self.tag)
        if self._probabilities is None or self._probabilities[0] != key:
            found = None
            if not self.is_empty and read is not None:
                found = read(self.model_input[0])
            self._probabilities = (key, found)
        return self._probabilities[1]


def drawing_size(input_shape: tuple[int | None, ...]) -> tuple[int, int] | None:
    """Return the size to paint a drawing at: a grey input's ``(H, W)``; else ``None``.

    Models with colour inputs, or inputs of no fixed size, get no drawing pad.
    """
    if len(input_shape) != 3 or input_shape[-1] != 1:  # noqa: PLR2004
        return None
    height, width = input_shape[0], input_shape[1]
    if height is None or width is None or min(height, width) < 4:  # noqa: PLR2004
        return None
    return int(height), int(width)
