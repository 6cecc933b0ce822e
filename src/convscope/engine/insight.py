"""Channel statistics over a data set: one pass, reduced on the device, remembered.

One forward pass per batch serves every layer asked for (:mod:`convscope.engine.passes`); of
each batch only each image's peak (spatial maximum) per channel and the sums for the means come
back. An in-memory data set keeps every image's peaks, ``(N, C)``; a stream keeps only
per-channel numbers and each channel's best images, so its memory does not grow with its
length. Summaries are remembered (:mod:`convscope.engine.pass_memo`), so asking again about the
same model weights, data set and layer costs no pass.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import cast

import numpy as np

from convscope.engine.activations import ActivationEngine, finite_quantile
from convscope.engine.datasets import is_stream
from convscope.engine.graph import LayerInfo
from convscope.engine.inputs import check_images
from convscope.engine.pass_memo import PASS_MEMO, PassMemo, content_checksum, data_key, model_key
from convscope.engine.passes import ReducedBatch, current_strategy, run_pass
from convscope.errors import InvalidArgumentError, NotSpatialLayerError, check_index, check_real

TOP_KEPT = 100
_MERGE_ROWS = 1024  # a stream's per-image peaks held at most before they are merged
_MAX_STREAM = 2**32  # images a stream's best are indexed up to (in 32 bits of a sort key)
"""Best images kept per channel from a stream (an in-memory data set keeps every peak)."""


@dataclass(frozen=True)
class ChannelStats:
    """What each channel of one layer does over a data set.

    Attributes
    ----------
    layer : str
        The layer's name.
    count : int
        Images in the data set.
    mean : np.ndarray
        float32 ``(C,)``: each channel's mean over every image and position (finite values);
        NaN for a channel with no finite value.
    max : np.ndarray
        float32 ``(C,)``: each channel's largest per-image peak.
    low : np.ndarray
        float32 ``(C,)``: each channel's smallest finite value over the data set (``inf``
        with none).
    active_fraction : np.ndarray
        float ``(C,)``: the share of images where the channel's peak is above 0.
    peaks : np.ndarray or None
        float32 ``(N, C)``: each image's spatial maximum of each channel (its value, for a
        layer of units). NaN and Inf values are left out; a map with no finite value gives
        ``-inf``. ``None`` for a stream, whose length is not bounded.
    best : np.ndarray
        int64 ``(K, C)``: a stream's ``K`` best images per channel, highest peak first, ties to
        the lower index (``K`` is ``top_kept``, or fewer images); ``(0, C)`` when ``peaks`` is
        kept.
    best_peaks : np.ndarray
        float32 ``(K, C)``: their peaks.
    lows : np.ndarray or None
        float32 ``(N, C)``: each image's smallest finite value of each channel (``inf`` for a
        map with no finite value), for a data-set colour scale. ``None`` for a stream.

    """

    layer: str
    count: int
    mean: np.ndarray
    max: np.ndarray
    low: np.ndarray
    active_fraction: np.ndarray
    peaks: np.ndarray | None
    best: np.ndarray
    best_peaks: np.ndarray
    lows: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held."""
        arrays = (self.mean, self.max, self.active_fraction, self.best, self.best_peaks)
        per_image = sum(0 if a is None else a.nbytes for a in (self.peaks, self.lows))
        return sum(a.nbytes for a in arrays) + per_image

    @property
    def kept(self) -> int:
        """How many best images per channel :meth:`top` can return."""
        return self.count if self.peaks is not None else len(self.best)

    @property
    def non_finite(self) -> list[int]:
        """Return the channels with no finite value on any image (NaN or Inf everywhere)."""
        return np.flatnonzero(~np.isfinite(self.max)).tolist()  # type: ignore[no-any-return]

    def dead(self, threshold: float = 0.0) -> list[int]:
        """Return the channels that carry nothing over the data set.

        A channel is dead when it is *off* on every image (its peak at most ``threshold``,
        and never below 0: a ReLU that never fires), or when it is *constant*: the same value
        at every position of every image, whatever the value. A channel that goes negative
        and varies (a convolution with no activation, say) is not dead, however low: the
        "never above the threshold" rule does not apply to it. A channel with no finite value
        is not dead either; :attr:`non_finite` lists it.
        """
        level = check_real("threshold", threshold, 0.0)
        high = self.max
        finite = np.isfinite(high)
        off = (high <= level) & (self.low >= 0)
        constant = self.low == high
        return np.flatnonzero(finite & (off | constant)).tolist()  # type: ignore[no-any-return]

    def top(self, channel: int, k: int = 9) -> np.ndarray:
        """Return the ``k`` images with the highest peak of ``channel``, highest first.

        Ties go to the lower index.

        Raises
        ------
        InvalidArgumentError
            ``k`` above the best images a stream's summary kept.

        """
        channel = check_index("channel", channel, self.max.shape[0])
        if self.peaks is not None:
            return best_first(self.peaks[:, channel], k)
        if k > self.kept and self.kept < self.count:
            raise InvalidArgumentError(
                f"This summary of a stream kept its {self.kept} best images per channel, not "
                f"{k}; pass top_kept={k} to channel_stats (or ask top_images for k={k})."
            )
        return np.array(self.best[:k, channel])


