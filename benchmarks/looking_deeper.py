"""How fast the deeper views are: Grad-CAM against the feature-map compute, filter patterns.

Run from the repository root::

    python benchmarks/looking_deeper.py            # the full run, about two minutes
    python benchmarks/looking_deeper.py --smoke    # a quick check that everything still runs

Targets: filter patterns for all 24 ``conv1`` channels of the MNIST CNN within 5 s, and for
the 64 channels of the VGG-like model's ``block3_conv1`` at 160 px within 60 s, both from an
empty cache, tracing included. Each pattern run gets a fresh temporary cache folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np

import convscope
from baselines import timed
from run import scrub, stats, vgg_like

ROOT = Path(__file__).resolve().parent.parent


def bench_grad_cam(repeats: int) -> dict[str, object]:
    """Grad-CAM of one digit (compiled) against the forward pass of the same layer."""
    images, _ = convscope.load_mnist("test")
    model = convscope.mnist_cnn()
    engine = convscope.ActivationEngine(model, cache_bytes=0)
    for warm in range(3):  # trace both outside the timings
        convscope.grad_cam(model, images[warm])
        engine.compute("conv3", images[warm])
    start = 100
    batch = images[start : start + 256]
    convscope.grad_cam(model, batch)
    begun = time.perf_counter()
    convscope.grad_cam(model, batch)
    batched = (time.perf_counter() - begun) / len(batch)
    return {
        "grad_cam_conv3": stats(
            timed(lambda i: convscope.grad_cam(model, images[start + i]), repeats)
        ),
        "feature_maps_conv3": stats(
            timed(lambda i: engine.compute("conv3", images[start + i]), repeats)
        ),
        "predict": stats(timed(lambda i: engine.predict(images[start + i]), repeats)),
        "grad_cam_per_image_in_a_batch_of_256_ms": batched * 1e3,
    }


def bench_explorer_views(repeats: int) -> dict[str, object]:
    """Scrubbing samples in the Explorer's Grad-CAM and heatmap views against its feature maps.

    Each step sets ``ex.sample`` and fully redraws the figure with Agg, on the default
    Explorer's layer for Grad-CAM (``conv3``); every view scrubs samples it has never seen,
    one after another, and then the same count of random ones (thumbnail clicks).
    """
    images, labels = convscope.load_mnist("test")
    explorer = convscope.Explorer(convscope.mnist_cnn(), images, labels, figure="none")
    explorer.layer = "conv3"
    results: dict[str, object] = {}
    rng = np.random.default_rng(0)
    for number, view in enumerate(("maps", "grad-cam", "heatmap")):
        explorer.view = view
        scrub(explorer, range(9000 + 10 * number, 9005 + 10 * number))  # traces, outside
        explorer.engine.wait_compiled()
        start = 1000 + 2 * number * repeats
        results[view] = {
            "sequential": stats(scrub(explorer, range(start, start + repeats))),
            "random": stats(scrub(explorer, rng.permutation(10_000)[:repeats].tolist())),
        }
    explorer.view = "maps"
    return results


def patterns_seconds(model: object, layer: str, **settings: int) -> float:
    """Seconds for every channel of ``layer`` from an empty cache, tracing included."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ["CONVSCOPE_CACHE_DIR"] = folder
        begun = time.perf_counter()
        convscope.filter_patterns(model, layer, progress=False, **settings)
        return time.perf_counter() - begun


def bench_patterns(steps: int | None) -> dict[str, object]:
    """Filter patterns of the MNIST CNN and of the VGG-like model, and class maximisation."""
    mnist = convscope.mnist_cnn()
    settings = {} if steps is None else {"steps": steps}
    results: dict[str, object] = {
        "mnist_conv1_24_channels_s": patterns_seconds(mnist, "conv1", **settings),
        "mnist_conv2_48_channels_s": patterns_seconds(mnist, "conv2", **settings),
        "vgg_like_block3_conv1_64_channels_160px_s": patterns_seconds(
            vgg_like(), "block3_conv1", **settings
        ),
    }
    begun = time.perf_counter()
    convscope.maximize_class(mnist, list(range(10)), progress=False, **settings)
    results["mnist_maximize_10_classes_s"] = time.perf_counter() - begun
    return results


def report(results: dict[str, dict[str, object]]) -> list[str]:
    cam = results["grad_cam"]
    patterns = results["patterns"]
    grad_cam = cam["grad_cam_conv3"]["median_ms"]  # type: ignore[index]
    forward = cam["feature_maps_conv3"]["median_ms"]  # type: ignore[index]
    per_image = cam["grad_cam_per_image_in_a_batch_of_256_ms"]
    lines = [
        f"Grad-CAM, one digit, conv3 (compiled)    {grad_cam:8.2f} ms",
        f"feature maps of conv3, one digit         {forward:8.2f} ms",
        f"  Grad-CAM / feature maps                {grad_cam / forward:8.1f} ×",
        f"Grad-CAM per digit in a batch of 256     {per_image:8.2f} ms",
    ]
    views = results.get("views")
    if views:
        maps = views["maps"]  # type: ignore[index]
        for view in ("grad-cam", "heatmap"):
            for order in ("sequential", "random"):
                ms = views[view][order]["median_ms"]  # type: ignore[index]
                ratio = ms / maps[order]["median_ms"]
                target = "  target ≤ 2×: " + ("met" if ratio <= 2 else "MISSED")
                lines.append(
                    f"{view} scrub, {order:10s} conv3     {ms:8.2f} ms  "
                    f"{ratio:4.2f}× the maps scrub{target if view == 'grad-cam' else ''}"
                )
    targets = [
        ("MNIST conv1, 24 patterns", "mnist_conv1_24_channels_s", 5.0),
        ("MNIST conv2, 48 patterns", "mnist_conv2_48_channels_s", None),
        (
            "VGG-like block3_conv1, 64 patterns, 160 px",
            "vgg_like_block3_conv1_64_channels_160px_s",
            60.0,
        ),
        ("MNIST class maximisation, 10 classes", "mnist_maximize_10_classes_s", None),
    ]
    for label, key, limit in targets:
        seconds = float(patterns[key])  # type: ignore[arg-type]
        met = "" if limit is None else "met" if seconds <= limit else "MISSED"
        target = "" if limit is None else f"  target ≤ {limit:.0f} s: {met}"
        lines.append(f"{label:44s} {seconds:7.1f} s{target}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="few repeats and steps")
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "looking_deeper.json")
    )
    args = parser.parse_args()
    results = {
        "grad_cam": bench_grad_cam(5 if args.smoke else 60),
        "views": bench_explorer_views(10 if args.smoke else 200),
        "patterns": bench_patterns(2 if args.smoke else None),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "smoke": args.smoke,
        },
    }
    for line in report(results):
        print(line)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
