"""One rule for class names everywhere: the Explorer's, the confusion matrix's, Grad-CAM's."""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest

import convscope

DUPLICATED = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "one"]


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return convscope.mnist_cnn()


def test_every_figure_refuses_repeated_names_as_the_explorer_does(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test[0][:20], mnist_test[1][:20]
    calls = {
        "Explorer": lambda: convscope.Explorer(model, images, labels, DUPLICATED, figure="none"),
        "plot_confusion": lambda: convscope.plot_confusion(
            model, images, labels, DUPLICATED, progress=False
        ),
        "plot_grad_cam": lambda: convscope.plot_grad_cam(model, images[0], class_names=DUPLICATED),
        "plot_maximize_class": lambda: convscope.plot_maximize_class(
            model, [1], steps=1, class_names=DUPLICATED, progress=False
        ),
    }
    for name, call in calls.items():
        before = len(plt.get_fignums())
        with pytest.raises(convscope.LabelError, match=r"repeated: \['one'\]"):
            call()
        assert len(plt.get_fignums()) == before, name  # no figure left behind


def test_names_of_the_wrong_count_are_refused_by_the_grad_cam_figure(model: keras.Model) -> None:
    with pytest.raises(convscope.LabelError, match="3 names but the model's output has 10"):
        convscope.plot_grad_cam(model, np.zeros((28, 28)), class_names=["a", "b", "c"])
    figure = convscope.plot_grad_cam(
        model, np.zeros((28, 28)), class_index=3, class_names=[f"d{i}" for i in range(10)]
    )
    assert "class d3" in figure.get_suptitle()
    plt.close(figure)
