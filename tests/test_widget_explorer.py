"""The Explorer widget, driven from Python and by frontend messages, on real MNIST."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import ipywidgets
import keras
import numpy as np
import pytest
from matplotlib.backend_bases import KeyEvent
from PIL import Image

import convscope
from convscope.errors import IndexOutOfRangeError, UnknownLayerError
from convscope.render.compose import grid_columns
from convscope.widget.figure_display import choose_mode
from convscope.widget.frames import apply_frame


@pytest.fixture(scope="module")
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    images, labels = mnist_test
    return convscope.Explorer(model, images, labels, figure="png")


@pytest.fixture(autouse=True)
def _reset(explorer: convscope.Explorer) -> None:
    explorer.filter()
    explorer.update(layer="conv1", channel=0, sample=0, norm="standard", cmap="viridis")


def grid_pixels(explorer: convscope.Explorer) -> np.ndarray:
    return explorer.panels.grid_panel.pixels.copy()


def outline(explorer: convscope.Explorer) -> tuple[float, float, float, float] | None:
    return explorer.panels.grid_panel.outline


_SEQ = itertools.count(1)


def send(explorer: convscope.Explorer, **content: object) -> int:
    """Send a request as the page would, numbered after every earlier one; return its seq."""
    seq = next(_SEQ)
    explorer._on_frontend_message(explorer, {**content, "seq": seq}, [])
    return seq


def test_opens_on_the_first_convolution_of_the_mnist_cnn(explorer: convscope.Explorer) -> None:
    assert explorer.layer == "conv1"
    assert explorer.layers[:3] == ["rescale", "conv1", "pool1"]
    assert len(explorer.filtered_samples) == 10_000
    assert explorer._channel_count == 24
    assert "label 7" in explorer._sample_text  # the first MNIST test digit is a 7
    assert "predicted 7" in explorer._sample_text


def test_setting_state_from_python_changes_the_figure(explorer: convscope.Explorer) -> None:
    before, png_before = grid_pixels(explorer), explorer._figure_frame
    explorer.layer = "conv2"
    after = grid_pixels(explorer)
    assert after.shape != before.shape  # 48 maps of 14×14 instead of 24 of 28×28
    assert explorer.get_state()["layer"] == "conv2"  # what the page gets
    assert explorer._channel_count == 48
    assert explorer._figure_frame != png_before

    explorer.sample = 1
    assert np.mean(grid_pixels(explorer) != after) > 0.2
    assert explorer.get_state()["sample"] == 1

    start = outline(explorer)
    explorer.channel = 9
    assert outline(explorer) != start
    assert explorer.get_state()["channel"] == 9


def test_layer_switch_keeps_the_channel_in_range(explorer: convscope.Explorer) -> None:
    explorer.update(layer="conv3", channel=60)
    explorer.layer = "conv1"
    assert explorer.channel == 23


def test_dense_layers_show_units_on_one_scale(explorer: convscope.Explorer) -> None:
    explorer.layer = "dense"
    assert explorer._unit_name == "unit"
    assert explorer._channel_count == 128
    explorer.channel = 127  # the last unit is selectable
    colours = {tuple(pixel) for pixel in grid_pixels(explorer).reshape(-1, 3)}
    assert len(colours) > 10  # units differ in colour, not all mid-grey


def test_bad_values_from_python_raise_and_change_nothing(explorer: convscope.Explorer) -> None:
    explorer.update(layer="conv2", channel=3, sample=5)
    png, pixels = explorer._figure_frame, grid_pixels(explorer)
    with pytest.raises(UnknownLayerError, match="conv_9"):
        explorer.layer = "conv_9"
    with pytest.raises(IndexOutOfRangeError, match=r"0\.\.47"):
        explorer.channel = 48
    with pytest.raises(IndexOutOfRangeError, match=r"0\.\.9999"):
        explorer.sample = 10_000
    with pytest.raises(ValueError, match="Unknown colormap"):
        explorer.update(cmap="nope")
    with pytest.raises(TypeError, match="integer"):
        explorer.sample = 1.5
    with pytest.raises(TypeError, match="string"):
        explorer.layer = 3
    with pytest.raises(UnknownLayerError):  # atomic: the good channel is not applied either
        explorer.update(channel=1, layer="nope")
    assert (explorer.layer, explorer.channel, explorer.sample) == ("conv2", 3, 5)
    assert explorer._figure_frame == png
    np.testing.assert_array_equal(grid_pixels(explorer), pixels)


def test_frontend_error_is_shown_and_the_last_good_view_kept(explorer: convscope.Explorer) -> None:
    send(explorer, type="view", sample=3)
    good_png = explorer._figure_frame
    seq = send(explorer, type="view", layer="conv1", channel=99)
    assert "channel 99 is out of range" in explorer.error
    assert explorer._figure_frame == good_png
    assert explorer.channel == 0
    assert explorer._ack == seq  # the request is answered, so the frontend is not stuck
    send(explorer, type="view", channel=2)
    assert explorer.error == ""
    assert explorer.channel == 2


def test_rapid_frontend_messages_are_coalesced_into_one_render(
    explorer: convscope.Explorer,
) -> None:
    renders = explorer._controller.renders

    async def burst() -> int:
        for seq in range(1, 31):
            send(explorer, type="view", channel=seq % 24, sample=seq)
        return send(explorer, type="step", delta=2)

    async def burst_and_flush() -> int:
        last = await burst()
        await asyncio.sleep(0)  # the kernel's loop gets a turn: one flush
        await asyncio.sleep(0)
        return last

    last = asyncio.run(burst_and_flush())
    assert explorer._controller.renders == renders + 1
    assert explorer.channel == 30 % 24
    assert explorer.sample == 32  # the last absolute sample, then two steps on
    assert explorer._ack == last


def test_misclassified_filter_and_thumbnail_pages(explorer: convscope.Explorer) -> None:
    controller = explorer._controller
    wrong = np.flatnonzero(controller.labels != controller.classes.predictions)
    send(explorer, type="filter", true=-1, predicted=-1, misclassified=True)
    assert explorer._filtered_count == len(wrong)
    assert 0 < len(wrong) < 300  # the bundled model is >= 97 % right
    assert explorer.sample == wrong[0]  # jumps to the first sample that passes
    assert all(meta["label"] != meta["predicted"] for meta in explorer._thumb_meta)
    height, width, channels = explorer._thumb_shape
    assert len(explorer._thumbs) == len(explorer._thumb_meta) * height * width * channels
    send(explorer, type="step", delta=1)
    assert explorer.sample == wrong[1]
    send(explorer, type="step", delta=-2)
    assert explorer.sample == wrong[-1]  # wraps around


def test_filter_by_true_digit_pages_through_only_that_digit(explorer: convscope.Explorer) -> None:
    send(explorer, type="filter", true=3, predicted=-1, misclassified=False)
    controller = explorer._controller
    assert explorer._filtered_count == int(np.sum(controller.labels == 3))
    send(explorer, type="page", page=2)
    assert explorer.page == 2
    assert {meta["label"] for meta in explorer._thumb_meta} == {3}


def test_fixed_scale_keeps_colours_from_jumping(explorer: convscope.Explorer) -> None:
    def background_colours(norm: str) -> set[tuple[int, ...]]:
        explorer.update(layer="conv1", channel=0, norm=norm)
        colours = set()
        for sample in range(6):
            explorer.sample = sample
            channel = explorer.panels.channel_panel.pixels
            colours.add(tuple(channel[0, 0]))  # a corner: zero activation
        return colours

    assert len(background_colours("standard")) > 1  # per-digit scaling shifts the colours
    assert len(background_colours("fixed")) == 1
    assert explorer._status == ""  # progress text cleared once the ranges are known


def page_pixels(explorer: convscope.Explorer) -> np.ndarray:
    """What a page that opens now shows: the key frame it asks for, painted, as RGB."""
    send(explorer, type="frame")
    return apply_frame(None, explorer._figure_frame)[..., :3]


def test_png_fallback_shows_the_900x450_figure(
    explorer: convscope.Explorer, tmp_path: Path
) -> None:
    assert explorer.figure_mode == "png"  # no kernel here, so no ipympl
    image = page_pixels(explorer)
    assert image.shape == (450, 900, 3)
    assert image.std() > 30
    outline = np.all(image == (255, 45, 85), axis=-1)  # the selected channel's outline
    assert outline.sum() > 100
    explorer.save(tmp_path / "view.png", dpi=50)
    assert Image.open(tmp_path / "view.png").size == (450, 225)


def test_outline_follows_the_channel_in_the_drawn_pixels(explorer: convscope.Explorer) -> None:
    def outline_centre() -> np.ndarray:
        image = page_pixels(explorer)
        rows, cols = np.nonzero(np.all(image == (255, 45, 85), axis=-1))
        return np.array([rows.mean(), cols.mean()])

    explorer.channel = 0
    first = outline_centre()
    explorer.channel = grid_columns(24) - 1  # the end of conv1's first row
    moved = outline_centre()
    assert moved[1] - first[1] > 100  # same row, further right
    assert abs(moved[0] - first[0]) < 3


def test_figure_mode_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_mode("auto") == "png"
    assert choose_mode("ipympl") == "ipympl"
    monkeypatch.setenv("CONVSCOPE_FIGURE", "png")
    assert choose_mode("ipympl") == "png"
    monkeypatch.delenv("CONVSCOPE_FIGURE")
    with pytest.raises(ValueError, match="'auto', 'ipympl', 'png' or 'none'"):
        choose_mode("svg")


def test_ipympl_mode_updates_a_canvas_widget_in_place(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    explorer = convscope.Explorer(model, images[:50], labels[:50], figure="ipympl")
    canvas = explorer.figure.canvas
    assert isinstance(canvas, ipywidgets.DOMWidget)
    assert explorer._figure_frame == b""  # pixels travel through the canvas, not the trait
    box = explorer.display_widget
    assert list(box.children) == [canvas, explorer]  # the figure above the controls
    bundle = explorer._repr_mimebundle_()
    view = bundle[0] if isinstance(bundle, tuple) else bundle
    assert view["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    explorer.layer = "conv3"
    assert explorer.figure.canvas is canvas  # same figure, same canvas: updated in place


def test_your_own_rgb_model_without_labels() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64, 64, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="c1"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(3, name="logits"),  # logits: shown through a softmax
        ]
    )
    images, _ = convscope.sample_images(size=(64, 64))
    explorer = convscope.Explorer(model, images, class_names=["a", "b", "c"], figure="png")
    assert explorer.layer == "c1"
    assert not explorer._has_labels
    assert explorer._has_predictions
    assert explorer._thumb_shape == [32, 32, 3]
    probabilities = explorer._controller.classes.probabilities
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)  # softmax of logits
    explorer.sample = len(images) - 1


def test_mismatched_labels_are_refused(model: keras.Model, mnist_test) -> None:
    images, labels = mnist_test
    with pytest.raises(ValueError, match="100 images but 99 labels"):
        convscope.Explorer(model, images[:100], labels[:99], figure="png")


@pytest.mark.parametrize(("channels", "columns"), [(16, 4), (24, 5), (48, 7), (64, 8), (1, 1)])
def test_grid_shape_gives_the_largest_cells(channels: int, columns: int) -> None:
    assert grid_columns(channels) == columns


# ----- the Python API does what the widget's controls do -------------------------------------
def test_colormap_and_scale_from_python_redraw(explorer: convscope.Explorer) -> None:
    before, png = grid_pixels(explorer), explorer._figure_frame
    explorer.cmap = "magma"
    assert explorer.cmap == "magma"
    assert explorer.cmap == "magma"  # the dropdown follows
    magma = grid_pixels(explorer)
    assert np.mean(magma != before) > 0.2
    assert explorer._figure_frame != png
    explorer.norm = "minmax"
    assert (explorer.norm, explorer.norm) == ("minmax", "minmax")
    assert np.mean(grid_pixels(explorer) != magma) > 0.05


def test_filter_from_python_shows_only_that_class(explorer: convscope.Explorer) -> None:
    labels = explorer._controller.labels
    explorer.filter(true=3)
    assert set(labels[explorer.filtered_samples]) == {3}
    assert explorer.filter_true == 3  # the dropdown follows
    assert explorer.sample == explorer.filtered_samples[0]  # jumped to the first 3
    assert "label 3" in explorer._sample_text
    assert {meta["label"] for meta in explorer._thumb_meta} == {3}
    assert explorer._filtered_count == int(np.sum(labels == 3))

    explorer.filter(predicted="5", misclassified=True)  # a class name works too
    shown = explorer.filtered_samples
    predictions = explorer._controller.classes.predictions
    assert len(shown) > 0
    assert set(predictions[shown]) == {5}
    assert np.all(labels[shown] != 5)
    assert (explorer.filter_true, explorer.filter_predicted) == (-1, 5)
    assert explorer.misclassified_only

    explorer.filter()
    assert len(explorer.filtered_samples) == 10_000
    assert (explorer.filter_true, explorer.misclassified_only) == (-1, False)


def test_page_from_python_shows_that_page_of_thumbnails(explorer: convscope.Explorer) -> None:
    explorer.page = 2
    assert explorer.page == 2
    assert explorer.page == 2
    assert explorer._thumb_meta[0]["index"] == 2 * 48
    assert explorer.page_count == -(-10_000 // 48)


def test_setting_the_sample_turns_to_its_thumbnail_page(explorer: convscope.Explorer) -> None:
    explorer.sample = 500
    assert explorer.page == 500 // 48
    assert 500 in [meta["index"] for meta in explorer._thumb_meta]


def test_bad_values_for_the_new_properties_raise_and_change_nothing(
    explorer: convscope.Explorer,
) -> None:
    explorer.update(layer="conv2", channel=3, sample=5, cmap="magma")
    explorer.filter(true=7)
    explorer.page = 1
    traits = explorer.get_state()
    pixels = grid_pixels(explorer)
    with pytest.raises(ValueError, match="Unknown colormap 'nope'"):
        explorer.cmap = "nope"
    with pytest.raises(ValueError, match="Unknown normalisation mode 'loud'"):
        explorer.norm = "loud"
    with pytest.raises(TypeError, match="cmap cannot be None"):
        explorer.cmap = None  # type: ignore[assignment]
    with pytest.raises(IndexOutOfRangeError, match=r"page 99 is out of range.*0\.\.\d"):
        explorer.page = 99
    with pytest.raises(IndexOutOfRangeError, match=r"true=10 is not a class: use 0\.\.9"):
        explorer.filter(true=10)
    with pytest.raises(ValueError, match="Unknown class 'cat'"):
        explorer.filter(predicted="cat")
    with pytest.raises(TypeError, match="class index, a class name or None"):
        explorer.filter(true=2.5)  # type: ignore[arg-type]
    assert explorer.get_state() == traits  # dropdowns, thumbnails, figure: all as they were
    np.testing.assert_array_equal(grid_pixels(explorer), pixels)
    assert (explorer.cmap, explorer.norm, explorer.page) == ("magma", "standard", 1)


def test_update_refuses_a_misspelt_argument(explorer: convscope.Explorer) -> None:
    with pytest.raises(TypeError, match=r"unknown argument\(s\) 'chanel'. Did you mean 'channel'"):
        explorer.update(chanel=3)  # type: ignore[call-arg]
    assert explorer.channel == 0


def test_filters_that_need_labels_say_so(model: keras.Model, mnist_test) -> None:
    images, _ = mnist_test
    explorer = convscope.Explorer(model, images[:60], figure="none")
    with pytest.raises(ValueError, match=r"Filtering by true class needs labels=\.\.\."):
        explorer.filter(true=1)
    with pytest.raises(ValueError, match="misclassified=True needs labels"):
        explorer.filter(misclassified=True)
    explorer.filter(predicted=1)  # predictions come from the model, labels or not
    assert len(explorer.filtered_samples) > 0


def test_arrow_keys_on_the_ipympl_canvas_step_through_samples(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    explorer = convscope.Explorer(model, images[:50], labels[:50], figure="ipympl")
    canvas = explorer.figure.canvas
    for key, expected in [("right", 1), ("right", 2), ("left", 1), ("a", 1), ("left", 0)]:
        canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", canvas, key))
        assert explorer.sample == expected, key


def test_a_jump_computes_one_sample_and_a_scrub_prefetches_its_way(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    explorer = convscope.Explorer(model, images[:400], labels[:400], figure="none")
    explorer.layer = "conv2"
    for sample in (1, 2, 3):  # scrubbing: by the second step, the layer's batch pass is traced
        explorer.sample = sample
    explorer.engine.wait_compiled(timeout=60)

    def cached(samples: range) -> list[int]:
        return [sample for sample in samples if explorer.engine.is_cached("conv2", sample)]

    explorer.sample = 250  # a thumbnail click
    assert cached(range(200, 300)) == [250]
    explorer.sample = 251  # a click on its neighbour, or a scrub's first step: one pass
    assert cached(range(200, 300)) == [250, 251]
    explorer.sample = 249  # a step back the other way: still no scrub
    assert cached(range(200, 300)) == [249, 250, 251]
    explorer.sample = 248  # a second step that way: the next ones that way in one batch
    assert cached(range(200, 300)) == list(range(217, 252))
    explorer.sample = 100
    explorer.sample = 101
    explorer.sample = 102  # two steps forward
    assert cached(range(100, 140)) == list(range(100, 134))
    explorer.sample = 300
    explorer.sample = 303  # a click three thumbnails on: a jump
    assert cached(range(290, 350)) == [300, 303]
    explorer.sample = 304  # a first step from there
    explorer.sample = 307  # three presses the page sent as one: the scrub goes on, in a batch
    assert cached(range(290, 350)) == [300, 303, 304, *range(307, 339)]
