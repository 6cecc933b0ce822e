"""An open Explorer follows the model's weights: after training, ``set_weights`` or an ``assign``
the next update shows the model as it is now, equal to a fresh Explorer's and to plain Keras."""

from __future__ import annotations

import asyncio

import keras
import numpy as np
import pytest

import convscope
from convscope.engine import compiled, weights
from convscope.engine.activations import ActivationEngine
from convscope.engine.weights import WeightsWatch


def _pixels(explorer: convscope.Explorer) -> np.ndarray:
    canvas = explorer.figure.canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def _keras_row(model: keras.Model, layer: str, images: np.ndarray) -> np.ndarray:
    return keras.Model(model.inputs[0], model.get_layer(layer).output)(images).numpy()


def calls_into_tensorflow(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return a list that gets, in order from now on, ``"check"`` and ``"pass"`` per call.

    ``"check"``: a weights check of its own; ``"pass"``: a compiled pass (carrying one or not).
    """
    calls: list[str] = []
    read, checked = weights._read, compiled.CompiledPass.checked
    monkeypatch.setattr(weights, "_read", lambda fn: calls.append("check") or read(fn))
    monkeypatch.setattr(
        compiled.CompiledPass,
        "checked",
        lambda self, batch: calls.append("pass") or checked(self, batch),
    )
    return calls


@pytest.fixture(scope="module")
def split(mnist_test: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
    images, labels = mnist_test
    return images[:3000], labels[:3000], images[9000:9300], labels[9000:9300]


def test_one_epoch_of_training_under_an_open_explorer_shows_what_a_fresh_one_shows(
    split: tuple[np.ndarray, ...],
) -> None:
    train_x, train_y, images, labels = split
    model = convscope.mnist_cnn(pretrained=False)  # compiled, random weights: training moves
    explorer = convscope.Explorer(model, images, labels, figure="none", layer="conv2")
    explorer.update(sample=7, norm="fixed", channel=3)  # caches the maps and a colour scale
    explorer.sort = "confidence"
    explorer.channel_panel = True  # the data-set pass: peaks and dead channels
    before_maps = explorer.engine.activation("conv2", images[7], key=7).copy()
    before = explorer.probabilities
    model.fit(train_x[..., np.newaxis], train_y, epochs=1, batch_size=64, verbose=0)

    explorer.update(sample=7)  # the next update, to the sample seen before
    fresh = convscope.Explorer(model, images, labels, figure="none", layer="conv2")
    fresh.update(sample=7, norm="fixed", channel=3)
    fresh.sort = "confidence"
    fresh.channel_panel = True

    now = model(images[7][np.newaxis, ..., np.newaxis].astype(np.float32)).numpy()[0]
    np.testing.assert_allclose(explorer.probabilities, now, atol=1e-6)
    assert not np.allclose(before, now, atol=1e-3)  # training did change the model
    maps = explorer.engine.activation("conv2", images[7], key=7)
    np.testing.assert_allclose(maps, _keras_row(model, "conv2", images[7:8, ..., None])[0], 1e-5)
    assert not np.allclose(maps, before_maps, atol=1e-3)
    np.testing.assert_array_equal(_pixels(explorer), _pixels(fresh))
    np.testing.assert_array_equal(explorer.filtered_samples, fresh.filtered_samples)
    np.testing.assert_array_equal(explorer.channel_top, fresh.channel_top)
    predicted = model.predict(images[..., None].astype(np.float32), verbose=0).argmax(axis=1)
    explorer.filter(predicted=4)
    np.testing.assert_array_equal(
        np.sort(explorer.filtered_samples), np.flatnonzero(predicted == 4)
    )


def test_set_weights_and_assign_reach_grad_cam_and_the_cached_maps(
    split: tuple[np.ndarray, ...],
) -> None:
    _, _, images, labels = split
    model = convscope.mnist_cnn()
    explorer = convscope.Explorer(model, images[:40], labels[:40], figure="none", layer="conv3")
    explorer.update(sample=3, view="grad-cam")
    cam_before = _pixels(explorer)
    original = model.get_weights()
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in original])
    explorer.update(sample=3)
    fresh = convscope.Explorer(model, images[:40], labels[:40], figure="none", layer="conv3")
    fresh.update(sample=3, view="grad-cam")
    np.testing.assert_array_equal(_pixels(explorer), _pixels(fresh))
    assert not np.array_equal(cam_before, _pixels(explorer))
    # One assign to one variable: the cached maps of a sample seen before follow it.
    kernel = model.get_layer("conv1").kernel
    kernel.assign(kernel * 2.0)
    explorer.update(view="maps", layer="conv1")
    expected = _keras_row(model, "conv1", images[3:4, ..., None].astype(np.float32))[0]
    np.testing.assert_allclose(
        explorer.engine.activation("conv1", images[3], key=3), expected, 1e-5
    )


def test_the_engine_alone_follows_an_assign() -> None:
    model = convscope.mnist_cnn()
    engine = ActivationEngine(model)
    image = np.full((28, 28), 100.0, np.float32)
    first = engine.activation("conv1", image, key="a").copy()
    bias = model.get_layer("conv1").bias
    bias.assign(bias + 3.0)
    now = engine.activation("conv1", image, key="a")
    expected = _keras_row(model, "conv1", image[np.newaxis, ..., np.newaxis])[0]
    np.testing.assert_allclose(now, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(now, first, atol=1.0)
    bias.assign(bias - 3.0)  # back to the weights of the first look: its entry serves again
    np.testing.assert_allclose(engine.activation("conv1", image, key="a"), first, atol=1e-5)


def test_the_cheap_tier_sees_every_change_within_one_round_of_slices() -> None:
    model = convscope.mnist_cnn()
    watch = WeightsWatch(model, slice_size=20_000)  # several slices, as on a large model
    slices = watch.slice_count
    assert slices > 2
    watch.version()
    assert not any(watch.changed() for _ in range(slices))
    last = model.weights[-1]
    last.assign(last + np.float32(1e-3))  # one variable of the last slice
    seen = [watch.changed() for _ in range(slices)]
    assert any(seen)
    watch.version()
    model.optimizer.iterations.assign_add(1)  # what every training step does
    assert watch.changed()


def test_a_change_made_while_idle_is_shown_without_a_request(
    split: tuple[np.ndarray, ...],
) -> None:
    _, _, images, labels = split
    model = convscope.mnist_cnn()

    async def scenario() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        explorer = convscope.Explorer(model, images[:30], labels[:30], figure="none")
        explorer.update(sample=2)  # in the kernel's event loop: the idle check is armed
        before = explorer.probabilities
        last = model.get_layer("predictions").bias
        last.assign(last + np.eye(10, dtype=np.float32)[0] * 30.0)  # class 0 wins now
        await asyncio.sleep(1.8)  # no request: the idle check alone
        return before, explorer.probabilities, explorer._samples.picker.probabilities

    before, shown, picker = asyncio.run(scenario())
    now = model.predict(images[:30, ..., None].astype(np.float32), verbose=0)
    np.testing.assert_allclose(shown, now[2], atol=1e-6)
    np.testing.assert_allclose(picker, now, atol=1e-6)  # the thumbnails' predictions too
    assert not np.allclose(before, shown, atol=1e-3)


def test_what_is_kept_for_live_weights_stays_bounded(split: tuple[np.ndarray, ...]) -> None:
    _, _, images, labels = split
    model = convscope.mnist_cnn()
    explorer = convscope.Explorer(model, images[:30], labels[:30], figure="none", layer="conv1")
    explorer.update(norm="fixed")
    explorer.channel_panel = True
    bias = model.get_layer("conv1").bias
    for step in range(6):  # six training steps, an update after each
        bias.assign(bias + 0.01)
        explorer.update(sample=step)
        explorer.channel_panel = True
    controller = explorer._controller
    # The weights it opened on and the weights of now; none of the five in between.
    assert len(controller.classes.kept) == 2
    assert len(controller.stats.ranges) == 2
    expected = keras.Model(model.inputs[0], model.get_layer("conv1").output)(
        images[5:6, ..., None].astype(np.float32)
    ).numpy()[0]
    np.testing.assert_allclose(
        explorer.engine.activation("conv1", images[5], key=5), expected, 1e-5
    )


def test_a_jump_checks_the_weights_in_its_own_pass_and_keeps_nothing_of_other_weights(
    split: tuple[np.ndarray, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A jump to a sample not cached is one call into TensorFlow: the pass carries the check.

    A pass whose own look shows weights changed since the last update is dropped, never cached
    under the old weights' tag: putting those weights back must show their maps, not the maps
    that pass computed. Through ``update`` and through the page's request alike.
    """
    _, _, images, labels = split
    model = convscope.mnist_cnn()
    explorer = convscope.Explorer(model, images, labels, figure="png", layer="conv2")
    explorer._on_frontend_message(explorer, {"type": "frame", "seq": 1}, [])  # a page opens
    for sample in (1, 2, 3):  # a scrub: conv2's pass gets compiled
        explorer.sample = sample
    explorer.engine.wait_compiled()
    calls = calls_into_tensorflow(monkeypatch)

    def jump(sample: int, seq: int) -> None:
        if seq:  # a thumbnail click
            message = {"type": "view", "sample": sample, "seq": seq}
            explorer._on_frontend_message(explorer, message, [])
        else:
            explorer.sample = sample
        assert explorer.sample == sample
        maps = explorer.engine.activation("conv2", images[sample], key=sample)
        expected = _keras_row(model, "conv2", images[sample : sample + 1, ..., None])[0]
        np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-4)

    original = model.get_weights()
    # Other weights and back: the cache's tag is now that of these weights' version (the
    # Explorer's first weights keep a tag of their own, never taken again), which a pass
    # wrongly kept under it would reach.
    model.set_weights([weight * 1.5 for weight in original])
    explorer.sample = 4
    model.set_weights(original)
    explorer.sample = 5
    for seq, (sample, other) in enumerate(((120, 140), (220, 240)), start=0):
        calls.clear()
        jump(sample, seq and seq + 1)
        assert calls == ["pass"]  # the check came with the pass: one call
        model.set_weights([weight * 1.5 for weight in original])
        calls.clear()
        jump(other, seq and seq + 2)  # its pass sees the change: dropped, checked, run again
        assert calls[0] == "pass"
        assert "check" in calls
        assert calls[-1] == "pass"
        model.set_weights(original)
        jump(other, seq and seq + 3)  # the first weights again: their own maps of `other`


