"""The PNG-free figure path: the frames the page paints add up to exactly the figure's pixels."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

import convscope
from convscope.render.panel_composite import Patch, changed_boxes
from convscope.widget import frames
from convscope.widget.frames import FrameEncoder, apply_frame, colour_indices, fold, read_frame

REMOTE_FRAME_LIMIT = 100_000  # bytes: Colab and VS Code relay every message
_SEQ = itertools.count(1)


@pytest.fixture(scope="module")
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    images, labels = mnist_test
    return convscope.Explorer(model, images, labels, figure="png")


def agg_pixels(explorer: convscope.Explorer) -> np.ndarray:
    return np.asarray(explorer.figure.canvas.buffer_rgba())


def ask_for_key_frame(explorer: convscope.Explorer) -> None:
    explorer._on_frontend_message(explorer, {"type": "frame", "seq": next(_SEQ)}, [])


def test_random_jumps_delivered_as_frames_rebuild_the_figure_exactly(
    explorer: convscope.Explorer,
) -> None:
    ask_for_key_frame(explorer)  # a page opens
    shown = apply_frame(None, explorer._figure_frame)
    assert np.array_equal(shown, agg_pixels(explorer))
    rng = np.random.default_rng(0)
    layers = ["conv1", "pool1", "conv2", "pool2", "conv3", "dense"]
    sizes = []
    for step in range(30):
        before = explorer._figure_frame
        move = step % 3
        if move == 0:
            explorer.sample = int(rng.integers(explorer.sample_count))
        elif move == 1:
            explorer.layer = layers[int(rng.integers(len(layers)))]
        else:
            explorer.channel = int(rng.integers(explorer._channel_count))
        if explorer._figure_frame != before:
            sizes.append(len(explorer._figure_frame))
            shown = apply_frame(shown, explorer._figure_frame)
        assert np.array_equal(shown, agg_pixels(explorer)), f"after move {step}"
    assert max(sizes) < REMOTE_FRAME_LIMIT
    header, _ = read_frame(explorer._figure_frame)
    assert header["base"] != 0  # moves after the first send only what changed


def test_a_channel_move_sends_only_the_two_panels_that_change(
    explorer: convscope.Explorer,
) -> None:
    explorer.update(layer="conv2", channel=3, sample=7)
    explorer.channel = 4
    header, _ = read_frame(explorer._figure_frame)
    width, height = header["width"], header["height"]
    covered = sum(rect["w"] * rect["h"] for rect in header["rects"])
    assert covered < 0.4 * width * height
    panels = explorer.panels
    grid, channel = (p.place((width, height)) for p in (panels.grid_panel, panels.channel_panel))
    for rect in header["rects"]:  # the outlines in the mosaic, and the large channel
        assert any(
            x <= rect["x"] and rect["x"] + rect["w"] <= x + w
            and y <= rect["y"] and rect["y"] + rect["h"] <= y + h
            for x, y, w, h in (grid, channel)
        ), rect  # fmt: skip
    assert len(explorer._figure_frame) < 8_000


def test_nothing_changed_sends_nothing_and_a_view_that_asks_gets_the_whole_figure(
    explorer: convscope.Explorer,
) -> None:
    explorer.update(layer="conv1", channel=0, sample=3)
    before = explorer._figure_frame
    explorer.update(channel=0)  # the same view again
    assert explorer._figure_frame == before
    ask_for_key_frame(explorer)
    header, _ = read_frame(explorer._figure_frame)
    assert header["base"] == 0
    assert np.array_equal(apply_frame(None, explorer._figure_frame), agg_pixels(explorer))


def test_a_frame_on_the_wrong_base_is_refused_by_a_page_without_one() -> None:
    encoder = FrameEncoder()
    first = np.zeros((20, 30, 4), np.uint8)
    second = first.copy()
    second[5:7, 10:12] = 200
    encoder.encode(first)
    delta = encoder.encode(second)
    assert delta is not None
    with pytest.raises(ValueError, match="key frame"):
        apply_frame(None, delta)


def test_fold_and_boxes_on_known_pixels() -> None:
    block = np.repeat(np.repeat(np.arange(6, dtype=np.uint32).reshape(2, 3), 3, 0), 2, 1)
    rows, cols, folded = fold(block)
    assert rows == [3, 3]
    assert cols == [2, 2, 2]
    assert np.array_equal(folded, np.arange(6).reshape(2, 3))
    changed = np.zeros((40, 100), bool)
    changed[2:5, 3:6] = True  # two separate changes, far apart
    changed[30:33, 80:90] = True
    assert changed_boxes(changed) == [(3, 2, 3, 3), (80, 30, 10, 3)]


@pytest.mark.parametrize("repeat", ["rows", "cols", "both", "neither"])
def test_a_patch_folds_to_the_pixels_it_paints(repeat: str) -> None:
    """Folded source rows or columns add up their run lengths; unfolded, the same pixels."""
    rng = np.random.default_rng(3)
    # No two neighbours equal by chance: rows differ by about 100, columns by about 10.
    grid = np.arange(9)[:, None] * 100 + np.arange(7) * 10 + rng.integers(0, 5, (9, 7))
    words = grid.astype(np.uint32)
    if repeat in ("rows", "both"):
        words[3] = words[2]  # rows 2, 3 and 4 one run
        words[4] = words[2]
    if repeat in ("cols", "both"):
        words[:, 6] = words[:, 5]
    rows = rng.integers(1, 4, 9)
    cols = rng.integers(1, 4, 7)
    patch = Patch(5, 8, int(cols.sum()), int(rows.sum()), rows, cols, words)
    [((x, y, w, h), block_rows, block_cols, folded)] = frames.patch_blocks([patch])
    assert (x, y, w, h) == (patch.x, patch.y, patch.w, patch.h)
    assert len(block_rows) == 9 - 2 * (repeat in ("rows", "both"))
    assert len(block_cols) == 7 - (repeat in ("cols", "both"))
    assert all(type(n) is int for n in [*block_rows, *block_cols])  # the header is JSON
    painted = np.repeat(np.repeat(folded, block_rows, axis=0), block_cols, axis=1)
    assert np.array_equal(painted, patch.unfolded())
    assert (fold(words)[0] == [1] * 9) is (repeat in ("cols", "neither"))


def noisy_frames() -> tuple[list[bytes], list[np.ndarray]]:
    """Frames whose rectangles take every form.

    Raw words deflated, 2-byte and 1-byte palettes, and one colour as its own word.
    """
    rng = np.random.default_rng(0)
    first = rng.integers(0, 256, (300, 400, 4), dtype=np.uint8)  # 120,000 colours: no palette
    first[..., 3] = 255
    second = first.copy()
    second[10:60, 20:120, :3] = rng.integers(0, 16, (50, 100, 3)) * 16  # 4,096 colours
    third = second.copy()
    third[200:210, 300:310] = (255, 45, 85, 255)  # one colour
    third[250:260, 50:60] = (0, 0, 0, 255)
    third[250:255, 50:60] = (255, 255, 255, 255)  # two colours
    encoder = FrameEncoder()
    encoder.frame_id = 1000  # numbered apart from any Explorer's frames
    pictures = [first, second, third]
    return [encoder.encode(picture) or b"" for picture in pictures], pictures


def test_every_form_of_rectangle_comes_back_exactly() -> None:
    frames, pictures = noisy_frames()
    forms = set()
    shown = None
    for frame, picture in zip(frames, pictures, strict=True):
        header, _ = read_frame(frame)
        rects = header["rects"]
        forms |= {(rect["colours"] > 0, rect["index_bytes"], rect["deflate"]) for rect in rects}
        shown = apply_frame(shown, frame)
        assert np.array_equal(shown, picture)
    assert forms == {(False, 4, True), (True, 2, False), (True, 1, False), (False, 4, False)}


@pytest.mark.parametrize("count", [2, 164, 256, 257, 5000, 65_536])
def test_each_pixel_gets_its_own_colours_index_whatever_the_palette(count: int) -> None:
    rng = np.random.default_rng(count)
    colours = np.unique(rng.integers(0, 2**32, count, dtype=np.uint64).astype(np.uint32))
    words = colours[rng.integers(0, len(colours), 40_000)]
    found = colour_indices(colours, words)
    assert np.array_equal(colours[found], words)  # a brute-force check: the colour comes back


def test_colours_that_share_every_bucket_are_still_told_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(frames, "_HASH_BITS", 2)  # four buckets for 200 colours: every try fails
    monkeypatch.setattr(frames, "_SCRATCH", frames.threading.local())
    colours = np.arange(0xFF000000, 0xFF000000 + 200, dtype=np.uint32)
    words = np.repeat(colours[::-1], 3)
    assert np.array_equal(colours[colour_indices(colours, words)], words)


def test_words_wider_than_32_bits_are_indexed_by_search() -> None:
    colours = np.array([5, 2**40 + 5, 2**63], np.uint64)  # equal low words: no 32-bit hash
    words = colours[[2, 0, 1, 1, 0]]
    assert np.array_equal(colours[colour_indices(colours, words)], words)
