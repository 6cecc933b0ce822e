"""Check that a Keras model can be inspected, list its layers, and build per-layer extractors."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import keras

from convscope.engine.errors import ArgumentTypeError, ModelNotSupportedError, UnknownLayerError

_IMAGE_RANK = 4  # (batch, height, width, channels)
_SPATIAL_RANK = 4


@dataclass(frozen=True)
class LayerInfo:
    """One inspectable layer.

    Attributes
    ----------
    name : str
        Its path: ``"conv1"``, or ``"mobilenetv2/block_1_expand"`` inside a nested model.
    kind : str
        The layer's class name, such as ``"Conv2D"``.
    output_shape : tuple of int or None
        Output shape without the batch axis.
    spatial : bool
        Whether the output is a stack of 2-D maps ``(height, width, channels)``.

    """

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    spatial: bool

    @property
    def channels(self) -> int:
        """Channels of a spatial output, or units of any other output (all axes flattened)."""
        if self.spatial:
            return int(self.output_shape[-1] or 0)
        size = 1
        for dim in self.output_shape:
            size *= int(dim or 1)
        return size

    @property
    def shape_text(self) -> str:
        """The output shape as people write it: ``28×28×24`` or ``128``."""
        return "×".join("?" if dim is None else str(dim) for dim in self.output_shape)


def check_model(model: object) -> keras.Model:
    """Return ``model`` if convscope can inspect it, else raise an error that says why.

    Parameters
    ----------
    model : object
        Should be a built ``keras.Model`` with exactly one input of shape
        ``(batch, height, width, channels)``.

    Returns
    -------
    keras.Model

    Raises
    ------
    ArgumentTypeError
        When ``model`` is not a Keras model (a ``TypeError`` too).
    ModelNotSupportedError
        When the model is not built, or does not have exactly one image input.

    """
    if not isinstance(model, keras.Model):
        raise ArgumentTypeError(
            f"Expected a keras.Model, got {type(model).__name__}. Load a saved model with "
            "convscope.load_model('model.keras') or keras.saving.load_model."
        )
    try:
        inputs = list(model.inputs)
    except (AttributeError, ValueError) as error:
        inputs = []
        if model.built:
            raise ModelNotSupportedError(
                f"Model {model.name!r} has no symbolic inputs ({error}). Rebuild it with "
                "keras.Input, e.g. keras.Sequential([keras.Input((28, 28, 1)), ...])."
            ) from error
    if not model.built or not inputs:
        raise ModelNotSupportedError(
            f"Model {model.name!r} is not built, so its layers have no shapes yet. Start it "
            "with keras.Input(shape=...), or call it once on a batch of images."
        )
    if len(inputs) != 1:
        names = ", ".join(tensor.name for tensor in inputs)
        raise ModelNotSupportedError(
            f"Model {model.name!r} has {len(inputs)} inputs ({names}); convscope inspects "
            "models with one image input. Build a sub-model on the image branch, e.g. "
            "keras.Model(model.inputs[0], model.get_layer('...').output)."
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != _IMAGE_RANK:
        raise ModelNotSupportedError(
            f"Model {model.name!r} takes input of shape {shape[1:]}, not images. convscope "
            "needs one input of shape (height, width, channels), such as (28, 28, 1)."
        )
    return model


def list_layers(model: keras.Model) -> tuple[LayerInfo, ...]:
    """List the layers of ``model`` that have one output, nested models flattened into paths.

    Parameters
    ----------
    model : keras.Model
        A model accepted by :func:`check_model`.

    Returns
    -------
    tuple of LayerInfo
        In the model's order; a nested model appears as itself and then as its own layers.

    """
    return tuple(_walk(model, prefix=""))


def _walk(model: keras.Model, prefix: str) -> list[LayerInfo]:
    found: list[LayerInfo] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        path = f"{prefix}{layer.name}"
        try:
            output = layer.output
        except (AttributeError, ValueError):  # shared or multi-output layers: no single map
            continue
        if isinstance(output, (list, tuple, dict)):
            continue
        shape = tuple(output.shape)[1:]
        found.append(LayerInfo(path, type(layer).__name__, shape, len(shape) + 1 == _SPATIAL_RANK))
        if isinstance(layer, keras.Model):
            found.extend(_walk(layer, prefix=f"{path}/"))
    return found


def find_layer(layers: tuple[LayerInfo, ...], name: str) -> LayerInfo:
    """Return the layer called ``name``, or raise with the closest names as suggestions.

    Raises
    ------
    UnknownLayerError
        When no layer has that name.

    """
    for info in layers:
        if info.name == name:
            return info
    names = [info.name for info in layers]
    close = difflib.get_close_matches(str(name), names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownLayerError(
        f"No layer {name!r} in this model.{hint} Valid names: {', '.join(names[:40])}"
        + (" ..." if len(names) > 40 else "")  # noqa: PLR2004
    )


def layers_extractor(model: keras.Model, paths: tuple[str, ...]) -> Callable[..., list[object]]:
    """Build one Keras callable that returns the outputs of several layers in one pass.

    Top-level layers share one multi-output ``keras.Model``; layers inside nested models get
    their own chain (see :func:`layer_extractor`).

    Parameters
    ----------
    model : keras.Model
        The outer model.
    paths : tuple of str
        Layer paths, as in :class:`LayerInfo`.

    Returns
    -------
    callable
        Maps a batch of model inputs to a list of outputs, one per path.

    """
    top = [path for path in paths if "/" not in path]
    shared = (
        keras.Model(model.inputs, [model.get_layer(path).output for path in top]) if top else None
    )
    nested = {path: layer_extractor(model, path) for path in paths if "/" in path}

    def extract(batch: object, training: bool = False) -> list[object]:
        outputs: dict[str, object] = {}
        if shared is not None:
            result = shared(batch, training=training)
            outputs.update(zip(top, result if len(top) > 1 else [result], strict=True))
        outputs.update({path: fn(batch, training=training) for path, fn in nested.items()})
        return [outputs[path] for path in paths]

    return extract


def layer_extractor(model: keras.Model, path: str) -> Callable[..., object]:
    """Build a Keras callable from the model's input to the output of the layer at ``path``.

    A nested model is entered by running the outer model up to the nested model's input,
    then the nested model's own extractor. That input is the previous layer's output, so
    nested models must sit in a chain (as in ``Sequential([preprocess, base, head])``).

    Parameters
    ----------
    model : keras.Model
        The outer model.
    path : str
        ``"/"``-separated layer path, as in :class:`LayerInfo`.

    Returns
    -------
    callable
        Maps a batch of model inputs to that layer's output.

    """
    head, _, rest = path.partition("/")
    layer = model.get_layer(head)
    if not rest:
        return keras.Model(model.inputs, layer.output, name=f"extract_{head}")
    inner = layer_extractor(layer, rest)
    position = model.layers.index(layer)
    previous = [
        lay for lay in model.layers[:position] if not isinstance(lay, keras.layers.InputLayer)
    ]
    feed = previous[-1].output if previous else model.inputs[0]
    if tuple(feed.shape[1:]) != tuple(layer.inputs[0].shape[1:]):
        raise ModelNotSupportedError(
            f"Cannot find what feeds nested model {head!r}: the layer before it gives "
            f"{tuple(feed.shape[1:])} but it takes {tuple(layer.inputs[0].shape[1:])}. "
            f"Inspect the nested model on its own: model.get_layer({head!r})."
        )
    to_nested = keras.Model(model.inputs, feed, name=f"feed_{head}")

    def extract(batch: object, training: bool = False) -> object:
        return inner(to_nested(batch, training=training), training=training)

    return extract
