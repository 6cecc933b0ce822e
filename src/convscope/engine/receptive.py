"""Receptive fields: the input pixels that can reach one unit, from the chain of layers to it.

Each layer on the way from the input to the unit is read from its public ``get_config()``:
kernel size, strides, dilation and padding for convolutions and pooling, padding and cropping
for ``ZeroPadding2D`` and ``Cropping2D``. Going back from the unit to the input one layer at a
time, each axis keeps the *set* of units that can reach it, not just its first and last: taps
that fall in padding reach nothing, and a dilated kernel's taps skip units, so after two
dilated convolutions the set has holes that a range would fill (a box 1-2 px too large near
the borders). The box is the bounding box of the last set: of the gradient's support.

A layer is taken as per-pixel only when its type is on an allow-list with a reason
(:data:`_PER_PIXEL`), and, for a layer with an ``axis``, only when that axis holds no
spatial axis. A layer that mixes positions along an axis (``LayerNormalization(axis=[1, 2,
3])``, ``Softmax(axis=(1, 2))``, ``GroupNormalization``) reaches every unit along it; any
other layer is refused by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from convscope.engine.graph import GraphScope, ModelGraph
from convscope.errors import (
    IndexOutOfRangeError,
    ModelNotSupportedError,
    NotSpatialLayerError,
    check_index,
)

Box = tuple[int, int, int, int]
_RANK = 4  # (batch, height, width, channels) or (batch, channels, height, width)

# Layers whose output at a pixel depends on that pixel alone, at inference, and why.
_PER_PIXEL = frozenset({
    "ReLU", "LeakyReLU", "PReLU", "ELU",  # element-wise functions
    "BatchNormalization",  # inference: moving mean and variance, an affine map per element
    "Normalization", "Rescaling",  # fixed affine maps per element
    "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "Identity", "InputLayer",  # the identity at inference
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    "RandomBrightness",  # augmentation: the identity at inference
})  # fmt: skip
# Layers that normalise or take a softmax along the axes of their ``axis``: per-pixel when
# those are channel axes only, else every unit along each spatial axis named.
_ALONG_AXES = frozenset({"LayerNormalization", "UnitNormalization", "Softmax"})
# GroupNormalization's statistics are over every position (and a group of channels).
_EVERY_POSITION = frozenset({"GroupNormalization"})
_WINDOWED = frozenset({
    "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D",
})  # fmt: skip
# Element-wise activations of an ``Activation`` layer, by Keras's own function objects.
_ELEMENTWISE = tuple(
    getattr(keras.activations, name)
    for name in (
        "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "celu",
        "sigmoid", "hard_sigmoid", "tanh", "hard_tanh", "softplus", "softsign", "silu",
        "swish", "hard_silu", "hard_swish", "mish", "exponential", "log_sigmoid", "tanh_shrink",
        "soft_shrink", "hard_shrink", "squareplus", "sparse_plus", "threshold",
    )
    if hasattr(keras.activations, name)
)  # fmt: skip
_ALONG_LAST_AXIS = tuple(
    getattr(keras.activations, name)
    for name in ("softmax", "log_softmax", "sparsemax")
    if hasattr(keras.activations, name)
)


@dataclass(frozen=True)
class _Step:
    """How one layer maps its output units to its input units, along one axis.

    Output unit ``i`` reads the input units ``i * stride - before + m * dilation`` for ``m`` in
    ``0 .. kernel - 1``; of those, only ``0 .. size - 1`` exist (the others are padding).
    ``every`` means each output unit reads every input unit along the axis.
    """

    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    before: int = 0
    size: int = 0
    every: bool = False

    def back(self, units: np.ndarray) -> np.ndarray:
        """Return the input units (sorted, unique) that the output ``units`` read."""
        if self.every:
            return np.arange(self.size) if units.size else units
        taps = units[:, np.newaxis] * self.stride - self.before
        taps = (taps + np.arange(self.kernel) * self.dilation).ravel()
        return np.unique(taps[(taps >= 0) & (taps < self.size)])


def receptive_field(graph: ModelGraph, row: str, unit: tuple[int, int]) -> Box:
    """Return the input box ``(top, left, bottom, right)`` that can influence one unit.

    The box is half-open, like a slice: ``image[top:bottom, left:right]``, clipped to the
    image.

    Parameters
    ----------
    graph : ModelGraph
        The model's recorded graph (``ActivationEngine.graph``).
    row : str
        The row (layer path) of the unit; its output must be a stack of maps.
    unit : (row, col)
        The unit's position in the layer's maps.

    Raises
    ------
    NotSpatialLayerError
        The row's output is not a stack of maps.
    IndexOutOfRangeError
        ``unit`` is outside the maps.
    ModelNotSupportedError
        A layer on the way is not a chain of convolutions, pooling and per-pixel layers (a
        merge of branches, say); the message names it.

    """
    info = next((info for info in graph.rows if info.name == row), None)
    if info is None or not info.spatial:
        kind = "unknown row" if info is None else f"{info.kind}, {info.shape_text}"
        raise NotSpatialLayerError(
            f"A receptive field needs a layer with maps, and {row!r} ({kind}) has none. Pick "
            "a convolutional or pooling layer."
        )
    height, width = info.output_shape[1:] if info.channels_first else info.output_shape[:2]
    r, c = unit
    try:
        r = check_index("row", r, int(height or 0))
        c = check_index("col", c, int(width or 0))
    except IndexOutOfRangeError as error:
        raise IndexOutOfRangeError(
            f"{error} The maps of {row!r} are {height}×{width}; pass (row, col) inside them."
        ) from None
    spans = _back_to_input(_steps_to(graph.root, row), (r, r), (c, c), info.channels_first)
    if spans is None:  # a unit that only reads padding
        return (0, 0, 0, 0)
    (top, bottom), (left, right) = spans
    return top, left, bottom + 1, right + 1


def _back_to_input(
    steps: list[tuple[str, Any, Any]],
    rows: tuple[int, int],
    cols: tuple[int, int],
    channels_first: bool,
) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Return the first and last input row and column (inclusive) that the units read."""
    spans = [np.arange(rows[0], rows[1] + 1), np.arange(cols[0], cols[1] + 1)]
    for path, layer, source in reversed(steps):
        shape = source.shape
        size = (shape[2], shape[3]) if channels_first else (shape[1], shape[2])
        axes = _steps_of(path, layer, (int(size[0]), int(size[1])), channels_first)
        spans = [step.back(units) for units, step in zip(spans, axes, strict=True)]
        if not spans[0].size or not spans[1].size:
            return None
    return (int(spans[0][0]), int(spans[0][-1])), (int(spans[1][0]), int(spans[1][-1]))


