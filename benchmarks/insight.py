"""How fast data-set insight is, and how much memory it takes, on the 10,000 MNIST test digits.

Run from the repository root::

    python benchmarks/insight.py

Targets: ``channel_stats`` plus ``top_images`` for every channel of ``conv1``, ``conv2`` and
``conv3`` within 5 s on these 2 cores, with the resident memory at most 100 MB above where it
started. The first call traces the compiled pass; it is timed too, separately. And an epoch
switch in the Explorer of the bundled training replay within 2× of a sample scrub, both with
a full Agg draw, on epochs visited before (a first visit predicts the data set once; timed
apart).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np

import convscope
from convscope.engine.pass_memo import PASS_MEMO

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("conv1", "conv2", "conv3")


def rss_mb() -> float:
    """Resident memory of this process in MB, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakMemory:
    """Sample the resident memory every few milliseconds while a block runs; keep the peak."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._running = True
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while self._running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.005)

    def __enter__(self) -> PeakMemory:  # noqa: PYI034 - a final class of this script
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def stats_and_tops(model: object, images: np.ndarray) -> dict[str, list[np.ndarray]]:
    """``channel_stats`` of each layer, then ``top_images`` of every one of its channels.

    As the README shows them: one call per channel. The memo of passes (emptied first) makes
    that one pass per layer.
    """
    PASS_MEMO.clear()
    tops = {}
    for layer in LAYERS:
        stats = convscope.channel_stats(model, images, layer, progress=False)
        tops[layer] = [
            convscope.top_images(model, images, layer, channel, progress=False)
            for channel in range(stats.max.shape[0])
        ]
    return tops


def bench_insight() -> dict[str, object]:
    """Seconds and memory for the stats and top images of conv1, conv2 and conv3."""
    images, _ = convscope.load_mnist("test")
    model = convscope.mnist_cnn()
    started = time.perf_counter()
    stats_and_tops(model, images[:600])  # traces the compiled passes
    first = time.perf_counter() - started
    base = rss_mb()
    with PeakMemory() as memory:
        started = time.perf_counter()
        tops = stats_and_tops(model, images)
        seconds = time.perf_counter() - started
    return {
        "images": len(images),
        "channels": sum(len(found) for found in tops.values()),
        "seconds": seconds,
        "trace_seconds": first,
        "rss_start_mb": base,
        "rss_peak_above_start_mb": memory.peak - base,
    }


def bench_epoch_switch(repeats: int = 60, samples: int | None = None) -> dict[str, object]:
    """An epoch switch against a sample scrub, in the Explorer of the bundled training replay.

    On the first ``samples`` test digits (all 10,000 by default; fewer for a smoke run, since
    a first visit to an epoch predicts every digit).
    """
    from baselines import timed  # noqa: PLC0415 - the shared timing loop
    from run import scrub, stats  # noqa: PLC0415

    images, labels = convscope.load_mnist("test")
    images, labels = images[:samples], labels[:samples]
    count = len(images)
    explorer = convscope.Explorer(convscope.mnist_training_run(), images, labels, figure="none")
    explorer.layer = "conv2"
    epochs = explorer.epochs
    canvas = explorer.figure.canvas
    started = time.perf_counter()
    for epoch in epochs:  # first visits: each epoch's predictions over the data set
        explorer.epoch = epoch
    first = (time.perf_counter() - started) / len(epochs)
    warm = count * 9 // 10  # 9000 of 10,000
    scrub(explorer, range(warm, warm + 5))  # the layer's compiled pass, outside the timings
    explorer.engine.wait_compiled()

    def switch(index: int) -> None:
        explorer.epoch = epochs[index % len(epochs)]
        canvas.draw()

    return {
        "epoch_switch": stats(timed(switch, repeats)),
        "sample_scrub": stats(scrub(explorer, range(count // 10, count // 10 + repeats))),
        "samples": count,
        "first_visit_s": first,
    }


def report(result: dict[str, object]) -> list[str]:
    """Lines for the summary, with the targets."""
    seconds = float(result["seconds"])  # type: ignore[arg-type]
    memory = float(result["rss_peak_above_start_mb"])  # type: ignore[arg-type]
    speed = "met" if seconds <= 5 else "MISSED"
    bounded = "met" if memory <= 100 else "MISSED"
    return [
        (
            f"stats + top 9 of all {result['channels']} channels of conv1-3, "
            f"{result['images']:,} digits: {seconds:.2f} s (target ≤ 5 s: {speed})"
        ),
        f"  peak memory above the start: {memory:.0f} MB (target ≤ 100 MB: {bounded})",
    ]


def report_epochs(result: dict[str, object]) -> list[str]:
    """Lines for the epoch switch, with its target."""
    switch = result["epoch_switch"]["median_ms"]  # type: ignore[index]
    scrubbed = result["sample_scrub"]["median_ms"]  # type: ignore[index]
    ratio = switch / scrubbed
    verdict = "met" if ratio <= 2 else "MISSED"
    first = result["first_visit_s"]
    line = (
        f"epoch switch {switch:.2f} ms vs sample scrub {scrubbed:.2f} ms (medians, Agg draw): "
        f"{ratio:.2f}x (target ≤ 2x: {verdict}); first visit to an epoch {first:.2f} s"
    )
    return [line]


def main() -> int:
    result = bench_insight()
    result["epochs"] = bench_epoch_switch()
    for line in report(result) + report_epochs(result["epochs"]):  # type: ignore[arg-type]
        print(line)
    out = ROOT / "benchmarks" / "results" / "insight.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
