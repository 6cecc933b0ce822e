"""A drawing becomes an MNIST digit: real test digits redrawn keep the model's prediction."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from convscope.data.drawing import MNIST_STROKE, area_resample, mnist_digit
from convscope.engine.activations import ActivationEngine
from convscope.errors import ArgumentTypeError, InvalidArgumentError

DIGITS = 500


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    grey = image.astype(np.float64)
    rows, cols = np.arange(image.shape[0]), np.arange(image.shape[1])
    return float(grey.sum(1) @ rows / grey.sum()), float(grey.sum(0) @ cols / grey.sum())


def _bounding_box(image: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


@pytest.fixture(scope="module")
def predicted(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]):
    engine = ActivationEngine(model)
    digits = mnist_test[0][:DIGITS]

    def classes(images: np.ndarray) -> np.ndarray:
        return engine.predict(images).argmax(axis=1)

    return digits, classes(digits), classes


@pytest.mark.parametrize(
    ("redraw", "what"),
    [
        (lambda d: np.kron(d, np.ones((10, 10), np.uint8)), "each pixel a 10×10 block, 280×280"),
        (
            lambda d: np.asarray(Image.fromarray(d).resize((280, 280), Image.BILINEAR)),
            "smoothly scaled to 280×280",
        ),
        (
            lambda d: 255 - np.pad(np.kron(d, np.ones((6, 6), np.uint8)), ((10, 200), (150, 20))),
            "dark on white, off-centre on a 378×338 page",
        ),
    ],
)
def test_a_redrawn_test_digit_keeps_the_models_prediction(predicted, redraw, what) -> None:
    digits, before, classes = predicted
    redrawn = np.stack([mnist_digit(redraw(digit)) for digit in digits])
    agreement = float(np.mean(classes(redrawn) == before))
    print(f"{what}: {agreement:.1%} of {DIGITS} real MNIST test digits keep their prediction")
    assert agreement >= 0.97


def test_the_output_is_an_mnist_digit(mnist_test) -> None:
    for digit in mnist_test[0][:100]:
        canvas = np.kron(digit, np.ones((7, 9), np.uint8))  # stretched: the aspect is restored
        out = mnist_digit(canvas)
        assert out.shape == (28, 28)
        assert out.dtype == np.uint8
        assert out.max() == 255
        assert max(_bounding_box(out)) == 20
        centre = _centre_of_mass(out)
        assert abs(centre[0] - 14) <= 0.5
        assert abs(centre[1] - 14) <= 0.5


def test_a_thin_stroke_keeps_its_aspect_and_lands_in_the_middle() -> None:
    canvas = np.zeros((280, 280), np.uint8)
    canvas[40:240, 20:40] = 255  # a "1" 200 tall and 20 wide, at the far left
    out = mnist_digit(canvas)
    assert _bounding_box(out) == (20, 2)
    assert np.flatnonzero(out.any(axis=0)).tolist() == [14, 15]  # in the middle, not at the left


def test_the_brush_of_the_pad_gives_mnists_stroke_width() -> None:
    side = 280
    canvas = np.zeros((side, side), np.uint8)
    brush = round(side * MNIST_STROKE / 28)
    box = round(side * 20 / 28)
    top = (side - box) // 2
    canvas[top : top + box, side // 2 - brush // 2 : side // 2 + brush - brush // 2] = 255
    out = mnist_digit(canvas)
    assert out.sum() / 255 / 20 == pytest.approx(MNIST_STROKE, abs=0.1)


def test_another_size_is_filled_in_the_same_proportions(mnist_test) -> None:
    out = mnist_digit(mnist_test[0][0], size=(56, 42))
    assert out.shape == (56, 42)
    height, width = _bounding_box(out)
    assert height <= 40
    assert width <= 30
    assert max(height / 40, width / 30) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(
    "blank", [np.zeros((280, 280)), np.zeros((28, 28, 1), np.uint8), np.full((9, 9), 0.5 / 255)]
)
def test_an_empty_drawing_gives_a_black_digit(blank) -> None:
    out = mnist_digit(blank)
    assert out.shape == (28, 28)
    assert not out.any()


def test_floats_in_zero_to_one_and_booleans_are_read_as_ink() -> None:
    ink = np.zeros((50, 50), bool)
    ink[10:40, 20:30] = True
    assert np.array_equal(mnist_digit(ink), mnist_digit(ink * 1.0))
    assert np.array_equal(mnist_digit(ink), mnist_digit(ink.astype(np.uint8) * 255))


@pytest.mark.parametrize(
    ("drawing", "error", "words"),
    [
        (np.zeros((3, 28, 28)), InvalidArgumentError, "one grey image"),
        (np.zeros((28, 28, 3)), InvalidArgumentError, "average its channels"),
        (np.zeros((0, 28)), InvalidArgumentError, "got shape (0, 28)"),
        (np.zeros(28), InvalidArgumentError, "got shape (28,)"),
        (np.full((28, 28), np.nan), InvalidArgumentError, "NaN or Inf"),
        (np.array([["a"]]), ArgumentTypeError, "numeric array"),
        ("a digit", ArgumentTypeError, "numeric array"),
    ],
)
def test_bad_drawings_are_refused_with_the_fix(drawing, error, words) -> None:
    with pytest.raises(error) as raised:
        mnist_digit(drawing)
    assert words in str(raised.value)


def test_a_bad_size_is_refused() -> None:
    with pytest.raises(ArgumentTypeError, match="height, width"):
        mnist_digit(np.zeros((28, 28)), size=28)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="too small"):
        mnist_digit(np.zeros((28, 28)), size=(2, 2))


def test_area_resampling_conserves_ink_and_shrinks_to_grey() -> None:
    image = np.zeros((10, 10))
    image[:, 4] = 1.0
    half = area_resample(image, 5, axis=1)
    assert half.shape == (10, 5)
    assert half.sum() == pytest.approx(image.sum() / 2)
    assert set(np.unique(half)) == {0.0, 0.5}