def _steps_to(scope: GraphScope, row: str) -> list[tuple[str, Any, Any]]:
    """Return the layer calls from the model's input to ``row``: ``(path, layer, input)``."""
    for name, (feed, child) in scope.nested.items():
        if row.startswith(f"{name}/") and child.holds(row):
            return _chain(scope, feed) + _steps_to(child, row)
    if row not in scope.tensors:
        raise ModelNotSupportedError(f"{row!r} is inside a nested model that cannot be read.")
    return _chain(scope, scope.tensors[row])


def _chain(scope: GraphScope, tensor: Any) -> list[tuple[str, Any, Any]]:
    """Return the layer calls of ``scope`` from its input to ``tensor``, in order."""
    by_tensor = {id(value): path for path, value in scope.tensors.items()}
    steps: list[tuple[str, Any, Any]] = []
    while tensor is not scope.input:
        path = by_tensor.get(id(tensor))
        if path is None or path not in scope.called:
            raise ModelNotSupportedError(
                "A receptive field follows one chain of layers from the input, and this one "
                "passes through a value that no single layer computes (a merge of branches?)."
            )
        layer, source = scope.called[path]
        if path in scope.nested:  # a whole nested model: its own chain, input to output
            _, child = scope.nested[path]
            steps = _chain(child, child.outputs[0]) + steps
        else:
            steps.insert(0, (path, layer, source))
        tensor = source
    return steps


