"""Split a model's recorded graph at a row, to differentiate a value further on with respect to it.

Grad-CAM differentiates a class score with respect to a layer's output, so the score must be
computed *from* that output. A nested row and the model's output are computed by different
Keras models (see :mod:`convscope.engine.graph`), so one forward pass cannot give both.
:class:`SplitModel` splits the graph instead, with ``keras.Model([scope_input, row_tensor],
...)`` in each scope between the row and the value: the row's output is fed back in where the
row was, and every branch that does not pass through it (a skip connection) is computed from
the scope's input as before.

The values are class scores *before the softmax* (:func:`find_class_scores`; the "linear
swap": a saturated probability has almost no gradient), found with public API only. What the
model's last operation does is *probed*, not guessed from its name: it is called on random
tensors and compared with a softmax, a sigmoid and an affine map (:func:`behaviour_of`), so a
softmax written as ``"softmax"``, ``keras.activations.softmax``, ``keras.ops.softmax``,
``tf.nn.softmax``, a ``Softmax`` layer, an ``Activation`` of any of those or a ``Lambda`` is
recognised alike:

- the output comes from a layer or operation that is a softmax or a sigmoid as a whole
  (``Softmax``, ``Activation``, ``Lambda``, ``keras.ops.softmax`` in a functional model): the
  scores are the tensor it is called on;
- the output layer is a ``Dense`` whose ``activation`` is a softmax or a sigmoid, as in the
  bundled MNIST CNN and ``keras.applications`` classifiers: the scores are its input times its
  public ``kernel``, plus its ``bias``;
- the output comes out of a nested model: the same rules, inside it;
- an affine last operation (a linear ``Dense``), or a built-in Keras layer that the probe
  finds neither softmax nor sigmoid, gives the scores as they are;
- any other layer with a softmax or sigmoid inside (``Conv2D(..., activation="softmax")``),
  and a ``Lambda``, ``Activation`` or custom layer that is none of these, raise
  :class:`~convscope.errors.ModelNotSupportedError`, which says how to rebuild it.

A one-unit sigmoid scores two classes: its scores are ``(-z, z)`` for the logit ``z``, so the
predicted side is the larger one, and either side has a gradient to explain.

Or a layer's pre-activation (:func:`find_pre_activation`), which gradient ascent also climbs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from convscope.engine.graph import GraphScope, ModelGraph
from convscope.errors import ModelNotSupportedError

_LINEAR = keras.activations.linear
SOFTMAX, SIGMOID, SCORES = "softmax", "sigmoid", "scores"
_SQUASHES = (SOFTMAX, SIGMOID)
_AFFINE, _OTHER = "affine", "other"
# Keras's own activation functions that are neither softmax nor sigmoid: an output layer with
# one of these gives its values as they are (the probe still catches a softmax among them).
_KNOWN_ACTIVATIONS = tuple(
    getattr(keras.activations, name)
    for name in ("relu", "relu6", "elu", "selu", "gelu", "tanh", "softplus", "softsign",
                 "silu", "swish", "leaky_relu", "exponential", "mish", "hard_silu")
    if hasattr(keras.activations, name)
)  # fmt: skip

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
    squash : str
        For class scores: what turns them into the model's output, ``"softmax"``,
        ``"sigmoid"`` or ``"scores"`` (nothing: the output is the scores).
    two_sided : bool
        A one-unit sigmoid's scores ``(-z, z)``: two classes from one output unit.

    """

    calls: tuple[str, ...]
    tensor: Any
    compute: Scores
    description: str
    squash: str = SCORES
    two_sided: bool = False


def find_class_scores(graph: ModelGraph, output: int) -> GraphValue:
    """Find the class scores before the softmax of the model's output number ``output``.

    Raises
    ------
    ModelNotSupportedError
        When the output's last operation applies a softmax or sigmoid that cannot be undone
        (inside a layer that is not a ``Dense``), or is one convscope cannot tell apart from
        them (a ``Lambda``, ``Activation`` or custom layer that is none of softmax, sigmoid
        or affine).

    """
    calls: tuple[str, ...] = ()
    scope = graph.root
    tensor = scope.outputs[output]
    units = int(np.prod([dim or 1 for dim in tensor.shape[1:]]))
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
        kind = type(layer).__name__
        activation = getattr(layer, "activation", None)
        if activation is not None and not isinstance(layer, keras.layers.Activation):
            found = _behaviour_or_refuse(name, kind, activation, tuple(tensor.shape[1:]))
            if found in _SQUASHES and isinstance(layer, keras.layers.Dense):
                where = f"{name!r} before its {found} (its kernel and bias)"
                return _scores(
                    calls, layer_input, functools.partial(_dense, layer), where, found, units=units
                )
            if found in _SQUASHES:
                raise ModelNotSupportedError(
                    f"The model's output layer {name!r} ({kind}) applies a {found} inside "
                    "itself, so convscope cannot read the class scores before it, and the "
                    "gradients of saturated probabilities are close to zero. Rebuild the output "
                    "as the same layer with activation=None followed by "
                    f"keras.layers.Activation({found!r}) (the weights are the same)."
                )
            return GraphValue(calls, tensor, _identity, f"the output of {name!r}, as it is")
        function = layer.activation if isinstance(layer, keras.layers.Activation) else layer
        found = _behaviour_or_refuse(name, kind, function, tuple(layer_input.shape[1:]))
        if found in _SQUASHES:
            where = f"the input of {name!r} ({kind}, a {found})"
            return _scores(calls, layer_input, _identity, where, found, units=units)
        return GraphValue(calls, tensor, _identity, f"the output of {name!r}, as it is")


