"""The sample picker's data: filtered index lists and pages of small thumbnails as bytes."""

from __future__ import annotations

import numpy as np

from convscope.errors import InvalidArgumentError, LabelError

THUMB_MAX = 32  # thumbnails are at most this many pixels on a side
SORTS = ("index", "confidence", "loss", "activation")
"""Orders of the sample picker: by index; lowest confidence first; highest loss first; highest
activation of the selected channel first."""


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

    """

    def __init__(
        self,
        display_images: np.ndarray,
        labels: np.ndarray | None,
        predictions: np.ndarray | None,
        probabilities: np.ndarray | None = None,
        page_size: int = 48,
    ) -> None:
        step = max(1, -(-max(display_images.shape[1:3]) // THUMB_MAX))
        # Nearest-neighbour by striding: one vectorised view, no copy of the whole set.
        self.thumbnails = display_images[:, ::step, ::step]
        self.labels = labels
        self.predictions = predictions
        self.probabilities = probabilities
        self.page_size = page_size

    @property
    def sorts(self) -> list[str]:
        """The orders these samples can be shown in: loss needs labels and probabilities."""
        known = {
            "index": True,
            "confidence": self.probabilities is not None,
            "loss": self.probabilities is not None and self.labels is not None,
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
            truth = self.probabilities[indices, self.labels[indices]]  # type: ignore[index]
            with np.errstate(divide="ignore"):
                key = np.log(truth)
        key = np.where(np.isfinite(key) | (key == -np.inf), key, np.inf)  # NaN: last
        return indices[np.argsort(key, kind="stable")]

    def confusion(self, classes: int) -> list[list[int]]:
        """Count (true, predicted) pairs, rows true; empty without labels or predictions.

        Samples whose output was NaN/Inf (predicted ``-1``) are not counted.
        """
        if self.labels is None or self.predictions is None:
            return []
        valid = self.predictions >= 0
        pairs = self.labels[valid].astype(np.int64) * classes + self.predictions[valid]
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
        if predicted >= 0 and self.predictions is not None:
            keep &= self.predictions == predicted
        if misclassified and self.labels is not None and self.predictions is not None:
            keep &= self.labels != self.predictions
        return np.flatnonzero(keep)

    def page(self, indices: np.ndarray, page: int) -> tuple[bytes, list[dict[str, int]]]:
        """Thumbnail bytes of one page (row-major, concatenated) and each one's labels."""
        chosen = indices[page * self.page_size : (page + 1) * self.page_size]
        meta = [
            {
                "index": int(index),
                "label": -1 if self.labels is None else int(self.labels[index]),
                "predicted": -1 if self.predictions is None else int(self.predictions[index]),
            }
            for index in chosen
        ]
        return np.ascontiguousarray(self.thumbnails[chosen]).tobytes(), meta

    def page_count(self, indices: np.ndarray) -> int:
        """Pages needed for ``indices`` (at least one, even when empty)."""
        return max(1, -(-len(indices) // self.page_size))
