"""Move previews: each move's figure, sent ahead, is exactly Agg's figure after the move.

Once idle, the kernel composes the figure that each move would show (every other layer, a ←/→
step), in an off-screen figure, and sends the page the rectangles that turn its picture into
that figure (``widget/move_previews.py``). Each preview here is painted as ``widget.js`` paints
it (:func:`apply_move_preview`) over the figure the page holds, and compared with the figure's
own Agg buffer after the kernel made that move, pixel for pixel. Making them changes nothing a
user can see: not ``ex.figure``, not the state, not the next channel move's cache.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import convscope
from convscope.errors import ConvscopeError
from convscope.widget import publisher as publishing
from convscope.widget.frames import read_frame
from convscope.widget.move_previews import apply_move_preview, read_move_preview
from test_widget_previews import agg_pixels, capture, explorer, when_idle

__all__ = ["explorer"]  # the fixture: a page opened on the MNIST test digits

_SEQ = itertools.count(2)


def previews_of(explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The move previews the kernel sends once idle after its last frame."""
    sent = capture(explorer, monkeypatch, "move")
    when_idle(explorer, moves=len(explorer.layers) + 2)
    monkeypatch.undo()
    return sent


def frame_id(explorer: convscope.Explorer) -> int:
    header, _ = read_frame(explorer._figure_frame)
    return header["id"]


def make(explorer: convscope.Explorer, move: str) -> None:
    """Make the move as the page asks for it: a layer of the slider, ←/→, a thumbnail."""
    kind, value = move.split()
    if kind == "layer":
        content = {"type": "view", "layer": explorer.layers[int(value)]}
    elif kind == "step":
        content = {"type": "step", "delta": int(value)}
    else:  # a click on a thumbnail
        content = {"type": "view", "sample": int(value)}
    explorer._on_frontend_message(explorer, {**content, "seq": next(_SEQ)}, [])


@pytest.mark.parametrize(
    "start",
    [("maps", "conv1", 5, 4321), ("maps", "conv3", 63, 7), ("heatmap", "conv2", 40, 123)],
)
def test_every_move_previewed_is_the_kernels_figure_after_it(
    explorer: convscope.Explorer,
    monkeypatch: pytest.MonkeyPatch,
    start: tuple[str, str, int, int],
) -> None:
    view, layer, channel, sample = start
    explorer.update(view=view, layer=layer, channel=channel, sample=sample)
    before, base = agg_pixels(explorer), frame_id(explorer)
    previews = previews_of(explorer, monkeypatch)
    layers = explorer.layers
    accepted = []  # every layer the rules let this view move to
    for name in layers:
        try:
            explorer._controller.resolve(layer=name)
        except ConvscopeError:
            continue
        accepted.append(name)
    headers = [read_move_preview(data)[0] for data in previews]
    here = layers.index(layer)
    moves = {f"layer {layers.index(name)}" for name in accepted if name != layer}
    assert sorted(h["move"] for h in headers) == sorted(moves | {"step 1", "step -1"})
    assert {h["base"] for h in headers} == {base}
    distances = [
        abs(int(h["move"].split()[1]) - here * h["move"].startswith("layer")) for h in headers
    ]
    assert distances == sorted(distances), "the nearest moves are not sent first"
    wrong = []
    for data, header in zip(previews, headers, strict=True):
        shown = apply_move_preview(before, data)
        make(explorer, header["move"])
        assert explorer.error == ""
        after = (explorer.sample, explorer.channel)
        if not np.array_equal(shown, agg_pixels(explorer)) or after != (
            header["sample"],
            header["channel"],
        ):
            wrong.append(header["move"])
        explorer.update(layer=layer, channel=channel, sample=sample)
    assert wrong == []


