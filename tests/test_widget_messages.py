"""Whatever the page sends, the Explorer's message handler never raises and always acks.

A malformed request is named in the error banner and changes nothing; an unknown kind is logged
and ignored; the kernel acknowledges the highest valid ``seq`` so the page never waits for its
8-second safety release. The examples run on a small Explorer: the bundled model on 200 real
MNIST test digits.
"""

from __future__ import annotations

import itertools
import logging
import math
import typing
from datetime import timedelta

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import convscope
from convscope.render.mosaic import colour_table
from convscope.render.normalise import NORM_MODES
from convscope.widget import protocol

SAMPLES = 200
_SEQ = itertools.count(1)


@pytest.fixture(scope="module")
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    images, labels = mnist_test
    explorer = convscope.Explorer(model, images[:SAMPLES], labels[:SAMPLES], figure="none")
    for layer in explorer.layers:  # compile every layer and measure its colour scale once
        explorer.update(layer=layer, norm="fixed")
    explorer.update(layer="conv1", norm="standard")
    return explorer


def send(explorer: convscope.Explorer, content: object, buffers: object = ()) -> None:
    explorer._on_frontend_message(explorer, content, list(buffers))  # type: ignore[call-overload]


def view_of(explorer: convscope.Explorer) -> tuple[object, ...]:
    """Everything a user sees change: the view, the filter and the thumbnail page."""
    return (
        explorer.layer,
        explorer.channel,
        explorer.sample,
        explorer.cmap,
        explorer.norm,
        explorer.filter_true,
        explorer.filter_predicted,
        explorer.misclassified_only,
        explorer.page,
        explorer.compare,
        explorer.compare_mode,
    )


def assert_valid(explorer: convscope.Explorer) -> None:
    """The state is in range, the page's traits agree with it, and the figure draws."""
    layer = explorer.engine.layer(explorer.layer)
    assert 0 <= explorer.channel < layer.channels
    assert 0 <= explorer.sample < SAMPLES
    assert explorer.norm in NORM_MODES
    colour_table(explorer.cmap)
    assert 0 <= explorer.page < explorer.page_count
    assert explorer.compare is None or 0 <= explorer.compare < SAMPLES
    assert explorer.panels.image_b_panel.get_visible() == (explorer.compare is not None)
    synced = explorer.get_state()  # what the page gets
    assert all(synced[name] == getattr(explorer, name) for name in ("layer", "channel", "sample"))
    assert all(synced[name] == getattr(explorer, name) for name in ("cmap", "norm", "page"))
    assert synced["compare"] == explorer.compare
    explorer.figure.canvas.draw()


# ----- specific messages that used to raise or go unanswered ---------------------------------
@pytest.mark.parametrize("content", ["view", None, [1, 2], 3, b"\x00"])
def test_content_that_is_not_an_object_is_reported(explorer, content) -> None:
    before = view_of(explorer)
    send(explorer, content)
    assert "must be a JSON object" in explorer.error
    assert view_of(explorer) == before
    assert_valid(explorer)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"type": "step", "delta": "abc"}, "'delta' must be an integer, got 'abc'"),
        ({"type": "page", "page": "x"}, "'page' must be an integer, got 'x'"),
        ({"type": "view", "channel": 2.5}, "'channel' must be an integer, got 2.5"),
        ({"type": "view", "layer": ["conv2"]}, "'layer' must be a string, got list ['conv2']"),
        ({"type": "filter", "true": 3}, "'misclassified' is missing (true or false)"),
        ({"type": "view", "chanel": 3}, "unknown field 'chanel'"),
        ({"type": "view", "compare": "5"}, "'compare' must be an integer, got '5'"),
        ({"type": "view", "compare_mode": None}, "'compare_mode' must be a string, got None"),
        ({"delta": 1}, "'probe', 'gif', 'draw', 'training', 'frame'; got none"),
        ({"type": 7}, "needs a 'type'"),
    ],
)
def test_a_malformed_request_is_named_in_the_banner_and_acked(explorer, content, expected) -> None:
    explorer.update(sample=4)
    before = view_of(explorer)
    seq = next(_SEQ)
    send(explorer, {**content, "seq": seq})
    assert expected in explorer.error
    assert explorer.error.startswith("Ignored a malformed message from the page:")
    assert view_of(explorer) == before
    assert explorer._ack >= seq  # answered: the page sends its next request at once
    assert_valid(explorer)


