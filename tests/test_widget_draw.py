"""Your own digit in the Explorer: ex.draw, ex.sample = "drawn", on real MNIST and the real CNN."""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import convscope
from convscope.data.drawing import mnist_digit
from convscope.errors import ArgumentTypeError, InvalidArgumentError, ModelNotSupportedError
from convscope.widget.frames import apply_frame

SAMPLES = 100


def canvas_of(digit: np.ndarray) -> np.ndarray:
    """A test digit as the pad would hold it: each pixel a 10×10 block of a 280×280 canvas."""
    return np.kron(digit, np.ones((10, 10), np.uint8))


@pytest.fixture(scope="module")
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    images, labels = mnist_test
    return convscope.Explorer(model, images[:SAMPLES], labels[:SAMPLES], figure="png")


@pytest.fixture(autouse=True)
def _back_to_a_sample(explorer: convscope.Explorer):
    yield
    explorer.update(sample=0, view="maps", layer="conv1", channel=0)


def what_is_shown(explorer: convscope.Explorer) -> tuple[object, ...]:
    drawn = None if explorer.drawn is None else explorer.drawn.tobytes()
    panels = explorer.panels
    return (
        explorer.sample,
        drawn,
        explorer._sample_text,
        explorer._figure_frame,
        panels.image_panel.pixels.tobytes(),
        panels.grid_panel.pixels.tobytes(),
    )


