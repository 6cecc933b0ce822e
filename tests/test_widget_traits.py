"""The user's view state as public traits: observed, linked, validated, embedded, in marimo.

Each trait is a promise: setting it does what its control does, ``observe`` fires whichever side
changed it, ``ipywidgets.link`` and ``jslink`` work, and a bad value changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets
import keras
import marimo
import numpy as np
import pytest
from ipywidgets.embed import embed_minimal_html

import convscope
from convscope.errors import ArgumentTypeError, IndexOutOfRangeError, LabelError, UnknownLayerError
from convscope.widget import protocol

SAMPLES = 300


@pytest.fixture(scope="module")
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    images, labels = mnist_test
    return convscope.Explorer(model, images[:SAMPLES], labels[:SAMPLES], figure="png")


@pytest.fixture(autouse=True)
def _reset(explorer: convscope.Explorer) -> None:
    explorer.filter()
    explorer.update(layer="conv1", channel=0, sample=0, compare=-1, view="maps")
    explorer.page = 0
    explorer._error = ""


def from_the_page(explorer: convscope.Explorer, **state: object) -> list[dict[str, object]]:
    """Deliver ``state`` as the page's model sends it (``jslink``, a host's own binding).

    Returns the messages the Explorer sent back, through the comm's one message handler.
    """
    sent: list[dict[str, object]] = []
    original = explorer._send
    explorer._send = lambda message, buffers=None: sent.append(message)  # type: ignore[method-assign]  # noqa: ARG005
    try:
        data = {"method": "update", "state": state, "buffer_paths": []}
        message = {"content": {"data": data}, "buffers": []}
        explorer._handle_msg(message)
    finally:
        del explorer._send
    assert explorer._send == original
    return sent


def test_observe_fires_for_changes_from_python_and_from_the_page(
    explorer: convscope.Explorer,
) -> None:
    seen: list[tuple[str, object, object]] = []
    explorer.observe(lambda change: seen.append((change.name, change.old, change.new)), "sample")
    explorer.sample = 5  # from Python
    explorer._on_frontend_message(explorer, {"type": "step", "seq": 10**6, "delta": 1}, [])
    explorer._flush()  # from the page's → key
    from_the_page(explorer, sample=9)  # from the page's model
    assert seen == [("sample", 0, 5), ("sample", 5, 6), ("sample", 6, 9)]
    assert explorer.panels.image_panel.pixels is not None
    np.testing.assert_array_equal(
        explorer.panels.image_panel.pixels[..., 0], explorer._controller.display_images[9]
    )


def test_a_bad_value_raises_the_same_error_and_changes_nothing(
    explorer: convscope.Explorer,
) -> None:
    seen: list[str] = []
    explorer.observe(lambda change: seen.append(change.name), list(protocol.USER_TRAITS))
    before = {name: getattr(explorer, name) for name in protocol.USER_TRAITS}
    frame = explorer._figure_frame
    refused = [
        ("layer", "conv9", UnknownLayerError, "conv9"),
        ("channel", 999, IndexOutOfRangeError, "channel 999 is out of range"),
        ("channel", None, ArgumentTypeError, "channel cannot be None"),
        ("sample", SAMPLES, IndexOutOfRangeError, "sample"),
        ("page", 99, IndexOutOfRangeError, "page"),
        ("filter_true", "cat", LabelError, "Unknown class 'cat'"),
        ("epoch", 3, LabelError, "no training run"),
    ]
    for name, value, error, words in refused:
        with pytest.raises(error, match=words):
            setattr(explorer, name, value)
    assert {name: getattr(explorer, name) for name in protocol.USER_TRAITS} == before
    assert seen == []
    assert explorer._figure_frame == frame


def test_a_bad_value_from_the_page_shows_in_the_banner_and_the_page_gets_the_kept_one(
    explorer: convscope.Explorer,
) -> None:
    explorer.channel = 3
    sent = from_the_page(explorer, channel=400)
    assert explorer.channel == 3
    assert explorer.error.startswith("IndexOutOfRangeError: channel 400 is out of range")
    states = [message["state"] for message in sent if message["method"] == "update"]
    assert {"channel": 3} in [{k: v for k, v in s.items() if k == "channel"} for s in states]


def test_a_value_from_the_page_is_applied_and_echoed(explorer: convscope.Explorer) -> None:
    sent = from_the_page(explorer, layer="conv2", channel=5)
    assert (explorer.layer, explorer.channel, explorer.error) == ("conv2", 5, "")
    assert explorer._channel_count == 48  # the page's own traits follow
    echo = [message for message in sent if message["method"] == "echo_update"]
    assert [message["state"] for message in echo] == [{"layer": "conv2", "channel": 5}]


def test_link_with_an_int_slider_goes_both_ways(explorer: convscope.Explorer) -> None:
    slider = ipywidgets.IntSlider(0, max=SAMPLES - 1)
    link = ipywidgets.link((slider, "value"), (explorer, "sample"))
    try:
        slider.value = 17
        assert explorer.sample == 17
        assert explorer._sample_text.startswith("sample 17  ·  label ")
        explorer.sample = 42
        assert slider.value == 42
    finally:
        link.unlink()


def test_jslink_with_an_int_slider_is_honoured_by_the_kernel(
    explorer: convscope.Explorer,
) -> None:
    # jslink binds the two models in the page; the kernel hears the Explorer's model change.
    slider = ipywidgets.IntSlider(0, max=47)
    link = ipywidgets.jslink((slider, "value"), (explorer, "channel"))
    assert (link.source, link.target) == ((slider, "value"), (explorer, "channel"))
    explorer.layer = "conv2"
    from_the_page(explorer, channel=30)  # what the page's model sends when the slider moves
    assert explorer.channel == 30
    assert explorer.panels.channel_panel.pixels is not None
    with pytest.raises(TypeError, match="No such trait"):
        ipywidgets.jslink((slider, "value"), (explorer, "_cmap"))  # the old private name


def test_the_filter_traits_filter(explorer: convscope.Explorer) -> None:
    explorer.filter_true = "3"
    assert explorer.filter_true == 3  # a class name becomes its index
    labels = explorer._controller.labels
    assert labels is not None
    assert set(labels[explorer.filtered_samples].tolist()) == {3}
    explorer.misclassified_only = True
    assert explorer.misclassified_only
    assert explorer.filter_true == 3


def test_embedding_writes_a_page_with_the_users_state(
    explorer: convscope.Explorer, tmp_path: Path
) -> None:
    explorer.update(layer="conv2", channel=4)
    target = tmp_path / "explorer.html"
    embed_minimal_html(target, views=[explorer], title="convscope")
    text = target.read_text()
    assert '"layer": "conv2"' in text or '"layer":"conv2"' in text
    assert explorer.get_state(drop_defaults=True)["channel"] == 4


def test_marimo_sees_the_users_state(explorer: convscope.Explorer) -> None:
    wrapped = marimo.ui.anywidget(explorer)
    explorer.update(layer="conv3", sample=7)
    value = wrapped.value
    assert (value["layer"], value["sample"]) == ("conv3", 7)
    assert set(protocol.USER_TRAITS) <= set(value)
    # Outside a marimo kernel the page does not write its acks back (test_browser_marimo_wrapped
    # shows a marimo cell following the widget's own moves).
    assert explorer.get_state()["_echo_acks"] is False