def best_first(values: np.ndarray, k: int) -> np.ndarray:
    """Return the indices of the ``k`` largest ``values``, largest first, ties to the lower index.

    As ``np.argsort(-values, kind="stable")[:k]``, without sorting every value: a partition
    finds the k-th largest, and only the values at least that large (ties included) are sorted.
    """
    if k >= len(values):
        return np.argsort(-values, kind="stable")
    kth = np.partition(values, len(values) - k)[len(values) - k]
    candidates = np.flatnonzero(values >= kth)  # in index order: the stable sort keeps ties so
    return candidates[np.argsort(-values[candidates], kind="stable")[:k]]


def channel_stats(
    engine: ActivationEngine,
    layers: tuple[str, ...],
    images: object,
    *,
    batch_size: int | None = None,
    progress: bool = True,
    on_batch: Callable[[int, int | None], None] | None = None,
    strategy: object = None,
    key: object = None,
    data: Hashable | None = None,
    top_kept: int = TOP_KEPT,
    memo: PassMemo = PASS_MEMO,
) -> dict[str, ChannelStats]:
    """Summarise every channel of each of ``layers`` over ``images``, in at most one pass.

    Layers already remembered for these weights and this data set are not computed again; the
    others share one pass.

    Parameters
    ----------
    engine : ActivationEngine
        The model's engine.
    layers : tuple of str
        Rows with channels: maps ``(H, W, C)`` or units ``(C,)``.
    images : array-like or stream
        The data set, in the units the model takes; converted to float32 a batch at a time.
    batch_size : int or None
        Images per compiled call (per replica under a strategy), kept as given; ``None``
        chooses (:func:`~convscope.engine.passes.run_pass`).
    progress : bool
        Show Keras's progress bar.
    on_batch : callable, optional
        Called as ``on_batch(done, total)`` after every batch, for a progress display.
    strategy : tf.distribute.Strategy, optional
        Run on its replicas; by default the one of an enclosing ``strategy.scope()``, if any.
    key : hashable, optional
        The user's name for the data set: a stream is remembered only under one.
    data : hashable, optional
        The data set's identity for the memo, computed by the caller with
        :func:`~convscope.engine.pass_memo.data_key` (the Explorer, from the array it was given).
    top_kept : int
        Best images kept per channel of a stream.
    memo : PassMemo
        Where summaries are remembered.

    Raises
    ------
    NotSpatialLayerError
        A layer whose output has neither maps nor a vector of units (a 2-D output, say).

    """
    infos = [_with_channels(engine.layer(name)) for name in layers]
    chosen = current_strategy(strategy)
    source = images if is_stream(images) else check_images(images, engine.input_shape)
    if data is None:
        data = data_key(source if isinstance(source, np.ndarray) else None, key)
    model = model_key(engine.model) if data is not None else None
    found: dict[str, ChannelStats] = {}
    for info in infos:
        entry = memo.get((model, data, info.name)) if data is not None else None
        if entry is not None and (entry.peaks is not None or entry.kept >= top_kept):
            found[info.name] = entry
    missing = tuple(dict.fromkeys(info for info in infos if info.name not in found))
    if missing:
        summaries = [_Summary(info, source, top_kept) for info in missing]
        for reduced in run_pass(
            engine,
            missing,
            source,
            batch_size=batch_size,
            progress=progress,
            on_batch=on_batch,
            strategy=chosen,
        ):
            for summary, layer in zip(summaries, reduced.layers, strict=True):
                summary.add(reduced, *layer)
        # Only now, with the pass finished, is anything remembered.
        for summary in summaries:
            found[summary.info.name] = stats = summary.result()
            if data is not None:
                memo.put((model, data, summary.info.name), stats)
    return {info.name: found[info.name] for info in infos}


