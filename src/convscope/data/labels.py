"""Turn labels and class names, in the forms people pass them, into class indices and names."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from convscope.errors import LabelError

_SHOWN = 5  # how many offending values a message lists
_MAX_INDEX = 2**31 - 1  # class indices are small whole numbers; more is a mistake


def class_labels(
    labels: object, class_names: object, *, samples: int, classes: int | None
) -> tuple[np.ndarray | None, list[str]]:
    """Return ``labels`` as one class index per sample, and the names of the classes.

    Parameters
    ----------
    labels : array-like or None
        One label per sample, as any of:

        - class indices, ``(N,)`` integers (whole-number floats too) or a column ``(N, 1)``;
        - one-hot rows ``(N, K)``: each row's largest entry (its argmax) is the class, so
          class probabilities work as well; a row with no single largest entry is refused;
        - class names ``(N,)`` strings (or bytes), mapped to their index in ``class_names``.
    class_names : sequence of str or None
        One name per class, in the order of the model's outputs. Names must be strings:
        numbers are refused rather than guessed at (``[str(i) for i in range(10)]``).
        ``None`` names each output class by its index.
    samples : int
        How many samples the labels must cover.
    classes : int or None
        Classes of the model's output when it is a class vector, else ``None``.

    Returns
    -------
    indices : np.ndarray or None
        ``int64`` array ``(N,)``, or ``None`` when ``labels`` is ``None``.
    names : list of str
        The class names; empty when neither ``class_names`` nor ``classes`` gives them.

    Raises
    ------
    LabelError
        When the names or labels do not fit the samples or the model; the message says how.

    """
    names = check_class_names(class_names, classes)
    if labels is None:
        return None, names
    count = len(names) if names else classes
    try:
        array = np.asarray(labels)
    except (ValueError, TypeError) as error:
        raise LabelError(
            f"labels must be an array with one label per image; could not read them ({error})."
        ) from error
    if array.ndim == 0 or isinstance(labels, (Mapping, set)):
        raise LabelError(
            f"labels must hold one label per image ({samples} of them), got {labels!r}. For one "
            "image pass a list, e.g. labels=[3]."
        )
    if len(array) != samples:
        raise LabelError(
            f"Got {samples} images but {len(array)} labels; pass one label per image, or "
            "labels=None."
        )
    if array.dtype.kind in "US" or (
        array.dtype.kind == "O" and all(_as_text(value) is not None for value in array.flat)
    ):
        indices = _indices_of_names(array, names if class_names is not None else [])
    elif array.dtype.kind in "iuf":
        indices = _indices_of_numbers(array, count)
    else:
        raise LabelError(
            f"labels must be class indices, one-hot rows or class names, got dtype "
            f"{array.dtype}. Convert them, e.g. np.asarray(labels, dtype=int)."
        )
    if count is not None and len(indices) and indices.max() >= count:
        bad = np.unique(indices[indices >= count])[:_SHOWN].tolist()
        raise LabelError(
            f"labels hold class indices {bad} but there are {count} classes, so use 0..{count - 1}."
        )
    return indices, names


def check_class_names(class_names: object, classes: int | None) -> list[str]:
    """Return ``class_names`` as a list of strings, one per class and all different, or raise.

    The one rule for names everywhere they are taken (the Explorer, the confusion matrix, the
    Grad-CAM and class figures). ``None`` names each class by its index.

    Raises
    ------
    LabelError
        Not a list of strings, not one per class, or a name repeated.

    """
    if class_names is None:
        return [str(index) for index in range(classes or 0)]
    if isinstance(class_names, (str, bytes, Mapping)) or not isinstance(class_names, Iterable):
        raise LabelError(
            f"class_names must be a list of strings, one per class, got {class_names!r}."
        )
    names = list(class_names)
    not_text = [name for name in names if not isinstance(name, str)]
    if not_text:
        raise LabelError(
            f"class_names must be strings, got {_listed(not_text)}; convert them, e.g. "
            "class_names=[str(name) for name in names]."
        )
    if classes is not None and len(names) != classes:
        raise LabelError(
            f"class_names has {len(names)} names but the model's output has {classes} classes; "
            "pass one name per output unit, in the order of the outputs."
        )
    repeated = sorted(name for name, times in Counter(names).items() if times > 1)
    if repeated:
        raise LabelError(f"class_names must be different from each other; repeated: {repeated}.")
    return [str(name) for name in names]  # numpy str_ to str, for the widget


def _indices_of_names(array: np.ndarray, names: list[str]) -> np.ndarray:
    if array.ndim != 1:
        raise LabelError(f"Class-name labels must be one name per image (N,), got {array.shape}.")
    values = [str(_as_text(value)) for value in array.tolist()]  # all text: checked by the caller
    if not names:
        raise LabelError(
            f"labels are class names ({_listed(sorted(set(values)))}); pass class_names=[...] "
            "too, in the order of the model's outputs, so that each name maps to its index."
        )
    index = {name: position for position, name in enumerate(names)}
    unknown = sorted({value for value in values if value not in index})
    if unknown:
        raise LabelError(
            f"labels name classes that are not in class_names: {unknown[:_SHOWN]}"
            f"{' and more' if len(unknown) > _SHOWN else ''}; class_names holds {_listed(names)}."
        )
    return np.array([index[value] for value in values], dtype=np.int64)


def _indices_of_numbers(array: np.ndarray, count: int | None) -> np.ndarray:
    if array.ndim == 2 and array.shape[1] == 1:  # noqa: PLR2004 - a column of indices, as Keras's CIFAR
        array = array[:, 0]
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise LabelError("labels contain NaN or Inf; every image needs a class.")
    if array.ndim == 2:  # noqa: PLR2004
        return _indices_of_one_hot(array, count)
    if array.ndim != 1:
        raise LabelError(
            f"labels must be class indices (N,) or one-hot rows (N, classes), got shape "
            f"{array.shape}."
        )
    if array.dtype.kind == "f" and not (array == np.round(array)).all():
        raise LabelError(
            "labels must be whole class indices; got fractions. One-hot or probability labels "
            "are rows, shape (N, classes)."
        )
    if (array < 0).any() or (array > _MAX_INDEX).any():
        bad = np.unique(array[(array < 0) | (array > _MAX_INDEX)])[:_SHOWN].tolist()
        raise LabelError(f"labels must be class indices 0, 1, 2, ... (one per class), got {bad}.")
    return array.astype(np.int64)


def _indices_of_one_hot(rows: np.ndarray, count: int | None) -> np.ndarray:
    if count is not None and rows.shape[1] != count:
        raise LabelError(
            f"One-hot labels have {rows.shape[1]} columns but there are {count} classes; pass "
            "one column per class, or class indices (N,)."
        )
    indices = rows.argmax(axis=1)
    tied = np.count_nonzero(rows == rows.max(axis=1, keepdims=True), axis=1) != 1
    if tied.any():
        raise LabelError(
            f"{int(tied.sum())} one-hot label row(s) have no single largest entry (first: row "
            f"{int(np.argmax(tied))}), so their class is unclear. Each row needs one 1, or one "
            "highest probability."
        )
    return np.asarray(indices, dtype=np.int64)


def _as_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):  # tf.data gives string labels as bytes
        return value.decode("utf-8", errors="replace")
    return None


def _listed(values: Sequence[object]) -> str:
    shown = ", ".join(repr(value) for value in values[:_SHOWN])
    return shown + (", ..." if len(values) > _SHOWN else "")
