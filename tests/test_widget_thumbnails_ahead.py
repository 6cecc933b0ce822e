"""The page of thumbnails, made ready while idle: a click on one reads the cache, never old weights.

Once the kernel is idle after a view or a page of thumbnails, the layer in view is computed for
the page's samples in one batch (``Publisher.thumbnails_when_idle``). A click on a thumbnail then
runs no pass of its own, and shows what plain Keras computes for that digit, with the weights the
model has at the click, even when they changed behind the Explorer's back while it was idle.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import keras
import numpy as np
import pytest

import convscope
from convscope.engine import compiled
from convscope.widget import publisher as publishing
from convscope.widget.previews import IDLE_S
from convscope.widget.publisher import READY_CHUNK

PAGE = 60  # samples 2880-2927: none of them seen before


@pytest.fixture
def explorer(mnist_test: tuple[np.ndarray, np.ndarray]) -> Iterator[convscope.Explorer]:
    """An Explorer on conv2 of its own model (the tests change its weights), page open."""
    images, labels = mnist_test
    explorer = convscope.Explorer(convscope.mnist_cnn(), images, labels, figure="png")
    explorer._on_frontend_message(explorer, {"type": "frame", "seq": 1}, [])  # a page opens
    explorer.layer = "conv2"
    for sample in (1, 2, 3):  # a scrub: conv2's pass gets compiled
        explorer.sample = sample
    explorer.engine.wait_compiled()
    explorer.page = PAGE
    yield explorer
    explorer.close()


def idle(explorer: convscope.Explorer) -> None:
    """Let the kernel be idle after its last view: its turns, called here one after another.

    A script has no event loop to run them later.
    """
    time.sleep(IDLE_S)
    for _ in range(-(-48 // READY_CHUNK)):
        explorer._publisher.thumbnails_when_idle()


def page_samples(explorer: convscope.Explorer, page: int = PAGE) -> list[int]:
    samples = [entry["index"] for entry in explorer._thumb_meta]
    assert samples == list(range(page * 48, page * 48 + 48))
    return samples


def keras_maps(model: keras.Model, image: np.ndarray) -> np.ndarray:
    extractor = keras.Model(model.inputs[0], model.get_layer("conv2").output)
    return np.asarray(extractor(image[np.newaxis, ..., np.newaxis].astype(np.float32)))[0]


def click(explorer: convscope.Explorer, sample: int, seq: int) -> None:
    explorer._on_frontend_message(explorer, {"type": "view", "sample": sample, "seq": seq}, [])


def test_a_click_on_a_thumbnail_made_ready_runs_no_pass_and_shows_keras_maps(
    explorer: convscope.Explorer,
    mnist_test: tuple[np.ndarray, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    samples, engine = page_samples(explorer), explorer.engine
    assert not any(engine.is_cached("conv2", sample) for sample in samples)
    idle(explorer)
    assert all(engine.is_cached("conv2", sample) for sample in samples)
    passes: list[int] = []  # compiled (with the weights' check or not) and eager alike
    checked, eager = compiled.CompiledPass.checked, compiled._eager
    monkeypatch.setattr(
        compiled.CompiledPass,
        "checked",
        lambda self, batch: passes.append(1) or checked(self, batch),
    )
    monkeypatch.setattr(
        compiled, "_eager", lambda forward, batch: passes.append(1) or eager(forward, batch)
    )
    for seq, sample in enumerate((samples[17], samples[40], samples[3]), start=2):
        click(explorer, sample, seq)
        assert explorer.sample == sample
        assert explorer._sample_text.startswith(f"sample {sample} ")
        shown = explorer._controller._maps("conv2", sample)
        expected = keras_maps(engine.model, mnist_test[0][sample])
        np.testing.assert_allclose(shown.reshape(expected.shape), expected, rtol=1e-5, atol=1e-4)
    assert passes == []  # every click read the cache


def test_weights_changed_while_idle_are_never_cached_as_the_old_ones(
    explorer: convscope.Explorer, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    """``set_weights`` in a cell, no request since: the idle pass must not run on them.

    Were it cached under the weights of the last update, putting those weights back would
    serve the other weights' maps for them.
    """
    samples, model = page_samples(explorer), explorer.engine.model
    before = model.get_weights()
    model.set_weights([weight * 1.5 for weight in before])
    idle(explorer)
    assert not any(explorer.engine.is_cached("conv2", sample) for sample in samples)
    model.set_weights(before)
    click(explorer, samples[5], 2)
    shown = explorer._controller._maps("conv2", samples[5])
    expected = keras_maps(model, mnist_test[0][samples[5]])
    np.testing.assert_allclose(shown.reshape(expected.shape), expected, rtol=1e-5, atol=1e-4)


def test_nothing_is_made_ready_where_a_click_needs_more_than_the_maps(
    explorer: convscope.Explorer,
) -> None:
    """Grad-CAM needs gradients and comparing a second input: the page is left alone."""
    samples = page_samples(explorer)
    for changes in ({"view": "grad-cam"}, {"view": "maps", "compare": 7}):
        explorer.update(**changes)
        idle(explorer)
        assert not any(explorer.engine.is_cached("conv2", sample) for sample in samples)


def test_move_previews_never_run_on_weights_changed_since_the_frame(
    mnist_test: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for the move previews, which compute every layer of the input while idle.

    Before, they ran on the new weights and cached them as the frame's: after ``set_weights``
    back, conv3 showed maps 17 away from Keras's (on a scale of 7).
    """
    images, labels = mnist_test
    model = convscope.mnist_cnn()
    explorer = convscope.Explorer(model, images, labels, figure="png", layer="conv1")
    explorer._on_frontend_message(explorer, {"type": "frame", "seq": 1}, [])
    monkeypatch.setattr(explorer, "send", lambda _content, _buffers: None, raising=False)
    for sample in (1, 2, 3):  # a scrub: conv1's pass gets compiled
        explorer.sample = sample
    explorer.engine.wait_compiled()
    explorer.sample = 4321  # past the first look: the pass computes conv1 alone
    assert not explorer.engine.is_cached("conv3", 4321)
    before = model.get_weights()
    model.set_weights([weight * 1.5 for weight in before])
    time.sleep(IDLE_S)
    publisher = explorer._publisher
    publisher.sweep_when_idle()
    for _ in range(len(explorer.layers) + 2):
        publisher.moves_ahead(publisher.frame_id)
    model.set_weights(before)
    explorer._on_frontend_message(explorer, {"type": "view", "layer": "conv3", "seq": 2}, [])
    extractor = keras.Model(model.inputs[0], model.get_layer("conv3").output)
    expected = np.asarray(extractor(images[4321][np.newaxis, ..., np.newaxis].astype("float32")))
    shown = explorer._controller._maps("conv3", 4321)
    np.testing.assert_allclose(shown.reshape(expected.shape[1:]), expected[0], rtol=1e-5, atol=1e-4)
    explorer.close()


def test_a_layer_too_slow_to_make_ready_in_a_turn_is_left_alone(
    explorer: convscope.Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large model's chunk would keep a click waiting: after one, that layer gets no more."""
    monkeypatch.setattr(publishing, "MOVE_TURN_S", 0.0)  # every chunk is too slow
    samples, engine = page_samples(explorer), explorer.engine
    idle(explorer)
    assert sum(engine.is_cached("conv2", sample) for sample in samples) == READY_CHUNK
    explorer.page = PAGE + 1
    idle(explorer)
    assert not any(engine.is_cached("conv2", sample) for sample in page_samples(explorer, PAGE + 1))
