"""Data-set passes at scale: one pass reused, images/s against ``model.predict``, memory, devices.

Run from the repository root::

    python benchmarks/passes.py            # the full run: about 20 minutes on 2 cores (1M images)
    python benchmarks/passes.py --smoke    # a quick check that everything still runs

``benchmarks/run.py`` runs the same functions. What each measures:

- **loop**: ``top_images`` of every channel of ``conv1``, ``conv2`` and ``conv3`` (136 calls, the
  README's way) against the three ``channel_stats`` passes, on the 10,000 MNIST test digits,
  the memo emptied before each; target ≤ 1.2×. Medians of alternating repeats.
- **throughput**: images/s of one pass (``channel_stats`` of a layer, a ``tf.data`` pipeline
  with no ``key``, so nothing is remembered) against ``model.predict`` on the same batched
  pipeline, alternating, medians; target ≥ 0.9×. The bundled CNN over the 10,000 digits
  (``conv3``, and every spatial layer in one pass as ``dead_channels`` does), and a ResNet50 at
  96 px (``weights=None``, a Sequential with a new head) over random images (its last block).
  Both this and the loop are also given in CPU seconds of this process (every thread), which
  a loaded machine disturbs less than the wall clock.
- **stream**: ``dead_channels`` (every spatial layer) and ``channel_stats`` (``conv3``) over a
  ``tf.data`` pipeline of 1,000,000 shifted digits made on the fly, the resident memory (RSS)
  read every 10,000 images; target: within 100 MB of its value after the first 10,000.
- **devices**: ``tests/distributed_passes.py``: one device against ``MirroredStrategy`` over two
  logical CPU devices, every number compared; a correctness check, not a speed-up (the cores
  are shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import keras
import numpy as np
import tensorflow as tf

import convscope
from convscope.engine import insight as engine_insight
from convscope.engine.activations import engine_for
from convscope.engine.pass_memo import PASS_MEMO, PassMemo

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"conv1": 24, "conv2": 48, "conv3": 64}
MNIST_BATCH = 64


def rss_mb() -> float:
    """Resident memory of this process in MB, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _seconds(work: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process, every thread) of one call of ``work``."""
    started, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - started, time.process_time() - cpu


def _medians(times: list[tuple[float, float]]) -> tuple[float, float]:
    values = np.asarray(times)
    return float(np.median(values[:, 0])), float(np.median(values[:, 1]))


def bench_loop(images: np.ndarray, repeats: int) -> dict[str, object]:
    """The loop of ``top_images`` over 136 channels against three ``channel_stats`` passes."""
    model = convscope.mnist_cnn()

    def three_passes() -> None:
        for layer in LAYERS:
            PASS_MEMO.clear()  # each its own pass, as before the memo
            convscope.channel_stats(model, images, layer, progress=False)

    def loop() -> None:
        PASS_MEMO.clear()
        for layer, channels in LAYERS.items():
            for channel in range(channels):
                convscope.top_images(model, images, layer, channel, progress=False)

    loop()  # traces the compiled passes
    passes, loops = [], []
    for _ in range(repeats):
        passes.append(_seconds(three_passes))
        loops.append(_seconds(loop))
    (passes_s, passes_cpu), (loop_s, loop_cpu) = _medians(passes), _medians(loops)
    return {
        "images": len(images),
        "calls": sum(LAYERS.values()),
        "three_passes_s": passes_s,
        "loop_s": loop_s,
        "ratio": loop_s / passes_s,
        "three_passes_cpu_s": passes_cpu,
        "loop_cpu_s": loop_cpu,
        "cpu_ratio": loop_cpu / passes_cpu,
        "repeats": repeats,
    }


def _throughput(
    model: keras.Model, dataset: tf.data.Dataset, count: int, layers: tuple[str, ...], repeats: int
) -> dict[str, object]:
    engine = engine_for(model)
    memo = PassMemo(0)  # a pass every time

    def one_pass() -> None:
        engine_insight.channel_stats(engine, layers, dataset, progress=False, memo=memo)

    def predict() -> None:
        model.predict(dataset, verbose=0)

    one_pass()
    predict()
    ours, keras_times = [], []
    for _ in range(repeats):
        ours.append(_seconds(one_pass))
        keras_times.append(_seconds(predict))
    (ours_s, ours_cpu), (keras_s, keras_cpu) = _medians(ours), _medians(keras_times)
    return {
        "layers": len(layers),
        "images": count,
        "pass_images_per_s": count / ours_s,
        "predict_images_per_s": count / keras_s,
        "ratio": keras_s / ours_s,
        "pass_images_per_cpu_s": count / ours_cpu,
        "predict_images_per_cpu_s": count / keras_cpu,
        "cpu_ratio": keras_cpu / ours_cpu,
        "repeats": repeats,
    }


def bench_throughput(images: np.ndarray, repeats: int, resnet_images: int) -> dict[str, object]:
    """Images/s of a pass against ``model.predict`` on the same batched tf.data pipeline."""
    from run import resnet50_classifier  # noqa: PLC0415 - the model run.py times too

    model = convscope.mnist_cnn()
    digits = tf.data.Dataset.from_tensor_slices(images).batch(MNIST_BATCH)
    spatial = tuple(info.name for info in engine_for(model).layers if info.spatial)
    resnet = resnet50_classifier()
    pixels = np.random.default_rng(0).uniform(0, 255, (resnet_images, 96, 96, 3))
    photos = tf.data.Dataset.from_tensor_slices(pixels.astype(np.float32)).batch(32)
    last = [info.name for info in engine_for(resnet).layers if info.spatial][-1]
    return {
        "mnist_conv3": _throughput(model, digits, len(images), ("conv3",), repeats),
        "mnist_every_spatial_layer": _throughput(model, digits, len(images), spatial, repeats),
        "resnet50_96_last_block": _throughput(resnet, photos, resnet_images, (last,), repeats)
        | {"layer": last},
    }


def shifted_digits(images: np.ndarray, count: int, batch: int = 256) -> tf.data.Dataset:
    """``count`` test digits, each shifted by -2..2 rows, made on the fly (nothing kept)."""
    source = tf.constant(images[..., np.newaxis])
    size = len(images)

    def shifted(index: tf.Tensor) -> tf.Tensor:
        shift = tf.cast(index % 5, tf.int32) - 2
        return tf.roll(source[index % size], shift=shift, axis=0)

    return tf.data.Dataset.range(count).map(shifted).batch(batch).prefetch(2)


def bench_stream(images: np.ndarray, count: int) -> dict[str, object]:
    """RSS every 10,000 images of ``dead_channels`` and ``channel_stats`` over a long stream."""
    model = convscope.mnist_cnn()
    engine = engine_for(model)
    spatial = tuple(info.name for info in engine.layers if info.spatial)
    curves: dict[str, list[tuple[int, float]]] = {}
    seconds = {}
    for name, layers in (("dead_channels", spatial), ("channel_stats_conv3", ("conv3",))):
        curve: list[tuple[int, float]] = []

        def record(done: int, _total: int | None, curve: list[tuple[int, float]] = curve) -> None:
            if done // 10_000 > (curve[-1][0] // 10_000 if curve else 0):
                curve.append((done, rss_mb()))

        started = time.perf_counter()
        found = engine_insight.channel_stats(
            engine, layers, shifted_digits(images, count), progress=False, on_batch=record
        )
        seconds[name] = time.perf_counter() - started
        if name == "dead_channels":
            dead = {layer: stats.dead() for layer, stats in found.items()}
        curves[name] = curve
    growth = {
        name: max(rss for _, rss in curve) - curve[0][1] for name, curve in curves.items() if curve
    }
    return {
        "images": count,
        "layers": len(spatial),
        "seconds": seconds,
        "rss_curve_mb": curves,
        "rss_growth_after_10k_mb": growth,
        "dead": dead,
    }


def bench_devices() -> dict[str, object]:
    """Run the two-device comparison in its own process (devices are made before TF starts)."""
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "tests" / "distributed_passes.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        cwd=ROOT,
    )
    lines = result.stdout.strip().splitlines()
    return {
        "identical": result.returncode == 0 and "identical on 2 replicas" in result.stdout,
        "summary": lines[-1] if lines else result.stderr[-500:],
        "seconds": time.perf_counter() - started,
    }


def bench_passes(*, smoke: bool) -> dict[str, object]:
    """Every measurement above.

    A smoke run checks that each runs, on few images and a 12,000-image stream; it leaves the
    two devices to ``tests/test_engine_passes.py``, which runs the same script.
    """
    images, _ = convscope.load_mnist("test")
    digits = images[:500] if smoke else images
    return {
        "loop": bench_loop(digits, 1 if smoke else 5),
        "throughput": bench_throughput(digits, 1 if smoke else 5, 32 if smoke else 128),
        "stream": bench_stream(images, 12_000 if smoke else 1_000_000),
        "devices": {} if smoke else bench_devices(),
    }


def target_rows(result: dict[str, object]) -> list[tuple[str, str, bool | None]]:
    """``(target, value, met)`` for the table of ``run.py``."""
    rows: list[tuple[str, str, bool | None]] = []
    loop = result.get("loop")
    if isinstance(loop, dict):
        label = f"top_images loop over 136 channels, {loop['images']:,} digits: <= 1.2x 3 passes"
        rows.append((label, f"{loop['ratio']:.2f}x", loop["ratio"] <= 1.2))
    for name, entry in dict(result.get("throughput", {})).items():  # type: ignore[call-overload]
        label = f"pass images/s, {name}: >= 0.9x model.predict"
        rows.append((label, f"{entry['ratio']:.2f}x", entry["ratio"] >= 0.9))
    stream = result.get("stream")
    if isinstance(stream, dict):
        for name, growth in stream["rss_growth_after_10k_mb"].items():
            label = f"{name} over {stream['images']:,} streamed images: RSS <= +100 MB after 10k"
            rows.append((label, f"{growth:.0f} MB", growth <= 100))
    devices = result.get("devices")
    if isinstance(devices, dict) and devices:
        rows.append(
            ("one device = two logical devices, every number and tie", "", devices["identical"])
        )
    return rows


def detail_lines(result: dict[str, object]) -> list[str]:
    """What stands behind the targets: seconds, images/s, and the same in CPU seconds."""
    lines = []
    loop = result.get("loop")
    if isinstance(loop, dict):
        lines.append(
            f"passes.loop: 136 top_images {loop['loop_s']:.2f} s, 3 channel_stats "
            f"{loop['three_passes_s']:.2f} s ({loop['ratio']:.2f}x); CPU seconds "
            f"{loop['loop_cpu_s']:.2f} vs {loop['three_passes_cpu_s']:.2f} "
            f"({loop['cpu_ratio']:.2f}x)"
        )
    for name, entry in dict(result.get("throughput", {})).items():  # type: ignore[call-overload]
        lines.append(
            f"passes.{name}: pass {entry['pass_images_per_s']:.1f} images/s, predict "
            f"{entry['predict_images_per_s']:.1f} ({entry['ratio']:.2f}x); per CPU second "
            f"{entry['pass_images_per_cpu_s']:.1f} vs {entry['predict_images_per_cpu_s']:.1f} "
            f"({entry['cpu_ratio']:.2f}x)"
        )
    stream = result.get("stream")
    if isinstance(stream, dict):
        for name, curve in stream["rss_curve_mb"].items():
            rss = [value for _, value in curve]
            lines.append(
                f"passes.stream.{name}: {stream['seconds'][name]:.0f} s, RSS after 10k "
                f"{rss[0]:.0f} MB, max {max(rss):.0f} MB, last {rss[-1]:.0f} MB"
            )
    return lines


def main() -> int:
    """Run, print the rows, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "passes.json"))
    args = parser.parse_args()
    result = bench_passes(smoke=args.smoke)
    print("\n".join(detail_lines(result)))
    for label, value, met in target_rows(result):
        verdict = "" if met is None else "ok" if met else "MISSED"
        print(f"{label:78} {value:>8}  {verdict}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
