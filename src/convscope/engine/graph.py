"""Read a model's real layer graph, nested models included, and build extractors from it.

Keras records every layer call as a node. A nested model such as a ``keras.applications`` base
inside a ``Sequential`` has been called in two graphs (its own, and the outer model's), so its
``layer.output`` belongs to the wrong one, and what feeds it cannot be guessed from the order
of ``model.layers``. Instead, each model's graph is re-run on a fresh ``keras.Input`` with the
public ``keras.models.clone_model(..., clone_function=<identity>, call_function=...)``: the
same layer objects are called again and every call is recorded. A nested model's call is
recorded as a *feed* (the outer tensor that reaches it) plus its own graph re-run the same way,
at every depth; a ``Sequential`` is a chain of its layers. An extractor then runs the outer
graph up to each feed and the nested graph from there, so every row is computed from the exact
tensor that reaches it in ``model(x, training=False)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

_SPATIAL_RANK = 4  # (batch, height, width, channels)


@dataclass(frozen=True)
class LayerInfo:
    """One inspectable row: the output of one layer call.

    Attributes
    ----------
    name : str
        Its path: ``"conv1"``, or ``"mobilenetv2/block_1_expand"`` inside a nested model. A
        layer or nested model called more than once gets ``#2``, ``#3``... on its later calls.
    kind : str
        The layer's class name, such as ``"Conv2D"``.
    output_shape : tuple of int or None
        Output shape without the batch axis, as the layer returns it.
    spatial : bool
        Whether the output is a stack of 2-D maps.
    channels_first : bool
        The maps are ``(channels, height, width)`` (a ``data_format="channels_first"`` layer,
        or one downstream of it) rather than ``(height, width, channels)``.

    """

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    spatial: bool
    channels_first: bool = False

    @property
    def channels(self) -> int:
        """Channels of a spatial output, or units of any other output (all axes flattened)."""
        if self.spatial:
            return int(self.output_shape[0 if self.channels_first else -1] or 0)
        size = 1
        for dim in self.output_shape:
            size *= int(dim or 1)
        return size

    @property
    def shape_text(self) -> str:
        """The output shape as people write it: ``28×28×24`` or ``128``."""
        return "×".join("?" if dim is None else str(dim) for dim in self.output_shape)

    def channels_last(self, activation: Any) -> Any:
        """Return one image's maps as ``(height, width, channels)``, whatever the layout."""
        return np.moveaxis(activation, 0, -1) if self.channels_first else activation

    @property
    def nbytes(self) -> int:
        """Bytes of one image's float32 output (unknown sizes count as 1)."""
        size = 4
        for dim in self.output_shape:
            size *= int(dim or 1)
        return size


@dataclass
class GraphScope:
    """One model's graph re-run on a fresh input: the top model, or one call of a nested one.

    Attributes
    ----------
    input : KerasTensor
        The fresh ``keras.Input`` of this scope.
    tensors : dict of str to KerasTensor
        The rows computed in this scope, by path.
    nested : dict of str to (KerasTensor, GraphScope)
        Per nested model call: the tensor of this scope that feeds it, and its own scope.
    outputs : list of KerasTensor
        The model's outputs in this scope, flattened.
    called : dict of str to (Layer, KerasTensor)
        Per row of ``tensors``: the layer called and the first tensor passed to it (what
        gradients need to reach a class score before its softmax).

    """

    input: Any
    tensors: dict[str, Any] = field(default_factory=dict)
    nested: dict[str, tuple[Any, GraphScope]] = field(default_factory=dict)
    outputs: list[Any] = field(default_factory=list)
    called: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def holds(self, path: str) -> bool:
        """Whether ``path`` is a row of this scope or of a scope nested in it."""
        return path in self.tensors or any(
            path.startswith(f"{name}/") and scope.holds(path)
            for name, (_, scope) in self.nested.items()
        )


