"""Shared fixtures: the real MNIST test set and the bundled model, loaded once per session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from real_mnist import EndToEndDigits, RealMnist, end_to_end_digits, find_real_mnist

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"

# A checkout beside ../shared (as in CI) reads the real MNIST test set from there; elsewhere the
# tests find it as a user's load_mnist does (Keras's cache or download) or skip.
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
def real_mnist() -> RealMnist:
    found = find_real_mnist()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture(scope="session")
def mnist_test(real_mnist: RealMnist) -> tuple[np.ndarray, np.ndarray]:
    return real_mnist.images, real_mnist.labels


@pytest.fixture(scope="session")
def e2e_digits(tmp_path_factory: pytest.TempPathFactory) -> EndToEndDigits:
    """The digits the end-to-end tests run on: the real test set, or offline the 500 held out.

    A fresh clone without MNIST still runs every browser and notebook test; only the tests of
    claims about the 10,000 test digits (those that ask for ``real_mnist``) skip.
    """
    return end_to_end_digits(find_real_mnist(), tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="session")
def digit_arrays(e2e_digits: EndToEndDigits) -> tuple[np.ndarray, np.ndarray]:
    """``e2e_digits`` as ``(images, labels)``, for tests that show them rather than count them."""
    return e2e_digits.images, e2e_digits.labels


@pytest.fixture(scope="session")
def mnist_env(e2e_digits: EndToEndDigits) -> dict[str, str]:
    """What a kernel or subprocess needs in its environment to read the same ``e2e_digits``."""
    return e2e_digits.env


@pytest.fixture(scope="session")
def mnist_dir(e2e_digits: EndToEndDigits) -> Path:
    """A folder with ``e2e_digits``, for tests that pass a folder on (prefer ``mnist_env``)."""
    return e2e_digits.folder


@pytest.fixture(scope="session")
def model():
    from convscope import mnist_cnn

    return mnist_cnn()
