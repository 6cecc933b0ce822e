"""Comparing two samples: B beside A on one colour scale, or A − B on a scale symmetric about 0.

The bundled model on 200 real MNIST test digits; what is checked is what a user sees: the
panels' pixels, their titles, the page's traits and the banner.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
from matplotlib.backend_bases import KeyEvent, MouseEvent

import convscope
from convscope.errors import ArgumentTypeError, IndexOutOfRangeError, InvalidArgumentError
from convscope.render.compare import difference_pixels, joint_pixels
from convscope.render.compose import grid_columns
from convscope.render.explorer_figure import grid_aspect
from convscope.render.mosaic import colour_table, colourise

SAMPLES = 200
_SEQ = itertools.count(1)


@pytest.fixture
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    images, labels = mnist_test
    return convscope.Explorer(model, images[:SAMPLES], labels[:SAMPLES], figure="png")


def send(explorer: convscope.Explorer, **fields: object) -> None:
    explorer._on_frontend_message(explorer, {"type": "view", "seq": next(_SEQ), **fields}, [])


def raw_maps(explorer: convscope.Explorer, layer: str, sample: int) -> np.ndarray:
    """A sample's activation of ``layer``, from the Explorer's engine (cached)."""
    image = explorer._controller.images[sample]
    return np.asarray(explorer.engine.activation(layer, image, key=sample))


def grid_cells(explorer: convscope.Explorer, grid: np.ndarray, layer: str) -> np.ndarray:
    """Cut a side-by-side grid panel's mosaic back into its channels' RGB cells (C, H, W, 3)."""
    height, width, channels = explorer.engine.layer(layer).output_shape
    columns = grid_columns(channels, grid_aspect("side"))
    gap = max(1, height // 14)
    cells = [
        grid[row * (height + gap) : row * (height + gap) + height, col * (width + gap) :][:, :width]
        for row, col in (divmod(channel, columns) for channel in range(channels))
    ]
    return np.stack(cells)


def test_compare_shows_b_beside_a_and_none_turns_it_off(explorer: convscope.Explorer) -> None:
    explorer.update(layer="conv1", channel=3, sample=0)
    panels = explorer.panels
    before = explorer._figure_frame
    assert not panels.image_b_panel.get_visible()

    explorer.compare = 7
    assert explorer.compare == 7
    assert panels.image_b_panel.get_visible()
    assert panels.grid_b_panel.get_visible()
    np.testing.assert_array_equal(
        panels.image_b_panel.pixels[..., 0], explorer._controller.display_images[7]
    )
    np.testing.assert_array_equal(
        panels.image_panel.pixels[..., 0], explorer._controller.display_images[0]
    )
    assert not np.array_equal(panels.grid_b_panel.pixels, panels.grid_panel.pixels)
    assert explorer._figure_frame != before  # B reached the page
    assert (explorer.get_state()["compare"], explorer.compare_mode) == (7, "side")
    assert explorer._compare_text.startswith("sample 7  ·  label ")

    explorer.compare = None
    assert explorer.compare is None
    assert not panels.image_b_panel.get_visible()
    assert explorer.get_state()["compare"] is None
    assert explorer._compare_text == ""


def test_layer_and_channel_moves_update_both_samples(explorer: convscope.Explorer) -> None:
    a, b = 3, 11
    explorer.update(sample=a, compare=b, layer="conv2", channel=7)
    panels = explorer.panels
    # B's channel is B's own activation, on the scale measured over A and B together.
    _, pixels_b = joint_pixels(
        raw_maps(explorer, "conv2", a), raw_maps(explorer, "conv2", b), "standard"
    )
    expected = colourise(pixels_b[7], "viridis")[..., :3]
    np.testing.assert_array_equal(panels.channel_b_panel.pixels, expected)
    assert panels.grid_b_panel.outline == panels.grid_panel.outline

    grid_b, channel_b = panels.grid_b_panel.pixels.copy(), panels.channel_b_panel.pixels.copy()
    explorer.channel = 8
    assert not np.array_equal(panels.channel_b_panel.pixels, channel_b)
    assert panels.grid_b_panel.outline == panels.grid_panel.outline
    explorer.layer = "conv3"
    assert panels.grid_b_panel.pixels.shape != grid_b.shape  # conv3's 64 smaller maps
    assert panels.grid_b_panel.get_visible()
    # Scrubbing moves A; B stays, and B's maps came through the engine's cache.
    image_b = panels.image_b_panel.pixels.copy()
    explorer.sample = a + 1
    np.testing.assert_array_equal(panels.image_b_panel.pixels, image_b)
    assert explorer.compare == b
    assert explorer.engine.is_cached("conv3", b)


@pytest.mark.parametrize("norm", ["standard", "minmax", "layer", "fixed"])
def test_equal_activations_get_equal_colours_in_a_and_b(
    explorer: convscope.Explorer, norm: str
) -> None:
    a, b = 0, 1  # a 7 and a 2
    explorer.update(layer="conv1", sample=a, compare=b, norm=norm)
    raw_a, raw_b = raw_maps(explorer, "conv1", a), raw_maps(explorer, "conv1", b)
    cells_a = grid_cells(explorer, explorer.panels.grid_panel.pixels, "conv1")
    cells_b = grid_cells(explorer, explorer.panels.grid_b_panel.pixels, "conv1")
    same = np.moveaxis(raw_a == raw_b, -1, 0)  # (C, H, W): the blank border, for one
    assert same.sum() > 1000
    np.testing.assert_array_equal(cells_a[same], cells_b[same])
    # The border of a channel with a positive bias is the same non-zero value in both digits,
    # and gets the same colour in both channels' large maps.
    lit = raw_a[0, 0] > 0
    assert lit.any()
    channel = int(np.argmax(lit))
    explorer.channel = channel
    assert raw_a[0, 0, channel] == raw_b[0, 0, channel]
    np.testing.assert_array_equal(
        explorer.panels.channel_panel.pixels[0, 0], explorer.panels.channel_b_panel.pixels[0, 0]
    )


def test_one_scale_per_sample_would_colour_them_differently(explorer: convscope.Explorer) -> None:
    # Why the shared scale matters: each digit on its own scale colours that border differently.
    explorer.update(layer="conv1", sample=0, norm="standard")
    raw = raw_maps(explorer, "conv1", 0)
    channel = int(np.argmax(raw[0, 0] > 0))
    explorer.channel = channel
    alone_a = explorer.panels.channel_panel.pixels[0, 0].copy()
    explorer.sample = 1
    alone_b = explorer.panels.channel_panel.pixels[0, 0].copy()
    assert not np.array_equal(alone_a, alone_b)
    explorer.update(sample=0, compare=1)
    together = (
        explorer.panels.channel_panel.pixels[0, 0],
        explorer.panels.channel_b_panel.pixels[0, 0],
    )
    np.testing.assert_array_equal(*together)


def test_the_difference_of_a_sample_with_itself_is_white(explorer: convscope.Explorer) -> None:
    explorer.update(layer="conv2", sample=4, compare=4, compare_mode="difference")
    panels = explorer.panels
    neutral = colour_table("RdBu_r")[128]
    assert neutral.min() > 240  # RdBu_r's middle is near-white
    grid = panels.grid_panel.pixels.reshape(-1, 3)
    is_gap = (grid == 255).all(axis=1)
    assert (grid[~is_gap] == neutral).all()
    assert (panels.channel_panel.pixels == neutral).all()
    assert panels.legend_panel.get_visible()
    assert not panels.grid_b_panel.get_visible()  # one grid: A − B
    assert panels.image_b_panel.get_visible()
    assert "A − B" in panels._titles[panels.grid_panel].get_text()


def test_the_difference_is_red_where_a_is_stronger(explorer: convscope.Explorer) -> None:
    a, b = 0, 1
    explorer.update(layer="conv1", channel=5, sample=a, compare=b, compare_mode="difference")
    difference = raw_maps(explorer, "conv1", a)[..., 5] - raw_maps(explorer, "conv1", b)[..., 5]
    channel = explorer.panels.channel_panel.pixels.astype(int)
    stronger_a = np.unravel_index(np.argmax(difference), difference.shape)
    stronger_b = np.unravel_index(np.argmin(difference), difference.shape)
    assert channel[stronger_a][0] > channel[stronger_a][2] + 50  # red (RdBu_r's end is dark)
    assert channel[stronger_b][2] > channel[stronger_b][0] + 50  # blue
    assert "A − B" in explorer.panels._titles[explorer.panels.channel_panel].get_text()
    explorer.compare_mode = "side"  # back: two grids again
    assert explorer.panels.grid_b_panel.get_visible()
    assert not explorer.panels.legend_panel.get_visible()


def test_the_difference_scale_is_symmetric_about_zero(
    explorer: convscope.Explorer,
) -> None:
    maps_a, maps_b = raw_maps(explorer, "conv2", 0), raw_maps(explorer, "conv2", 1)
    for norm in ("standard", "minmax", "layer"):
        _, forward = difference_pixels(maps_a, maps_b, norm)  # type: ignore[arg-type]
        _, backward = difference_pixels(maps_b, maps_a, norm)  # type: ignore[arg-type]
        np.testing.assert_array_equal(forward.astype(int) + backward, 256)  # 128 ± the same
        _, itself = difference_pixels(maps_a, maps_a, norm)  # type: ignore[arg-type]
        assert (itself == 128).all()


def test_a_bad_compare_names_the_fix_and_changes_nothing(explorer: convscope.Explorer) -> None:
    explorer.update(layer="conv2", channel=2, sample=5, compare=9)
    grid_b = explorer.panels.grid_b_panel.pixels.copy()
    png = explorer._figure_frame
    bad = [
        (IndexOutOfRangeError, "compare 200 is out of range: .* use 0..199, or None", 200),
        (IndexOutOfRangeError, "out of range", -2),
        (ArgumentTypeError, "compare must be a sample index .* got '3'", "3"),
        (ArgumentTypeError, "got 2.0", 2.0),
        (ArgumentTypeError, "got True", True),
    ]
    for error, message, value in bad:
        with pytest.raises(error, match=message):
            explorer.compare = value  # type: ignore[assignment]
    with pytest.raises(InvalidArgumentError, match=r"Unknown comparison mode .overlay.; choose"):
        explorer.compare_mode = "overlay"
    with pytest.raises(InvalidArgumentError, match=r"set ex\.view = 'maps', or ex\.compare = None"):
        explorer.view = "grad-cam"
    with pytest.raises(ArgumentTypeError, match="Did you mean 'compare'"):
        explorer.update(compar=3)  # type: ignore[call-arg]
    assert (explorer.compare, explorer.compare_mode, explorer.view) == (9, "side", "maps")
    np.testing.assert_array_equal(explorer.panels.grid_b_panel.pixels, grid_b)
    assert explorer._figure_frame == png


def test_the_page_asks_to_compare_and_a_malformed_request_shows_a_banner(
    explorer: convscope.Explorer,
) -> None:
    explorer.update(layer="conv1", sample=2)
    send(explorer, compare=12)
    assert (explorer.compare, explorer.get_state()["compare"], explorer.error) == (12, 12, "")
    send(explorer, compare_mode="difference")
    assert explorer.compare_mode == "difference"
    assert explorer.panels.legend_panel.get_visible()

    png = explorer._figure_frame
    send(explorer, compare="12")
    assert explorer.error.startswith("Ignored a malformed message from the page:")
    assert "'compare' must be an integer, got '12'" in explorer.error
    send(explorer, compare=500)
    assert "IndexOutOfRangeError: compare 500 is out of range" in explorer.error
    send(explorer, compare_mode=3)
    assert "'compare_mode' must be a string" in explorer.error
    assert (explorer.compare, explorer.compare_mode) == (12, "difference")
    assert explorer._figure_frame == png

    send(explorer, compare=-1)
    assert (explorer.compare, explorer.get_state()["compare"], explorer.error) == (None, None, "")
    assert not explorer.panels.image_b_panel.get_visible()


def test_a_probe_boxes_the_same_field_on_both_inputs(explorer: convscope.Explorer) -> None:
    explorer.update(layer="conv3", channel=1, sample=0, compare=1, probe=(3, 3))
    panels = explorer.panels
    assert panels.image_panel.outline == panels.image_b_panel.outline == (5, 5, 18, 18)
    assert panels.channel_b_panel.outline == (3, 3, 1, 1)


def test_a_saved_comparison_titles_a_and_b(explorer: convscope.Explorer, tmp_path) -> None:
    explorer.update(layer="conv2", sample=0, compare=1)
    path = tmp_path / "compare.png"
    explorer.save(path)
    assert path.stat().st_size > 10_000
    titles = explorer.panels._titles
    assert titles[explorer.panels.image_panel].get_text().startswith("A · sample 0")
    assert titles[explorer.panels.image_b_panel].get_text().startswith("B · sample 1")
    assert titles[explorer.panels.class_b_panel].get_text().startswith("B: predicted")
    assert not titles[explorer.panels.image_panel].get_visible()  # live again: no titles


def test_the_ipympl_canvas_shows_b_and_its_keys_and_clicks_move_a(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    explorer = convscope.Explorer(model, images[:50], labels[:50], figure="ipympl")
    canvas = explorer.figure.canvas
    width, height = canvas.get_width_height()

    def drawn(box: tuple[float, float, float, float]) -> np.ndarray:
        """The canvas's pixels inside a figure-fraction box, as last pushed to the page."""
        rgba = np.asarray(canvas.buffer_rgba())
        x0, y0, w, h = box
        rows = slice(round((1 - y0 - h) * height), round((1 - y0) * height))
        return rgba[rows, round(x0 * width) : round((x0 + w) * width), :3]

    explorer.compare = 9
    box_b = explorer.panels.image_b_panel.box
    assert drawn(box_b).min() == 0  # B's black background, where the canvas was white
    before_b = drawn(box_b).copy()
    canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", canvas, "right"))
    assert (explorer.sample, explorer.compare) == (1, 9)  # → moves A; B stays
    np.testing.assert_array_equal(drawn(box_b), before_b)
    canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", canvas, "up"))
    assert explorer.channel == 1
    # A click on A's selected channel probes the unit under it, on both samples.
    panel = explorer.panels.channel_panel
    x0, y0, w, h = panel.box
    centre = (round((x0 + w * 0.31) * width), round((y0 + h * 0.69) * height))  # events: ints
    unit = panel.pixel_at(*centre, (width, height))
    canvas.callbacks.process(
        "button_press_event", MouseEvent("button_press_event", canvas, *centre, button=1)
    )
    assert explorer.probe == unit
    assert explorer.panels.image_b_panel.outline == explorer.panels.image_panel.outline