@dataclass(frozen=True)
class ModelGraph:
    """The recorded graph of a model: its inspectable rows and the scopes that compute them.

    Attributes
    ----------
    root : GraphScope
        The top model's scope; nested scopes hang from it.
    rows : tuple of LayerInfo
        The inspectable rows, in the order the model computes them.
    opaque : dict of str to str
        Nested models whose inside cannot be read (subclassed models, unusual calls): path to
        the reason, for error messages.

    """

    root: GraphScope
    rows: tuple[LayerInfo, ...]
    opaque: dict[str, str]

    @property
    def output_count(self) -> int:
        """How many (flattened) outputs the model has."""
        return len(self.root.outputs)

    def layer_config(self, path: str) -> dict[str, Any]:
        """Return the ``get_config()`` of the layer that computes row ``path``.

        ``{}`` for an operation that is not a layer (``x + y``) or a row not in this graph.
        """
        scopes = [self.root]
        while scopes:
            scope = scopes.pop()
            if path in scope.called:
                layer = scope.called[path][0]
                config = layer.get_config() if hasattr(layer, "get_config") else {}
                return dict(config) if isinstance(config, dict) else {}
            scopes.extend(child for _, child in scope.nested.values())
        return {}

    def tiling_max_pools(self) -> dict[str, str]:
        """Return, per row, a ``MaxPooling2D`` row whose windows tile it exactly: the same maxima.

        A row ``R`` maps to a pooling row ``P`` only when all of this holds, read from the
        recorded graph and the pooling's ``get_config()``: ``P`` is a plain
        ``keras.layers.MaxPooling2D`` called on exactly ``R``'s output tensor, in the same
        graph (nothing in between, no cast: the same dtype); its ``data_format`` is ``R``'s
        layout; its pool size equals its strides; and ``R``'s height and width are known and
        divisible by the pool size (then ``"same"`` padding pads nothing either). Each value
        of ``R`` is then in exactly one window, so each channel's maximum over ``P``'s map is
        its maximum over ``R``'s: a pass reads the smaller map. Only for finite maps: a
        max-pooling window skips a NaN that ``tf.reduce_max`` keeps.
        """
        infos = {info.name: info for info in self.rows}
        found: dict[str, str] = {}
        scopes = [self.root]
        while scopes:
            scope = scopes.pop()
            scopes.extend(child for _, child in scope.nested.values())
            rows_by_tensor = {id(tensor): row for row, tensor in scope.tensors.items()}
            for pool_row, (layer, feed) in scope.called.items():
                source = rows_by_tensor.get(id(feed))
                # The exact class: a subclass may compute its call otherwise.
                if source is None or type(layer) is not keras.layers.MaxPooling2D:
                    continue
                same_dtype = scope.tensors[source].dtype == scope.tensors[pool_row].dtype
                if same_dtype and _tiles(layer.get_config(), infos[source]):
                    found[source] = pool_row
        return found

    def output_shape(self, index: int) -> tuple[int | None, ...]:
        """Shape of output ``index`` without the batch axis."""
        return tuple(self.root.outputs[index].shape[1:])

    def extractor(
        self, rows: Sequence[str], output: int | None = None
    ) -> Callable[[Any], list[Any]]:
        """Build a callable from a batch of model inputs to the listed rows, in that order.

        Parameters
        ----------
        rows : sequence of str
            Row paths; ``""`` stands for the model's output number ``output``.
        output : int, optional
            Which output ``""`` means.

        Returns
        -------
        callable
            ``extract(batch) -> list of tensors``; trace it with ``tf.function`` or call it
            eagerly. Layers always run in inference mode.

        """
        wanted = [row for row in rows if row]
        run = _scope_runner(self.root, wanted, [] if output is None else [output])

        def extract(batch: Any) -> list[Any]:
            found = run(batch)
            return [found[row] if row else found[f"#output{output}"] for row in rows]

        return extract


def _tiles(config: dict[str, Any], source: LayerInfo) -> bool:
    """Whether a max-pooling of ``config`` puts each value of ``source``'s maps in one window."""
    pool = tuple(config.get("pool_size") or ())
    strides = tuple(config.get("strides") or pool)
    first = config.get("data_format") == "channels_first"
    if not source.spatial or first != source.channels_first or pool != strides:
        return False
    if len(pool) != _SPATIAL_RANK - 2 or config.get("padding") not in {"valid", "same"}:
        return False
    plane = source.output_shape[1:] if first else source.output_shape[:2]
    return all(
        isinstance(size, int) and isinstance(step, int) and step > 0 and size % step == 0
        for size, step in zip(plane, pool, strict=True)
    )


def _scope_runner(
    scope: GraphScope, rows: list[str], outputs: list[int]
) -> Callable[[Any], dict[str, Any]]:
    """One ``keras.Model`` per scope that has wanted rows, chained through the feeds."""
    direct = [row for row in rows if row in scope.tensors]
    children = []
    for name, (feed, child) in scope.nested.items():
        inside = [row for row in rows if row.startswith(f"{name}/") and child.holds(row)]
        if inside:
            children.append((feed, _scope_runner(child, inside, [])))
    fetched = (
        [scope.tensors[row] for row in direct]
        + [scope.outputs[index] for index in outputs]
        + [feed for feed, _ in children]
    )
    model = keras.Model(scope.input, fetched, name="convscope_extractor")
    names = direct + [f"#output{index}" for index in outputs]

    def run(batch: Any) -> dict[str, Any]:
        values = model(batch, training=False)
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        found = dict(zip(names, values[: len(names)], strict=True))
        for (_, runner), feed in zip(children, values[len(names) :], strict=True):
            found.update(runner(feed))
        return found

    return run


