"""Data-set passes: one pass reused, its memo's rules, streams in constant memory, interrupts.

On real MNIST test digits and the bundled CNN; every summary is checked against a plain Keras
model's activations.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import convscope
from convscope.engine import insight as engine_insight
from convscope.engine.activations import ActivationEngine, engine_for
from convscope.engine.pass_memo import PASS_MEMO, PassMemo, content_checksum, data_key
from convscope.engine.passes import JOIN_BYTES
from convscope.errors import ArgumentTypeError, InvalidArgumentError

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = 2000
CHANNELS = {"conv1": 24, "conv2": 48, "conv3": 64}


@pytest.fixture(scope="module")
def digits(mnist_test: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """2,000 test digits with a few repeated, so that some peaks tie."""
    images = mnist_test[0][:SAMPLES].copy()
    images[[1500, 1700, 1999]] = images[7]
    return images


def brute_peaks(model: keras.Model, images: np.ndarray, layer: str) -> np.ndarray:
    """Each image's spatial maximum of each channel, from a plain Keras model."""
    probe = keras.Model(model.inputs, model.get_layer(layer).output)
    return np.asarray(probe.predict(images, batch_size=500, verbose=0)).max(axis=(1, 2))


def brute_top(peaks: np.ndarray, channel: int, k: int = 9) -> np.ndarray:
    return np.argsort(-peaks[:, channel], kind="stable")[:k]


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The layers of every pass that runs (a clean memo to start with)."""
    PASS_MEMO.clear()
    seen: list[tuple[str, ...]] = []
    run_pass = engine_insight.run_pass

    def spy(engine: object, infos: tuple[object, ...], *args: object, **options: object) -> object:
        seen.append(tuple(info.name for info in infos))  # type: ignore[attr-defined]
        return run_pass(engine, infos, *args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_insight, "run_pass", spy)
    return seen


def test_a_loop_of_top_images_over_every_channel_costs_one_pass_per_layer(
    model: keras.Model, digits: np.ndarray, passes: list[tuple[str, ...]]
) -> None:
    for layer, channels in CHANNELS.items():
        peaks = brute_peaks(model, digits, layer)
        for channel in range(channels):
            top = convscope.top_images(model, digits, layer, channel, progress=False)
            assert top.tolist() == brute_top(peaks, channel).tolist(), (layer, channel)
    assert passes == [("conv1",), ("conv2",), ("conv3",)]
    # the statistics and the dead channels of those layers are already known: no pass
    stats = convscope.channel_stats(model, digits, "conv2", progress=False)
    assert stats.peaks is not None
    assert stats.peaks.shape == (SAMPLES, 48)
    dead = convscope.dead_channels(model, digits, ["conv1", "pool1", "conv3"], progress=False)
    assert passes[3:] == [("pool1",)]  # only the layer not seen yet
    assert dead["conv3"] == np.flatnonzero(brute_peaks(model, digits, "conv3").max(0) <= 0).tolist()


def test_the_memo_follows_the_weights_and_the_arrays_content(
    model: keras.Model, digits: np.ndarray, passes: list[tuple[str, ...]]
) -> None:
    changed = keras.models.clone_model(model)
    changed.set_weights(model.get_weights())
    images = digits[:500].copy()
    before = convscope.top_images(changed, images, "conv2", 3, progress=False)
    kernel, bias = changed.get_layer("conv2").get_weights()
    kernel[..., 3], bias[3] = 0.0, -1.0  # channel 3 dies
    changed.get_layer("conv2").set_weights([kernel, bias])
    dead_before = np.flatnonzero(brute_peaks(model, images, "conv2").max(axis=0) <= 0).tolist()
    assert 3 not in dead_before
    found = convscope.dead_channels(changed, images, "conv2", progress=False)["conv2"]
    assert found == sorted([*dead_before, 3])
    assert len(passes) == 2  # the new weights got a new pass
    # In place: a shuffle, then one pixel. Each is a new data set, with its own pass.
    peaks = brute_peaks(changed, images, "conv2")
    np.random.default_rng(0).shuffle(images)
    after = convscope.top_images(changed, images, "conv2", 5, progress=False)
    assert after.tolist() == brute_top(brute_peaks(changed, images, "conv2"), 5).tolist()
    images[after[0]] = 0
    assert convscope.top_images(changed, images, "conv2", 5, progress=False)[0] != after[0]
    assert len(passes) == 4
    assert before.tolist() == brute_top(brute_peaks(model, digits[:500], "conv2"), 3).tolist()
    assert not np.array_equal(peaks, brute_peaks(changed, images, "conv2"))


def test_the_checksum_sees_any_change_of_the_bytes(digits: np.ndarray) -> None:
    whole = content_checksum(digits)
    assert content_checksum(digits.copy()) == whole
    assert content_checksum(np.asfortranarray(digits)) == whole  # the values, not the layout
    for index in [(0, 0, 0), (999, 13, 27), (SAMPLES - 1, 27, 27)]:
        flipped = digits.copy()
        flipped[index] ^= 1
        assert content_checksum(flipped) != whole, index
    swapped = digits.copy()
    swapped[[3, 4]] = swapped[[4, 3]]
    assert content_checksum(swapped) != whole
    # Two digits made of the same 8-byte words in another order: their word sums are equal, so
    # only weights with no pattern in the position tell a swap of the two apart.
    pair = digits[:2].copy()
    pair[1] = pair[0].reshape(-1).view(np.uint64)[::-1].copy().view(np.uint8).reshape(28, 28)
    assert content_checksum(pair) != content_checksum(pair[::-1].copy())
    odd = np.arange(13, dtype=np.uint8)  # 13 bytes: a tail beyond the last 8-byte word
    tail = odd.copy()
    tail[-1] = 0
    assert content_checksum(odd) != content_checksum(tail)
    assert data_key(digits) != data_key(digits.astype(np.float32))  # dtype is in the key
    with pytest.raises(ArgumentTypeError, match="key must be hashable"):
        data_key(None, key=["not", "hashable"])


def test_streams_are_remembered_only_under_a_key(
    model: keras.Model, digits: np.ndarray, passes: list[tuple[str, ...]]
) -> None:
    images = digits[:600]
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(64)
    array = convscope.channel_stats(model, images, "conv3", progress=False)
    streamed = convscope.channel_stats(model, dataset, "conv3", progress=False)
    # joined into the same calls of 256 as the array's: the same numbers, bit for bit, ties and all
    assert streamed.peaks is None  # a stream keeps no per-image peaks
    assert streamed.count == 600
    for name in ("max", "mean", "active_fraction"):
        np.testing.assert_array_equal(getattr(streamed, name), getattr(array, name), name)
    for channel in range(64):
        assert streamed.top(channel).tolist() == array.top(channel).tolist(), channel
    convscope.channel_stats(model, dataset, "conv3", progress=False)
    assert len(passes) == 3  # the array once; the pipeline each time: it may change
    convscope.channel_stats(model, dataset, "conv3", progress=False, key="first 600")
    convscope.top_images(model, dataset, "conv3", 9, progress=False, key="first 600")
    assert len(passes) == 4

    def generator() -> Iterator[np.ndarray]:
        yield from (images[start : start + 100] for start in range(0, 600, 100))

    convscope.top_images(model, generator(), "conv3", 0, progress=False)
    convscope.top_images(model, generator(), "conv3", 0, progress=False)
    assert len(passes) == 6  # never remembered: a generator is read once
    unread = generator()
    assert (
        convscope.top_images(model, unread, "conv3", 0, progress=False, key="first 600")[0]
        == (array.top(0)[0])
    )
    assert next(unread) is not None  # the promise was kept: the generator was not read
    with pytest.raises(InvalidArgumentError, match="kept its 100 best images"):
        streamed.top(0, k=101)
    assert len(convscope.top_images(model, dataset, "conv3", 0, k=150, progress=False)) == 150


def test_the_memo_is_bounded_and_drops_the_least_recently_used(
    model: keras.Model, digits: np.ndarray
) -> None:
    memo = PassMemo(max_bytes=2**21)  # conv1, conv2 and conv3 of 2,000 digits: 2.18 MB
    engine = engine_for(model)
    found = engine_insight.channel_stats(engine, ("conv2",), digits, progress=False, memo=memo)
    assert found["conv2"].nbytes > SAMPLES * 48 * 8  # every image's peaks and lows
    engine_insight.channel_stats(engine, ("conv1",), digits, progress=False, memo=memo)
    assert len(memo) == 2
    engine_insight.channel_stats(engine, ("conv3",), digits, progress=False, memo=memo)
    assert memo.nbytes <= memo.max_bytes
    assert len(memo) == 2  # conv2, the oldest, made room
    assert PassMemo(max_bytes=0).max_bytes == 0


def test_an_interrupted_pass_leaves_nothing_behind(
    model: keras.Model, digits: np.ndarray, passes: list[tuple[str, ...]]
) -> None:
    def interrupted() -> Iterator[np.ndarray]:
        yield digits[:100]
        yield digits[100:200]
        raise KeyboardInterrupt  # Ctrl-C in the middle of the pass

    before = len(PASS_MEMO)
    with pytest.raises(KeyboardInterrupt):
        convscope.channel_stats(model, interrupted(), "conv1", progress=False, key="digits")
    assert len(PASS_MEMO) == before
    whole = convscope.channel_stats(model, iter([digits[:200]]), "conv1", key="digits")
    assert whole.count == 200
    assert len(passes) == 2


def test_the_progress_bar_counts_images_with_a_rate_and_an_eta(
    model: keras.Model, digits: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    PASS_MEMO.clear()
    convscope.channel_stats(model, digits[:300], "conv1")
    shown = capsys.readouterr().out
    assert "300/300" in shown
    assert "/image" in shown  # Keras's time per image
    dataset = tf.data.Dataset.from_tensor_slices(digits[:300]).batch(64)
    convscope.channel_stats(model, dataset, "conv1")  # 5 batches: 320 images estimated
    assert "300/300" in capsys.readouterr().out  # set right at the end
    convscope.channel_stats(model, iter([digits[:64], digits[64:100]]), "conv1")
    assert "100/100" in capsys.readouterr().out  # a generator: no total until its end


def test_a_long_stream_runs_in_constant_memory(model: keras.Model, digits: np.ndarray) -> None:
    """Shifted digits made on the fly: the summaries' size does not grow with the stream."""

    def shifted(count: int) -> tf.data.Dataset:
        source = tf.constant(digits[..., np.newaxis])
        index = tf.data.Dataset.range(count)
        moved = index.map(
            lambda i: tf.roll(source[i % SAMPLES], shift=tf.cast(i % 5, tf.int32) - 2, axis=0)
        )
        return moved.batch(256)

    engine = engine_for(model)
    layers = tuple(info.name for info in engine.layers if info.spatial)
    rss: list[float] = []

    def resident(done: int, _total: int | None) -> None:
        if done >= 10_000 and not rss:
            rss.append(_rss_mb())

    short = engine_insight.channel_stats(engine, layers, shifted(5_000), progress=False)
    long = engine_insight.channel_stats(
        engine, layers, shifted(40_000), progress=False, on_batch=resident
    )
    rss.append(_rss_mb())
    assert long["conv3"].count == 40_000
    assert {name: s.nbytes for name, s in long.items()} == {
        name: s.nbytes for name, s in short.items()
    }
    # Kept per image, the 273 channels' peaks would add 33 MB over the last 30,000 images.
    assert rss[1] - rss[0] < 15, rss


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def test_two_logical_devices_give_the_results_of_one(mnist_env: dict[str, str]) -> None:
    """MirroredStrategy over two logical CPUs, in a subprocess: devices are set before TF starts."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "tests" / "distributed_passes.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, **mnist_env},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "identical on 2 replicas" in result.stdout


def test_nan_and_inf_are_left_out_of_peaks_and_means(digits: np.ndarray) -> None:
    """A layer whose maps hold NaN (log of a negative) and -inf (log of 0) in some images."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((28, 28, 1))
    conv = keras.layers.Conv2D(6, 3, padding="same", name="conv")(inputs)
    logs = keras.layers.Lambda(keras.ops.log, name="logs")(conv)
    model = keras.Model(inputs, keras.layers.GlobalMaxPooling2D()(logs))
    images = digits[:300].astype(np.float32) / 255.0
    images[:100] -= 0.25  # negative pixels: more NaN in the first batches than in the others
    maps = np.asarray(keras.Model(inputs, logs)(images))
    finite = np.isfinite(maps)
    assert not finite.all()
    assert finite.reshape(300, -1, 6).any(axis=1).all()  # and no map without a finite value
    stats = convscope.channel_stats(model, images, "logs", progress=False)
    assert stats.peaks is not None
    np.testing.assert_allclose(
        stats.peaks, np.where(finite, maps, -np.inf).max(axis=(1, 2)), rtol=1e-5
    )
    expected = np.where(finite, maps, 0).sum(axis=(0, 1, 2), dtype=np.float64) / finite.sum(
        axis=(0, 1, 2)
    )
    np.testing.assert_allclose(stats.mean, expected, rtol=1e-4)
    # the same images in other batches (none of the shifted ones among them): the same peaks
    again = convscope.channel_stats(model, images[200:], "logs", progress=False)
    assert again.peaks is not None
    np.testing.assert_array_equal(again.peaks, stats.peaks[200:])


