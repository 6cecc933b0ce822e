"""Split a model's recorded graph at a row, to differentiate a value further on with respect to it.

Grad-CAM differentiates a class score with respect to a layer's output, so the score must be
computed *from* that output. A nested row and the model's output are computed by different
Keras models (see :mod:`convscope.engine.graph`), so one forward pass cannot give both.
:class:`SplitModel` splits the graph instead, with ``keras.Model([scope_input, row_tensor],
...)`` in each scope between the row and the value: the row's output is fed back in where the
row was, and every branch that does not pass through it (a skip connection) is computed from
the scope's input as before.

The values are class scores *before the softmax* (:func:`find_class_scores`; the "linear
swap": a saturated probability has almost no gradient), found with public API only:

- the output layer is a ``Softmax`` layer, or an ``Activation`` layer with softmax or sigmoid:
  the scores are the tensor that layer is called on;
- the output layer is a ``Dense`` with ``activation="softmax"`` (or sigmoid), as in the bundled
  MNIST CNN and ``keras.applications`` classifiers: the scores are its input times its public
  ``kernel``, plus its ``bias``;
- the output comes out of a nested model: the same rules, inside it;
- any other output is taken as the scores as it is (a linear ``Dense``, say);
- any other layer with a softmax or sigmoid inside (``Conv2D(..., activation="softmax")``)
  raises :class:`~convscope.engine.errors.ModelNotSupportedError`, which says how to split it.

Or a layer's pre-activation (:func:`find_pre_activation`), which gradient ascent also climbs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from convscope.engine.errors import ModelNotSupportedError
from convscope.engine.graph import GraphScope, ModelGraph

_SQUASHING = (keras.activations.softmax, keras.activations.sigmoid)
_LINEAR = keras.activations.linear

Scores = Callable[[Any], Any]


@dataclass(frozen=True)
class GraphValue:
    """A value computed from one tensor of the recorded graph: class scores, a pre-activation.

    Attributes
    ----------
    calls : tuple of str
        The nested model calls from the top model to the scope that holds ``tensor``.
    tensor : KerasTensor
        The tensor the value is computed from.
    compute : callable
        Turns the value of ``tensor`` into the value wanted (the identity, or a ``Dense``'s
        kernel and bias).
    description : str
        Says where the value comes from, for documentation and errors.

    """

    calls: tuple[str, ...]
    tensor: Any
    compute: Scores
    description: str


def find_class_scores(graph: ModelGraph, output: int) -> GraphValue:
    """Find the class scores before the softmax of the model's output number ``output``.

    Raises
    ------
    ModelNotSupportedError
        When the output layer applies a softmax inside itself and is not a ``Dense``.

    """
    calls: tuple[str, ...] = ()
    scope = graph.root
    tensor = scope.outputs[output]
    while True:
        name = next((row for row, value in scope.tensors.items() if value is tensor), None)
        if name is None:  # not a recorded row: take it as it is
            return GraphValue(calls, tensor, _identity, "the model's output, as it is")
        layer, layer_input = scope.called[name]
        if name in scope.nested and len(scope.nested[name][1].outputs) == 1:
            calls = (*calls, name)
            scope = scope.nested[name][1]
            tensor = scope.outputs[0]
            continue
        activation = getattr(layer, "activation", None)
        if isinstance(layer, keras.layers.Softmax) or (
            isinstance(layer, keras.layers.Activation) and activation in _SQUASHING
        ):
            where = f"the input of {name!r} ({type(layer).__name__})"
            return GraphValue(calls, layer_input, _identity, where)
        if activation in _SQUASHING:
            if isinstance(layer, keras.layers.Dense):
                where = f"{name!r} before its {activation.__name__} (its kernel and bias)"
                return GraphValue(calls, layer_input, functools.partial(_dense, layer), where)
            raise ModelNotSupportedError(
                f"The model's output layer {name!r} ({type(layer).__name__}) applies a "
                f"{activation.__name__} inside itself, so convscope cannot read the class scores "
                "before it, and the gradients of saturated probabilities are close to zero. "
                "Rebuild the output as the same layer with activation=None followed by "
                f"keras.layers.Activation({activation.__name__!r}) (the weights are the same)."
            )
        return GraphValue(calls, tensor, _identity, f"the output of {name!r}, as it is")


def find_pre_activation(graph: ModelGraph, row: str) -> tuple[GraphValue, Scores]:
    """Find ``row``'s value before its activation, and the activation that turns it into the row.

    A ReLU unit that is off everywhere on an image has no gradient to climb. Gradient ascent
    therefore also climbs the pre-activation a little (a leaky ReLU's gradient): it is the
    input of an ``Activation`` or ``ReLU`` layer, or a ``Conv2D``'s public
    ``convolution_op`` with its kernel and bias. Any other row is its own pre-activation.
    """
    calls = _calls_to(graph, row)
    scope = _scopes(graph, calls)[-1]
    layer, layer_input = scope.called[row]
    if isinstance(layer, (keras.layers.Activation, keras.layers.ReLU)):
        return GraphValue(calls, layer_input, _identity, f"the input of {row!r}"), layer
    activation = getattr(layer, "activation", None)
    if isinstance(layer, keras.layers.Conv2D) and activation not in (None, _LINEAR):
        where = f"{row!r} before its activation"
        return GraphValue(calls, layer_input, functools.partial(_conv, layer), where), activation
    return GraphValue(calls, scope.tensors[row], _identity, f"{row!r} itself"), _identity


class SplitModel:
    """A model split at one row: images → the row's output, and that output → a value further on.

    The value is the class scores for Grad-CAM, or a layer's pre-activation for ascent.

    Parameters
    ----------
    graph : ModelGraph
        The model's recorded graph.
    row : str or None
        The row to split at; ``None`` computes the value straight from the images.
    target : GraphValue
        The value, downstream of ``row``.

    """

    def __init__(self, graph: ModelGraph, row: str | None, target: GraphValue) -> None:
        row_calls = _calls_to(graph, row) if row is not None else ()
        common = _common_prefix(row_calls, target.calls)
        row_scopes = _scopes(graph, row_calls)
        target_scopes = _scopes(graph, target.calls)
        self._depth, self._common = len(row_calls), len(common)
        self._compute = target.compute
        # images → the input of each scope down to the row's
        self._feeds = [
            keras.Model(scope.input, scope.nested[call][0])
            for scope, call in zip(row_scopes, row_calls, strict=False)
        ]
        leaf = row_scopes[-1]
        self._row = keras.Model(leaf.input, leaf.tensors[row]) if row is not None else None
        # the row's output → up through the nested models that hold it, to the common scope
        replaced = leaf.tensors[row] if row is not None else None
        self._ups = []
        for depth in range(self._depth, self._common, -1):
            scope = row_scopes[depth]
            if len(scope.outputs) != 1:
                raise ModelNotSupportedError(
                    f"Cannot follow gradients out of nested model {row_calls[depth - 1]!r}: it "
                    "has several outputs. Inspect a layer outside it, or the nested model alone."
                )
            self._ups.append(_replacing(scope.input, replaced, scope.outputs[0]))
            replaced = row_scopes[depth - 1].tensors[row_calls[depth - 1]]
        # across the common scope, then down the nested models that hold the target
        targets = [
            scope.nested[call][0] for scope, call in zip(target_scopes, target.calls, strict=False)
        ] + [target.tensor]
        self._across = _replacing(row_scopes[self._common].input, replaced, targets[self._common])
        self._downs = [
            keras.Model(target_scopes[depth].input, targets[depth])
            for depth in range(self._common + 1, len(target.calls) + 1)
        ]

    def row_output(self, images: Any) -> tuple[list[Any], Any]:
        """Return the input of every scope down to the row's, and the row's output."""
        inputs = [images]
        for feed in self._feeds:
            inputs.append(feed(inputs[-1], training=False))
        if self._row is None:
            return inputs, images
        return inputs, self._row(inputs[-1], training=False)

    def value(self, inputs: list[Any], row_output: Any | None = None) -> Any:
        """Return the target computed from ``row_output`` (``None``: from the images)."""
        value = row_output
        for depth, model in zip(range(self._depth, self._common, -1), self._ups, strict=True):
            value = model(inputs[depth], value)
        value = self._across(inputs[self._common], value)
        for model in self._downs:
            value = model(value, training=False)
        return tf.cast(self._compute(value), tf.float32)


def _dense(layer: keras.layers.Dense, inputs: Any) -> Any:
    """Compute a ``Dense`` layer's output before its activation, from its kernel and bias."""
    kernel = layer.kernel
    outputs = keras.ops.matmul(keras.ops.cast(inputs, kernel.dtype), kernel)
    return outputs if layer.bias is None else outputs + layer.bias


def _conv(layer: keras.layers.Conv2D, inputs: Any) -> Any:
    """Compute a ``Conv2D``'s output before its activation, with its public convolution."""
    outputs = layer.convolution_op(keras.ops.cast(inputs, layer.kernel.dtype), layer.kernel)
    if layer.bias is None:
        return outputs
    shape = (1, -1, 1, 1) if layer.data_format == "channels_first" else (1, 1, 1, -1)
    return outputs + keras.ops.reshape(layer.bias, shape)


def _identity(value: Any) -> Any:
    return value


def _calls_to(graph: ModelGraph, row: str) -> tuple[str, ...]:
    """Return the nested model calls from the top model to the scope that holds ``row``."""
    calls: list[str] = []
    scope = graph.root
    while row not in scope.tensors:
        name, scope = next(
            (name, child)
            for name, (_, child) in scope.nested.items()
            if row.startswith(f"{name}/") and child.holds(row)
        )
        calls.append(name)
    return tuple(calls)


def _scopes(graph: ModelGraph, calls: tuple[str, ...]) -> list[GraphScope]:
    """Return the scopes along ``calls``, the top model's first."""
    scopes = [graph.root]
    for call in calls:
        scopes.append(scopes[-1].nested[call][1])
    return scopes


def _replacing(scope_input: Any, replaced: Any, output: Any) -> Callable[[Any, Any], Any]:
    """Return ``(scope input, value) -> output`` with ``value`` standing in for ``replaced``.

    Branches that do not pass through ``replaced`` (skip connections) are computed from the
    scope's input as before; with no ``replaced``, the output comes from the input alone.
    """
    if replaced is None:
        model = keras.Model(scope_input, output)
        return lambda inputs, _: model(inputs, training=False)
    if output is replaced:  # the row is this scope's output, or the scores' input itself
        return lambda _, value: value
    model = keras.Model([scope_input, replaced], output)
    return lambda inputs, value: model([inputs, value], training=False)


def nested_calls(scope: GraphScope) -> set[str]:
    """Return the rows, in ``scope`` and the scopes inside it, that are nested model calls."""
    found = set(scope.nested)
    for _, child in scope.nested.values():
        found |= nested_calls(child)
    return found


def _common_prefix(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    common = []
    for one, other in zip(first, second, strict=False):
        if one != other:
            break
        common.append(one)
    return tuple(common)
