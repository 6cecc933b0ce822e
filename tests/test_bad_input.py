"""What a hostile user passes (issue 13): each entry point answers with an error naming the fix.

One test per row of the issue's table, then the neighbours of each row. The random version of
all of this is tests/test_bad_input_properties.py.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import convscope
from convscope import (
    ArgumentTypeError,
    ConvscopeError,
    ImageInputError,
    InvalidArgumentError,
    LabelError,
)

Digits = tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def digits(mnist_test: Digits) -> Digits:
    images, labels = mnist_test
    return images[:12], labels[:12]


@pytest.fixture(scope="module")
def explorer(model: keras.Model, digits: Digits) -> convscope.Explorer:
    return convscope.Explorer(model, *digits, figure="none")


# ----- the table, row by row ----------------------------------------------------------
def test_one_hot_labels_are_read_as_their_argmax(model: keras.Model, digits: Digits) -> None:
    images, labels = digits
    explorer = convscope.Explorer(model, images, np.eye(10)[labels], figure="none")
    np.testing.assert_array_equal(explorer._controller.labels, labels)
    assert "label 7" in explorer._sample_text  # the first test digit is a 7


def test_string_labels_without_class_names_ask_for_them(model: keras.Model, digits: Digits) -> None:
    images, _ = digits
    with pytest.raises(LabelError, match=r"labels are class names \('cat'\); pass class_names="):
        convscope.Explorer(model, images, ["cat"] * len(images), figure="none")


def test_a_single_number_as_labels_is_refused(model: keras.Model, digits: Digits) -> None:
    images, _ = digits
    with pytest.raises(LabelError, match=r"one label per image \(12 of them\), got 3"):
        convscope.Explorer(model, images, 3, figure="none")


def test_class_names_must_be_strings(model: keras.Model, digits: Digits) -> None:
    with pytest.raises(
        LabelError, match=r"class_names must be strings, got 0, 1, 2, 3, 4, \.\.\.; convert"
    ):
        convscope.Explorer(model, *digits, class_names=list(range(10)), figure="none")


def test_batch_size_zero_is_refused(model: keras.Model, digits: Digits) -> None:
    with pytest.raises(InvalidArgumentError, match=r"batch_size must be >= 1, got 0"):
        convscope.get_activations(model, digits[0], batch_size=0)


def test_negative_batch_size_is_refused(model: keras.Model, digits: Digits) -> None:
    with pytest.raises(InvalidArgumentError, match=r"batch_size must be >= 1, got -1"):
        convscope.get_activations(model, digits[0], batch_size=-1)


def test_layers_must_be_names(model: keras.Model, digits: Digits) -> None:
    with pytest.raises(ArgumentTypeError, match=r"layers must be a layer name or a list of names"):
        convscope.get_activations(model, digits[0], layers=3)


def test_a_tf_dataset_of_image_label_batches_streams_through(
    model: keras.Model, digits: Digits
) -> None:
    images, labels = digits
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(5)
    streamed = convscope.get_activations(model, dataset, ["conv2", "predictions"])
    whole = convscope.get_activations(model, images, ["conv2", "predictions"])
    assert streamed["conv2"].shape == (12, 14, 14, 48)
    np.testing.assert_allclose(streamed["conv2"], whole["conv2"], atol=1e-5)
    np.testing.assert_array_equal(streamed["predictions"].argmax(1), labels)


def test_saving_at_an_absurd_dpi_is_refused_and_writes_nothing(
    explorer: convscope.Explorer, tmp_path: Path
) -> None:
    target = tmp_path / "view.png"
    with pytest.raises(InvalidArgumentError, match=r"dpi=5000 would save a 45,000×22,500 pixels"):
        explorer.save(target, dpi=5000)
    assert not target.exists()


def test_saving_without_an_extension_lists_the_formats(
    explorer: convscope.Explorer, tmp_path: Path
) -> None:
    with pytest.raises(InvalidArgumentError, match=r"end the file name with one of \.png, \.jpg"):
        explorer.save(tmp_path / "noext")
    assert list(tmp_path.iterdir()) == []


# ----- around the rows --------------------------------------------------------------------------
def test_labels_as_names_map_to_the_classes(model: keras.Model, digits: Digits) -> None:
    images, labels = digits
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    explorer = convscope.Explorer(
        model, images, [names[i] for i in labels], class_names=names, figure="none"
    )
    np.testing.assert_array_equal(explorer._controller.labels, labels)
    assert "label seven" in explorer._sample_text
    with pytest.raises(LabelError, match=r"not in class_names: \['deux', 'un'\]"):
        convscope.Explorer(model, images, ["un", "deux"] * 6, class_names=names, figure="none")


def test_class_names_must_match_the_models_classes(model: keras.Model, digits: Digits) -> None:
    with pytest.raises(LabelError, match="3 names but the model's output has 10 classes"):
        convscope.Explorer(model, *digits, class_names=["a", "b", "c"], figure="none")


def test_explorer_arguments_are_checked_before_the_widget_opens(
    model: keras.Model, digits: Digits
) -> None:
    with pytest.raises(InvalidArgumentError, match="figure must be 'auto', 'ipympl', 'png'"):
        convscope.Explorer(model, *digits, figure="svg")
    with pytest.raises(InvalidArgumentError, match="cache_bytes must be >= 0"):
        convscope.Explorer(model, *digits, cache_bytes=-1)
    with pytest.raises(ArgumentTypeError, match="cache_bytes must be an integer"):
        convscope.Explorer(model, *digits, cache_bytes="1GB")
    with pytest.raises(ArgumentTypeError, match="layer=3"):
        convscope.Explorer(model, *digits, layer=3)
    with pytest.raises(ArgumentTypeError, match=r"Expected a keras\.Model, got int"):
        convscope.Explorer(3, *digits)
    with pytest.raises(LabelError, match="labels were given without images"):
        convscope.Explorer(model, labels=digits[1])


def test_explorer_update_refuses_unknown_fields_and_bad_values(
    explorer: convscope.Explorer,
) -> None:
    before = (explorer.layer, explorer.channel, explorer.sample)
    with pytest.raises(ArgumentTypeError, match=r"unknown argument\(s\) 'colour'"):
        explorer.update(colour="red")
    with pytest.raises(ArgumentTypeError, match="cmap must be a matplotlib colormap name"):
        explorer.update(cmap=["viridis"])
    with pytest.raises(InvalidArgumentError, match="Unknown normalisation mode 'zscore'"):
        explorer.update(norm="zscore")
    assert (explorer.layer, explorer.channel, explorer.sample) == before


def test_save_needs_an_existing_folder_and_a_sane_dpi(
    explorer: convscope.Explorer, tmp_path: Path
) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"no folder .*missing to save view\.png in\. Create it"
    ):
        explorer.save(tmp_path / "missing" / "view.png")
    with pytest.raises(InvalidArgumentError, match="use a dpi from 10 to 1111"):
        explorer.save(tmp_path / "view.png", dpi=1112)
    with pytest.raises(InvalidArgumentError, match="use a dpi from 10 to 1111"):
        explorer.save(tmp_path / "view.png", dpi=9)
    with pytest.raises(ArgumentTypeError, match="dpi must be a number"):
        explorer.save(tmp_path / "view.png", dpi="high")
    with pytest.raises(InvalidArgumentError, match="is a folder"):
        explorer.save(tmp_path)
    assert list(tmp_path.iterdir()) == []
    explorer.save(tmp_path / "view.JPG", dpi=20)
    assert Image.open(tmp_path / "view.JPG").format == "JPEG"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"sample": 1.5}, ArgumentTypeError, "sample must be an integer"),
        ({"layout": "spiral"}, InvalidArgumentError, "Unknown layout 'spiral'"),
        ({"images_per_row": 0}, InvalidArgumentError, "images_per_row must be >= 1"),
        ({"images_per_row": 2.0}, ArgumentTypeError, "images_per_row must be an integer"),
        ({"norm": "zscore"}, InvalidArgumentError, "Unknown normalisation mode 'zscore'"),
        ({"norm": "fixed"}, InvalidArgumentError, "norm='fixed' needs value_range"),
        ({"value_range": (0, 1)}, InvalidArgumentError, "only used with norm='fixed'"),
        ({"norm": "fixed", "value_range": 1.0}, ArgumentTypeError, "a pair"),
        ({"norm": "fixed", "value_range": (0, np.nan)}, InvalidArgumentError, "finite"),
        ({"norm": "fixed", "value_range": (2, 1)}, InvalidArgumentError, "low <= high"),
        ({"norm": "fixed", "value_range": (0, np.ones(5))}, InvalidArgumentError, "48 values"),
        ({"cmap": "rainbowz"}, InvalidArgumentError, "Unknown colormap 'rainbowz'"),
        ({"cmap": 3}, ArgumentTypeError, "colormap name"),
        ({"title": 3}, ArgumentTypeError, "title must be a string"),
        ({"width": 0}, InvalidArgumentError, "width must be a number above 0"),
        ({"width": 1e6}, InvalidArgumentError, "at most 100"),
        ({"width": "wide"}, ArgumentTypeError, "width must be a number"),
    ],
)
def test_plot_feature_maps_options_are_checked(
    model: keras.Model, digits: Digits, options: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        convscope.plot_feature_maps(model, digits[0][:3], "conv2", **options)


def test_plot_feature_maps_accepts_every_good_option(model: keras.Model, digits: Digits) -> None:
    figure = convscope.plot_feature_maps(
        model,
        digits[0][:3],
        "conv2",
        sample=2,
        layout="strip",
        images_per_row=5,
        norm="fixed",
        value_range=(np.zeros(48), 4.0),
        cmap="magma",
        title="mine",
        width=12,
    )
    assert figure.get_size_inches()[0] == 12
    assert figure.texts[0].get_text() == "mine"


def test_plot_channel_options_are_checked(model: keras.Model, digits: Digits) -> None:
    images = digits[0][:2]
    with pytest.raises(ArgumentTypeError, match="channel must be an integer"):
        convscope.plot_channel(model, images, "conv1", "3")
    with pytest.raises(ArgumentTypeError, match="A layer is named by a string"):
        convscope.plot_channel(model, images, ["conv1"], 3)
    with pytest.raises(InvalidArgumentError, match="Unknown colormap"):
        convscope.plot_channel(model, images, "conv1", 3, cmap="nope")


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (None, "Images must be an array .* got NoneType"),
        ("digit.png", "Images must be an array .* got str"),
        ({"image": 1}, "Images must be an array .* got dict"),
        ([np.zeros((28, 28)), np.zeros((14, 14))], "could not be read as one array"),
        (np.zeros((0, 28, 28)), "empty batch"),
        (np.full((2, 28, 28), np.inf), "NaN or Inf"),
        (np.zeros((2, 28, 28), complex), "real numbers"),
    ],
)
def test_images_that_cannot_work_get_image_errors(
    model: keras.Model, images: object, message: str
) -> None:
    with pytest.raises(ImageInputError, match=message):
        convscope.get_activations(model, images, "conv1")
    with pytest.raises(ImageInputError, match=message):
        convscope.plot_feature_maps(model, images, "conv1")


def test_every_error_above_is_a_convscope_error() -> None:
    for error in (ArgumentTypeError, InvalidArgumentError, ImageInputError, LabelError):
        assert issubclass(error, ConvscopeError)
    assert issubclass(ArgumentTypeError, TypeError)


def test_class_names_are_drawn_as_text_not_maths(
    model: keras.Model, digits: Digits, tmp_path: Path
) -> None:
    names = ["$\\frac$", "a$b$", "$", "^_^", "", "zero", "un", "deux", "trois", "quatre"]
    # The class chart writes every name, and "$\\frac$" would not parse as maths.
    explorer = convscope.Explorer(model, *digits, class_names=names, figure="png")
    explorer.save(tmp_path / "view.png", dpi=30)
    assert Image.open(tmp_path / "view.png").size == (270, 135)


def test_the_deeper_views_check_their_options_with_the_project_errors(
    model: object, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    digit = mnist_test[0][0]
    with pytest.raises(ArgumentTypeError, match="alpha must be a number"):
        convscope.plot_grad_cam(model, digit, alpha="a")
    with pytest.raises(InvalidArgumentError, match="alpha must be between 0 and 1"):
        convscope.plot_heatmap(model, digit, "conv1", alpha=2)
    with pytest.raises(ArgumentTypeError, match="title must be a string"):
        convscope.plot_grad_cam(model, digit, title=3)
    with pytest.raises(InvalidArgumentError, match="steps must be >= 1"):
        convscope.filter_patterns(model, "conv1", steps=0, progress=False)
