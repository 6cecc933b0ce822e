"""The Explorer's deeper views: heatmap and Grad-CAM per sample, filter patterns per layer.

Heatmaps reuse the activation the feature-map view already computed; Grad-CAM is one compiled
call per (layer, sample, class), kept in a small cache; filter patterns are slow (seconds), so
they are computed on a worker thread, one layer at a time, while the widget stays usable.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

import numpy as np

from convscope.engine.activations import ActivationEngine
from convscope.engine.gradients import GradientEngine, heatmap_of
from convscope.engine.graph import LayerInfo
from convscope.errors import NotSpatialLayerError, WeightsChangedError

VIEWS: Final = ("maps", "heatmap", "grad-cam", "pattern")
"""What the Explorer's big panel shows: feature maps, or one of the three deeper views."""
PREDICTED: Final = -1
"""``target_class`` for "the class the model predicts for each sample"."""

_CAM_ENTRIES = 512  # Grad-CAM maps kept: a scrub back and forth over a few hundred samples
_PATTERN_STEPS = 20


class DeeperViews:
    """Compute and keep the pictures behind the heatmap, Grad-CAM and pattern views.

    Parameters
    ----------
    engine : ActivationEngine
        The Explorer's engine; Grad-CAM and patterns share its graph and selected output.
    input_range : (low, high)
        The values the model's inputs take (the data set's range): filter patterns stay in it.
    on_update : callable
        Called *on the worker thread* as ``on_update(layer, finished)``: after every gradient
        step of ``layer``'s filter patterns with ``False``, and with ``True`` once they are
        ready (or failed). The caller moves its redraw to its own thread.

    """

    def __init__(
        self,
        engine: ActivationEngine,
        input_range: tuple[float, float],
        on_update: Callable[[str, bool], None],
    ) -> None:
        self.gradients = GradientEngine(engine)
        self.input_range = input_range
        self._on_update = on_update
        self._cams: OrderedDict[tuple[str, int, int], tuple[np.ndarray, int]] = OrderedDict()
        self._patterns: dict[str, np.ndarray] = {}
        self._failures: dict[str, Exception] = {}
        self._jobs: dict[str, Future[None]] = {}
        self._progress: dict[str, tuple[int, int]] = {}
        self._generation = 0  # of the weights: forget() moves it on
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="convscope-patterns")

    # ----- checks, before anything changes ----------------------------------------------------
    def check(self, view: str, info: LayerInfo, target_class: int) -> None:
        """Raise the clear error of a view that cannot show ``info``; ``maps`` always can."""
        if view == "maps":
            return
        purpose = {"heatmap": "The heatmap view", "grad-cam": "Grad-CAM"}.get(
            view, "The filter-pattern view"
        )
        try:
            self.gradients.spatial_layer(info.name, purpose)
        except NotSpatialLayerError as error:
            raise NotSpatialLayerError(
                f"{error} Or set the view back to 'maps', which shows every layer."
            ) from None
        if view == "grad-cam" or target_class != PREDICTED:
            _ = self.gradients.class_scores  # a model that is not a classifier says so here
        if target_class != PREDICTED:
            self.gradients.classes(target_class, 1)

    # ----- per sample ---------------------------------------------------------------------------
    @staticmethod
    def heatmap(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Return the channel mean of one image's ``(h, w, C)`` maps, at ``size``, in [0, 1]."""
        heat: np.ndarray = heatmap_of(maps[np.newaxis], size)[0]
        return heat

    def grad_cam(
        self,
        layer: str,
        images: np.ndarray,
        sample: int,
        target_class: int,
        ahead: np.ndarray | None = None,
    ) -> tuple[np.ndarray, int]:
        """Return the Grad-CAM map of ``images[sample]`` at ``layer``, and the class it explains.

        ``target_class`` is a class index, or :data:`PREDICTED`. On a miss, the samples in
        ``ahead`` (the next ones of a scrub) are computed in the same batch: one call for many
        maps costs little more than one call for one.
        """
        key = (layer, sample, target_class)
        found = self._cams.get(key)
        if found is not None:
            self._cams.move_to_end(key)
            return found
        wanted = [sample] + [
            int(other)
            for other in ([] if ahead is None else ahead)
            if (layer, int(other), target_class) not in self._cams and other != sample
        ]
        classes = np.full(len(wanted), target_class, np.int32)
        maps, chosen, _ = self.gradients.grad_cam(images[wanted], classes, layer)
        for index, heat, explained in zip(wanted, maps, chosen, strict=True):
            self._cams[layer, index, target_class] = (heat, int(explained))
        while len(self._cams) > _CAM_ENTRIES:
            self._cams.popitem(last=False)
        return self._cams[key]

    def grad_cam_of(
        self, layer: str, image: np.ndarray, target_class: int
    ) -> tuple[np.ndarray, int]:
        """Return the Grad-CAM map of one image ``(1, H, W, C)`` that is not a sample, uncached.

        For the drawing, which changes with every stroke: one compiled call, no cache entry.
        """
        maps, chosen, _ = self.gradients.grad_cam(image, np.full(1, target_class, np.int32), layer)
        return maps[0], int(chosen[0])

    # ----- per layer, in the background ----------------------------------------------------------
    def patterns(self, layer: str) -> np.ndarray | None:
        """Return ``layer``'s filter patterns ``(C, H, W, c)`` in [0, 1], or ``None`` for now.

        The first call starts computing them on the worker thread; ``on_update`` says when they
        are there. A failure is raised by the next call for the layer, and then forgotten, so a
        later visit tries again.
        """
        with self._lock:
            if layer in self._patterns:
                return self._patterns[layer]
            failure = self._failures.pop(layer, None)
            if failure is None and layer not in self._jobs:
                self._progress[layer] = (0, _PATTERN_STEPS)
                self._jobs[layer] = self._worker.submit(
                    self._compute_patterns, layer, self._generation
                )
        if failure is not None:
            raise failure
        return None

    def progress(self, layer: str) -> str:
        """Say how far ``layer``'s filter patterns are, for the status line; ``""`` if idle."""
        with self._lock:
            if layer not in self._jobs:
                return ""
            done, total = self._progress.get(layer, (0, _PATTERN_STEPS))
        return f"filter patterns of {layer}: step {done}/{total}, computing in the background"

    def forget(self) -> None:
        """Drop the Grad-CAM maps and patterns kept: the model's weights changed.

        Patterns stay in their disk cache, keyed by the weights, so going back is cheap.
        """
        with self._lock:
            self._cams.clear()
            self._patterns.clear()
            self._generation += 1  # a job still running computes for the old weights

    def busy(self) -> bool:
        """Whether filter patterns are being computed."""
        with self._lock:
            return bool(self._jobs)

    def wait(self, timeout: float | None = None) -> None:
        """Block until every filter-pattern job has finished (for scripts and tests)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.result(timeout)

    def close(self) -> None:
        """Stop the worker thread once its job in hand is done; queued ones are dropped."""
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _compute_patterns(self, layer: str, generation: int) -> None:
        """Compute ``layer``'s patterns on the worker thread, for the weights of ``generation``.

        Patterns of weights that changed meanwhile (:meth:`forget`, or the weights moving
        under the ascent: ``WeightsChangedError``) are dropped, not kept and not reported:
        the view asks again, and a new job computes them for the weights now.
        """

        def on_step(done: int, total: int) -> None:
            with self._lock:
                self._progress[layer] = (done, total)
            self._on_update(layer, False)

        try:
            found = self.gradients.filter_patterns(
                layer,
                None,
                steps=_PATTERN_STEPS,
                size=None,
                seed=0,
                input_range=self.input_range,
                progress=False,
                on_step=on_step,
                still_valid=lambda: generation == self._generation,
            )
        except WeightsChangedError:
            with self._lock:
                del self._jobs[layer]
        except Exception as error:  # noqa: BLE001 - reported by the next patterns() call
            with self._lock:
                if generation == self._generation:  # else it was of weights gone since
                    self._failures[layer] = error
                del self._jobs[layer]
        else:
            with self._lock:
                if generation == self._generation:
                    self._patterns[layer] = found
                del self._jobs[layer]
        self._on_update(layer, True)
