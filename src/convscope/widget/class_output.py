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
        # Samples whose output is NaN or Inf stay: their maps show where the values broke.
        self.probabilities = self.read(images)
        """Class probabilities ``(N, classes)`` for the weights in use (NaN rows where the
        output is not finite), or ``None`` when the output is not a class vector."""
        self.kept = {engine.weights_tag: self.probabilities}
        self._predictions: dict[Hashable, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def predictions(self) -> np.ndarray | None:
        """Predicted class of every sample (-1 where the output is not finite), or ``None``.

        ``None`` when the output is not a class vector.
        """
        if self.probabilities is None:
            return None
        found = self._predictions.get(self.engine.weights_tag)
        if found is None or found[0] is not self.probabilities:
            valid = np.isfinite(self.probabilities).all(axis=1)
            best = np.where(valid, np.nan_to_num(self.probabilities).argmax(axis=1), -1)
            found = self._predictions[self.engine.weights_tag] = (self.probabilities, best)
        return found[1]

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

    def read(self, images: np.ndarray) -> np.ndarray | None:
        """Return the class probabilities of ``images`` (one compiled pass), or ``None``."""
        if self.reading is None:
            return None
        return class_probabilities(self.engine.predict(images), self.reading)

    def follow(self) -> None:
        """Use the probabilities of the weights in use: kept, or read now, once."""
        tag = self.engine.weights_tag
        probabilities = self.kept.get(tag)
        if probabilities is None:
            probabilities = self.read(self.images)
            self.kept[tag] = probabilities
        self.probabilities = probabilities

    def forget(self, stale: Callable[[Hashable], bool]) -> None:
        """Drop what was kept for the weights ``stale`` names."""
        for kept in (self.kept, self._predictions):
            for key in [key for key in kept if stale(key)]:
                del kept[key]


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
