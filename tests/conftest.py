"""Shared fixtures: the real MNIST test set and the bundled model, loaded once per session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"

# Tests read the real MNIST test set; CI points at it through this variable.
if not os.environ.get("CONVSCOPE_MNIST_DIR") and SHARED_MNIST.is_dir():
    os.environ["CONVSCOPE_MNIST_DIR"] = str(SHARED_MNIST)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Filter patterns are cached on disk: never in the user's cache during tests (notebook kernels
# inherit this too).
_CACHE = tempfile.mkdtemp(prefix="convscope-test-cache-")
os.environ["CONVSCOPE_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = os.environ.get("CONVSCOPE_MNIST_DIR")
    if not folder or not (Path(folder) / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(
            "The real MNIST test set is needed: set CONVSCOPE_MNIST_DIR to a folder with "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (CI uses ../shared)."
        )
    return Path(folder)


@pytest.fixture(scope="session")
def mnist_test(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    from convscope import load_mnist

    return load_mnist("test", path=mnist_dir)


@pytest.fixture(scope="session")
def model():
    from convscope import mnist_cnn

    return mnist_cnn()
