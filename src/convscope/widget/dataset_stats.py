"""The data set's statistics per layer: colour ranges, each sample's channel peaks, dead channels.

Each is one pass over the data set for a layer and a version of the weights, computed on first
use and kept; a training run's epochs keep theirs, live weights only their latest.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import cast

import numpy as np

from convscope.engine.activations import ActivationEngine
from convscope.engine.insight import ChannelStats, channel_ranges, channel_stats

Progress = Callable[[int, int], None]


class DataSetStats:
    """Per (weights, layer): the data-set colour scale and each sample's channel peaks.

    Parameters
    ----------
    engine : ActivationEngine
        Runs the passes; its ``weights_tag`` keys what is kept.
    images : np.ndarray
        The samples, as the model takes them.
    data : hashable
        The data set's key in the memo of passes that the static API shares.

    """

    def __init__(self, engine: ActivationEngine, images: np.ndarray, data: Hashable) -> None:
        self.engine = engine
        self.images = images
        self.data = data
        self.ranges: dict[tuple[Hashable, str], tuple[np.ndarray, np.ndarray]] = {}
        self.stats: dict[tuple[Hashable, str], ChannelStats] = {}

    def forget(self, stale: Callable[[Hashable], bool]) -> None:
        """Drop what was kept for the weights ``stale`` names."""
        for per_layer in (self.ranges, self.stats):
            for key in [key for key in per_layer if stale(key[0])]:
                del per_layer[key]

    def channel_ranges(
        self, layer: str, on_progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Data-set-wide per-channel ranges of ``layer``, computed once per layer.

        From the memo of passes: no pass when the panel, a sort or ``channel_stats`` already
        saw this layer, these weights and images (and the panel then costs none either).
        """
        key = (self.engine.weights_tag, layer)
        ranges = self.ranges.get(key)
        if ranges is None:
            ranges = channel_ranges(
                self.engine,
                layer,
                self.images,
                data=self.data,
                on_batch=None if on_progress is None else functools.partial(_report, on_progress),
            )
            self.ranges[key] = ranges
        return ranges

    def channel_peaks(self, layer: str, on_progress: Progress | None = None) -> np.ndarray:
        """Each sample's peak of each channel of ``layer``, ``(N, C)``, computed once per layer.

        From the memo of passes that the static API shares: no pass when ``channel_stats``,
        ``top_images`` or ``dead_channels`` already saw this layer, these weights and images.
        A sample whose map is all NaN/Inf gets -Inf: it sorts last.
        """
        key = (self.engine.weights_tag, layer)
        stats = self.stats.get(key)
        if stats is None:
            stats = channel_stats(
                self.engine,
                (layer,),
                self.images,
                progress=False,
                on_batch=None if on_progress is None else functools.partial(_report, on_progress),
                data=self.data,
            )[layer]
            self.stats[key] = stats
        # An array's pass keeps every image's peaks (only a stream's does not).
        return cast("np.ndarray", stats.peaks)

    def gather_peaks(self, layers: list[str]) -> None:
        """Compute the channel peaks of all ``layers`` not known yet in one pass over the data.

        One forward pass serves every layer, where :meth:`channel_peaks` of each would pass
        the data set once per layer (the static export asks for every layer).
        """
        tag = self.engine.weights_tag
        missing = tuple(layer for layer in dict.fromkeys(layers) if (tag, layer) not in self.stats)
        if missing:
            found = channel_stats(self.engine, missing, self.images, progress=False, data=self.data)
            for layer in missing:
                self.stats[tag, layer] = found[layer]

    def channel_summary(
        self,
        layer: str,
        channel: int,
        count: int = 9,
        on_progress: Progress | None = None,
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Return the ``count`` samples that excite a channel most, their peaks, its firing rate.

        The samples are those with the highest spatial maximum, highest first, ties to the
        lower index; "fires" is a peak above 0. One pass over the data set per layer, once.
        """
        peaks = self.channel_peaks(layer, on_progress)[:, channel]
        top = np.argsort(-peaks, kind="stable")[:count]
        return top, peaks[top], float(np.mean(peaks > 0))

    def dead_channels(self, layer: str) -> np.ndarray | None:
        """Which channels of ``layer`` are dead on the samples, once their statistics are known.

        Dead as :meth:`~convscope.engine.insight.ChannelStats.dead` says: off everywhere, or
        constant. ``None`` until :meth:`channel_peaks` has run for the layer (the channel
        panel or the activation order asks for it).
        """
        stats = self.stats.get((self.engine.weights_tag, layer))
        if stats is None:
            return None
        dead = np.zeros(len(stats.max), bool)
        dead[stats.dead()] = True
        return dead


def _report(on_progress: Progress, done: int, total: int | None) -> None:
    on_progress(done, done if total is None else total)