def channel_ranges(
    engine: ActivationEngine,
    layer: str,
    images: np.ndarray,
    *,
    quantile: float = 0.995,
    data: Hashable | None = None,
    on_batch: Callable[[int, int | None], None] | None = None,
    memo: PassMemo = PASS_MEMO,
) -> tuple[np.ndarray, np.ndarray]:
    """Return a data-set colour scale of ``layer``: per channel, a low and a high, remembered.

    As ``ActivationEngine.channel_ranges`` (the ``1 - quantile`` quantile of each image's
    minimum, the ``quantile`` quantile of its maximum, NaN and Inf left out), but read from
    the memoised pass of :func:`channel_stats`: no pass when that layer of these weights and
    images was passed already (a sort by activation, the channel panel, ``top_images``), and
    the panel then costs none either.

    Parameters
    ----------
    engine : ActivationEngine
        The model's engine.
    layer : str
        The layer.
    images : np.ndarray
        The data set, in memory.
    quantile : float
        As for ``ActivationEngine.channel_ranges``.
    data : hashable, optional
        The data set's identity for the memo (:func:`~convscope.engine.pass_memo.data_key`).
    on_batch : callable, optional
        Called as ``on_batch(done, total)`` after every batch of a pass.
    memo : PassMemo
        Where summaries are remembered.

    """
    info = engine.layer(layer)
    if not info.spatial and len(info.output_shape) != 1:  # no channels for a pass to summarise
        return engine.channel_ranges(layer, images, quantile=quantile, progress=False)
    stats = channel_stats(
        engine, (layer,), images, progress=False, on_batch=on_batch, data=data, memo=memo
    )[layer]
    if stats.peaks is None or stats.lows is None:  # a stream's summary under the same key
        stats = channel_stats(
            engine, (layer,), images, progress=False, on_batch=on_batch, memo=PassMemo(0)
        )[layer]
    lows, peaks = cast("np.ndarray", stats.lows), cast("np.ndarray", stats.peaks)  # an array's
    return finite_quantile(lows, 1.0 - quantile), finite_quantile(peaks, quantile)


def confusion_counts(
    engine: ActivationEngine,
    images: np.ndarray,
    truth: np.ndarray,
    classes: int,
    *,
    batch_size: int,
    progress: bool,
    memo: PassMemo = PASS_MEMO,
) -> np.ndarray:
    """Return the confusion matrix ``(classes, classes)`` of an in-memory data set, remembered.

    Keyed like a pass (the model and its weights, the images' checksum) and on the labels'
    checksum: a second call on the same model, weights, images and labels runs no pass. Each
    call gets its own copy.
    """
    key = (
        model_key(engine.model),
        data_key(images),
        "confusion",
        classes,
        content_checksum(np.ascontiguousarray(truth, dtype=np.int64)),
    )
    counts = memo.get(key)
    if counts is None:
        flat = np.zeros(classes * classes, np.int64)
        for start, (scores,) in engine.stream(
            ("",), images, batch_size=batch_size, progress=progress
        ):
            valid = np.isfinite(scores).all(axis=1)
            pairs = truth[start : start + len(scores)][valid] * classes + scores[valid].argmax(
                axis=1
            )
            flat += np.bincount(pairs, minlength=classes * classes)
        counts = flat.reshape(classes, classes)
        memo.put(key, counts)  # only now, with the pass finished
    return np.array(counts)


