"""The codebase keeps its shape: ruff-clean, and TensorFlow only behind the engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "convscope"


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_is_clean(command: list[str]) -> None:
    ruff = shutil.which("ruff")
    assert ruff, "ruff is a test dependency: pip install -e '.[test]'"
    paths = ["src", "tests", "benchmarks", "scripts"]
    result = subprocess.run(  # noqa: S603
        [ruff, *command, *[p for p in paths if (ROOT / p).exists()]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_the_engine_imports_tensorflow_or_keras() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "engine" in path.relative_to(PACKAGE).parts:
            continue
        text = path.read_text()
        if "import tensorflow" in text or "import keras" in text:
            offenders.append(str(path.relative_to(ROOT)))
    # data/mnist.py may call Keras's own downloader, lazily, inside one function
    assert offenders == ["src/convscope/data/mnist.py"]


def test_render_and_data_load_without_tensorflow() -> None:
    code = (
        "import sys, convscope, convscope.render.figures, convscope.render.mosaic;"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    """``py.typed`` ships, so the types are a promise: ``mypy --strict`` on ``src/`` passes."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "src/convscope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
