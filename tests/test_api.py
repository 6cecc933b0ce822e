"""The static API: get_activations, plot_feature_maps, plot_channel and model files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import convscope
from convscope.engine.loading import ModelFileError
from convscope.errors import IndexOutOfRangeError, UnknownLayerError


def test_get_activations_returns_every_layer_by_default(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    acts = convscope.get_activations(model, images[:8])
    assert list(acts)[:3] == ["rescale", "conv1", "pool1"]
    assert acts["conv2"].shape == (8, 14, 14, 48)
    assert acts["dense"].shape == (8, 128)
    np.testing.assert_array_equal(acts["predictions"].argmax(1)[:4], labels[:4])
    picked = convscope.get_activations(model, images[:2], ["pool2", "conv1"])
    assert list(picked) == ["pool2", "conv1"]


def test_get_activations_unknown_layer(model: keras.Model) -> None:
    with pytest.raises(UnknownLayerError, match="conv9"):
        convscope.get_activations(model, np.zeros((28, 28)), ["conv1", "conv9"])


def test_feature_map_figure_saves_at_any_dpi(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    images, _ = mnist_test
    figure = convscope.plot_feature_maps(model, images[:4], "conv2", sample=2)
    assert "conv2" in figure.texts[0].get_text()
    sizes = []
    for dpi in (50, 150):
        path = tmp_path / f"maps{dpi}.png"
        figure.savefig(path, dpi=dpi)
        sizes.append(Image.open(path).size)
    assert sizes[1][0] == pytest.approx(3 * sizes[0][0], rel=0.02)
    pixels = np.asarray(Image.open(tmp_path / "maps150.png").convert("L"))
    assert pixels.std() > 20  # real maps, not a blank canvas


def test_grid_and_strip_layouts(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    grid = convscope.plot_feature_maps(model, images[0], "conv1", images_per_row=8)
    strip = convscope.plot_feature_maps(model, images[0], "conv1", layout="strip")
    grid_image = grid.axes[0].images[0].get_array()
    strip_image = strip.axes[0].images[0].get_array()
    assert grid_image.shape[1] < grid_image.shape[0] * 3  # 8 wide, 3 rows
    assert strip_image.shape[1] > strip_image.shape[0] * 20  # 24 in one row


def test_dense_layers_are_drawn_as_a_strip_not_rejected(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    figure = convscope.plot_feature_maps(model, images[0], "dense")
    image = figure.axes[0].images[0].get_array()
    assert image.shape[:2] == (1, 128)


def test_different_digits_give_different_maps(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    first = convscope.plot_feature_maps(model, images[0], "conv1").axes[0].images[0].get_array()
    second = convscope.plot_feature_maps(model, images[1], "conv1").axes[0].images[0].get_array()
    assert np.mean(first != second) > 0.2


def test_plot_channel_and_its_index_errors(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    figure = convscope.plot_channel(model, images[:3], "conv1", 5, sample=1)
    shown = figure.axes[0].images[0].get_array()
    expected = convscope.get_activations(model, images[1], "conv1")["conv1"][0, ..., 5]
    np.testing.assert_allclose(shown, expected, atol=1e-5)
    with pytest.raises(IndexOutOfRangeError, match=r"channel 24 .* use 0\.\.23"):
        convscope.plot_channel(model, images[0], "conv1", 24)
    with pytest.raises(IndexOutOfRangeError, match=r"sample 3 .* use 0\.\.2"):
        convscope.plot_feature_maps(model, images[:3], "conv1", sample=3)


def test_model_files_load_in_safe_mode_and_bad_files_are_explained(
    model: keras.Model, tmp_path: Path
) -> None:
    saved = tmp_path / "cnn.keras"
    model.save(saved)
    assert [layer.name for layer in convscope.load_model(saved).layers] == [
        layer.name for layer in model.layers
    ]
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"definitely not a zip")
    with pytest.raises(ModelFileError, match=r"not a Keras 3 \.keras file"):
        convscope.load_model(junk)
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("config.json", "{not json")
    with pytest.raises(ModelFileError, match="could not load"):
        convscope.load_model(broken)
    with pytest.raises(ModelFileError, match="No model file"):
        convscope.load_model(tmp_path / "missing.keras")


def test_lambda_layers_stay_refused_by_safe_mode(tmp_path: Path) -> None:
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ModelFileError, match="safe_mode"):
        convscope.load_model(path)
