"""Passes on one device against MirroredStrategy over two logical CPU devices: identical.

Run as a script (``test_engine_passes.py`` does, in a subprocess): the logical devices must be
made before TensorFlow initialises its devices. Exits non-zero, naming the difference, if any
number differs, ties in ``top_images`` included.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import numpy as np  # noqa: E402 - after the devices are made

import convscope  # noqa: E402
from convscope.engine import insight as engine_insight  # noqa: E402
from convscope.engine.activations import engine_for  # noqa: E402
from convscope.engine.pass_memo import PASS_MEMO, PassMemo  # noqa: E402

LAYERS = ("conv1", "conv2", "conv3", "predictions")
COUNT = 17 * 64 - 24  # 17 batches: the last pair of replicas gets one short batch and none
REPEATED = 200


def summaries(
    model: object, images: object, strategy: tf.distribute.Strategy | None
) -> dict[str, engine_insight.ChannelStats]:
    """Every layer's summary from one pass, remembering nothing."""
    return engine_insight.channel_stats(
        engine_for(model), LAYERS, images, progress=False, strategy=strategy, memo=PassMemo(0)
    )


def differences(
    one: dict[str, engine_insight.ChannelStats], two: dict[str, engine_insight.ChannelStats]
) -> list[str]:
    """Name every number that differs between two sets of summaries."""
    found = []
    for layer in LAYERS:
        a, b = one[layer], two[layer]
        found.extend(
            f"{layer}.{name}"
            for name in ("max", "mean", "active_fraction", "peaks", "best", "best_peaks")
            if not np.array_equal(getattr(a, name), getattr(b, name))
        )
        found.extend(
            f"{layer} top of channel {channel}"
            for channel in range(a.max.shape[0])
            if a.top(channel, 20).tolist() != b.top(channel, 20).tolist()
        )
    return found


def main() -> int:
    """Compare one device with two replicas: arrays, tf.data, ``strategy=`` and the scope."""
    images, _ = convscope.load_mnist("test")
    images = images[:COUNT].copy()
    images[-REPEATED:] = images[:REPEATED]  # repeated digits: their peaks tie
    model = convscope.mnist_cnn()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    if strategy.num_replicas_in_sync != 2:
        print(f"expected 2 replicas, got {strategy.num_replicas_in_sync}")
        return 1
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(64)
    single = summaries(model, images, None)
    problems = {
        "array, strategy=": differences(single, summaries(model, images, strategy)),
        "tf.data, strategy=": differences(
            {layer: _as_stream(s) for layer, s in single.items()},
            summaries(model, dataset, strategy),
        ),
    }
    tied = [channel for channel in range(64) if _has_ties(single["conv3"].top(channel, 20))]
    if not tied:
        problems["no ties among the best 20 of any conv3 channel: the test proves nothing"] = [""]
    PASS_MEMO.clear()
    with strategy.scope():
        inside = [convscope.top_images(model, images, "conv3", ch, progress=False) for ch in tied]
    outside = [single["conv3"].top(channel) for channel in tied]
    if any(a.tolist() != b.tolist() for a, b in zip(inside, outside, strict=True)):
        problems["top_images inside strategy.scope()"] = ["differs"]
    with strategy.scope():  # a model made in the scope: its weights mirrored on each device
        mirrored = convscope.mnist_cnn()
        problems["a model made in the scope"] = differences(
            single, summaries(mirrored, images, None)
        )
    problems = {name: found for name, found in problems.items() if found}
    if problems:
        print(f"differences: {problems}")
        return 1
    print(f"identical on 2 replicas: {', '.join(LAYERS)}; ties in conv3 channels {tied}")
    return 0


def _has_ties(top: np.ndarray) -> bool:
    """Whether ``top`` holds a digit and its repeat."""
    found = set(top.tolist())
    return any(index + COUNT - REPEATED in found for index in found)


def _as_stream(stats: engine_insight.ChannelStats) -> engine_insight.ChannelStats:
    """What a stream's summary of the same images keeps: its best images, no per-image peaks."""
    assert stats.peaks is not None
    order = np.argsort(-stats.peaks, axis=0, kind="stable")[: engine_insight.TOP_KEPT]
    return engine_insight.ChannelStats(
        layer=stats.layer,
        count=stats.count,
        mean=stats.mean,
        max=stats.max,
        low=stats.low,
        active_fraction=stats.active_fraction,
        peaks=None,
        best=order,
        best_peaks=np.take_along_axis(stats.peaks, order, axis=0),
    )


if __name__ == "__main__":
    sys.exit(main())
