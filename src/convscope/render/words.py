"""The words the Explorer shows: sample lines, panel titles, the channel panel's line, captions.

Pure functions of what the controller knows, so that one place says "sample 4 · label 4 ·
predicted 4 (99.1%)" and a test can read them without a model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # render/ imports no TensorFlow: the type only
    from convscope.engine.graph import LayerInfo

SEPARATOR = "  ·  "
EMPTY_DRAWING = "draw a digit"


def prediction_text(
    probabilities: np.ndarray, class_name: Callable[[int], str], head_text: str = ""
) -> str:
    """Say what the model reads: "predicted 4 (99.1%)", or that its output is NaN/Inf."""
    if not np.isfinite(probabilities).all():
        return "output NaN/Inf"
    best = int(probabilities.argmax())
    return f"predicted {class_name(best)} ({probabilities[best]:.1%}){head_text}"


def sample_line(
    sample: int,
    label: int | None,
    probabilities: np.ndarray | None,
    class_name: Callable[[int], str],
    head_text: str = "",
) -> str:
    """Say which sample it is and what the model reads: "sample 4  ·  label 4  ·  ..."."""
    parts = [f"sample {sample}"]
    if label is not None:
        parts.append(f"label {class_name(label)}")
    if probabilities is not None:
        parts.append(prediction_text(probabilities, class_name, head_text))
    return SEPARATOR.join(parts)


def drawing_line(
    empty: bool,
    probabilities: np.ndarray | None,
    class_name: Callable[[int], str],
    head_text: str = "",
) -> str:
    """Say what the model makes of the drawing: "your drawing  ·  predicted 3 (97.1%)"."""
    if empty:
        return f"your drawing{SEPARATOR}{EMPTY_DRAWING}"
    if probabilities is None:
        return "your drawing"
    return f"your drawing{SEPARATOR}{prediction_text(probabilities, class_name, head_text)}"


def panel_line(
    unit: str, channel: int, layer: str, *, dead: bool, active: float, samples: int, shown: int
) -> str:
    """Say what the channel panel shows: the channel, dead or alive, how often it fires."""
    state = "DEAD, off or constant on every sample" if dead else "alive"
    return (
        f"{unit} {channel} of {layer}: {state}{SEPARATOR}fires on {active:.1%} of "
        f"{samples:,} samples{SEPARATOR}its {shown} strongest:"
    )


def teaching_captions(what: str, layer_text: str, channel: int, *, spatial: bool) -> list[str]:
    """Return the teaching captions under the input, the grid and the selected channel."""
    unit = (
        f"channel {channel}: where its filter fires on this {what} (bright: strongly)"
        if spatial
        else f"unit {channel}: one number the next layer reads"
    )
    return [f"the {what} the network reads", layer_text, f"{unit}; below, the network's guess"]


def thumb_caption(label: int, predicted: int, class_names: list[str]) -> str:
    """Caption a thumbnail "label→prediction", e.g. "4→9"; ``-1`` leaves that side out."""
    true = _class_text(class_names, label) if label >= 0 else ""
    guess = f"→{_class_text(class_names, predicted)}" if predicted >= 0 else ""
    return true + guess


def layer_line(layer: str, kind: str, shape: str) -> str:
    """Name the layer as the layer slider and the grid's title do: "conv2  ·  Conv2D  ·  ..."."""
    return f"{layer}{SEPARATOR}{kind}{SEPARATOR}{shape}"


# ----- panel titles (the live view in teaching mode, saved figures and GIFs) -----------------
def source_name(drawing: bool, sample: int) -> str:
    """Return how titles name an input: "your drawing", or "sample 42"."""
    return "your drawing" if drawing else f"sample {sample}"


def input_title(name: str, label: str | None, *, empty_drawing: bool = False) -> str:
    """Title the input: "sample 42  ·  label 7", or "your drawing  ·  draw a digit"."""
    if empty_drawing:
        return f"{name}{SEPARATOR}{EMPTY_DRAWING}"
    return name if label is None else f"{name}{SEPARATOR}label {label}"


def grid_title(layer: str, kind: str, shape: str, dead: int) -> str:
    """Title the mosaic: the layer, its kind and shape, and how many channels are dead."""
    dead_text = f"{SEPARATOR}{dead} dead (×)" if dead else ""
    return layer_line(layer, kind, shape) + dead_text


def channel_title(unit: str, channel: int, peak: float | None) -> str:
    """Title the selected channel: "channel 5  ·  max 3.2" (``None``: no finite value)."""
    return f"{unit} {channel}{SEPARATOR}max {_measure(peak)}"


def difference_titles(
    layer: str, norm: str, unit: str, channel: int, largest: float | None
) -> tuple[str, str]:
    """Title the grid and the channel of ``A - B``, naming its colour scale."""
    scale = {
        "fixed": "scale: the data set's range",
        "layer": "one scale for the layer",
    }.get(norm, "each channel to its largest |A − B|")
    return (
        f"A − B{SEPARATOR}{layer}{SEPARATOR}{scale}",
        f"{unit} {channel}{SEPARATOR}|A − B| ≤ {_measure(largest)}",
    )


def field_title(layer: str, unit: tuple[int, int], box: tuple[int, int, int, int]) -> str:
    """Title the grid with the probed unit's receptive field, ``box`` (top, left, bottom, right)."""
    top, left, bottom, right = box
    seen = f"rows {top}-{bottom - 1}, cols {left}-{right - 1}"
    return f"{layer}{SEPARATOR}unit ({unit[0]}, {unit[1]}) sees {seen}"


def heatmap_title(layer: str, channels: int) -> str:
    """Title the heatmap view."""
    return f"heatmap{SEPARATOR}{layer}{SEPARATOR}mean of its {channels} channels"


def grad_cam_title(layer: str, class_name: str | None, *, predicted: bool) -> str:
    """Title the Grad-CAM view; ``class_name`` ``None``: an empty drawing, nothing explained."""
    if class_name is None:
        return f"Grad-CAM{SEPARATOR}{layer}{SEPARATOR}{EMPTY_DRAWING} first"
    which = "predicted" if predicted else "chosen"
    return f"Grad-CAM{SEPARATOR}{layer}{SEPARATOR}class {class_name} ({which})"


def patterns_titles(layer: str, channel: int) -> tuple[str, str]:
    """Title the filter-pattern view's grid and its selected channel."""
    return (
        f"filter patterns{SEPARATOR}{layer}{SEPARATOR}what excites each channel",
        f"channel {channel}{SEPARATOR}its pattern",
    )


def non_finite_notice(layer: str, count: int, which: str) -> str:
    """Say where a layer's maps hold NaN/Inf, and how they are drawn."""
    return (
        f"{layer}: {count:,} NaN/Inf value(s) for {which}, "
        "marked magenta and left out of the colour scale"
    )


def output_notice(name: str) -> str:
    """Say that the model's output for an input is NaN/Inf (no classes are shown)."""
    return f"the model's output for {name} is NaN/Inf"


def field_notice(problem: str) -> str:
    """Say why no receptive field is drawn."""
    return f"no receptive field: {problem}"


def joined_notices(*notices: str) -> str:
    """Join what the status line says, leaving out the empty ones."""
    return "; ".join(filter(None, notices))


def _class_text(class_names: list[str], index: int) -> str:
    return class_names[index] if index < len(class_names) else str(index)


def _measure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


# ----- teaching captions: what a layer does, in one line, by its kind ------------------------
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