def read_graph(model: keras.Model) -> ModelGraph:
    """Record every layer call of ``model`` on a fresh input, nested models entered.

    Parameters
    ----------
    model : keras.Model
        A built ``Sequential`` or functional model with one image input.

    Returns
    -------
    ModelGraph

    """
    recorder = _Recorder()
    root = recorder.run_model(model, tuple(model.inputs[0].shape), prefix="")
    return ModelGraph(root=root, rows=tuple(recorder.rows), opaque=recorder.opaque)


def is_graph_model(layer: object) -> bool:
    """Whether ``layer`` is a model whose layer graph Keras exposes (Sequential or functional)."""
    if isinstance(layer, keras.Sequential):
        return True
    # keras.Model(inputs, outputs) returns an instance of Keras's Functional class, which the
    # public API does not export; its name in the class hierarchy is the stable way to know.
    return isinstance(layer, keras.Model) and any(
        cls.__name__ == "Functional" for cls in type(layer).__mro__
    )


class _Recorder:
    """Calls each layer on the real tensors that reach it and keeps every call's output."""

    def __init__(self) -> None:
        self.rows: list[LayerInfo] = []
        self.opaque: dict[str, str] = {}
        self.layouts: dict[int, bool] = {}  # id(tensor) -> channels_first
        self._calls: dict[tuple[str, int], int] = {}

    def run_model(
        self, model: keras.Model, batch_shape: tuple[int | None, ...], prefix: str
    ) -> GraphScope:
        """Re-run ``model``'s own graph on a fresh input, recording each call under ``prefix``."""
        if isinstance(model, keras.Sequential):
            scope = GraphScope(keras.Input(batch_shape=batch_shape))
            outputs = scope.input
            for layer in model.layers:
                outputs = self.call(scope, layer, prefix, (outputs,), {})
            scope.outputs = keras.tree.flatten(outputs)
            return scope

        scope = GraphScope(None)

        def call_function(layer: keras.Layer, *args: Any, **kwargs: Any) -> Any:
            return self.call(scope, layer, prefix, args, kwargs)

        clone = keras.models.clone_model(
            model,
            clone_function=lambda layer: layer,  # the same layers, weights and all
            call_function=call_function,
        )
        scope.input = clone.inputs[0]
        scope.outputs = list(clone.outputs)
        return scope

    def call(
        self,
        scope: GraphScope,
        layer: keras.Layer,
        prefix: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Call one layer in ``scope``, entering it if it is a model, and record its output."""
        key = (prefix, id(layer))
        count = self._calls.get(key, 0) + 1
        self._calls[key] = count
        name = f"{prefix}{layer.name}" + (f"#{count}" if count > 1 else "")
        if _enterable(layer, args, kwargs):
            feed = args[0]
            scope.nested[name] = (feed, self.run_model(layer, tuple(feed.shape), f"{name}/"))
        elif isinstance(layer, keras.Model):
            self.opaque[name] = (
                "it is a subclassed model, whose layer graph Keras does not expose"
                if not is_graph_model(layer)
                else "it is called with several inputs or keyword arguments"
            )
        outputs = layer(*args, **kwargs)
        self._record(scope, name, layer, args, outputs)
        return outputs

    def _record(
        self,
        scope: GraphScope,
        name: str,
        layer: keras.Layer,
        args: tuple[Any, ...],
        outputs: Any,
    ) -> None:
        first_input = next(iter(keras.tree.flatten(args)), None)
        inherited = self.layouts.get(id(first_input), False)
        data_format = getattr(layer, "data_format", None)
        channels_first = data_format == "channels_first" if data_format else inherited
        for tensor in keras.tree.flatten(outputs):
            self.layouts[id(tensor)] = channels_first
        if isinstance(outputs, (list, tuple, dict)) or not hasattr(outputs, "shape"):
            return  # several outputs: no single stack of maps to show
        shape = tuple(outputs.shape)[1:]
        spatial = len(shape) + 1 == _SPATIAL_RANK
        self.rows.append(
            LayerInfo(name, type(layer).__name__, shape, spatial, spatial and channels_first)
        )
        scope.tensors[name] = outputs
        scope.called[name] = (layer, first_input)


def _enterable(layer: keras.Layer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a call of ``layer`` can be shown as its own graph fed by one tensor."""
    if not is_graph_model(layer) or len(args) != 1 or kwargs.get("mask") is not None:
        return False
    if set(kwargs) - {"training", "mask"}:
        return False
    if len(keras.tree.flatten(args[0])) != 1:
        return False
    return isinstance(layer, keras.Sequential) or len(keras.tree.flatten(layer.inputs)) == 1
