"""Channel previews: every channel painted from the kernel's sweep is exactly Agg's figure.

The page paints a channel move from the sweep at once, before the kernel's frame comes
(``widget/previews.py``). Each preview here is painted as ``widget.js`` paints it
(:func:`apply_preview`) over the figure the page holds, and compared with the figure's own Agg
buffer after the kernel moved to that channel, pixel for pixel. The frames' generations say
when a sweep stops applying: never on a channel move, always on anything else, new weights
included.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import keras
import numpy as np
import pytest

import convscope
from convscope.widget.frames import apply_frame, read_frame
from convscope.widget.previews import IDLE_S, apply_preview, read_sweep


@pytest.fixture
def explorer(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> Iterator[convscope.Explorer]:
    images, labels = mnist_test
    explorer = convscope.Explorer(model, images, labels, figure="png")
    explorer._on_frontend_message(explorer, {"type": "frame", "seq": 1}, [])  # a page opens
    yield explorer
    explorer.close()


def agg_pixels(explorer: convscope.Explorer) -> np.ndarray:
    return np.asarray(explorer.figure.canvas.buffer_rgba()).copy()


def capture(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch, kind: str
) -> list[bytes]:
    """Keep the bytes of each message of ``kind`` (``sweep``, ``move``) the kernel sends."""
    sent: list[bytes] = []
    monkeypatch.setattr(
        explorer,
        "send",
        lambda content, buffers: sent.extend(buffers if content["type"] == kind else []),
        raising=False,
    )
    return sent


def when_idle(explorer: convscope.Explorer, moves: int = 0) -> None:
    """Let the kernel be idle after its last frame: its sweep, then ``moves`` move previews.

    In a script the kernel's event loop runs nothing later: each turn is called here.
    """
    time.sleep(IDLE_S)
    publisher = explorer._publisher
    publisher.sweep_when_idle()
    for _ in range(moves):
        publisher.moves_ahead(publisher.frame_id)


def sweep_of(explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch) -> bytes | None:
    """What the kernel sends the page once idle after its last frame (None: nothing)."""
    sent = capture(explorer, monkeypatch, "sweep")
    when_idle(explorer)
    monkeypatch.undo()
    return sent[0] if sent else None


def generation(explorer: convscope.Explorer) -> int:
    header, _ = read_frame(explorer._figure_frame)
    return header["gen"]


@pytest.mark.parametrize(
    ("view", "layer"), [("maps", "conv1"), ("maps", "conv3"), ("heatmap", "conv2")]
)
def test_every_channel_previewed_is_the_kernels_figure_of_it(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch, view: str, layer: str
) -> None:
    explorer.update(view=view, layer=layer, sample=4321, channel=5)
    start = agg_pixels(explorer)
    sweep = sweep_of(explorer, monkeypatch)
    assert sweep is not None
    header, _ = read_sweep(sweep)
    assert header["gen"] == generation(explorer) > 0
    count = explorer._channel_count
    assert len(header["maps"]) == count
    rng = np.random.default_rng(3)
    shown, since = start, 5
    wrong = []
    for channel in [*range(count), *rng.integers(count, size=12).tolist()]:
        shown = apply_preview(shown, sweep, since, channel)  # previews over previews
        explorer.update(channel=channel)
        if not np.array_equal(shown, agg_pixels(explorer)):
            wrong.append(channel)
        since = channel
    assert wrong == []
    assert not np.array_equal(apply_preview(start, sweep, 5, 6), start)  # a preview changes pixels


def test_the_generation_stays_through_channel_moves_and_changes_with_anything_else(
    explorer: convscope.Explorer, model: keras.Model
) -> None:
    explorer.update(layer="conv2", channel=0)
    gen = generation(explorer)
    for channel in (7, 8, 47, 0):
        explorer.channel = channel
        assert generation(explorer) == gen, f"channel {channel} started another generation"
    explorer.update(view="heatmap")  # its overlay, recomputed at each update, is the same
    gen = generation(explorer)
    for channel in (3, 4):
        explorer.channel = channel
        assert generation(explorer) == gen, "a channel move in the heatmap view"
    explorer.update(view="maps")
    seen = {gen, generation(explorer)}
    for change in ({"sample": 9}, {"layer": "conv1"}, {"cmap": "magma"}, {"norm": "layer"}):
        explorer.update(**change)
        assert generation(explorer) not in seen, f"{change} kept the generation"
        seen.add(generation(explorer))
    # New weights under an open Explorer: the next frame is of another generation. (Scaling a
    # ReLU layer's weights would not do: its maps, normalised, would be the same pixels.)
    conv = model.get_layer("conv1")
    kept = conv.get_weights()
    noise = np.random.default_rng(1)
    try:
        conv.set_weights([w + noise.normal(0, 0.2, w.shape).astype(w.dtype) for w in kept])
        explorer.channel = 3
        assert generation(explorer) not in seen
    finally:
        conv.set_weights(kept)


def test_a_frame_agg_draws_has_no_generation_and_no_sweep(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    images, labels = mnist_test
    teaching = convscope.Explorer(model, images, labels, figure="png", teaching=True)  # titles
    try:
        teaching.channel = 2
        assert generation(teaching) == 0
        assert sweep_of(teaching, monkeypatch) is None
    finally:
        teaching.close()


@pytest.mark.parametrize("change", [{"compare": 17}, {"probe": (3, 4)}])
def test_no_sweep_where_more_than_the_channel_panel_and_outline_follow_the_channel(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch, change: dict[str, object]
) -> None:
    explorer.update(layer="conv1", **change)
    assert sweep_of(explorer, monkeypatch) is None


def test_a_sweep_is_made_once_per_generation_and_not_for_a_stale_picture(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    explorer.update(layer="conv1", channel=1)
    assert sweep_of(explorer, monkeypatch) is not None
    explorer.channel = 2  # same generation: the page has its sweep
    assert sweep_of(explorer, monkeypatch) is None
    explorer._on_frontend_message(explorer, {"type": "frame", "seq": 2}, [])  # a view opens
    again = sweep_of(explorer, monkeypatch)
    assert again is not None, "a view that opened gets no sweep"
    assert read_sweep(again)[0]["base"] == read_frame(explorer._figure_frame)[0]["id"]
    explorer.sample = 12
    # The panels change behind the page's back (no frame sent): no sweep of them.
    explorer._controller.apply(follow=False, sample=13)
    assert sweep_of(explorer, monkeypatch) is None


def test_frames_and_previews_together_end_on_the_kernels_figure(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the page does: preview a channel, then take the frame after putting back its base."""
    explorer.update(layer="conv2", channel=0, sample=77)
    shown = agg_pixels(explorer)
    sweep = sweep_of(explorer, monkeypatch)
    assert sweep is not None
    displayed, real = 0, 0
    for channel in (4, 9, 9, 30, 2):
        shown = apply_preview(shown, sweep, displayed, channel)
        displayed = channel
        explorer.channel = channel
        shown = apply_preview(shown, sweep, displayed, real)  # back to the frame's base
        shown = apply_frame(shown, explorer._figure_frame)
        displayed = real = channel
        assert np.array_equal(shown, agg_pixels(explorer)), f"channel {channel}"