def test_best_first_is_a_stable_argsort() -> None:
    rng = np.random.default_rng(5)
    for values in (
        rng.integers(0, 4, 500).astype(np.float32),  # many ties, also at the k-th place
        rng.normal(size=300).astype(np.float32),
        np.array([-np.inf, 1.0, -np.inf, 1.0], np.float32),
    ):
        for k in (1, 3, 9, 40, len(values), len(values) + 5):
            expected = np.argsort(-values, kind="stable")[:k]
            assert engine_insight.best_first(values, k).tolist() == expected.tolist(), k


def test_a_streams_best_images_are_those_of_a_stable_sort(digits: np.ndarray) -> None:
    """Negative peaks, zeros of both signs, -inf and ties: the order of the array's argsort."""
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    scores = keras.layers.Dense(4, name="scores")(flat)
    model = keras.Model(inputs, scores)
    kernel = np.zeros((784, 4), np.float32)
    kernel[300:400, 0] = -1e-3  # negative scores
    kernel[:, 2] = 0.0  # every score -0.0 or 0.0: all tie
    kernel[400:420, 3] = -1e38  # -inf where those pixels are lit (float32 overflows)
    model.get_layer("scores").set_weights([kernel, np.array([0, 1, -0.0, 0], np.float32)])
    images = np.concatenate([digits[:700], digits[:700]])  # every digit twice: ties
    array = convscope.channel_stats(model, images, "scores", progress=False)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(100)
    streamed = convscope.channel_stats(model, dataset, "scores", progress=False, top_kept=300)
    assert array.peaks is not None
    assert np.isneginf(array.peaks[:, 3]).any()
    for channel in range(4):
        expected = np.argsort(-array.peaks[:, channel], kind="stable")[:300]
        assert streamed.top(channel, 300).tolist() == expected.tolist(), channel
        np.testing.assert_array_equal(
            streamed.best_peaks[:, channel], array.peaks[expected, channel]
        )