def test_a_new_digits_layer_moves_are_made_from_one_pass(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once idle on a digit not seen before, the previews of every other layer take one pass
    of the model between them, not one each, even for layers that have a compiled pass of
    their own: the cache then answers every layer's maps."""
    engine = explorer._controller.engine
    layers = [*(name for name in explorer.layers if name != "conv2"), "conv2"]
    for start, layer in enumerate(layers):  # each looked at often: a pass of its own
        for sample in range(8000 + 10 * start, 8004 + 10 * start):
            explorer.update(view="maps", layer=layer, channel=0, sample=sample)
        engine.wait_compiled(timeout=60)
    assert {(name,) for name in layers} <= set(engine.compiled_layers)
    explorer.update(sample=8765)
    assert engine.is_cached("conv2", 8765)
    assert not engine.is_cached("conv1", 8765), "the digit's other layers came with it"
    missed = engine.cache.misses
    previews = previews_of(explorer, monkeypatch)
    assert len(previews) == len(explorer.layers) + 1
    assert engine.cache.misses - missed <= 2, "a layer move ran a pass of its own"
    assert all(engine.is_cached(name, 8765) for name in explorer.layers)


def test_a_turn_makes_moves_until_its_time_is_up_and_a_new_frame_stops_the_next(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each turn of the idle kernel makes previews until it has taken ``MOVE_TURN_S``, then
    leaves the event loop to the page's messages: with no time, one move a turn; with time
    enough, one turn makes them all. A frame sent between two turns ends the chain."""
    explorer.update(view="maps", layer="conv2", channel=2, sample=70)
    publisher = explorer._publisher
    sent = capture(explorer, monkeypatch, "move")
    monkeypatch.setattr(publishing, "MOVE_TURN_S", 0.0)
    when_idle(explorer, moves=1)  # the sweep's turn, then one turn: one move
    assert publisher._moves.wanted(publisher.frame_id)
    assert len(publisher._held) == 1
    assert sent == []  # held until the last is made
    explorer.update(channel=3)  # a frame between two turns
    publisher.moves_ahead(publisher.frame_id - 1)
    assert sent == []  # the stale chain made nothing and sent nothing
    assert publisher._held == []
    monkeypatch.setattr(publishing, "MOVE_TURN_S", 60.0)
    when_idle(explorer, moves=1)
    assert not publisher._moves.wanted(publisher.frame_id)
    assert len(sent) == len(explorer.layers) + 1


def test_steps_follow_the_filter_in_use(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """→ and ← go through the samples that pass: their previews show those, exactly."""
    explorer.filter(true=3)  # the threes
    explorer.update(sample=int(explorer.filtered_samples[4]))
    before = agg_pixels(explorer)
    previews = {read_move_preview(d)[0]["move"]: d for d in previews_of(explorer, monkeypatch)}
    for delta in (1, -1):
        make(explorer, f"step {delta}")
        assert explorer.sample == int(explorer.filtered_samples[4 + delta])
        assert np.array_equal(
            apply_move_preview(before, previews[f"step {delta}"]), agg_pixels(explorer)
        )
        explorer.update(sample=int(explorer.filtered_samples[4]))


def test_making_previews_changes_nothing_a_user_sees(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    explorer.update(view="maps", layer="conv2", channel=7, sample=55)
    before = agg_pixels(explorer)
    state = explorer._controller.state
    kept = explorer._controller._last_layer_view
    renders = explorer._controller.renders
    assert len(previews_of(explorer, monkeypatch)) == len(explorer.layers) + 1
    explorer.figure.canvas.draw()
    assert np.array_equal(agg_pixels(explorer), before), "ex.figure changed"
    assert explorer._controller.state == state
    assert explorer._controller._last_layer_view is kept, "the next channel move would recompute"
    assert explorer._controller.renders == renders


def test_a_frame_makes_the_previews_of_the_last_stale(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Previews are of moves from the frame on the page: after another frame, new ones, over it."""
    explorer.update(view="maps", layer="conv2", channel=7, sample=55)
    first = previews_of(explorer, monkeypatch)
    explorer.update(channel=8)
    second = previews_of(explorer, monkeypatch)
    assert {read_move_preview(d)[0]["base"] for d in second} == {frame_id(explorer)}
    assert frame_id(explorer) not in {read_move_preview(d)[0]["base"] for d in first}
    # A chain of an earlier frame stops: the frame sent since starts its own after its quiet time.
    publisher = explorer._publisher
    sent: list[object] = []
    monkeypatch.setattr(explorer, "send", lambda *args: sent.append(args), raising=False)
    explorer.update(channel=9)
    publisher.moves_ahead(publisher.frame_id - 1)
    assert sent == []
    # Within the quiet time after a frame, nothing is made ahead (a burst never waits on it).
    publisher.moves_ahead(publisher.frame_id)
    assert sent == []


@pytest.mark.parametrize("kind", ["compare", "pattern", "fixed"])
def test_no_previews_where_a_layer_costs_more_than_a_pass(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Comparing, the pattern view and the data set's colour scale: no move is made ahead."""
    changes = {
        "compare": {"compare": 9},
        "pattern": {"view": "pattern"},
        "fixed": {"norm": "fixed"},
    }
    explorer.update(layer="conv2", **changes[kind])  # type: ignore[arg-type]
    assert previews_of(explorer, monkeypatch) == []


def test_a_hinted_thumbnail_is_made_first_and_is_the_kernels_figure_after_its_click(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pointer on a thumbnail: the kernel makes that sample's preview before the others,
    once, and gets no ack for the hint; clicked, the kernel shows exactly that preview."""
    explorer.update(view="maps", layer="conv2", channel=3, sample=10)
    before, ack = agg_pixels(explorer), explorer._ack
    sent = capture(explorer, monkeypatch, "move")
    publisher = explorer._publisher
    for _ in range(2):  # the pointer leaves and comes back: asked once
        explorer._on_frontend_message(explorer, {"type": "ahead", "sample": 9876}, [])
        publisher.moves_ahead(publisher.frame_id)
    moves = [read_move_preview(data)[0]["move"] for data in sent]
    assert moves[0] == "sample 9876"
    assert moves.count("sample 9876") == 1
    assert explorer._ack == ack, "a hint is not a request: no ack"
    assert explorer.sample == 10
    monkeypatch.undo()
    make(explorer, "sample 9876")
    assert np.array_equal(apply_move_preview(before, sent[0]), agg_pixels(explorer))


def test_a_bad_hint_is_named_and_changes_nothing(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    explorer.update(layer="conv2", sample=10)
    state = explorer._controller.state
    explorer._on_frontend_message(explorer, {"type": "ahead", "sample": "7"}, [])
    assert "'ahead' hint" in explorer.error
    assert "'sample' (a whole number)" in explorer.error
    assert explorer._controller.state == state
    # A sample out of range: no preview (the click would be refused too), nothing else.
    sent = capture(explorer, monkeypatch, "move")
    explorer._on_frontend_message(explorer, {"type": "ahead", "sample": 10**6}, [])
    explorer._publisher.moves_ahead(explorer._publisher.frame_id)
    assert all(read_move_preview(d)[0]["move"] != f"sample {10**6}" for d in sent)
    assert explorer._controller.state == state
