"""The words the Explorer shows: sample lines, panel titles, the channel panel's line, captions.

Pure functions of what the controller knows, so that one place says "sample 4 · label 4 ·
predicted 4 (99.1%)" and a test can read them without a model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
