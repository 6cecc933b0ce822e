"""What the widget's text lines say about the view in a controller: sample, drawing, panels.

The words themselves are :mod:`convscope.render.words`'; these functions pick, from the
controller, what each line speaks of. The live widget and the static export both use them, so
a line reads the same in both.
"""

from __future__ import annotations

import typing

import numpy as np

from convscope.render.words import drawing_line, layer_caption, sample_line, teaching_captions

if typing.TYPE_CHECKING:
    from convscope.widget.controller import ExplorerController


def describe_panels(controller: ExplorerController) -> list[str]:
    """Return the teaching captions under the input, the grid and the selected channel."""
    state, engine = controller.state, controller.engine
    info = engine.layer(state.layer)
    depth = sum(
        "Conv" in row.kind for row in engine.layers[: engine.layer_names.index(state.layer)]
    )
    what = "digit" if controller.class_names == [str(i) for i in range(10)] else "image"
    layer_text = layer_caption(info, engine.graph.layer_config(info.name), depth)
    return teaching_captions(what, layer_text, state.channel, spatial=info.spatial)


def describe_sample(controller: ExplorerController, sample: int) -> str:
    """Say which sample it is and what the model reads: "sample 4  ·  label 4  ·  ..."."""
    labels, probabilities = controller.labels, controller.classes.rows(np.array([sample]))
    return sample_line(
        sample,
        None if labels is None else int(labels[sample]),
        None if probabilities is None else probabilities[0],
        controller.class_name,
        controller.classes.head_text,
    )


def describe_drawing(controller: ExplorerController) -> str:
    """Say what the model makes of the drawing: "your drawing  ·  predicted 3 (97.1%)"."""
    empty = controller.pad.is_empty
    probabilities = None if empty else controller.drawn_probabilities()
    return drawing_line(empty, probabilities, controller.class_name, controller.classes.head_text)