def _steps_of(
    path: str, layer: Any, size: tuple[int, int], channels_first: bool
) -> tuple[_Step, _Step]:
    """Return how one layer maps output units to input units, along rows and columns.

    ``size`` is the layer's input height and width.
    """
    kind = type(layer).__name__
    spread = _spatial_spread(path, layer, kind, channels_first)
    if spread is not None:
        return _Step(size=size[0], every=spread[0]), _Step(size=size[1], every=spread[1])
    config = layer.get_config()
    if kind in _WINDOWED:
        pooling = "Pooling" in kind
        kernel = _pair(config["pool_size" if pooling else "kernel_size"])
        stride = _pair(config.get("strides") or kernel)
        dilation = (1, 1) if pooling else _pair(config.get("dilation_rate", 1))
        same = config.get("padding") == "same"
        rows, cols = (
            _Step(k, s, d, _same_padding(n, k, s, d) if same else 0, n)
            for n, k, s, d in zip(size, kernel, stride, dilation, strict=True)
        )
        return rows, cols
    if kind in ("ZeroPadding2D", "Cropping2D"):
        sign = 1 if kind == "ZeroPadding2D" else -1
        (top, _), (left, _) = _pairs(config["padding" if sign > 0 else "cropping"])
        return _Step(before=sign * top, size=size[0]), _Step(before=sign * left, size=size[1])
    raise ModelNotSupportedError(
        f"The receptive field cannot be traced through {path!r} ({kind}): only chains of "
        "convolutions, pooling, padding, cropping and layers known to be per-pixel (or to mix "
        "whole axes, such as normalisations) are followed."
    )


def _spatial_spread(
    path: str, layer: Any, kind: str, channels_first: bool
) -> tuple[bool, bool] | None:
    """Whether a same-size layer mixes every row, every column; ``None``: not such a layer.

    Raises ``ModelNotSupportedError`` for an ``Activation`` whose function is not known to be
    element-wise, or an axis that mixes the images of a batch.
    """
    if kind in _PER_PIXEL:
        return False, False
    if kind in _EVERY_POSITION:
        return True, True
    spatial = (2, 3) if channels_first else (1, 2)
    if kind in _ALONG_AXES:
        axes = _axes(layer.get_config().get("axis", -1))
    elif kind == "Activation":
        function = layer.activation
        if any(function is known for known in _ELEMENTWISE):
            return False, False
        if not any(function is known for known in _ALONG_LAST_AXIS):
            raise ModelNotSupportedError(
                f"The receptive field cannot be traced through {path!r} (Activation of "
                f"{getattr(function, '__name__', function)!r}): convscope cannot tell whether "
                "that function mixes positions. Use a Keras activation by name, such as "
                "Activation('relu')."
            )
        axes = (_RANK - 1,)
    else:
        return None
    if 0 in axes:
        raise ModelNotSupportedError(
            f"{path!r} ({kind}) works across the images of a batch (axis 0), so no unit has a "
            "receptive field of its own."
        )
    return spatial[0] in axes, spatial[1] in axes


def _axes(axis: Any) -> tuple[int, ...]:
    """Return a layer's ``axis`` setting as non-negative axes of a rank-4 tensor."""
    listed = [axis] if isinstance(axis, int) else list(axis)
    return tuple(int(value) % _RANK for value in listed)


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Pixels TensorFlow pads before a ``"same"`` window: half the total, rounded down."""
    span = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
    return total // 2


def _channels_first(layer: Any) -> bool:
    return bool(layer.get_config().get("data_format") == "channels_first")


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _pairs(value: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """``ZeroPadding2D``/``Cropping2D`` amounts as ((top, bottom), (left, right))."""
    if isinstance(value, int):
        return (value, value), (value, value)
    first, second = value
    return _pair(first), _pair(second)