def test_the_explorers_fixed_colour_scale_comes_from_the_memoised_pass(
    digits: np.ndarray, passes: list[tuple[str, ...]]
) -> None:
    model = convscope.mnist_cnn()  # its own: its weights change below
    images = digits[:300]
    first = convscope.Explorer(model, images, figure="none", layer="conv2")
    first.update(norm="fixed")
    assert passes == [("conv2",)]
    # Another Explorer on the same model, weights and images: no pass for its colour scale,
    # nor for the channel panel of that layer afterwards.
    second = convscope.Explorer(model, images, figure="none", layer="conv2")
    second.update(norm="fixed", sample=5)
    second.channel_panel = True
    assert passes == [("conv2",)]
    scale = second._controller.stats.channel_ranges("conv2")
    reference = ActivationEngine(model).channel_ranges("conv2", images, progress=False)
    np.testing.assert_allclose(scale, reference, rtol=1e-6, atol=1e-6)
    # New weights: the next update follows them, with a new pass and the new scale.
    bias = model.get_layer("conv2").bias
    bias.assign(bias + 0.5)
    second.update(sample=6)
    assert passes == [("conv2",), ("conv2",)]
    scale = second._controller.stats.channel_ranges("conv2")
    reference = ActivationEngine(model).channel_ranges("conv2", images, progress=False)
    np.testing.assert_allclose(scale, reference, rtol=1e-6, atol=1e-6)


