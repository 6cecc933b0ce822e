"""The sample browser: which MNIST digits pass a filter, in which order, and ←/→ through them."""

from __future__ import annotations

import numpy as np
import pytest

from convscope.errors import IndexOutOfRangeError, LabelError
from convscope.widget.samples import SampleBrowser, SampleFilter, SamplePicker

DIGITS = [str(digit) for digit in range(10)]


@pytest.fixture(scope="module")
def browser(mnist_test: tuple[np.ndarray, np.ndarray]) -> SampleBrowser:
    images, labels = mnist_test
    # Predictions by hand: the true class, except every 7th sample, read as the next class.
    predictions = labels.astype(np.int64).copy()
    predictions[::7] = (predictions[::7] + 1) % 10
    picker = SamplePicker(images[..., 0] if images.ndim == 4 else images, labels, predictions)
    return SampleBrowser(picker, DIGITS, lambda: np.zeros(len(labels)))


def test_a_filter_passes_exactly_the_samples_of_its_classes(
    browser: SampleBrowser, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    labels = mnist_test[1]
    with browser.filtering(browser.check_filter("3", None, True)) as passing:
        expected = np.flatnonzero((labels == 3) & (np.arange(len(labels)) % 7 == 0))
        np.testing.assert_array_equal(passing, expected)
        assert browser.page_count == -(-len(expected) // browser.picker.page_size)
    with browser.filtering(SampleFilter()):
        assert len(browser.passing) == len(labels)


def test_a_refused_filter_or_a_failed_show_changes_nothing(browser: SampleBrowser) -> None:
    before = browser.passing
    with pytest.raises(LabelError, match="Unknown class 'cat'"):
        browser.check_filter("cat", None, False)
    with pytest.raises(IndexOutOfRangeError, match=r"use 0\.\.9"):
        browser.check_filter(None, 12, False)
    with pytest.raises(RuntimeError), browser.filtering(SampleFilter(true=5)):
        raise RuntimeError
    assert browser.passing is before
    assert browser.criteria == SampleFilter()


def test_steps_wrap_round_the_samples_that_pass(
    browser: SampleBrowser, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    labels = mnist_test[1]
    fours = np.flatnonzero(labels == 4)
    with browser.filtering(SampleFilter(true=4)):
        assert browser.step(int(fours[0]), 1) == fours[1]
        assert browser.step(int(fours[0]), -1) == fours[-1]  # wraps round
        outside = int(np.flatnonzero(labels != 4)[0])  # → from a sample that does not pass
        assert browser.step(outside, 1) == fours[np.searchsorted(fours, outside)]
        page_size = browser.picker.page_size
        assert browser.page_of(int(fours[page_size])) == 1
    with browser.filtering(SampleFilter()):
        pass


def test_a_page_lists_each_thumbnails_true_and_predicted_class(
    browser: SampleBrowser, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    labels = mnist_test[1]
    data, meta = browser.page(0)
    height, width, channels = browser.picker.thumb_shape
    assert len(data) == len(meta) * height * width * channels
    assert [m["label"] for m in meta] == labels[: len(meta)].tolist()
    assert meta[0]["predicted"] == (labels[0] + 1) % 10  # sample 0 is read as the next class
    assert meta[1]["predicted"] == labels[1]
    assert meta[0]["caption"] == f"{labels[0]}→{(labels[0] + 1) % 10}"
