"""The patches of a figure of pixel panels paint, pixel for pixel, what Agg draws of it."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import convscope
from convscope.render.panel_composite import PanelComposite, only_panels, paste
from convscope.render.pixel_panel import PixelPanel
from convscope.widget.figure_display import LazyAggCanvas
from convscope.widget.frames import apply_frame

_SEQ = itertools.count(1)


def agg_words(figure: Figure) -> np.ndarray:
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba()).view(np.uint32)[..., 0].copy()


def random_pixels(rng: np.random.Generator) -> np.ndarray:
    shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)))
    kind = int(rng.integers(3))
    if kind == 0:
        return rng.integers(0, 256, shape, np.uint8)  # grey
    if kind == 1:
        return rng.integers(0, 256, (*shape, 3), np.uint8)
    rgba = rng.integers(0, 256, (*shape, 4), np.uint8)
    rgba[..., 3] = 255
    return rgba


def change_at_random(figure: Figure, panels: list[PixelPanel], rng: np.random.Generator) -> int:
    """Change one thing that decides the picture; return which kind of change it was."""
    panel = panels[int(rng.integers(len(panels)))]
    change = int(rng.integers(8))
    if change == 0:
        panel.set_pixels(random_pixels(rng))
    elif change == 1:  # a few source pixels, in the same shape: only their area is repainted
        pixels = np.array(panel.pixels)
        height, width = pixels.shape[:2]
        y, x = int(rng.integers(height)), int(rng.integers(width))
        h, w = int(rng.integers(1, height - y + 1)), int(rng.integers(1, width - x + 1))
        pixels[y : y + h, x : x + w] = rng.integers(0, 256, (h, w, 3), np.uint8)
        panel.set_pixels(pixels)
    elif change == 2:
        height, width = panel.source_shape
        x, y = float(rng.integers(width)), float(rng.integers(height))
        panel.set_outline((x, y, 1.0 + rng.integers(width), 1.0 + rng.integers(height)))
    elif change == 3:
        panel.set_outline(None)
    elif change == 4:
        panel.set_visible(not panel.get_visible())
    elif change == 5:
        x0, y0 = rng.uniform(0, 0.5, 2)
        panel.box = (
            float(x0),
            float(y0),
            float(rng.uniform(0.1, 0.5)),
            float(rng.uniform(0.1, 0.5)),
        )
    elif change == 6:
        panel.set_zorder(int(rng.integers(3)))
    else:
        figure.set_dpi(float(rng.choice([100, 150, 200])))
    return change


def test_random_changes_to_overlapping_panels_match_agg_exactly() -> None:
    """Pixels, outlines, boxes, visibility, drawing order and dpi, changed at random."""
    rng = np.random.default_rng(7)
    figure = Figure(figsize=(4.0, 2.5), dpi=100, facecolor="white")
    canvas = FigureCanvasAgg(figure)
    boxes = [(0.0, 0.0, 0.5, 1.0), (0.3, 0.2, 0.5, 0.6), (0.6, 0.5, 0.4, 0.5), (0.1, 0.6, 0.3, 0.4)]
    panels = [PixelPanel(box) for box in boxes]
    for panel in panels:
        panel.set_pixels(random_pixels(rng))
        figure.add_artist(panel)
    composite = PanelComposite(panels)
    renderer = canvas.get_renderer()
    width, height = composite.size(renderer)
    picture = np.zeros((height, width), np.uint32)  # what a page shows: anything, at first
    paste(picture, composite.patches(renderer))
    assert np.array_equal(picture, agg_words(figure))
    painted = partial = 0
    for step in range(300):
        change = change_at_random(figure, panels, rng)
        renderer = canvas.get_renderer()
        assert composite.can_paint(figure, renderer)
        width, height = composite.size(renderer)
        before = picture.copy()
        if picture.shape != (height, width):
            picture = np.zeros((height, width), np.uint32)
        patches = composite.patches(renderer)
        paste(picture, patches)
        expected = agg_words(figure)
        assert np.array_equal(picture, expected), f"step {step}: change {change}"
        if not patches:
            assert np.array_equal(before, expected), f"step {step}: a change went unseen"
            continue
        painted += 1
        partial += int(sum(patch.w * patch.h for patch in patches) < expected.size)
    assert (painted, partial) >= (160, 80), "too few steps changed the picture"


def one_panel(
    inches: float, box: tuple[float, float, float, float], pixels: np.ndarray
) -> tuple[Figure, PixelPanel, PanelComposite, np.ndarray]:
    """A square figure at 100 dpi with one panel, and a page's picture of it painted once."""
    figure = Figure(figsize=(inches, inches), dpi=100, facecolor="white")
    FigureCanvasAgg(figure)
    panel = PixelPanel(box)
    panel.set_pixels(pixels)
    figure.add_artist(panel)
    composite = PanelComposite([panel])
    side = round(inches * 100)
    picture = np.zeros((side, side), np.uint32)
    paste(picture, composite.patches(figure.canvas.get_renderer()))
    return figure, panel, composite, picture


