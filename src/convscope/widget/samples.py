"""The sample picker's data: filtered index lists and pages of small thumbnails as bytes."""

from __future__ import annotations

import numpy as np

THUMB_MAX = 32  # thumbnails are at most this many pixels on a side


class SamplePicker:
    """Filter samples by true and predicted class and cut them into pages of thumbnails.

    Parameters
    ----------
    display_images : np.ndarray
        ``uint8`` images ``(N, H, W)`` or ``(N, H, W, 3)``.
    labels, predictions : np.ndarray or None
        True and predicted class per sample, when known.
    page_size : int
        Thumbnails per page.

    """

    def __init__(
        self,
        display_images: np.ndarray,
        labels: np.ndarray | None,
        predictions: np.ndarray | None,
        page_size: int = 48,
    ) -> None:
        step = max(1, -(-max(display_images.shape[1:3]) // THUMB_MAX))
        # Nearest-neighbour by striding: one vectorised view, no copy of the whole set.
        self.thumbnails = display_images[:, ::step, ::step]
        self.labels = labels
        self.predictions = predictions
        self.page_size = page_size

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
