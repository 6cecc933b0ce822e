"""The static API's deeper views: Grad-CAM, heatmaps, filter patterns, class images, as figures."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import convscope
from convscope.errors import IndexOutOfRangeError
from convscope.render.overlays import overlay


def test_one_image_gives_one_map_and_a_batch_gives_a_batch(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    assert convscope.grad_cam(model, images[0]).shape == (28, 28)
    assert convscope.grad_cam(model, images[0][..., np.newaxis]).shape == (28, 28)
    assert convscope.grad_cam(model, images[:1]).shape == (1, 28, 28)
    assert convscope.grad_cam(model, images[:4], class_index=2).shape == (4, 28, 28)
    assert convscope.activation_heatmap(model, images[:2], "conv1").shape == (2, 28, 28)
    with pytest.raises(ValueError, match="one per image"):
        convscope.grad_cam(model, images[:4], class_index=[1, 2])


def test_large_batches_are_computed_in_parts_with_the_same_result(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    maps = convscope.grad_cam(model, images[:300], class_index=labels[:300])
    for index in (0, 255, 256, 299):
        alone = convscope.grad_cam(model, images[index], class_index=labels[index])
        np.testing.assert_allclose(maps[index], alone, atol=1e-5)


def test_the_predicted_class_is_the_default(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    predicted = convscope.get_activations(model, images[:6], "predictions")["predictions"]
    np.testing.assert_array_equal(
        convscope.grad_cam(model, images[:6]),
        convscope.grad_cam(model, images[:6], class_index=predicted.argmax(axis=1)),
    )
    other = convscope.grad_cam(model, images[0], class_index=(labels[0] + 1) % 10)
    assert not np.allclose(other, convscope.grad_cam(model, images[0]))


def test_grad_cam_figure_draws_the_map_over_the_digit(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    images, labels = mnist_test
    figure = convscope.plot_grad_cam(model, images[:3], sample=1, alpha=0.4)
    assert figure.get_suptitle() == f"Grad-CAM of class {labels[1]} (the predicted class) at conv3"
    shown = figure.axes[1].images[0].get_array()
    expected = overlay(images[1], convscope.grad_cam(model, images[1]), "jet", 0.4)
    np.testing.assert_array_equal(shown, expected)
    figure = convscope.plot_grad_cam(
        model,
        images[0],
        class_index=3,
        layer="conv2",
        class_names=[f"digit {d}" for d in range(10)],
    )
    assert figure.get_suptitle() == "Grad-CAM of class digit 3 (predicted digit 7) at conv2"
    figure.savefig(tmp_path / "cam.png", dpi=60)
    assert np.asarray(Image.open(tmp_path / "cam.png").convert("L")).std() > 20
    with pytest.raises(IndexOutOfRangeError, match="sample 3"):
        convscope.plot_grad_cam(model, images[:3], sample=3)


def test_heatmap_figure(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = mnist_test
    figure = convscope.plot_heatmap(model, images[0], "conv2", cmap="magma")
    assert figure.get_suptitle() == "Mean activation of conv2 (Conv2D, 14×14×48)"
    shown = figure.axes[1].images[0].get_array()
    expected = overlay(images[0], convscope.activation_heatmap(model, images[0], "conv2"), "magma")
    np.testing.assert_array_equal(shown, expected)


def test_pattern_and_class_figures_tile_what_the_functions_return(model: keras.Model) -> None:
    figure = convscope.plot_filter_patterns(
        model, "conv1", [0, 1, 2, 3, 4], images_per_row=3, steps=4, progress=False
    )
    patterns = convscope.filter_patterns(model, "conv1", [4], steps=4, progress=False)
    mosaic = figure.axes[0].images[0].get_array()
    assert mosaic.shape == (2 * 30 - 2, 3 * 30 - 2, 3)  # 28-pixel cells, 2-pixel gaps
    np.testing.assert_array_equal(mosaic[30:, 30:58, 0], np.round(patterns[0, ..., 0] * 255))
    assert "conv1" in figure.get_suptitle()

    figure = convscope.plot_maximize_class(model, [7, 1], steps=5, progress=False)
    assert [text.get_text() for text in figure.axes[0].texts] == ["7", "1"]
    figure = convscope.plot_maximize_class(model, steps=2, progress=False)
    assert len(figure.axes[0].texts) == 10


def test_progress_bar_is_keras(model: keras.Model, capsys: pytest.CaptureFixture[str]) -> None:
    convscope.filter_patterns(model, "conv1", [0], steps=3, seed=7)
    assert "3/3" in capsys.readouterr().out
