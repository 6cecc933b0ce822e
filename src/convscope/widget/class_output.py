"""The model's class output over the data set: probabilities and predictions, per weights.

How the selected output reads as classes (:func:`output_reading`), read once per version of
the weights for every sample, and kept: a training run's epochs each keep theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np

from convscope.engine.activations import ActivationEngine
from convscope.engine.split import SIGMOID, SOFTMAX, GraphValue, find_class_scores
from convscope.errors import ModelNotSupportedError


class ClassOutput:
    """The class probabilities and predictions of every sample, for the weights in use.

    Computed lazily, row by row, per version of the weights: new weights cost nothing until
    something asks for their numbers, and a page of thumbnails or the sample in view costs a
    pass over those samples only. What needs every sample (the predicted-class and mistake
    filters, the confidence and loss orders, the confusion matrix) asks for
    :attr:`probabilities`, which computes the rows still missing in one pass. A row is only
    ever read for the weights in use (the engine's ``weights_tag``), so no number from other
    weights is ever returned.

    Parameters
    ----------
    engine : ActivationEngine
        The model; its ``weights_tag`` keys what is kept.
    images : np.ndarray
        The samples, as the model takes them.

    """

    def __init__(self, engine: ActivationEngine, images: np.ndarray) -> None:
        self.engine = engine
        self.images = images
        self.reading = output_reading(engine)
        self.kept: dict[Hashable, _Rows] = {}
        """Per weights tag: the rows computed so far."""
        # The weights it opens on: every sample now, as the first view shows them all.
        self.fill()

    @property
    def has_classes(self) -> bool:
        """Whether the model's output reads as classes (there are probabilities to show)."""
        return self.reading is not None

    has_predictions = has_classes
    has_probabilities = has_classes

    @property
    def probabilities(self) -> np.ndarray | None:
        """Class probabilities ``(N, classes)`` for the weights in use, or ``None``.

        ``None`` when the output is not a class vector; NaN rows where the output is not
        finite. Rows not yet computed for these weights are computed now, in one pass.
        """
        if self.reading is None:
            return None
        return self.fill()

    @property
    def predictions(self) -> np.ndarray | None:
        """Predicted class of every sample (-1 where the output is not finite), or ``None``.

        ``None`` when the output is not a class vector.
        """
        if self.reading is None:
            return None
        self.fill()
        return self._rows().predictions()

    @property
    def complete(self) -> bool:
        """Whether every sample's row is known for the weights in use (nothing to compute)."""
        return self.reading is None or bool(self._rows().known.all())

    def rows(self, indices: np.ndarray) -> np.ndarray | None:
        """Return the probabilities of the samples ``indices`` (a pass over the missing ones)."""
        if self.reading is None:
            return None
        rows = self._rows()
        indices = np.asarray(indices, dtype=np.int64)
        missing = np.unique(indices[~rows.known[indices]])
        if len(missing):
            rows.store(missing, self._read_rows(self.images[missing]))
        found: np.ndarray = rows.values[indices]
        return found

    def predictions_of(self, indices: np.ndarray) -> np.ndarray | None:
        """Return the predicted class of the samples ``indices`` (-1 where not finite)."""
        rows = self.rows(indices)
        return None if rows is None else _argmax(rows)

    def fill(self, most: int | None = None) -> np.ndarray:
        """Compute up to ``most`` (default: all) missing rows; return all rows (NaN if missing).

        Lets a caller spread the pass over the data set into chunks between requests.
        """
        rows = self._rows()
        missing = np.flatnonzero(~rows.known)[:most]
        if len(missing) and self.reading is not None:
            batch = self.images if len(missing) == len(self.images) else self.images[missing]
            rows.store(missing, self._read_rows(batch))
        return rows.values

    def read(self, images: np.ndarray) -> np.ndarray | None:
        """Return the class probabilities of ``images`` (one compiled pass), or ``None``."""
        if self.reading is None:
            return None
        return class_probabilities(self.engine.predict(images), self.reading)

    def read_one(self, image: np.ndarray, key: Hashable) -> np.ndarray | None:
        """Return one image's class probabilities, or ``None``; its output is cached by ``key``.

        The output comes from the pass that computed the image's maps when that pass was asked
        for it too (``ActivationEngine.activation(..., with_output=True)``).
        """
        if self.reading is None:
            return None
        found = class_probabilities(self.engine.output(image, key=key)[None], self.reading)
        return None if found is None else found[0]

    def follow(self) -> None:
        """Use the weights in use now: their rows are computed when first asked for."""
        self._rows()

    def forget(self, stale: Callable[[Hashable], bool]) -> None:
        """Drop what was kept for the weights ``stale`` names."""
        for key in [key for key in self.kept if stale(key)]:
            del self.kept[key]

    @property
    def head_text(self) -> str:
        """Which output the probabilities come from, for a model with several; else ``""``."""
        if len(self.engine.output_names) < 2:  # noqa: PLR2004
            return ""
        names = self.engine.output_names[self.engine.output_index]
        return f"  ·  output {names[0] if names else self.engine.output_index}"

    @property
    def chart_caption(self) -> str:
        """What the class chart's bars are, in a few words: the model's own, or a softmax."""
        if self.reading is None:
            return ""
        if self.reading.two_sided:
            return "sigmoid: p of class 1, and 1 − p"
        return {
            SOFTMAX: "softmax: the model's probabilities",
            SIGMOID: "sigmoid: each class on its own",
        }.get(self.reading.squash, "softmax of the model's scores")

    def _rows(self) -> _Rows:
        """Return the rows of the weights in use, made (empty) on first use of them."""
        tag = self.engine.weights_tag
        rows = self.kept.get(tag)
        if rows is None:
            classes = output_classes(self.engine) or 0
            rows = self.kept[tag] = _Rows(len(self.images), classes)
        return rows

    def _read_rows(self, images: np.ndarray) -> np.ndarray:
        read = self.read(images)
        assert read is not None  # only asked for a class output
        return read


class _Rows:
    """One version of the weights' probabilities, NaN until computed, and which are known."""

    def __init__(self, samples: int, classes: int) -> None:
        self.values = np.full((samples, classes), np.nan, dtype=np.float32)
        self.known = np.zeros(samples, dtype=bool)
        self._predictions: np.ndarray | None = None  # of these values, until the next store

    def store(self, indices: np.ndarray, values: np.ndarray) -> None:
        self.values[indices] = values
        self.known[indices] = True
        self._predictions = None

    def predictions(self) -> np.ndarray:
        """Return each row's class (-1 where not finite), kept until rows are stored; read-only."""
        if self._predictions is None:
            self._predictions = _argmax(self.values)
            self._predictions.flags.writeable = False
        return self._predictions


def _argmax(probabilities: np.ndarray) -> np.ndarray:
    """Each row's class, -1 where the row is not finite (NaN or Inf output)."""
    valid = np.isfinite(probabilities).all(axis=1)
    return np.where(valid, np.nan_to_num(probabilities).argmax(axis=1), -1)


def output_reading(engine: ActivationEngine) -> GraphValue | None:
    """Return how the selected output reads as classes; ``None`` when it does not.

    ``None`` for an output that is not one value per class, and for one whose last operation
    convscope cannot tell apart from a squashing of the scores (refused by Grad-CAM too): its
    values are never shown as probabilities they may not be.
    """
    shape = engine.output_shape
    if len(shape) != 1 or not shape[0]:
        return None
    try:
        return find_class_scores(engine.graph, engine.output_index)
    except ModelNotSupportedError:
        return None


def output_classes(engine: ActivationEngine) -> int | None:
    """Classes of the model's output when it is a class vector ``(classes,)``, else ``None``.

    A one-unit sigmoid has two: the negative side and the positive side.
    """
    shape = engine.output_shape
    if len(shape) != 1 or not shape[0]:
        return None
    if shape[0] == 1:
        reading = output_reading(engine)
        return 2 if reading is not None and reading.two_sided else None
    return int(shape[0])


def class_probabilities(outputs: np.ndarray, reading: GraphValue) -> np.ndarray | None:
    """Read a model's outputs as the chart shows them, by what ends the model.

    A softmax or a sigmoid gives the model's own values, as they are (a multi-label sigmoid
    does not sum to 1); a one-unit sigmoid ``p`` gives ``(1 - p, p)``; scores get a softmax.
    A row with NaN or Inf comes out all NaN: it has no probabilities to show.
    """
    if outputs.ndim != 2:  # noqa: PLR2004
        return None
    valid = np.isfinite(outputs).all(axis=1, keepdims=True)
    finite = np.where(valid, outputs, 0.0).astype(np.float64)
    if reading.two_sided:
        probabilities = np.concatenate([1.0 - finite, finite], axis=1)
    elif reading.squash in (SOFTMAX, SIGMOID):
        probabilities = finite
    else:
        shifted = np.exp(finite - finite.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    return np.where(valid, probabilities, np.nan).astype(np.float32)