def _scores(
    calls: tuple[str, ...], tensor: Any, compute: Scores, where: str, squash: str, *, units: int
) -> GraphValue:
    """Class scores before ``squash``; a one-unit sigmoid's become ``(-z, z)``."""
    if squash == SIGMOID and units == 1:
        both = functools.partial(_then_two_sided, compute)
        return GraphValue(calls, tensor, both, where, squash, two_sided=True)
    return GraphValue(calls, tensor, compute, where, squash)


def _then_two_sided(compute: Scores, value: Any) -> Any:
    """Return a one-unit sigmoid's logit ``z`` as two classes' scores ``(-z, z)``."""
    logit = compute(value)
    return keras.ops.concatenate([-logit, logit], axis=-1)


def _behaviour_or_refuse(name: str, kind: str, function: Any, shape: tuple[int | None, ...]) -> str:
    """Return what ``function`` does to the output: softmax, sigmoid or affine; else refuse.

    A built-in Keras layer, operation or activation that is none of these (a ReLU, say) gives
    its values as they are, as before; a ``Lambda``, an ``Activation`` of a function that is
    not Keras's own, or a custom layer is refused: it may hide a softmax convscope cannot see.
    """
    found = behaviour_of(function, shape)
    if found != _OTHER:
        return found
    if any(function is known for known in _KNOWN_ACTIVATIONS):
        return SCORES
    module = type(function).__module__
    opaque = isinstance(function, keras.layers.Lambda) or not module.startswith("keras.")
    if kind != "Activation" and not opaque:
        return SCORES
    own = getattr(function, "__name__", type(function).__name__)
    described = kind if isinstance(function, keras.Layer) else f"{kind} of {own!r}"
    raise ModelNotSupportedError(
        f"The model's output comes out of {name!r} ({described}), which convscope "
        "cannot tell apart from a squashing of the class scores: on random inputs it is none "
        "of softmax, sigmoid or an affine map. Grad-CAM and class maximisation need the "
        "scores before any softmax or sigmoid. End the model with the scores (a linear Dense), "
        "or with a plain keras.layers.Softmax() / Activation('sigmoid') after them."
    )


def behaviour_of(function: Any, shape: tuple[int | None, ...]) -> str:
    """Probe what ``function`` does to a batch of ``shape``: a softmax, sigmoid, affine, other.

    It is called on two random batches (and a mix of them for affinity); a softmax or sigmoid
    must match, over the last axis, to float32 rounding. A probe that cannot run (an unknown
    size, several inputs) says ``"other"``.
    """
    if any(dim is None for dim in shape):
        return _OTHER
    size = (3, *(int(dim or 0) for dim in shape))
    rng = np.random.default_rng(0)
    inputs = [rng.normal(0.0, 2.0, size).astype(np.float32) for _ in range(2)]
    inputs.append(0.3 * inputs[0] + 0.7 * inputs[1])
    try:
        outputs = [np.asarray(function(tf.constant(x)), np.float64) for x in inputs]
    except Exception:  # noqa: BLE001 - anything that cannot take one tensor is "other"
        return _OTHER
    if all(out.shape == x.shape for out, x in zip(outputs, inputs, strict=True)):
        wide = [x.astype(np.float64) for x in inputs]
        exps = [np.exp(x - x.max(axis=-1, keepdims=True)) for x in wide]
        references = {
            SOFTMAX: [e / e.sum(axis=-1, keepdims=True) for e in exps],
            SIGMOID: [1.0 / (1.0 + np.exp(-x)) for x in wide],
        }
        for squash, expected in references.items():
            if all(_close(out, ref) for out, ref in zip(outputs, expected, strict=True)):
                return squash
    if outputs[2].shape == outputs[0].shape and _close(
        outputs[2], 0.3 * outputs[0] + 0.7 * outputs[1]
    ):
        return _AFFINE
    return _OTHER


def _close(value: np.ndarray, expected: np.ndarray) -> bool:
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    return bool(np.allclose(value, expected, rtol=1e-4, atol=1e-5 * scale))


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
        try:
            self._build(graph, row, target)
        except ValueError as error:
            if "is not connected" not in str(error):
                raise
            repeated = sorted({info.name.split("#")[0] for info in graph.rows if "#" in info.name})
            why = (
                f"{', '.join(map(repr, repeated))} is called more than once in this model, and "
                "Keras cannot build a model that starts at the output of one of those calls, "
                "or of a layer inside one, and goes on to the class scores"
                if repeated
                else "Keras cannot build a model that starts at that row's output"
            )
            raise ModelNotSupportedError(
                f"Cannot follow gradients from {row!r} to {target.description}: {why}. Pick a "
                "layer after the last call of the shared model, or build the model with a "
                "separate copy of it for each call (keras.models.clone_model)."
            ) from None

    def _build(self, graph: ModelGraph, row: str | None, target: GraphValue) -> None:
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
