"""The channel panel, the sample orders and the confusion matrix, against numpy references.

All on 1,000 real MNIST test digits and the bundled CNN.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import convscope
from convscope.engine import insight as engine_insight
from convscope.engine.pass_memo import PASS_MEMO
from convscope.errors import IndexOutOfRangeError, InvalidArgumentError, LabelError
from convscope.render.compose import grid_columns

SAMPLES = 1000


@pytest.fixture(scope="module")
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    images, labels = mnist_test
    return convscope.Explorer(model, images[:SAMPLES], labels[:SAMPLES], figure="none")


@pytest.fixture(scope="module")
def probabilities(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return np.asarray(model.predict(mnist_test[0][:SAMPLES], verbose=0))


@pytest.fixture(scope="module")
def conv2_peaks(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Each digit's maximum of each conv2 channel, brute force with a plain Keras model."""
    conv2 = keras.Model(model.inputs, model.get_layer("conv2").output)
    return np.asarray(conv2.predict(mnist_test[0][:SAMPLES], verbose=0)).max(axis=(1, 2))


@pytest.fixture(autouse=True)
def _reset(explorer: convscope.Explorer) -> None:
    explorer.filter()
    explorer.sort = "index"
    explorer.channel_panel = False
    explorer.update(layer="conv2", channel=0, sample=0)


def test_channel_panel_shows_the_strongest_samples_and_whether_it_fires(
    explorer: convscope.Explorer, conv2_peaks: np.ndarray
) -> None:
    assert len(explorer.channel_top) == 0  # closed: nothing computed
    explorer.update(channel=4)
    explorer.channel_panel = True
    expected = np.argsort(-conv2_peaks[:, 4], kind="stable")[:9]
    np.testing.assert_array_equal(explorer.channel_top, expected)
    peaks = [meta["peak"] for meta in explorer._panel_meta]
    np.testing.assert_allclose(peaks, conv2_peaks[expected, 4], rtol=1e-4, atol=1e-4)
    active = np.mean(conv2_peaks[:, 4] > 0)
    assert f"fires on {active:.1%} of 1,000 samples" in explorer._panel_text
    assert len(explorer._panel_thumbs) == 9 * 28 * 28  # their thumbnails go to the page

    explorer.channel = 9  # it follows the channel
    np.testing.assert_array_equal(
        explorer.channel_top, np.argsort(-conv2_peaks[:, 9], kind="stable")[:9]
    )
    # A click on one of them shows it (as the page sends it).
    explorer._on_frontend_message(
        explorer, {"type": "view", "sample": int(explorer.channel_top[2]), "seq": 10**9}, []
    )
    assert explorer.sample == explorer.channel_top[2]