def test_the_page_s_arrow_and_page_keys_check_the_weights_in_their_own_pass(
    split: tuple[np.ndarray, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """→, PageDown and ↑ from the page: one call into TensorFlow each, and Keras's maps.

    → to a digit not cached and PageDown to a layer it has not computed need a pass, which
    carries the check; ↑ recolours maps already computed, so the check runs alone.
    """
    _, _, images, labels = split
    model = convscope.mnist_cnn()
    explorer = convscope.Explorer(model, images, labels, figure="png", layer="conv2")
    explorer._on_frontend_message(explorer, {"type": "frame", "seq": 1}, [])  # a page opens
    deeper = explorer.layers[explorer.layers.index("conv2") + 1]
    for layer, samples in (("conv2", (10, 20, 30)), (deeper, (40, 50, 60))):
        for sample in samples:  # jumps to new digits: each layer's one-row pass gets compiled
            explorer.update(layer=layer, sample=sample)
    explorer.engine.wait_compiled()
    explorer.update(layer="conv2", sample=200)
    calls = calls_into_tensorflow(monkeypatch)
    for seq, (message, expected) in enumerate(
        [
            ({"type": "step", "delta": 1}, ("conv2", 201, 0, ["pass"])),
            ({"type": "move", "layers": 1, "channels": 0}, (deeper, 201, 0, ["pass"])),
            ({"type": "move", "layers": 0, "channels": 1}, (deeper, 201, 1, ["check"])),
        ],
        start=2,
    ):
        calls.clear()
        explorer._on_frontend_message(explorer, {**message, "seq": seq}, [])
        assert (explorer.layer, explorer.sample, explorer.channel, calls) == expected, message
        maps = explorer.engine.activation(explorer.layer, images[201], key=201)
        keras_maps = _keras_row(model, explorer.layer, images[201:202, ..., None])[0]
        np.testing.assert_allclose(maps, keras_maps, rtol=1e-5, atol=1e-4)


def test_a_model_compiled_after_the_explorer_opened_wastes_no_pass(
    split: tuple[np.ndarray, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass traced before ``compile`` reads the old optimizer's step counter: never run ahead.

    It could never vouch for the weights once the new optimizer steps, so every jump would pay
    a pass, the check and the pass again. It takes the check and one pass, as before passes
    carried the check, and shows Keras's maps.
    """
    train_x, train_y, images, labels = split
    model = convscope.mnist_cnn()
    explorer = convscope.Explorer(model, images, labels, figure="none", layer="conv2")
    for sample in (1, 2, 3):  # a scrub: conv2's pass gets compiled, carrying the check
        explorer.sample = sample
    explorer.engine.wait_compiled()
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy")
    model.fit(train_x[:64, ..., None], train_y[:64], epochs=1, batch_size=32, verbose=0)
    calls = calls_into_tensorflow(monkeypatch)
    for sample in (150, 250):
        calls.clear()
        explorer.sample = sample
        assert calls == ["check", "pass"]
        maps = explorer.engine.activation("conv2", images[sample], key=sample)
        expected = _keras_row(model, "conv2", images[sample : sample + 1, ..., None])[0]
        np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-4)
