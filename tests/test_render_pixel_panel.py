"""PixelPanel: the pixels it blits, update after update, at a HiDPI ratio and to other renderers."""

from __future__ import annotations

import numpy as np
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from convscope.data.mnist import load_mnist
from convscope.render.pixel_panel import PixelPanel, shown_runs


def digits(count: int) -> np.ndarray:
    """``count`` real MNIST test digits as RGB, each in its own colours."""
    images, _ = load_mnist("test")
    grey = images[:count].astype(np.uint16)
    return np.stack([grey, 255 - grey, (grey * 3) % 256], axis=-1).astype(np.uint8)


def panel_figure(dpi: float) -> tuple[Figure, PixelPanel]:
    figure = Figure(figsize=(3, 3), dpi=dpi)
    FigureCanvasAgg(figure)
    panel = PixelPanel((0.0, 0.0, 1.0, 1.0))
    figure.add_artist(panel)
    return figure, panel


def enlarged(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by a whole factor, as numpy brute force."""
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def test_each_update_blits_its_own_digit_at_a_hidpi_ratio() -> None:
    # 3 inches at 200 dpi: 600 pixels, each digit pixel 21 canvas pixels wide (588 of 600).
    figure, panel = panel_figure(200)
    outline = (5, 7, 4, 3)
    for index, rgb in enumerate(digits(6)):
        panel.set_pixels(rgb)
        panel.set_outline(outline if index % 2 else None)
        figure.canvas.draw()
        drawn = np.asarray(figure.canvas.buffer_rgba())[6:594, 6:594, :3]
        expected = enlarged(rgb, 21)
        if index % 2:  # the outline: a 1.5-point line, round(1.5 * 200 / 72) = 4 pixels wide
            x, y, w, h = (21 * v for v in outline)
            for rows, cols in [
                (slice(y, y + 4), slice(x, x + w)),
                (slice(y + h - 4, y + h), slice(x, x + w)),
                (slice(y, y + h), slice(x, x + 4)),
                (slice(y, y + h), slice(x + w - 4, x + w)),
            ]:
                expected[rows, cols] = panel.outline_colour[:3]
        np.testing.assert_array_equal(drawn, expected, err_msg=f"update {index}")


class KeepingRenderer(RendererBase):
    """A renderer that keeps the arrays it is handed, as the PDF backend does until it closes."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[np.ndarray] = []

    def get_canvas_width_height(self) -> tuple[float, float]:
        return 300.0, 300.0

    def points_to_pixels(self, points: float) -> float:
        return points

    def draw_image(self, gc: object, x: float, y: float, im: np.ndarray) -> None:  # noqa: ARG002
        self.kept.append(im)


def test_a_renderer_that_keeps_the_pixels_keeps_those_of_its_draw() -> None:
    _, panel = panel_figure(100)
    renderer = KeepingRenderer()
    first, second = digits(2)
    for rgb, outline in [(first, None), (second, None), (first, (2, 2, 9, 9)), (second, None)]:
        panel.set_pixels(rgb)
        panel.set_outline(outline)
        panel.draw(renderer)
    # 300 pixels for 28: enlarged 10 times; rows bottom-up, as Agg and PDF take them.
    kept = [image[::-1, :, :3] for image in renderer.kept]
    np.testing.assert_array_equal(kept[0], enlarged(first, 10))
    np.testing.assert_array_equal(kept[1], enlarged(second, 10))
    assert not np.array_equal(kept[2], enlarged(first, 10))  # the outline is in it
    np.testing.assert_array_equal(kept[3], enlarged(second, 10))


def test_shown_runs_rebuild_each_part_of_the_scaled_pixels() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        source, size = int(rng.integers(1, 41)), int(rng.integers(1, 301))
        start = int(rng.integers(0, size))
        stop = int(rng.integers(start + 1, size + 1))
        shown, runs = shown_runs(source, size, start, stop)
        # Nearest-neighbour scaling, written out: scaled pixel i shows source pixel i·source/size.
        expected = [i * source // size for i in range(start, stop)]
        assert np.repeat(shown, runs).tolist() == expected
        assert (np.diff(shown) > 0).all()
        assert (runs > 0).all()
    whole, runs = shown_runs(3, 10)
    assert whole.tolist() == [0, 1, 2]
    assert runs.tolist() == [4, 3, 3]
    assert [len(part) for part in shown_runs(5, 8, 4, 4)] == [0, 0]  # nothing shown
