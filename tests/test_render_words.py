"""The Explorer's words: the sample lines, the panel titles, the channel panel and the captions."""

from __future__ import annotations

import numpy as np

from convscope.render.words import (
    drawing_line,
    grid_title,
    layer_line,
    panel_line,
    sample_line,
    teaching_captions,
    thumb_caption,
)

DIGITS = [str(digit) for digit in range(10)]


def name(index: int) -> str:
    return DIGITS[index]


def test_a_sample_line_names_the_sample_its_label_and_the_guess() -> None:
    probabilities = np.full(10, 0.01)
    probabilities[4] = 0.91
    line = sample_line(7, 4, probabilities, name)
    assert line == "sample 7  ·  label 4  ·  predicted 4 (91.0%)"
    assert sample_line(7, None, None, name) == "sample 7"
    nan = np.full(10, np.nan)
    assert (
        sample_line(7, 4, nan, name, "  ·  output a") == "sample 7  ·  label 4  ·  output NaN/Inf"
    )


def test_a_drawing_line_says_what_the_model_makes_of_it() -> None:
    probabilities = np.eye(10)[3]
    assert drawing_line(False, probabilities, name) == "your drawing  ·  predicted 3 (100.0%)"
    assert drawing_line(True, None, name) == "your drawing  ·  draw a digit"
    assert drawing_line(False, None, name) == "your drawing"


def test_the_panel_line_says_dead_or_alive_and_how_often_it_fires() -> None:
    line = panel_line("channel", 5, "conv2", dead=True, active=0.0, samples=10000, shown=9)
    assert line == (
        "channel 5 of conv2: DEAD, off or constant on every sample  ·  fires on 0.0% of "
        "10,000 samples  ·  its 9 strongest:"
    )


def test_teaching_captions_follow_the_layer_kind() -> None:
    spatial = teaching_captions("digit", "conv1 · 24 filters", 3, spatial=True)
    assert spatial[0] == "the digit the network reads"
    assert spatial[2].startswith("channel 3: where its filter fires on this digit")
    dense = teaching_captions("image", "dense", 3, spatial=False)
    assert dense[2] == "unit 3: one number the next layer reads; below, the network's guess"


def test_a_thumbnail_caption_says_label_then_prediction() -> None:
    assert thumb_caption(4, 9, DIGITS) == "4→9"
    assert thumb_caption(4, -1, DIGITS) == "4"  # no class output
    assert thumb_caption(-1, 9, DIGITS) == "→9"  # no labels
    assert thumb_caption(12, 3, ["cat", "dog"]) == "12→3"  # no name: the index


def test_the_layer_line_is_the_grid_title_without_dead_channels() -> None:
    assert layer_line("conv2", "Conv2D", "11×11×48") == "conv2  ·  Conv2D  ·  11×11×48"
    assert (
        grid_title("conv2", "Conv2D", "11×11×48", 3)
        == "conv2  ·  Conv2D  ·  11×11×48  ·  3 dead (×)"
    )