class _Summary:
    """One layer's running summary over a pass: every peak (an array) or the best (a stream)."""

    def __init__(self, info: LayerInfo, source: object, top_kept: int) -> None:
        self.info = info
        channels = info.channels
        self.count = 0
        size = (len(source), channels) if isinstance(source, np.ndarray) else None
        self.peaks = None if size is None else np.empty(size, np.float32)
        self.lows = None if size is None else np.empty(size, np.float32)
        self.sums = np.zeros(channels, np.float64)
        self.counts = np.zeros(channels, np.int64)
        self.max = np.full(channels, -np.inf, np.float32)
        self.low = np.full(channels, np.inf, np.float32)
        self.active = np.zeros(channels, np.int64)
        self.kept = top_kept
        # A stream's best so far, as sort keys (see _merge), lowest (best) first per channel.
        self._keys = np.zeros((0, channels), np.uint64)
        self._pending: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending_rows = 0

    def add(
        self,
        batch: ReducedBatch,
        peaks: np.ndarray,
        sums: np.ndarray,
        counts: np.ndarray,
        lows: np.ndarray,
    ) -> None:
        if self.peaks is None and batch.start + batch.size > _MAX_STREAM:
            raise InvalidArgumentError(
                f"A stream's summary counts at most {_MAX_STREAM:,} images; summarise it in "
                "parts, e.g. dataset.take(...) and dataset.skip(...)."
            )
        self.count += batch.size
        if self.peaks is not None and self.lows is not None:
            self.peaks[batch.start : batch.start + batch.size] = peaks
            self.lows[batch.start : batch.start + batch.size] = lows
        # Batches wait to be folded in a few at a time: six numpy calls over 1024 rows cost
        # far less than six per small batch, for every layer of a pass; and one partition of
        # a stream's 1024 rows less than several of fewer.
        self._pending.append((batch.start, peaks, sums, counts, lows))
        self._pending_rows += batch.size
        if self._pending_rows >= _MERGE_ROWS:
            self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        starts, parts, sums, counts, lows = zip(*self._pending, strict=True)
        self._pending, self._pending_rows = [], 0
        peaks = np.concatenate(parts)
        self.sums += np.concatenate(sums).sum(axis=0, dtype=np.float64)
        self.counts += np.concatenate(counts).sum(axis=0)
        np.maximum(self.max, peaks.max(axis=0), out=self.max)
        np.minimum(self.low, np.concatenate(lows).min(axis=0), out=self.low)
        self.active += (peaks > 0).sum(axis=0)
        if self.peaks is not None:
            return
        index = np.concatenate(
            [np.arange(start, start + len(part)) for start, part in zip(starts, parts, strict=True)]
        )
        # One unique key per (peak, image): the peak's rank, highest first, then the image's
        # index. The lowest keys are the best images in the order of a stable sort of the
        # peaks, ties to the lower index, without sorting every row.
        keys = (_descending_bits(peaks).astype(np.uint64) << np.uint64(32)) | index.astype(
            np.uint64
        )[:, np.newaxis]
        if len(self._keys) == self.kept:
            # Only a key below a channel's worst kept one can enter: once the best are known,
            # few rows can, so only the few best rows of each channel are partitioned further.
            entering = int((keys < self._keys[-1]).sum(axis=0).max())
            if entering == 0:
                return
            if entering < len(keys):
                keys = np.partition(keys, entering - 1, axis=0)[:entering]
        keys = np.concatenate([self._keys, keys])
        if len(keys) > self.kept:
            keys = np.partition(keys, self.kept - 1, axis=0)[: self.kept]
        keys.sort(axis=0)
        self._keys = keys

    def result(self) -> ChannelStats:
        self._merge()
        return ChannelStats(
            layer=self.info.name,
            count=self.count,
            mean=np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan).astype(
                np.float32
            ),
            max=self.max,
            low=self.low,
            active_fraction=self.active / max(self.count, 1),
            peaks=self.peaks,
            best=(self._keys & np.uint64(0xFFFFFFFF)).astype(np.int64),
            best_peaks=_from_descending_bits((self._keys >> np.uint64(32)).astype(np.uint32)),
            lows=self.lows,
        )


_SIGN = np.uint32(0x80000000)


def _descending_bits(values: np.ndarray) -> np.ndarray:
    """uint32 keys in the reverse order of float32 ``values`` (-0.0 counts as 0.0), one per value.

    The usual trick: a float's bits, with the sign bit flipped for a positive number and every
    bit flipped for a negative one, sort as the floats do; flipped again, they sort in reverse.
    """
    bits = (values.astype(np.float32) + np.float32(0.0)).view(np.uint32)  # -0.0 + 0.0 is 0.0
    ascending = np.where(bits & _SIGN, ~bits, bits | _SIGN)
    return ~ascending  # type: ignore[no-any-return]


def _from_descending_bits(keys: np.ndarray) -> np.ndarray:
    """Invert :func:`_descending_bits`: the float32 values again."""
    ascending = ~keys
    bits = np.where(ascending & _SIGN, ascending ^ _SIGN, ~ascending)
    return bits.astype(np.uint32).view(np.float32)


def _with_channels(info: LayerInfo) -> LayerInfo:
    """Return ``info`` if its output has channels (maps or units), else raise."""
    if info.spatial or len(info.output_shape) == 1:
        return info
    raise NotSpatialLayerError(
        f"{info.name!r} ({info.kind}, {info.shape_text}) has no channels: its output is "
        "neither a stack of maps nor a vector of units. Pick a convolutional, pooling or "
        "dense layer."
    )
