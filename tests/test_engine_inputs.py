"""Image checks name the shape the user gave, whatever axes convscope adds on its way."""

from __future__ import annotations

import re

import numpy as np
import pytest

import convscope
from convscope.engine.inputs import check_images


@pytest.mark.parametrize("shape", [(28, 28, 3), (5, 28, 28, 3), (28, 28, 4), (28, 3)])
def test_a_colour_image_for_the_grey_model_names_the_shape_given(shape: tuple[int, ...]) -> None:
    with pytest.raises(convscope.ImageInputError, match=re.escape(f"but got {shape}.")):
        check_images(np.zeros(shape, np.uint8), (28, 28, 1))


def test_the_static_api_names_it_too() -> None:
    rgb = np.zeros((28, 28, 3), np.float32)
    with pytest.raises(convscope.ImageInputError) as caught:
        convscope.get_activations(convscope.mnist_cnn(), rgb, "conv1")
    assert "(28, 28, 3)" in str(caught.value)
    assert "(28, 28, 3, 1)" not in str(caught.value)
    assert "mode='grey'" in str(caught.value)
