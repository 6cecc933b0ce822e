"""The sample picker: which samples pass the filter, in which order, cut into thumbnail pages.

:class:`SamplePicker` holds the data (thumbnails, labels, predictions) and answers pure
questions about it; :class:`SampleBrowser` owns the picker's state (the filter, the order and
the samples that pass) and moves through it (←/→, the page of a sample).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from convscope.errors import (
    ArgumentTypeError,
    IndexOutOfRangeError,
    InvalidArgumentError,
    LabelError,
    check_choice,
)
from convscope.render.words import thumb_caption

THUMB_MAX = 32  # thumbnails are at most this many pixels on a side
SORTS = ("index", "confidence", "loss", "activation")
"""Orders of the sample picker: by index; lowest confidence first; highest loss first; highest
activation of the selected channel first."""


class ClassSource(Protocol):
    """Where the picker reads the samples' classes: all of them, or only those it shows.

    :class:`~convscope.widget.class_output.ClassOutput` computes them lazily per version of
    the weights, so that a page of thumbnails costs a pass over its own samples only.
    """

    @property
    def has_predictions(self) -> bool:
        """Whether there are predicted classes (a class output)."""

    @property
    def has_probabilities(self) -> bool:
        """Whether there are class probabilities (for the confidence and loss orders)."""

    @property
    def predictions(self) -> np.ndarray | None:
        """Every sample's predicted class (-1 where not finite), or ``None``."""

    @property
    def probabilities(self) -> np.ndarray | None:
        """Every sample's class probabilities ``(N, classes)``, or ``None``."""

    def predictions_of(self, indices: np.ndarray) -> np.ndarray | None:
        """Return the predicted class of the samples ``indices`` only, or ``None``."""


class FixedClasses:
    """A :class:`ClassSource` of arrays known beforehand."""

    def __init__(self, predictions: np.ndarray | None, probabilities: np.ndarray | None) -> None:
        self.predictions = predictions
        self.probabilities = probabilities
        self.has_predictions = predictions is not None
        self.has_probabilities = probabilities is not None

    def predictions_of(self, indices: np.ndarray) -> np.ndarray | None:
        """Return the predicted class of the samples ``indices``, or ``None``."""
        return None if self.predictions is None else self.predictions[indices]


