"""Labels as people pass them become one class index per sample, or a clear LabelError."""

from __future__ import annotations

import numpy as np
import pytest

from convscope.data.labels import class_labels
from convscope.errors import LabelError

DIGITS = [str(digit) for digit in range(10)]
ANIMALS = ["cat", "dog", "bird"]


def labels_of(labels: object, class_names: object = None, classes: int | None = 10) -> list[int]:
    indices, _ = class_labels(labels, class_names, samples=4, classes=classes)
    assert indices is not None
    assert indices.dtype == np.int64
    return indices.tolist()


@pytest.mark.parametrize(
    "labels",
    [
        [7, 2, 1, 0],
        np.array([7, 2, 1, 0], np.uint8),
        np.array([7.0, 2.0, 1.0, 0.0]),
        np.array([[7], [2], [1], [0]]),  # a column, as keras.datasets.cifar10 gives
        np.eye(10)[[7, 2, 1, 0]],  # one-hot rows
        np.eye(10, dtype=np.float32)[[7, 2, 1, 0]] * 0.8 + 0.02,  # smoothed / probabilities
    ],
    ids=["list", "uint8", "float", "column", "one-hot", "probabilities"],
)
def test_indices_one_hot_and_probabilities_give_the_same_classes(labels: object) -> None:
    assert labels_of(labels) == [7, 2, 1, 0]


def test_names_map_to_their_index_in_class_names() -> None:
    assert labels_of(["dog", "cat", "bird", "dog"], ANIMALS, classes=3) == [1, 0, 2, 1]
    assert labels_of(np.array([b"dog", b"cat", b"bird", b"dog"]), ANIMALS, classes=3) == [
        1,
        0,
        2,
        1,
    ]
    with pytest.raises(LabelError, match=r"not in class_names: \['cow', 'emu'\]"):
        labels_of(["cow", "cat", "emu", "dog"], ANIMALS, classes=3)
    with pytest.raises(LabelError, match=r"labels are class names \('cat', 'dog'\); pass class_"):
        labels_of(["dog", "cat", "dog", "dog"], None, classes=None)


def test_default_names_are_the_output_indices() -> None:
    indices, names = class_labels(None, None, samples=4, classes=10)
    assert indices is None
    assert names == DIGITS
    assert class_labels(None, None, samples=4, classes=None) == (None, [])


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (3, r"one label per image \(4 of them\), got 3"),
        ({"a": 1}, "one label per image"),
        ([1, 2, 3], "Got 4 images but 3 labels"),
        ([[1, 2], [3]], "could not read them"),
        ([1, -1, 2, 3], r"class indices 0, 1, 2, \.\.\. \(one per class\), got \[-1\]"),
        ([1, 10, 2, 12], r"class indices \[10, 12\] but there are 10 classes"),
        ([1.5, 1, 2, 3], "whole class indices"),
        ([np.nan, 1, 2, 3], "NaN or Inf"),
        ([1e300, 1, 2, 3], r"got \[1e\+300\]"),
        ([True, False, True, True], "dtype bool"),
        (np.zeros((4, 10)), r"4 one-hot label row\(s\) have no single largest entry"),
        (np.eye(12)[:4], "have 12 columns but there are 10 classes"),
        (np.zeros((4, 2, 2)), r"got shape \(4, 2, 2\)"),
        (np.array([1, "a", None, 2], dtype=object), "dtype object"),
    ],
)
def test_labels_that_cannot_work_are_explained(labels: object, message: str) -> None:
    with pytest.raises(LabelError, match=message):
        labels_of(labels)


@pytest.mark.parametrize(
    ("class_names", "message"),
    [
        (list(range(10)), r"must be strings, got 0, 1, 2, 3, 4, \.\.\.; convert them"),
        ("0123456789", "must be a list of strings"),
        (3, "must be a list of strings"),
        (DIGITS[:3], "3 names but the model's output has 10 classes"),
        (["a"] * 10, r"repeated: \['a'\]"),
    ],
)
def test_class_names_that_cannot_work_are_explained(class_names: object, message: str) -> None:
    with pytest.raises(LabelError, match=message):
        class_labels(None, class_names, samples=4, classes=10)


def test_class_names_of_any_length_when_the_output_is_not_a_class_vector() -> None:
    indices, names = class_labels([0, 1, 1, 0], np.array(["no", "yes"]), samples=4, classes=None)
    assert names == ["no", "yes"]
    assert all(type(name) is str for name in names)
    assert indices is not None
    assert indices.tolist() == [0, 1, 1, 0]