def test_the_channel_panel_reports_its_progress_in_the_status_line(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    PASS_MEMO.clear()  # a pass of another test on these digits would leave nothing to report
    ex = convscope.Explorer(model, mnist_test[0][:300], figure="none", layer="conv3")
    ex.channel = 7
    sent: list[str] = []
    send_state = ex.send_state

    def record(key: object = None) -> None:  # what reaches the page, as it is sent
        if key == "_status":
            sent.append(ex.status)
        send_state(key)

    monkeypatch.setattr(ex, "send_state", record)
    ex.channel_panel = True
    # one line per compiled call of 256 images, sent at once while the pass runs, not only at
    # its end
    assert sent == [f"peaks of conv3: {done}/300 images" for done in (256, 300)]
    assert ex.status == ""  # cleared once the panel is filled
    assert len(ex.channel_top) == 9
    sent.clear()
    ex.channel = 8  # the layer's peaks are known: no second pass
    assert sent == []


def test_the_panel_and_the_static_api_share_one_pass(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    PASS_MEMO.clear()
    images = mnist_test[0][:400]
    passes: list[str] = []
    run_pass = engine_insight.run_pass

    def spy(engine: object, infos: tuple[object, ...], *args: object, **options: object) -> object:
        passes.extend(info.name for info in infos)  # type: ignore[attr-defined]
        return run_pass(engine, infos, *args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_insight, "run_pass", spy)
    dead = convscope.dead_channels(model, images, ["conv2"], progress=False)
    ex = convscope.Explorer(model, images, figure="none", layer="conv2")
    ex.channel = 6
    ex.channel_panel = True  # conv2 was passed by dead_channels: no new pass
    ex.sort = "activation"
    assert passes == ["conv2"]
    np.testing.assert_array_equal(
        explorer_top := ex.channel_top, convscope.top_images(model, images, "conv2", 6)
    )
    assert ex.filtered_samples[:9].tolist() == explorer_top.tolist()
    assert np.flatnonzero(ex._controller.stats.dead_channels("conv2")).tolist() == dead["conv2"]
    ex.layer = "conv3"  # a layer not passed yet: the Explorer's pass serves the static API
    ex.update(channel=2)
    assert passes == ["conv2", "conv3"]
    convscope.top_images(model, images, "conv3", 40, progress=False)
    assert passes == ["conv2", "conv3"]


def test_dead_channels_are_crossed_out_once_known(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    # A copy of the CNN with two conv1 channels killed: zero kernel, negative bias.
    dead_model = keras.models.clone_model(model)
    dead_model.set_weights(model.get_weights())
    kernel, bias = dead_model.get_layer("conv1").get_weights()
    kernel[..., [3, 17]] = 0.0
    bias[[3, 17]] = -1.0
    dead_model.get_layer("conv1").set_weights([kernel, bias])
    ex = convscope.Explorer(dead_model, mnist_test[0][:200], figure="none", layer="conv1")
    ex.channel = 5
    before = ex.panels.grid_panel.pixels.copy()
    ex.channel_panel = True
    after = ex.panels.grid_panel.pixels
    np.testing.assert_array_equal(
        np.flatnonzero(ex._controller.stats.dead_channels("conv1")), [3, 17]
    )
    changed = np.argwhere((before != after).any(axis=-1))
    columns, gap = grid_columns(24), max(1, 28 // 14)
    pitch = 28 + gap
    cells = {int(y // pitch * columns + x // pitch) for y, x in changed}
    assert cells == {3, 17}  # the crosses, on those two cells only
    assert len(changed) > 2 * 28  # both diagonals of each
    ex.channel = 3
    assert "DEAD, off or constant on every sample" in ex._panel_text
    assert "fires on 0.0%" in ex._panel_text


def test_confidence_and_loss_put_the_doubtful_and_the_wrong_first(
    explorer: convscope.Explorer,
    probabilities: np.ndarray,
    mnist_test: tuple[np.ndarray, np.ndarray],
) -> None:
    labels = mnist_test[1][:SAMPLES]
    explorer.sort = "confidence"
    order = explorer.filtered_samples
    np.testing.assert_allclose(
        probabilities.max(axis=1)[order[:20]], np.sort(probabilities.max(axis=1))[:20], atol=1e-4
    )
    assert explorer.page == 0
    assert explorer._thumb_meta[0]["index"] == order[0]  # the page shows the new order

    explorer.sort = "loss"
    order = explorer.filtered_samples
    loss = -np.log(np.maximum(probabilities[np.arange(SAMPLES), labels], 1e-30))
    np.testing.assert_allclose(loss[order[:20]], np.sort(loss)[::-1][:20], rtol=1e-3)
    assert labels[order[0]] != probabilities[order[0]].argmax()  # the worst loss is a mistake

    # ← and → follow the order, from the sample in view's place in it.
    explorer.sample = int(order[5])
    explorer._input.on_key(type("Key", (), {"key": "right"})())
    assert explorer.sample == order[6]


def test_activation_order_is_the_channels_peak_and_follows_the_channel(
    explorer: convscope.Explorer, model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    conv2 = keras.Model(model.inputs, model.get_layer("conv2").output)
    peaks = np.asarray(conv2.predict(mnist_test[0][:SAMPLES], verbose=0)).max(axis=(1, 2))
    explorer.update(channel=7)
    explorer.sort = "activation"
    np.testing.assert_array_equal(
        explorer.filtered_samples, np.argsort(-peaks[:, 7], kind="stable")
    )
    explorer.channel = 11  # the order of the new channel
    np.testing.assert_array_equal(
        explorer.filtered_samples, np.argsort(-peaks[:, 11], kind="stable")
    )
    explorer.filter(true=3)  # a filter keeps the order within the samples that pass
    threes = np.flatnonzero(mnist_test[1][:SAMPLES] == 3)
    expected = threes[np.argsort(-peaks[threes, 11], kind="stable")]
    np.testing.assert_array_equal(explorer.filtered_samples, expected)


def test_confusion_matrix_counts_every_pair(
    explorer: convscope.Explorer,
    probabilities: np.ndarray,
    mnist_test: tuple[np.ndarray, np.ndarray],
) -> None:
    labels = mnist_test[1][:SAMPLES]
    predicted = probabilities.argmax(axis=1)
    counts = np.asarray(explorer._confusion)
    assert counts.shape == (10, 10)
    assert counts.sum() == SAMPLES
    for true, guess in [(3, 3), (4, 9), (7, 2)]:
        assert counts[true, guess] == np.sum((labels == true) & (predicted == guess))


def test_bad_orders_name_the_fix_and_change_nothing(
    explorer: convscope.Explorer, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    explorer.sort = "confidence"
    before = explorer.filtered_samples
    with pytest.raises(InvalidArgumentError, match="choose one of 'index', 'confidence'"):
        explorer.sort = "random"
    assert explorer.sort == "confidence"
    np.testing.assert_array_equal(explorer.filtered_samples, before)

    unlabelled = convscope.Explorer(images=mnist_test[0][:50], figure="none")
    assert unlabelled.sorts == ["index", "confidence", "activation"]
    with pytest.raises(LabelError, match="Sorting by loss needs labels"):
        unlabelled.sort = "loss"
    assert unlabelled.sort == "index"


def test_the_epoch_replays_the_training_in_the_explorer(
    mnist_test: tuple[np.ndarray, np.ndarray],
) -> None:
    images, labels = mnist_test[0][:300], mnist_test[1][:300]
    ex = convscope.Explorer(convscope.mnist_training_run(), images, labels, figure="none")
    assert ex.epochs == [0, 1, 2, 3, 5, 8, 12, 20, 30]
    assert ex.epoch == 30
    trained = (np.trace(ex._confusion), ex.panels.grid_panel.pixels.copy())
    ex.epoch = 0
    assert np.trace(ex._confusion) < 0.3 * trained[0]  # near chance before training
    assert not np.array_equal(ex.panels.grid_panel.pixels, trained[1])
    assert {meta["predicted"] for meta in ex._thumb_meta} != set(labels[:48].tolist())
    ex.epoch = 30
    assert np.trace(ex._confusion) == trained[0]
    np.testing.assert_array_equal(ex.panels.grid_panel.pixels, trained[1])
    with pytest.raises(
        IndexOutOfRangeError, match=r"keeps epochs \[0, 1, 2, 3, 5, 8, 12, 20, 30\]"
    ):
        ex.epoch = 4
    assert ex.epoch == 30
    plain = convscope.Explorer(images=images, figure="none")
    assert plain.epoch is None
    assert plain.epochs == []
    with pytest.raises(LabelError, match="no training run"):
        plain.epoch = 3