def test_a_bad_seq_is_reported_and_the_last_good_one_still_acked(explorer) -> None:
    seq = next(_SEQ)
    send(explorer, {"type": "step", "seq": seq, "delta": 1})
    for bad in ("abc", -1, 2**53, True, None):
        send(explorer, {"type": "step", "seq": bad, "delta": 1})
        assert "'seq' must be an integer from 0 to 2**53 - 1" in explorer.error
        assert explorer._ack == seq
    send(explorer, {})
    assert "needs a 'type'" in explorer.error
    assert explorer._ack == seq


def test_an_unknown_kind_is_logged_and_ignored(explorer, caplog) -> None:
    explorer.update(sample=2)
    before, seq = view_of(explorer), next(_SEQ)
    with caplog.at_level(logging.WARNING, logger="convscope"):
        send(explorer, {"type": "zoom", "seq": seq, "factor": 2})
    assert explorer.error == ""  # nothing the user did went wrong
    assert view_of(explorer) == before
    assert explorer._ack == seq
    assert any("unknown request type 'zoom'" in record.getMessage() for record in caplog.records)


def test_a_good_request_clears_the_banner(explorer) -> None:
    send(explorer, {"type": "page", "seq": next(_SEQ), "page": "x"})
    assert explorer.error
    send(explorer, {"type": "view", "seq": next(_SEQ), "channel": 3})
    assert explorer.error == ""
    assert explorer.channel == 3


