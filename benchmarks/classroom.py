"""How fast the classroom features are: a 100-frame GIF of a scrub (target ≤ 10 s).

Run from the repository root::

    python benchmarks/classroom.py
"""

from __future__ import annotations

import os
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


def main() -> int:
    result = bench_gif()
    verdict = "met" if result["seconds"] <= 10 else "MISSED"
    print(
        f"GIF of {result['frames']:.0f} frames: {result['seconds']:.1f} s, "
        f"{result['megabytes']:.1f} MB (target ≤ 10 s: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