def test_sample_drawn_before_any_drawing_shows_draw_a_digit(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    fresh = convscope.Explorer(model, images[:20], labels[:20], figure="none")
    assert fresh.drawn is None
    fresh.sample = "drawn"
    assert fresh.sample == "drawn"
    assert fresh._sample_text == "your drawing  ·  draw a digit"
    assert not fresh.panels.class_panel.get_visible()  # no prediction drawn
    assert not fresh.panels.image_panel.pixels.any()  # a black input
    assert "nan" not in fresh._sample_text.lower()
    fresh.figure.canvas.draw()


def test_a_test_digit_drawn_on_a_280_canvas_predicts_its_label(explorer, mnist_test) -> None:
    images, labels = mnist_test
    right = np.flatnonzero(explorer._controller.classes.predictions == labels[:SAMPLES])[:20]
    for index in right:
        explorer.draw(canvas_of(images[index]))
        name = explorer.class_names[int(labels[index])]
        assert explorer.sample == "drawn"
        assert explorer._sample_text.startswith(f"your drawing  ·  predicted {name} (")
        assert explorer.drawn is not None
        assert explorer.drawn.shape == (28, 28)
        assert explorer.drawn.dtype == np.uint8
        assert explorer.get_state()["sample"] == "drawn"  # the page marks the pad


def test_a_drawing_is_never_confused_with_a_sample(explorer, mnist_test) -> None:
    images = mnist_test[0]
    same = next(i for i in range(1, SAMPLES) if np.array_equal(mnist_digit(images[i]), images[i]))
    explorer.update(sample=same, layer="conv2", channel=3)
    sample_maps = explorer.panels.grid_panel.pixels.copy()
    sample_text = explorer._sample_text
    explorer.update(sample=0)
    explorer.draw(canvas_of(images[same]))  # the same pixels as sample `same`, drawn
    assert np.array_equal(explorer.panels.grid_panel.pixels, sample_maps)
    assert explorer._sample_text.split("predicted")[1] == sample_text.split("predicted")[1]
    explorer.draw(canvas_of(images[0]))  # another digit: not the cached maps of the last one
    assert not np.array_equal(explorer.panels.grid_panel.pixels, sample_maps)
    explorer.sample = same  # and the sample is not the drawing
    assert np.array_equal(explorer.panels.grid_panel.pixels, sample_maps)
    assert explorer._sample_text == sample_text


def test_an_empty_drawing_says_draw_a_digit_with_no_nan(explorer) -> None:
    explorer.draw(np.zeros((280, 280), np.uint8))
    assert explorer.sample == "drawn"
    assert explorer._sample_text == "your drawing  ·  draw a digit"
    assert explorer._controller.drawn_probabilities() is None
    assert not explorer.panels.class_panel.get_visible()
    for view in ("maps", "heatmap", "grad-cam"):
        explorer.view = view
        assert "NaN" not in explorer.status
        for panel in explorer.panels.panels[:3]:
            assert np.isfinite(panel.pixels).all()


def test_every_view_works_on_the_drawing(explorer, mnist_test) -> None:
    images = mnist_test[0]
    same = next(i for i in range(5, SAMPLES) if np.array_equal(mnist_digit(images[i]), images[i]))
    explorer.update(sample=2, layer="conv2")
    explorer.draw(canvas_of(images[same]))
    shown = {}
    for view in ("maps", "heatmap", "grad-cam"):
        explorer.view = view
        assert explorer.sample == "drawn"
        shown[view] = explorer.panels.grid_panel.pixels.copy()
    assert not np.array_equal(shown["maps"], shown["heatmap"])
    assert not np.array_equal(shown["heatmap"], shown["grad-cam"])
    explorer.sample = same  # the same digit as a sample: the same Grad-CAM picture
    difference = explorer.panels.grid_panel.pixels.astype(int) - shown["grad-cam"]
    assert np.abs(difference).max() <= 2  # one image or a batch: float rounding at most
    explorer.sample = "drawn"
    explorer.view = "pattern"
    explorer.wait(timeout=300)
    assert explorer.view == "pattern"
    assert explorer.sample == "drawn"
    assert explorer.error == ""


def page_grey(explorer: convscope.Explorer) -> np.ndarray:
    """What a page that opens now shows (the key frame it asks for), in grey levels."""
    explorer._on_frontend_message(explorer, {"type": "frame", "seq": 1}, [])
    return apply_frame(None, explorer._figure_frame)[..., :3].mean(axis=-1)


def test_the_canvas_figure_shows_the_drawing(explorer, mnist_test) -> None:
    explorer.draw(canvas_of(mnist_test[0][7]))
    first = page_grey(explorer)
    explorer.draw(np.zeros((28, 28)))
    empty = page_grey(explorer)
    width = first.shape[1]
    input_part = (slice(None), slice(0, width // 5))  # the input panel, at the left
    # The same white page around the input; the drawing adds its white strokes on black.
    assert (first[input_part] > 200).sum() > (empty[input_part] > 200).sum() + 100


def test_the_ipympl_figure_shows_the_drawing(model, mnist_test) -> None:
    images, labels = mnist_test
    explorer = convscope.Explorer(model, images[:20], labels[:20], figure="ipympl")
    explorer.draw(canvas_of(images[3]))
    explorer.figure.canvas.draw()
    drawn = np.asarray(explorer.figure.canvas.buffer_rgba())[..., 0].copy()
    explorer.draw(np.zeros((280, 280)))
    explorer.figure.canvas.draw()
    empty = np.asarray(explorer.figure.canvas.buffer_rgba())[..., 0]
    left = drawn.shape[1] // 5  # the input panel
    assert (drawn[:, :left] > 200).sum() > (empty[:, :left] > 200).sum() + 100
    explorer.draw(canvas_of(images[3]))
    assert explorer._sample_text.startswith("your drawing  ·  predicted")


@pytest.mark.parametrize(
    ("drawing", "error"),
    [
        (np.zeros((4, 28, 28)), InvalidArgumentError),
        (np.zeros((28, 28, 3)), InvalidArgumentError),
        (np.zeros(784), InvalidArgumentError),
        (np.full((28, 28), np.inf), InvalidArgumentError),
        ("a seven", ArgumentTypeError),
        (None, ArgumentTypeError),
    ],
)
def test_a_bad_drawing_is_refused_and_nothing_changes(explorer, mnist_test, drawing, error) -> None:
    explorer.draw(canvas_of(mnist_test[0][9]))
    before = what_is_shown(explorer)
    with pytest.raises(error, match=r"grey|numeric|NaN"):
        explorer.draw(drawing)
    assert what_is_shown(explorer) == before


def test_thumbnails_and_arrows_leave_the_drawing_and_sample_drawn_returns(
    explorer, mnist_test
) -> None:
    explorer.update(sample=10)
    explorer.draw(canvas_of(mnist_test[0][4]))
    drawing = explorer.drawn.copy()
    explorer._on_frontend_message(explorer, {"type": "step", "seq": 10**12, "delta": 1}, [])
    assert explorer.sample == 11  # → goes on from the last sample shown
    assert explorer.get_state()["sample"] != "drawn"
    explorer.sample = "drawn"
    assert np.array_equal(explorer.drawn, drawing)
    assert explorer._sample_text.startswith("your drawing  ·  predicted")
    explorer.filter(true=3)  # a filter keeps the drawing in view
    assert explorer.sample == "drawn"
    explorer.filter()


def test_a_gif_of_channels_scrubs_the_drawing_and_keeps_it(explorer, mnist_test) -> None:
    explorer.draw(canvas_of(mnist_test[0][4]))
    with tempfile.TemporaryDirectory() as folder:
        path = explorer.save_gif(Path(folder) / "drawn.gif", channels=range(3))
        assert Image.open(path).n_frames == 3
        explorer.save_gif(Path(folder) / "scrub.gif", range(2))
    assert explorer.sample == "drawn"


def test_a_colour_model_has_no_pad() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    images = np.random.default_rng(0).uniform(0, 1, (6, 16, 16, 3)).astype(np.float32)
    explorer = convscope.Explorer(model, images, figure="none")
    assert explorer._pad == []
    with pytest.raises(ModelNotSupportedError, match="one grey input channel"):
        explorer.draw(np.zeros((28, 28)))
    with pytest.raises(ModelNotSupportedError, match="one grey input channel"):
        explorer.sample = "drawn"
    assert explorer.sample == 0


def test_a_grey_model_of_another_size_gets_the_drawing_at_its_size(mnist_test) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((40, 40, 1)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    images = np.random.default_rng(0).uniform(0, 1, (6, 40, 40, 1)).astype(np.float32)
    explorer = convscope.Explorer(model, images, figure="none")
    assert explorer._pad == [40, 40]
    explorer.draw(canvas_of(mnist_test[0][0]))
    assert explorer.drawn.shape == (40, 40)
    rows = np.flatnonzero(explorer.drawn.any(axis=1))
    assert rows[-1] - rows[0] + 1 <= round(40 * 20 / 28)
    model_input = explorer._controller.pad.model_input
    assert 0.0 <= model_input.min() <= model_input.max() <= 1.0  # the data set's range


def test_the_drawing_follows_the_epoch_slider(mnist_test) -> None:
    images, labels = mnist_test
    explorer = convscope.Explorer(
        convscope.mnist_training_run(), images[:50], labels[:50], figure="none"
    )
    explorer.draw(canvas_of(images[7]))
    trained = explorer._sample_text
    assert trained.startswith(f"your drawing  ·  predicted {labels[7]} (")
    explorer.epoch = explorer.epochs[0]  # before training: another, unsure guess
    assert explorer.sample == "drawn"
    assert explorer._sample_text != trained
    explorer.epoch = explorer.epochs[-1]
    assert explorer._sample_text == trained


def test_a_drawing_that_failed_to_show_never_lends_its_maps(
    explorer, mnist_test, monkeypatch
) -> None:
    images = mnist_test[0]
    explorer.update(layer="conv2")
    explorer.draw(canvas_of(images[1]))
    before = what_is_shown(explorer)
    with monkeypatch.context() as patch:  # the figure fails after the maps were computed
        patch.setattr(explorer.panels, "show", lambda _view: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            explorer.draw(canvas_of(images[2]))
    assert what_is_shown(explorer) == before
    explorer.draw(canvas_of(images[3]))
    shown = explorer.panels.grid_panel.pixels.copy()
    explorer.draw(canvas_of(images[3]))  # drawn again: computed afresh, the same picture
    assert np.array_equal(explorer.panels.grid_panel.pixels, shown)
    explorer.draw(canvas_of(images[2]))
    assert not np.array_equal(explorer.panels.grid_panel.pixels, shown)


def test_a_drawing_is_compared_with_a_test_digit(
    explorer: convscope.Explorer, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    # "Why does my 1 look like their 7?": the drawing is A, a test digit is B, on one scale.
    images, labels = mnist_test
    seven = int(np.flatnonzero(labels[:SAMPLES] == 7)[0])
    one = int(np.flatnonzero(labels[:SAMPLES] == 1)[0])
    explorer.draw(canvas_of(images[one]))
    explorer.update(layer="conv2", channel=3, compare=seven)
    try:
        assert explorer.sample == "drawn"
        panels = explorer.panels
        np.testing.assert_array_equal(panels.image_panel.pixels[..., 0], explorer.drawn)
        assert explorer._compare_text.startswith(f"sample {seven}")
        drawn_maps = explorer.engine.compute("conv2", explorer.drawn)[0]
        seven_maps = explorer.engine.compute("conv2", images[seven])[0]
        assert not np.array_equal(drawn_maps, seven_maps)
        a, b = panels.grid_panel.pixels, panels.grid_b_panel.pixels
        assert a.shape == b.shape
        assert not np.array_equal(a, b)  # two different digits, two different grids
        explorer.compare_mode = "difference"
        assert not explorer.panels.grid_b_panel.get_visible()  # one grid: A − B
        explorer.sample = seven  # a thumbnail: A is the test digit again, B stays
        assert (explorer.sample, explorer.compare) == (seven, seven)
    finally:
        explorer.update(compare=-1, compare_mode="side")


@pytest.mark.parametrize("layer", ["conv1", "conv2", "dense"])
def test_a_strokes_maps_and_classes_are_keras_own(explorer, mnist_test, layer) -> None:
    """What the figure and the sample line show for a drawing, against plain Keras on it."""
    explorer.update(layer=layer, view="maps", compare=-1)
    for index in (3, 4, 5, 6, 7, 8):  # strokes past the first look: the compiled pass too
        explorer.draw(canvas_of(mnist_test[0][index]))
        model = explorer.engine.model
        digit = explorer.drawn.astype(np.float32)[None, ..., None]  # MNIST's units, 0-255
        maps = keras.Model(model.inputs[0], model.get_layer(layer).output)(digit).numpy()[0]
        shown = explorer._controller._maps(layer, "drawn")
        np.testing.assert_allclose(shown.reshape(maps.shape), maps, rtol=1e-4, atol=1e-4)
        probabilities = model(digit).numpy()[0]
        best = int(probabilities.argmax())
        assert explorer._sample_text == (
            f"your drawing  ·  predicted {best} ({probabilities[best]:.1%})"
        )
        # The class chart's bars: the output from the pass that computed the maps.
        np.testing.assert_allclose(explorer.probabilities, probabilities, rtol=1e-5, atol=1e-7)