# ----- any content whatsoever ----------------------------------------------------------------
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["view", "step", "filter", "page", "conv2", "magma", "fixed"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
LAYERS = ["rescale", "conv1", "pool1", "conv2", "pool2", "conv3", "flatten", "dense", "nope"]
PLAUSIBLE = {
    "type": st.sampled_from(["view", "step", "move", "filter", "page", "zoom", ""]),
    "seq": st.integers(-2, 2**54),
    "layer": st.sampled_from(LAYERS),
    "channel": st.integers(-2, 130),
    "sample": st.integers(-2, SAMPLES + 2),
    "cmap": st.sampled_from(["viridis", "magma", "gray", "nope"]),
    "norm": st.sampled_from([*NORM_MODES, "loud"]),
    "view": st.sampled_from(["maps", "heatmap", "grad-cam", "pattern", "x-ray"]),
    "target_class": st.integers(-2, 11),
    "compare": st.integers(-2, SAMPLES + 2),
    "compare_mode": st.sampled_from(["side", "difference", "overlay"]),
    "delta": st.integers(-(2**40), 2**40),
    "channels": st.integers(-200, 200) | st.integers(-(2**40), 2**40),
    "layers": st.integers(-12, 12),
    "true": st.integers(-2, 11),
    "predicted": st.integers(-2, 11),
    "misclassified": st.booleans(),
    "page": st.integers(-3, 2**40),
    "sort": st.sampled_from(["index", "confidence", "loss", "activation", "random"]),
    "open": st.booleans(),
    "epoch": st.integers(-2, 40),
    "frames": st.integers(-2, 3),
    "x": st.floats(-0.5, 1.5) | st.integers(-1, 2),
    "y": st.floats(-0.5, 1.5) | st.integers(-1, 2),
    "width": st.integers(-1, 2000),
    "height": st.integers(-1, 2000),
    "dpr": st.floats(-1, 5) | st.integers(-1, 5),
    "action": st.sampled_from(["pause", "resume", "stop", "follow", "unfollow", "jump"]),
    "batch": st.integers(-1, 15),
}
# Known fields with plausible values or junk, plus fields the protocol does not have.
DICTS = st.builds(
    lambda known, unknown: {**unknown, **known},
    st.fixed_dictionaries({}, optional={k: v | JSON for k, v in PLAUSIBLE.items()}),
    st.dictionaries(st.text(max_size=6), JSON, max_size=2),
)


def _request(kind: str) -> st.SearchStrategy[dict[str, object]]:
    """Well-formed requests of one kind (values may still be out of range)."""
    schema = protocol.REQUESTS[kind]
    fields = {k: v for k, v in PLAUSIBLE.items() if k in typing.get_type_hints(schema)}
    fields["seq"] = st.integers(0, 2**53 - 1)
    required = {k: fields[k] for k in schema.__required_keys__ if k != "type"}
    optional = {k: fields[k] for k in schema.__optional_keys__}
    return st.fixed_dictionaries({"type": st.just(kind), **required}, optional=optional)


REQUESTS = st.one_of([_request(kind) for kind in protocol.REQUESTS])


def _well_formed(content: object) -> bool:  # noqa: PLR0911 - one return per rule
    """The protocol's TypedDicts, read independently of the handler's own check."""
    if not isinstance(content, dict) or not isinstance(content.get("type"), str):
        return False
    if content["type"] not in protocol.REQUESTS:
        return False
    schema = protocol.REQUESTS[content["type"]]
    hints = typing.get_type_hints(schema)
    if not set(schema.__required_keys__) <= set(content) <= set(hints):
        return False
    for name, value in content.items():
        expected = hints[name]
        if expected is int and (
            type(value) is not int
            or (name == "seq" and not 0 <= value < 2**53)
            or (name == "batch" and not 1 <= value <= len(protocol.REQUESTS))
        ):
            return False
        if expected is float and not (
            type(value) is int or (type(value) is float and math.isfinite(value))
        ):
            return False  # JSON numbers: an integer is a number too; NaN and Inf are not JSON
        if expected not in (int, float) and type(value) is not expected:
            return False
    return True


@settings(
    max_examples=400,
    deadline=timedelta(seconds=2),
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(content=JSON | DICTS | REQUESTS)
def test_any_message_keeps_the_widget_valid_and_is_acked(explorer, content) -> None:
    before, ack_before = view_of(explorer), explorer._ack
    explorer._error = ""
    seq = content.get("seq") if isinstance(content, dict) else None
    valid_seq = type(seq) is int and 0 <= seq < 2**53

    send(explorer, content)  # never raises

    assert_valid(explorer)
    assert explorer._ack >= ack_before
    if valid_seq:
        assert explorer._ack >= seq
    unknown_kind = (
        isinstance(content, dict)
        and isinstance(content.get("type"), str)
        and content["type"] not in protocol.REQUESTS
    )
    if unknown_kind:  # logged and ignored
        event("unknown kind")
        assert view_of(explorer) == before
        assert explorer.error == ""
    elif not _well_formed(content):  # refused, and the user is told
        event("malformed")
        assert view_of(explorer) == before
        assert explorer.error.startswith("Ignored a malformed message from the page")
    elif explorer.error:  # a well-formed request with a bad value: refused, told
        event("refused value")
        assert view_of(explorer) == before
    else:  # applied
        event(f"applied {content['type']}")
        for name in ("layer", "channel", "sample", "cmap", "norm", "compare_mode"):
            if content["type"] == "view" and name in content:
                assert getattr(explorer, name) == content[name]
        if content["type"] == "view" and "compare" in content:
            assert explorer.compare == (None if content["compare"] == -1 else content["compare"])
        if content["type"] == "filter":
            assert (explorer.filter_true, explorer.filter_predicted) == (
                content["true"],
                content["predicted"],
            )


# ----- the drawing pad: its pixels come as the message's one binary buffer --------------------
PAD = 112


def stroke_pixels(mnist_test: tuple[np.ndarray, np.ndarray], index: int) -> bytes:
    """A real test digit as the pad would send it: 112×112 grey bytes."""
    return np.kron(mnist_test[0][index], np.ones((4, 4), np.uint8)).tobytes()


def drawn_view(explorer: convscope.Explorer) -> tuple[object, ...]:
    """What the user sees of the drawing: the sample, its text, the drawn pixels, the input."""
    drawn = None if explorer.drawn is None else explorer.drawn.tobytes()
    return (
        explorer.sample,
        explorer._sample_text,
        drawn,
        explorer.panels.image_panel.pixels.tobytes(),
    )


def test_a_draw_message_shows_the_drawing_and_its_prediction(explorer, mnist_test) -> None:
    explorer.update(sample=4)
    seq = next(_SEQ)
    send(
        explorer,
        {"type": "draw", "seq": seq, "width": PAD, "height": PAD},
        [stroke_pixels(mnist_test, 7)],
    )
    assert explorer.error == ""
    assert explorer.sample == "drawn"
    label = explorer.class_names[int(mnist_test[1][7])]
    assert explorer._sample_text.startswith(f"your drawing  ·  predicted {label} (")
    assert explorer.get_state()["sample"] == "drawn"  # the page marks the pad
    assert explorer._ack >= seq
    explorer.update(sample=4)  # a thumbnail leaves the drawing
    assert explorer.sample == 4
    assert explorer.get_state()["sample"] != "drawn"


@pytest.mark.parametrize(
    ("content", "buffers", "expected"),
    [
        ({"width": PAD, "height": PAD}, [], "one binary buffer, got 0"),
        ({"width": PAD, "height": PAD}, [b"\x00" * 10, b"\x00" * 10], "one binary buffer, got 2"),
        ({"width": PAD, "height": PAD}, [b"\x00" * 100], "has 12544 bytes, got 100"),
        ({"width": 0, "height": PAD}, [b""], "1 to 1024 pixels a side, got 0×112"),
        ({"width": 5000, "height": 5000}, [b"\x00"], "1 to 1024 pixels a side"),
        ({"width": "112", "height": PAD}, [b"\x00" * PAD * PAD], "'width' must be an integer"),
        ({"height": PAD}, [b"\x00" * PAD * PAD], "'width' is missing"),
        ({"width": PAD, "height": PAD, "pixels": [0] * 9}, [], "unknown field 'pixels'"),
    ],
)
def test_a_malformed_draw_shows_a_banner_and_keeps_the_last_view(
    explorer, mnist_test, content, buffers, expected
) -> None:
    send(
        explorer,
        {"type": "draw", "seq": next(_SEQ), "width": PAD, "height": PAD},
        [stroke_pixels(mnist_test, 3)],
    )
    before = drawn_view(explorer)
    seq = next(_SEQ)
    send(explorer, {"type": "draw", "seq": seq, **content}, buffers)
    assert explorer.error.startswith("Ignored a malformed message from the page:")
    assert expected in explorer.error
    assert drawn_view(explorer) == before
    assert explorer._ack >= seq
    explorer.figure.canvas.draw()
    explorer.update(sample=4)


def test_the_newest_of_a_stroke_and_a_thumbnail_click_wins(explorer, mnist_test) -> None:
    explorer.update(sample=4)
    draw = {"type": "draw", "seq": next(_SEQ), "width": PAD, "height": PAD}
    explorer._receive(draw, [stroke_pixels(mnist_test, 1)])
    explorer._receive({"type": "view", "seq": next(_SEQ), "sample": 9})
    explorer._flush()
    assert explorer.sample == 9
    explorer._receive({"type": "view", "seq": next(_SEQ), "sample": 11})
    explorer._receive({**draw, "seq": next(_SEQ)}, [stroke_pixels(mnist_test, 1)])
    explorer._flush()
    assert explorer.sample == "drawn"
    explorer.update(sample=4)


@settings(
    max_examples=150,
    deadline=timedelta(seconds=2),
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    content=st.fixed_dictionaries(
        {"type": st.just("draw"), "seq": st.integers(0, 2**53 - 1)},
        optional={
            "width": st.just(PAD) | PLAUSIBLE["width"] | JSON,
            "height": st.just(PAD) | PLAUSIBLE["height"] | JSON,
        },
    ),
    buffers=st.lists(st.binary(max_size=64) | st.just(b"\x80" * PAD * PAD), max_size=2),
)
def test_any_draw_message_keeps_the_widget_valid_and_is_acked(explorer, content, buffers) -> None:
    explorer.update(sample=4)
    before = view_of(explorer)
    send(explorer, content, buffers)
    assert explorer._ack >= content["seq"]
    if explorer.error:
        event("refused draw")
        assert view_of(explorer) == before
    else:
        event("applied draw")
        assert explorer.sample == "drawn"
        assert explorer.drawn is not None
        assert explorer.drawn.shape == (28, 28)
    explorer.figure.canvas.draw()
    explorer.update(sample=4)


def _moves(explorer: convscope.Explorer, count: int, **steps: int) -> None:
    """``count`` ↑/↓ or PageUp/PageDown requests that all arrive before the kernel answers."""
    for _ in range(count):
        explorer._receive({"type": "move", "seq": next(_SEQ), **steps})


def test_every_press_counts_however_many_arrive_before_the_kernel_answers(explorer) -> None:
    explorer.update(layer="conv1", channel=0, view="maps", compare=-1)
    _moves(explorer, 10, channels=1)
    explorer._flush()
    assert explorer.channel == 10
    _moves(explorer, 3, channels=-1)
    explorer._flush()
    assert explorer.channel == 7
    _moves(explorer, 40, channels=1)  # conv1 has 24 channels: it stops at the last
    explorer._flush()
    assert explorer.channel == 23
    _moves(explorer, 30, channels=-1)
    explorer._flush()
    assert explorer.channel == 0
    start = explorer.layers.index("conv1")
    _moves(explorer, 3, layers=1)
    explorer._flush()
    assert explorer.layer == explorer.layers[start + 3]
    _moves(explorer, 99, layers=-1)
    explorer._flush()
    assert explorer.layer == explorer.layers[0]
    assert explorer.get_state()["layer"] == explorer.layers[0]
    assert explorer.error == ""
    explorer.update(layer="conv1", channel=0)


def test_a_position_replaces_the_steps_before_it_and_the_steps_after_it_add_up(explorer) -> None:
    explorer.update(layer="conv1", channel=0, view="maps", compare=-1)
    _moves(explorer, 5, channels=1)
    explorer._receive({"type": "view", "seq": next(_SEQ), "channel": 2})  # the slider, dragged
    _moves(explorer, 4, channels=1)
    explorer._flush()
    assert explorer.channel == 6
    explorer._receive({"type": "view", "seq": next(_SEQ), "layer": "conv2"})
    _moves(explorer, 2, channels=1, layers=1)  # conv2, then two layers on; the channel with it
    explorer._flush()
    assert explorer.layer == explorer.layers[explorer.layers.index("conv2") + 2]
    assert explorer.channel == 8
    explorer.update(layer="conv1", channel=0)


def test_a_refused_move_keeps_the_view_and_says_why(explorer) -> None:
    explorer.update(layer="conv3", channel=0, view="heatmap", compare=-1)
    before = view_of(explorer)
    _moves(explorer, 1, layers=2)  # conv3 → flatten → dense: no heatmap of a dense layer
    explorer._flush()
    assert view_of(explorer) == before
    assert explorer.get_state()["layer"] == "conv3"
    assert explorer.error
    explorer.update(layer="conv1", channel=0, view="maps", compare=-1)
