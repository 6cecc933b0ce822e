"""How fast data-set insight is, and how much memory it takes, on the 10,000 MNIST test digits.

Run from the repository root::

    python benchmarks/insight.py

Targets: ``channel_stats`` plus ``top_images`` for every channel of ``conv1``, ``conv2`` and
``conv3`` within 5 s on these 2 cores, with the resident memory at most 100 MB above where it
started. The first call traces the compiled pass; it is timed too, separately.
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
    """``channel_stats`` of each layer, then the top 9 digits of every one of its channels."""
    tops = {}
    for layer in LAYERS:
        stats = convscope.channel_stats(model, images, layer, progress=False)
        tops[layer] = [stats.top(channel) for channel in range(stats.peaks.shape[1])]
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


def main() -> int:
    result = bench_insight()
    for line in report(result):
        print(line)
    out = ROOT / "benchmarks" / "results" / "insight.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