def test_new_pixels_and_outlines_repaint_only_around_what_changed() -> None:
    """A few source pixels, or an outline, changed: patches that small, no more."""
    pixels = np.zeros((40, 40), np.uint8)  # 40 source pixels a side, each 10x10 on screen
    figure, panel, composite, picture = one_panel(4.0, (0.0, 0.0, 1.0, 1.0), pixels)
    renderer = figure.canvas.get_renderer()
    pixels = pixels.copy()
    pixels[5:7, 30] = 200
    panel.set_pixels(pixels)
    patches = composite.patches(renderer)
    assert sum(patch.w * patch.h for patch in patches) == 20 * 10  # the two pixels, shown 10x
    paste(picture, patches)
    panel.set_outline((2.0, 2.0, 3.0, 3.0))
    patches = composite.patches(renderer)
    assert sum(patch.w * patch.h for patch in patches) < 3 * 30 * 30  # the outline's box, repainted
    paste(picture, patches)
    assert np.array_equal(picture, agg_words(figure))


def test_a_few_pixels_of_a_shrunk_panel_repaint_exactly_what_agg_draws() -> None:
    """A panel smaller than its source (uneven runs): partial changes land on the right pixels."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (61, 77), np.uint8)  # into 37×29 pixels
    figure, panel, composite, picture = one_panel(1.0, (0.05, 0.1, 0.37, 0.53), pixels)
    renderer = figure.canvas.get_renderer()
    seen = 0
    for _ in range(200):
        pixels = pixels.copy()
        y, x = int(rng.integers(61)), int(rng.integers(77))
        pixels[y : y + int(rng.integers(1, 4)), x : x + int(rng.integers(1, 4))] ^= 0x55
        panel.set_pixels(pixels)
        patches = composite.patches(renderer)
        paste(picture, patches)
        assert np.array_equal(picture, agg_words(figure))
        seen += bool(patches)
    assert seen > 100, "too few changes showed"


def test_figures_with_more_than_panels_are_left_to_agg() -> None:
    figure = Figure(figsize=(3.0, 2.0), facecolor="white")
    canvas = FigureCanvasAgg(figure)
    panel = PixelPanel((0.1, 0.1, 0.5, 0.5))
    panel.set_pixels(np.full((4, 4), 9, np.uint8))
    figure.add_artist(panel)
    composite = PanelComposite([panel])
    assert composite.can_paint(figure, canvas.get_renderer())
    title = figure.text(0.5, 0.9, "a title")
    assert not only_panels(figure)  # text: only Agg draws it
    title.set_visible(False)
    assert only_panels(figure)
    panel.set_alpha(0.5)
    assert not only_panels(figure)  # translucent: blended, not copied
    panel.set_alpha(None)
    panel.set_animated(True)
    assert not only_panels(figure)  # Agg leaves animated artists out
    panel.set_animated(False)
    figure.patch.set_facecolor("black")
    assert not only_panels(figure)
    figure.patch.set_facecolor("white")
    axes: Axes = figure.add_axes((0.7, 0.1, 0.2, 0.2))
    assert not only_panels(figure)
    axes.remove()
    assert only_panels(figure)
    panel.box = (0.8, 0.1, 0.5, 0.5)  # past the canvas's right edge
    assert not composite.can_paint(figure, canvas.get_renderer())


@pytest.fixture(scope="module")
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    images, labels = mnist_test
    return convscope.Explorer(model, images, labels, figure="png")


def test_the_explorer_sends_composed_frames_that_rebuild_aggs_figure(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compare, difference, Grad-CAM and HiDPI included; Agg draws only when its buffer is read."""
    canvas = explorer.figure.canvas
    assert isinstance(canvas, LazyAggCanvas)
    draws = []
    plain_draw = FigureCanvasAgg.draw
    monkeypatch.setattr(
        FigureCanvasAgg, "draw", lambda self: (draws.append(self is canvas), plain_draw(self))
    )  # counts the figure's drawings (a chart's or a legend's own text strips aside)
    rng = np.random.default_rng(3)
    layers = ["conv1", "pool1", "conv2", "conv3", "dense"]
    for ratio in (1, 2, 1.5):
        explorer._on_frontend_message(
            explorer, {"type": "frame", "seq": next(_SEQ), "dpr": ratio}, []
        )
        shown = apply_frame(None, explorer._figure_frame)
        for step in range(24):
            before, drawn = explorer._figure_frame, sum(draws)
            move = step % 6
            if move == 0:
                explorer.sample = int(rng.integers(explorer.sample_count))
            elif move == 1:
                usable = layers if explorer.view == "maps" else layers[:-1]  # Grad-CAM: spatial
                explorer.layer = usable[int(rng.integers(len(usable)))]
            elif move == 2:
                explorer.channel = int(rng.integers(explorer._channel_count))
            elif move == 3:
                other = -1 if explorer.compare is not None else int(rng.integers(50))  # -1: stop
                explorer.update(view="maps", compare=other)
            elif move == 4:
                mode = "difference" if explorer.compare_mode == "side" else "side"
                explorer.update(view="maps", compare_mode=mode)
            elif explorer.view == "maps":  # Grad-CAM, one sample (comparing shows the maps)
                explorer.update(layer="conv2", view="grad-cam", compare=-1)
            else:
                explorer.view = "maps"
            assert sum(draws) == drawn, f"Agg drew during move {step} at ratio {ratio}"
            if explorer._figure_frame != before:
                shown = apply_frame(shown, explorer._figure_frame)
            agg = np.asarray(canvas.buffer_rgba())  # drawn now, at the page's ratio
            assert sum(draws) == drawn + 1
            assert np.array_equal(shown, agg), f"move {step} at ratio {ratio}"
    explorer._on_frontend_message(explorer, {"type": "frame", "seq": next(_SEQ), "dpr": 1}, [])


def test_a_figure_with_titles_is_drawn_by_agg_and_the_frames_stay_exact(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    explorer = convscope.Explorer(model, images[:200], labels[:200], figure="png", teaching=True)
    explorer._on_frontend_message(explorer, {"type": "frame", "seq": next(_SEQ)}, [])
    shown = apply_frame(None, explorer._figure_frame)
    for channel in (3, 4, 9):
        explorer.channel = channel
        shown = apply_frame(shown, explorer._figure_frame)
        assert np.array_equal(shown, np.asarray(explorer.figure.canvas.buffer_rgba()))
    with explorer.panels.titled():  # what a save does; the live titles stay as they were
        pass
    explorer.panels.set_live_titles(False)
    explorer.channel = 5  # from Agg's picture back to the numpy one: repainted whole
    shown = apply_frame(shown, explorer._figure_frame)
    assert np.array_equal(shown, np.asarray(explorer.figure.canvas.buffer_rgba()))
