"""Plain-language captions for a classroom: what a layer does, in one line, by its kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # render/ imports no TensorFlow: the type only
    from convscope.engine.graph import LayerInfo

_LOOKING = (
    "looking for edges and strokes",
    "combining edges into curves and corners",
    "combining strokes into parts of shapes",
)  # by how many convolutions come before


def layer_caption(info: LayerInfo, config: Mapping[str, object], depth: int = 0) -> str:
    """Return one line that says, for a student, what ``info``'s layer does.

    Parameters
    ----------
    info : LayerInfo
        The row: its name, kind and output shape.
    config : mapping
        The layer's ``get_config()`` (kernel and pool sizes, units, activation); empty for
        operations that are not layers.
    depth : int
        How many convolutions come before it in the model: the first ones find edges and
        strokes, later ones combine them.

    Examples
    --------
    ``conv1 · 24 filters, each 3×3, looking for edges and strokes``

    """
    name, kind = info.name.rsplit("/", 1)[-1], info.kind
    size = _size(config.get("kernel_size") or config.get("pool_size"))
    if "Conv" in kind:
        looking = _LOOKING[min(depth, len(_LOOKING) - 1)]
        return f"{name} · {info.channels} filters, each {size}, {looking}"
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        keeps = "the strongest response" if kind.startswith("Max") else "the average"
        return f"{name} · keeps {keeps} in each {size} window, making the maps smaller"
    if kind.startswith("Global"):
        return f"{name} · one number per channel: how much of its pattern the whole image holds"
    return _other(name, kind, info, config)


def _other(name: str, kind: str, info: LayerInfo, config: Mapping[str, object]) -> str:
    """Captions of the layers that are not convolutions or pooling."""
    if kind == "Dense":
        if config.get("activation") == "softmax":
            return f"{name} · {info.channels} scores turned into probabilities, one per class"
        return f"{name} · {info.channels} units, each weighing every number before it"
    fixed = {
        "Flatten": "the maps unrolled into one long vector",
        "Dropout": "switches random units off while training; at rest it does nothing",
        "BatchNormalization": "rescales each channel to a steady range",
        "Rescaling": f"multiplies every pixel by {_number(config.get('scale'))}, to a small range",
        "Normalization": "scales the pixel values to a steady range",
        "Add": "adds two branches together, value by value",
        "Concatenate": "stacks the channels of two branches",
        "ReLU": "keeps the positive values and sets the rest to 0",
        "Activation": "applies its activation to every value",
        "Softmax": "turns scores into probabilities",
        "InputLayer": "the image as the network receives it",
    }
    what = fixed.get(kind, f"a {kind} layer, {info.shape_text}")
    return f"{name} · {what}"


def _number(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _size(value: object) -> str:
    """``3×3`` from ``(3, 3)`` or ``3``; ``""`` when unknown."""
    if isinstance(value, int):
        return f"{value}×{value}"
    if isinstance(value, (tuple, list)) and value:
        return "×".join(str(part) for part in value)
    return ""