def test_the_confusion_matrix_is_remembered_per_weights_images_and_labels(
    mnist_test: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    PASS_MEMO.clear()
    model = convscope.mnist_cnn()  # its own: its weights change below
    images, labels = mnist_test[0][:400], mnist_test[1][:400].copy()
    streamed: list[int] = []
    stream = ActivationEngine.stream

    def spy(engine: ActivationEngine, *args: object, **options: object) -> object:
        streamed.append(1)
        return stream(engine, *args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(ActivationEngine, "stream", spy)

    def reference() -> np.ndarray:
        scores = model.predict(images[..., None].astype(np.float32), verbose=0)
        pairs = labels * 10 + scores.argmax(axis=1)
        return np.bincount(pairs, minlength=100).reshape(10, 10)

    first = convscope.confusion(model, images, labels, progress=False)
    np.testing.assert_array_equal(first, reference())
    first[0, 0] = -1  # the caller's copy: the memo keeps its own
    again = convscope.confusion(model, images, labels, progress=False)
    assert len(streamed) == 1  # no second pass
    np.testing.assert_array_equal(again, reference())
    labels[0] = (labels[0] + 1) % 10  # other labels: another matrix
    np.testing.assert_array_equal(
        convscope.confusion(model, images, labels, progress=False), reference()
    )
    assert len(streamed) == 2
    bias = model.get_layer("predictions").bias
    bias.assign(bias + np.eye(10, dtype=np.float32)[3] * 30.0)  # class 3 wins now
    moved = convscope.confusion(model, images, labels, progress=False)
    assert len(streamed) == 3
    np.testing.assert_array_equal(moved, reference())
    assert moved[:, 3].sum() > again[:, 3].sum() + 100


def test_a_streams_small_batches_are_joined_into_calls_of_batch_size(
    model: keras.Model, digits: np.ndarray
) -> None:
    """Batches of 10 go 26 to a call of 256 (fewer, larger calls); the numbers stay Keras's."""
    engine = engine_for(model)
    images = digits[:600]
    calls: list[tuple[int, int | None]] = []
    stats = engine_insight.channel_stats(
        engine,
        ("conv3",),
        tf.data.Dataset.from_tensor_slices(images).batch(10),
        progress=False,
        on_batch=lambda done, total: calls.append((done, total)),
        memo=PassMemo(0),
    )["conv3"]
    # 60 batches known: 600 images estimated from the first batch's 10, not the call's 260
    assert calls == [(260, 600), (520, 600), (600, 600)]
    reference = brute_peaks(model, images, "conv3")
    np.testing.assert_allclose(stats.max, reference.max(axis=0), rtol=1e-5, atol=1e-6)
    for channel in range(0, 64, 7):
        assert stats.top(channel, 5).tolist() == brute_top(reference, channel, 5).tolist()
    calls.clear()
    engine_insight.channel_stats(
        engine,
        ("conv3",),
        (images[start : start + 300] for start in range(0, 600, 300)),
        progress=False,
        on_batch=lambda done, total: calls.append((done, total)),
        memo=PassMemo(0),
    )
    assert [done for done, _ in calls] == [300, 600]  # a batch above 256 is kept whole


def test_batches_of_another_image_size_are_not_joined(digits: np.ndarray) -> None:
    inputs = keras.Input((None, None, 1))
    maps = keras.layers.Conv2D(3, 3, activation="relu", name="maps")(inputs)
    model = keras.Model(inputs, keras.layers.GlobalMaxPooling2D()(maps))
    small = digits[:30, 4:24, 4:24]  # 20 × 20
    parts = [digits[:40], digits[40:80], small, digits[80:90]]
    calls: list[int] = []
    stats = engine_insight.channel_stats(
        engine_for(model),
        ("maps",),
        iter(parts),
        progress=False,
        on_batch=lambda done, _total: calls.append(done),
        memo=PassMemo(0),
    )["maps"]
    assert calls == [80, 110, 120]  # each size its own call
    probe = keras.Model(inputs, maps)
    expected = np.concatenate(
        [
            np.asarray(probe(part[..., np.newaxis].astype(np.float32))).max(axis=(1, 2))
            for part in parts
        ]
    )
    np.testing.assert_allclose(stats.max, expected.max(axis=0), rtol=1e-5)
    assert stats.count == 120


def test_a_large_models_batches_are_joined_only_within_the_memory_bound(
    digits: np.ndarray,
) -> None:
    """512 maps of 28 × 28 are 1.6 MB per image: 64 MiB of outputs hold 41 images a call."""
    inputs = keras.Input((28, 28, 1))
    maps = keras.layers.Conv2D(512, 3, padding="same", name="maps")(inputs)
    model = keras.Model(inputs, maps)
    engine = engine_for(model)
    per_image = sum(info.nbytes for info in engine.layers)
    assert JOIN_BYTES // per_image == 41
    calls: list[int] = []
    engine_insight.channel_stats(
        engine,
        ("maps",),
        (digits[start : start + 10] for start in range(0, 100, 10)),
        progress=False,
        on_batch=lambda done, _total: calls.append(done),
        memo=PassMemo(0),
    )
    assert calls == [50, 100]  # batches of 10 joined up to 41 images, not to 256
    # An array under the default batch size: calls of 64 for this model (41 would fit the bound,
    # but the default never goes below the old 64), 256 for the bundled CNN; an explicit size
    # is kept, 256 included (the default's own number).
    for batch_size, expected in ((None, [64, 128, 192, 200]), (100, [100, 200]), (256, [200])):
        calls.clear()
        engine_insight.channel_stats(
            engine,
            ("maps",),
            digits[:200],
            batch_size=batch_size,
            progress=False,
            on_batch=lambda done, _total: calls.append(done),
            memo=PassMemo(0),
        )
        assert calls == expected, batch_size
    # A stream's batches with an explicit size: joined up to it, past the bound's 41
    calls.clear()
    engine_insight.channel_stats(
        engine,
        ("maps",),
        (digits[start : start + 10] for start in range(0, 100, 10)),
        batch_size=60,
        progress=False,
        on_batch=lambda done, _total: calls.append(done),
        memo=PassMemo(0),
    )
    assert calls == [60, 100]


@pytest.mark.parametrize(
    ("batch_size", "error"),
    [
        ("8", ArgumentTypeError),
        (8.0, ArgumentTypeError),
        (True, ArgumentTypeError),
        (0, InvalidArgumentError),
        (-64, InvalidArgumentError),
    ],
)
def test_a_bad_batch_size_is_refused_by_every_pass_before_any_pass(
    model: keras.Model,
    digits: np.ndarray,
    passes: list[tuple[str, ...]],
    batch_size: object,
    error: type[Exception],
) -> None:
    calls = {
        "channel_stats": lambda: convscope.channel_stats(
            model, digits, "conv1", batch_size=batch_size, progress=False
        ),
        "dead_channels": lambda: convscope.dead_channels(
            model, digits, batch_size=batch_size, progress=False
        ),
        "top_images": lambda: convscope.top_images(
            model, digits, "conv1", 0, batch_size=batch_size, progress=False
        ),
        "plot_top_images": lambda: convscope.plot_top_images(
            model, digits, "conv1", 0, batch_size=batch_size, progress=False
        ),
    }
    for name, call in calls.items():
        with pytest.raises(error, match=r"batch_size=256.*batch_size=None") as found:
            call()
        assert str(found.value).startswith(f"batch_size={batch_size!r} "), name
    assert passes == []  # nothing ran
    assert len(PASS_MEMO) == 0  # nothing remembered


def test_an_explicit_batch_size_reaches_the_pass_as_given(
    model: keras.Model, digits: np.ndarray, passes: list[tuple[str, ...]]
) -> None:
    sizes: list[object] = []
    run_pass = engine_insight.run_pass

    def spy(*args: object, **options: object) -> object:
        sizes.append(options["batch_size"])
        return run_pass(*args, **options)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_insight, "run_pass", spy)
        convscope.channel_stats(model, digits[:300], "conv1", progress=False)
        convscope.dead_channels(model, digits[:300], "conv2", batch_size=256, progress=False)
        convscope.top_images(model, digits[:300], "conv3", 1, batch_size=64, progress=False)
    assert sizes == [None, 256, 64]