class SamplePicker:
    """Filter samples by true and predicted class and cut them into pages of thumbnails.

    Parameters
    ----------
    display_images : np.ndarray
        ``uint8`` images ``(N, H, W)`` or ``(N, H, W, 3)``.
    labels, predictions : np.ndarray or None
        True and predicted class per sample, when known.
    probabilities : np.ndarray or None
        Class probabilities per sample ``(N, classes)``, NaN rows where the output was not
        finite; needed to sort by confidence or loss.
    page_size : int
        Thumbnails per page.
    classes : ClassSource, optional
        Where the classes are read instead of ``predictions`` and ``probabilities``: read
        when asked, so that new weights cost nothing until the picker needs their classes.

    """

    def __init__(
        self,
        display_images: np.ndarray,
        labels: np.ndarray | None,
        predictions: np.ndarray | None,
        probabilities: np.ndarray | None = None,
        page_size: int = 48,
        *,
        classes: ClassSource | None = None,
    ) -> None:
        step = max(1, -(-max(display_images.shape[1:3]) // THUMB_MAX))
        # Nearest-neighbour by striding: one vectorised view, no copy of the whole set.
        self.thumbnails = display_images[:, ::step, ::step]
        self.labels = labels
        self.classes = FixedClasses(predictions, probabilities) if classes is None else classes
        self.page_size = page_size

    @property
    def predictions(self) -> np.ndarray | None:
        """Every sample's predicted class, for the weights in use (computed if not yet)."""
        return self.classes.predictions

    @property
    def probabilities(self) -> np.ndarray | None:
        """Every sample's class probabilities, for the weights in use (computed if not yet)."""
        return self.classes.probabilities

    @property
    def sorts(self) -> list[str]:
        """The orders these samples can be shown in: loss needs labels and probabilities."""
        known = {
            "index": True,
            "confidence": self.classes.has_probabilities,
            "loss": self.classes.has_probabilities and self.labels is not None,
            "activation": True,
        }
        return [name for name in SORTS if known[name]]

    def check_sort(self, sort: str) -> None:
        """Raise a clear error when these samples cannot be put in the order ``sort``."""
        if sort not in self.sorts:
            raise LabelError(
                f"Sorting by {sort} needs {'labels and ' if sort == 'loss' else ''}a model "
                "with a class output; these samples can be sorted by "
                f"{', '.join(self.sorts)}."
            )

    def ordered(
        self, indices: np.ndarray, sort: str, activation: np.ndarray | None = None
    ) -> np.ndarray:
        """Return ``indices`` in the order ``sort``; ties, and samples with no key, by index.

        ``activation`` is the selected channel's per-sample peak ``(N,)`` for
        ``sort="activation"``. Samples whose output is NaN/Inf have no confidence or loss and
        come last.
        """
        if sort == "index" or len(indices) == 0:
            return indices
        self.check_sort(sort)
        if sort == "activation":
            if activation is None:
                raise InvalidArgumentError("sort='activation' needs each sample's channel peak.")
            key = -activation[indices]
        elif sort == "confidence":
            key = self.probabilities[indices].max(axis=1)  # type: ignore[index]
        else:  # the highest loss first: the lowest log-probability of the true class
            probabilities = self.probabilities
            truth = probabilities[indices, self.labels[indices]]  # type: ignore[index]
            with np.errstate(divide="ignore"):
                key = np.log(truth)
        key = np.where(np.isfinite(key) | (key == -np.inf), key, np.inf)  # NaN: last
        return indices[np.argsort(key, kind="stable")]

    def confusion(self, classes: int) -> list[list[int]]:
        """Count (true, predicted) pairs, rows true; empty without labels or predictions.

        Samples whose output was NaN/Inf (predicted ``-1``) are not counted.
        """
        predictions = self.predictions
        if self.labels is None or predictions is None:
            return []
        valid = predictions >= 0
        pairs = self.labels[valid].astype(np.int64) * classes + predictions[valid]
        counts = np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)
        return counts.tolist()

    @staticmethod
    def position(order: np.ndarray, sample: int) -> int | None:
        """Where ``sample`` is in ``order``, or ``None`` when it is not there."""
        found = np.flatnonzero(order == sample)
        return int(found[0]) if len(found) else None

    @property
    def thumb_shape(self) -> list[int]:
        """``[height, width, channels]`` of one thumbnail."""
        height, width = self.thumbnails.shape[1:3]
        return [height, width, 1 if self.thumbnails.ndim == 3 else 3]  # noqa: PLR2004

    def filtered(
        self, true: int = -1, predicted: int = -1, misclassified: bool = False
    ) -> np.ndarray:
        """Return the indices of the samples that pass the filters (``-1``: any class)."""
        keep = np.ones(len(self.thumbnails), dtype=bool)
        if true >= 0 and self.labels is not None:
            keep &= self.labels == true
        if (predicted >= 0 or misclassified) and self.classes.has_predictions:
            # Only these filters need every sample's prediction for the weights in use.
            predictions = self.predictions
            assert predictions is not None  # has_predictions
            if predicted >= 0:
                keep &= predictions == predicted
            if misclassified and self.labels is not None:
                keep &= self.labels != predictions
        return np.flatnonzero(keep)

    def page(self, indices: np.ndarray, page: int) -> tuple[bytes, list[dict[str, int]]]:
        """Thumbnail bytes of one page (row-major, concatenated) and each one's labels."""
        chosen = self.on_page(indices, page)
        predicted = self.classes.predictions_of(chosen)  # this page's only: one small pass
        meta = [
            {
                "index": int(index),
                "label": -1 if self.labels is None else int(self.labels[index]),
                "predicted": -1 if predicted is None else int(predicted[row]),
            }
            for row, index in enumerate(chosen)
        ]
        return np.ascontiguousarray(self.thumbnails[chosen]).tobytes(), meta

    def on_page(self, indices: np.ndarray, page: int) -> np.ndarray:
        """Return the samples of ``indices`` that page ``page`` shows (none past the last)."""
        return indices[page * self.page_size : (page + 1) * self.page_size]

    def page_count(self, indices: np.ndarray) -> int:
        """Pages needed for ``indices`` (at least one, even when empty)."""
        return max(1, -(-len(indices) // self.page_size))


@dataclass(frozen=True)
class SampleFilter:
    """The samples shown: of one true class, one predicted class (``-1``: any), mistakes only."""

    true: int = -1
    predicted: int = -1
    misclassified: bool = False


class SampleBrowser:
    """The sample picker's state: the filter, the order, and the samples that pass, in order.

    Parameters
    ----------
    picker : SamplePicker
        The samples' thumbnails, labels and predictions.
    class_names : sequence of str
        Names of the model's classes, for a filter given by name.
    channel_peaks : callable
        Returns each sample's peak of the selected channel ``(N,)``, for the activation order;
        asked only when that order is chosen or its channel changes.

    """

    def __init__(
        self,
        picker: SamplePicker,
        class_names: Sequence[str],
        channel_peaks: Callable[[], np.ndarray],
    ) -> None:
        self.picker = picker
        self.class_names = list(class_names)
        self._channel_peaks = channel_peaks
        self.sort = "index"
        self.criteria = SampleFilter()
        self.passing = picker.filtered()
        """Indices of the samples that pass the filter, in the order :attr:`sort`."""

    @property
    def has_labels(self) -> bool:
        """Whether the true classes are known (the true-class and mistake filters)."""
        return self.picker.labels is not None

    @property
    def has_predictions(self) -> bool:
        """Whether the model's output is a class vector (the predicted-class filter)."""
        return self.picker.classes.has_predictions

    @property
    def page_count(self) -> int:
        """Pages of thumbnails of the samples that pass (at least one)."""
        return self.picker.page_count(self.passing)

    def page(self, page: int) -> tuple[bytes, list[dict[str, int | str]]]:
        """Thumbnail bytes of one page of the samples that pass, and each one's classes.

        Each entry is a :class:`~convscope.widget.protocol.ThumbMeta`, captioned
        "label→prediction" as the page shows it.
        """
        data, meta = self.picker.page(self.passing, page)
        names = self.class_names
        return data, [
            {**entry, "caption": thumb_caption(entry["label"], entry["predicted"], names)}
            for entry in meta
        ]

    def page_samples(self, page: int) -> np.ndarray:
        """Return the samples shown on thumbnail page ``page`` (none past the last page)."""
        return self.picker.on_page(self.passing, page)

    def confusion(self) -> list[list[int]]:
        """Return the confusion matrix of the predictions listed, rows true; empty if unknown."""
        return self.picker.confusion(len(self.class_names))

    def check_filter(
        self, true: int | str | None, predicted: int | str | None, misclassified: object
    ) -> SampleFilter:
        """Resolve a filter's classes (index, name or ``None``) or raise; nothing changes."""
        true_index = self._class_index("true", true, known=self.has_labels)
        predicted_index = self._class_index("predicted", predicted, known=self.has_predictions)
        if misclassified and not (self.has_labels and self.has_predictions):
            raise LabelError(
                "misclassified=True needs labels and class predictions; pass labels=... to "
                "the Explorer."
            )
        return SampleFilter(true_index, predicted_index, bool(misclassified))

    @contextlib.contextmanager
    def filtering(self, criteria: SampleFilter) -> Iterator[np.ndarray]:
        """Pass the samples of ``criteria`` (in the order in use); undone if the block raises."""
        before = (self.criteria, self.passing)
        self.criteria = criteria
        self.passing = self._ordered(self._passing(criteria), self.sort)
        try:
            yield self.passing
        except BaseException:
            self.criteria, self.passing = before
            raise

    def check_sort(self, order: object) -> str:
        """Return ``order`` if these samples can be put in it, or raise; nothing changes."""
        checked = check_choice("sort", order, SORTS, "sample order")
        self.picker.check_sort(checked)
        return checked

    def reorder(self, order: str) -> None:
        """Put the samples that pass in ``order`` (checked by :meth:`check_sort`)."""
        self.passing = self._ordered(np.sort(self.passing), order)
        self.sort = order

    def follow_predictions(self) -> None:
        """Follow new weights: the filter and the order follow their predictions.

        Costs a pass over the data set only when the filter or the order needs every
        sample's class (predicted class, mistakes, confidence, loss); else nothing.
        """
        self.passing = self._ordered(self._passing(self.criteria), self.sort)

    def step(self, start: int, delta: int) -> int:
        """Move ``delta`` places from ``start`` through the samples that pass, wrapping round.

        From a sample that does not pass, →/← go to the next/previous one that does (by
        index), or in another order to the first/last one. With none passing, all samples do.
        """
        passing = self.passing if len(self.passing) else np.arange(len(self.picker.thumbnails))
        position = self.picker.position(passing, start)
        if position is not None:
            return int(passing[(position + delta) % len(passing)])
        if self.sort != "index":
            return int(passing[0] if delta > 0 else passing[-1])
        after = int(np.searchsorted(passing, start))
        return int(passing[after % len(passing)] if delta > 0 else passing[after - 1])

    def page_of(self, sample: int) -> int:
        """Return the page that shows ``sample``.

        For a sample that does not pass: by index, where it would be; in another order, the
        first page.
        """
        position = self.picker.position(self.passing, sample)
        if position is None:
            position = int(np.searchsorted(self.passing, sample)) * (self.sort == "index")
        return min(position // self.picker.page_size, self.page_count - 1)

    def passes(self, sample: int) -> bool:
        """Whether ``sample`` passes the filter."""
        return self.picker.position(self.passing, sample) is not None

    def _passing(self, criteria: SampleFilter) -> np.ndarray:
        return self.picker.filtered(criteria.true, criteria.predicted, criteria.misclassified)

    def _ordered(self, indices: np.ndarray, order: str) -> np.ndarray:
        peaks = self._channel_peaks() if order == "activation" else None
        return self.picker.ordered(indices, order, peaks)

    def _class_index(self, which: str, value: int | str | None, *, known: bool) -> int:
        """Resolve a filter's class (index, name or ``None``) to an index, ``-1`` for any."""
        names = self.class_names
        if value is None or (_is_int(value) and value == -1):
            return -1
        if not isinstance(value, str) and not _is_int(value):
            raise ArgumentTypeError(
                f"{which} must be a class index, a class name or None, not {value!r}."
            )
        if not known:
            source = "labels=..." if which == "true" else "a model with a class output"
            raise LabelError(f"Filtering by {which} class needs {source}.")
        if isinstance(value, str):
            if value not in names:
                raise LabelError(f"Unknown class {value!r} for {which}=; the classes are {names}.")
            return names.index(value)
        if not 0 <= int(value) < len(names):
            raise IndexOutOfRangeError(
                f"{which}={value} is not a class: use 0..{len(names) - 1}, a class name, or "
                "None for any class."
            )
        return int(value)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
