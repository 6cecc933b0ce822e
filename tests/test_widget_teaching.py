"""Teaching mode: titles on the live figure and a plain-language caption that follows the layer."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import convscope
from convscope.engine.graph import LayerInfo
from convscope.errors import ArgumentTypeError
from convscope.render.words import layer_caption


@pytest.mark.parametrize(
    ("kind", "shape", "config", "depth", "expected"),
    [
        ("Conv2D", (28, 28, 24), {"kernel_size": (3, 3)}, 0,
         "conv · 24 filters, each 3×3, looking for edges and strokes"),
        ("Conv2D", (7, 7, 64), {"kernel_size": (5, 5)}, 2,
         "conv · 64 filters, each 5×5, combining strokes into parts of shapes"),
        ("MaxPooling2D", (14, 14, 24), {"pool_size": (2, 2)}, 1,
         "conv · keeps the strongest response in each 2×2 window, making the maps smaller"),
        ("Flatten", (576,), {}, 3, "conv · the maps unrolled into one long vector"),
        ("Dense", (10,), {"activation": "softmax"}, 3,
         "conv · 10 scores turned into probabilities, one per class"),
        ("Dense", (128,), {"activation": "relu"}, 3,
         "conv · 128 units, each weighing every number before it"),
        ("Rescaling", (28, 28, 1), {"scale": 1 / 255}, 0,
         "conv · multiplies every pixel by 0.00392, to a small range"),
        ("Zoomy", (4, 4, 2), {}, 0, "conv · a Zoomy layer, 4×4×2"),
    ],
)  # fmt: skip
def test_each_kind_gets_its_caption(
    kind: str, shape: tuple[int, ...], config: dict[str, object], depth: int, expected: str
) -> None:
    info = LayerInfo(name="model/conv", kind=kind, output_shape=shape, spatial=len(shape) == 3)
    assert layer_caption(info, config, depth) == expected


def test_teaching_mode_titles_the_live_figure_and_captions_each_panel(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    images, labels = mnist_test[0][:50], mnist_test[1][:50]
    ex = convscope.Explorer(model, images, labels, figure="png", teaching=True)
    titles = ex.panels._titles
    assert all(title.get_visible() for panel, title in titles.items() if panel.get_visible())
    assert ex._captions[1] == "conv1 · 24 filters, each 3×3, looking for edges and strokes"
    assert ex._captions[0] == "the digit the network reads"
    ex.layer = "conv2"
    assert (
        ex._captions[1] == "conv2 · 48 filters, each 3×3, combining edges into curves and corners"
    )
    ex.layer = "flatten"
    assert ex._captions[1] == "flatten · the maps unrolled into one long vector"
    assert ex._captions[2].startswith("unit 0: one number the next layer reads")
    ex.save(tmp_path / "view.png")
    assert (tmp_path / "view.png").is_file()
    assert titles[ex.panels.grid_panel].get_visible()  # still titled after a save

    plain = convscope.Explorer(model, images, labels, figure="none")
    assert plain._captions == []
    assert not any(title.get_visible() for title in plain.panels._titles.values())
    with pytest.raises(ArgumentTypeError, match="teaching must be True or False"):
        convscope.Explorer(model, images, figure="none", teaching="yes")  # type: ignore[arg-type]
