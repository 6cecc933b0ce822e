"""The benchmark script still runs end to end (smoke mode); it is not a timed test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_benchmark_smoke_run_reports_every_section(
    tmp_path: Path, mnist_env: dict[str, str]
) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, **mnist_env},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "target" in result.stdout  # the ratio table was printed
    results = json.loads(out.read_text())
    scrub = results["mnist"]["scrub_conv1"]
    for name in ("convscope", "floor", "tutorial", "convscope_png"):
        assert scrub[name]["median_ms"] > 0
    assert results["mnist"]["accuracy"] > 0.97
    assert results["large"]["scrub_block1_conv1"]["floor"]["median_ms"] > 0
    assert results["memory"]["rss_growth_mb"] < results["memory"]["limit_mb"]
    assert results["insight"]["channels"] == 24 + 48 + 64
    # issue 10's epoch switch and issue 9's deeper views, with their targets in the table
    epochs = results["insight"]["epochs"]
    assert epochs["epoch_switch"]["median_ms"] > 0
    assert epochs["sample_scrub"]["median_ms"] > 0
    views = results["looking_deeper"]["views"]
    for view in ("maps", "grad-cam", "heatmap"):
        assert views[view]["sequential"]["median_ms"] > 0, view
    patterns = results["looking_deeper"]["patterns"]
    assert patterns["mnist_conv1_24_channels_s"] > 0
    assert patterns["vgg_like_block3_conv1_64_channels_160px_s"] > 0
    for target in (
        "Grad-CAM scrub (sequential): within 2x of the maps scrub",
        "24 conv1 filter patterns (steps=1): <= 5 s",
        "64 VGG-like patterns, 160 px (steps=1): <= 60 s",
        "epoch switch in the replay: within 2x of a sample scrub",
    ):
        assert target in result.stdout, target
    # issue 23's data-set passes: each measured, with its target in the table
    passes = results["passes"]
    assert passes["loop"]["calls"] == 136
    for name in ("mnist_conv3", "mnist_every_spatial_layer", "resnet50_96_last_block"):
        throughput = passes["throughput"][name]
        assert throughput["pass_images_per_s"] > 0
        assert throughput["predict_images_per_s"] > 0
    assert passes["stream"]["images"] == 12_000
    assert passes["stream"]["rss_curve_mb"]["dead_channels"][0][0] >= 10_000
    assert "top_images loop over 136 channels" in result.stdout
    assert "pass images/s, resnet50_96_last_block: >= 0.9x model.predict" in result.stdout
    delivery = results["delivery"]
    for path in ("canvas", "ipympl"):
        for access in ("sequential", "random"):
            assert delivery[path][access]["median_ms"] > 0
    assert delivery["canvas"]["frame_kb_max"] < 100  # what Colab and VS Code relay
    for access in ("sequential", "random"):  # each target's floor, timed in turn with it
        assert delivery["canvas"]["paired_floor"][access]["median_ms"] > 0
        assert f"kernel.canvas.{access}, bytes included" in result.stdout
    # issue 20: what following the weights costs per update, on a small and a large model
    weights = results["weights"]
    assert weights["mnist_cnn"]["slices"] == 1  # every weight checked on every update
    assert weights["resnet50"]["slices"] > 1  # one slice per update, all of them when idle
    for model in ("mnist_cnn", "resnet50"):
        for check in ("cheap_check", "full_checksum"):
            assert weights[model][check]["median_ms"] > 0, (model, check)
    assert "weights.resnet50.cheap_check" in result.stdout
    # the tutorial's predict-per-move is slower than one compiled pass, whatever the noise
    assert scrub["tutorial"]["median_ms"] > scrub["floor"]["median_ms"]


@pytest.mark.slow
def test_looking_deeper_benchmark_smoke_run(tmp_path: Path, mnist_dir: Path) -> None:
    out = tmp_path / "deeper.json"
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            str(ROOT / "benchmarks" / "looking_deeper.py"),
            "--smoke",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "CONVSCOPE_MNIST_DIR": str(mnist_dir)},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "target ≤ 5 s" in result.stdout
    results = json.loads(out.read_text())
    assert results["grad_cam"]["grad_cam_conv3"]["median_ms"] > 0
    assert results["patterns"]["vgg_like_block3_conv1_64_channels_160px_s"] > 0
