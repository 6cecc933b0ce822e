"""How fast the classroom features are: a 100-frame GIF of a scrub (target ≤ 10 s), and a scrub
while comparing two samples, against the same scrub without (a ratio, measured in one run).

Run from the repository root::

    python benchmarks/classroom.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import convscope


def bench_gif(frames: int = 100) -> dict[str, float]:
    """Seconds to write a GIF of ``frames`` samples of the default Explorer, and its size."""
    explorer = convscope.Explorer(figure="none")
    explorer.update(layer="conv2", channel=5)
    explorer.save_gif(Path(tempfile.gettempdir()) / "convscope-warm.gif", range(3))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        path = explorer.save_gif(Path(folder) / "scrub.gif", range(frames), fps=8)
        seconds = time.perf_counter() - started
        size = path.stat().st_size
    return {"frames": frames, "seconds": seconds, "megabytes": size / 1e6}


def _scrub_ms(explorer: convscope.Explorer, samples: range) -> list[float]:
    """Milliseconds of ``ex.sample = i`` plus a full Agg draw, for each of ``samples``."""
    times = []
    for sample in samples:
        started = time.perf_counter()
        explorer.sample = sample
        explorer.figure.canvas.draw()
        times.append((time.perf_counter() - started) * 1000)
    return times


def bench_compare(layer: str = "conv2", moves: int = 200) -> dict[str, float]:
    """Median scrub (new samples, one after another, Agg draw) with compare off, side, difference.

    Each mode scrubs samples it has not seen, after a few warm-up moves; B is one fixed sample.
    """
    explorer = convscope.Explorer(figure="none")
    explorer.update(layer=layer, channel=5)
    result: dict[str, float] = {}
    for start, (name, compare, mode) in enumerate(
        [("off", None, "side"), ("side", 1, "side"), ("difference", 1, "difference")], 1
    ):
        explorer.update(compare=-1 if compare is None else compare, compare_mode=mode)
        first = start * 2000
        _scrub_ms(explorer, range(first - 10, first))  # warm-up: charts, legend, caches
        result[name] = statistics.median(_scrub_ms(explorer, range(first, first + moves)))
    return result


def main() -> int:
    result = bench_gif()
    verdict = "met" if result["seconds"] <= 10 else "MISSED"
    print(
        f"GIF of {result['frames']:.0f} frames: {result['seconds']:.1f} s, "
        f"{result['megabytes']:.1f} MB (target ≤ 10 s: {verdict})"
    )
    compare = bench_compare()
    off = compare["off"]
    print(f"scrub conv2, Agg draw, median of 200 new samples: compare off {off:.2f} ms")
    for mode in ("side", "difference"):
        print(
            f"  compare {mode}: {compare[mode]:.2f} ms = {compare[mode] / off:.2f}× off "
            "(target ≤ 2×)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
