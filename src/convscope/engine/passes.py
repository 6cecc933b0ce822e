"""One forward pass over a data set, reduced on the device: per image, each channel's summary.

A pass sends the data set through one compiled call per batch of ``batch_size`` images (a
stream's smaller batches joined up to that, in order). The call returns, for each layer asked
for, four ``(batch, channels)`` arrays: each image's spatial maximum of each channel (NaN
and Inf left out; ``-inf`` when none is finite), the sum of its finite values, how many there
are, and their minimum (``inf`` when none). The maps themselves never leave the device, so a
pass costs one forward pass plus a reduction, as ``model.predict`` costs one forward pass.

Under a ``tf.distribute.Strategy`` (the one of an enclosing ``strategy.scope()``, or one given)
each replica computes whole batches, as one device would: R replicas take R consecutive batches
at a time, and their results are gathered back in order. A batch is the same batch on one device
or several, so the results are the same, bit for bit, ties included.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from convscope.engine.activations import ActivationEngine
from convscope.engine.attached import attached
from convscope.engine.datasets import image_batches, is_stream, stream_length
from convscope.engine.graph import LayerInfo
from convscope.engine.inputs import as_image_batch, check_images
from convscope.errors import ArgumentTypeError, ImageInputError

PASS_BATCH_SIZE = 256
"""Images per compiled call (per replica under a strategy) when the caller gives no
``batch_size``; a stream's smaller batches are joined up to it. Each call has a fixed cost
(the call itself, and waking TensorFlow's threads for every operation): a pass of every
spatial layer of the bundled CNN takes about 8% fewer CPU seconds in calls of 256 images than
of 64, and no fewer in calls of 512 or 1,024."""

SMALLEST_DEFAULT_BATCH = 64
"""An array's calls under the default ``batch_size`` (``None``) are lowered from
:data:`PASS_BATCH_SIZE` for a model whose layer outputs for that many images would pass
:data:`JOIN_BYTES`, but never below this (the default before calls of 256): ResNet50 at 96 px
gets 64, the bundled CNN 256. A ``batch_size`` the caller gives is kept as it is."""

JOIN_BYTES = 64 * 2**20
"""Under the default ``batch_size``, a stream's batches are joined only while the call's images
hold at most this many bytes of layer outputs (every row of the model, float32, an unknown size
counted as 1): a user who chose small batches for a large model keeps them (ResNet50 at 96 px,
27 MB per image: none joined), while the bundled CNN (162 kB per image) gets calls of 256."""

Reduced = tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]
"""Per layer: ``(peaks, sums, counts, lows)``, each ``(batch, channels)``."""


@dataclass(frozen=True)
class ReducedBatch:
    """One batch of a pass: where it starts in the data set, and each layer's reductions."""

    start: int
    size: int
    layers: Reduced


def reduce_maps(
    out: tf.Tensor, info: LayerInfo, pooled: tf.Tensor | None = None
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Reduce one layer's batch of outputs to ``(batch, channels)`` peaks, sums, counts, lows.

    ``pooled``: the peaks of a max-pooling that tiles these maps exactly
    (:meth:`~convscope.engine.graph.ModelGraph.tiling_max_pools`), used as these maps' peaks
    when every value is finite, instead of reading the maps once more.
    """
    values = tf.cast(out, tf.float32)
    if info.spatial:
        # Reduced over the map's own axes, channels first or last: no transpose and no
        # reshape to (batch, positions, channels) before each of the three reductions.
        axes = [2, 3] if info.channels_first else [1, 2]
        size = tf.shape(values)
        positions = size[axes[0]] * size[axes[1]]
    else:  # one position of every unit: nothing to reduce
        values = tf.reshape(values, [tf.shape(values)[0], -1])
        axes, positions = [], tf.constant(1)
    # When every value is finite, the pooling's windows hold them all: the same maxima, exactly
    # (a max is no rounding, and the pooling has this map's dtype). A window skips a NaN that
    # reduce_max keeps, so a map with NaN or Inf is reduced below from its own values.
    peaks = tf.reduce_max(values, axis=axes) if pooled is None else pooled
    sums = tf.reduce_sum(values, axis=axes)

    def every_value_finite() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        lows = tf.reduce_min(values, axis=axes)  # for "dead": constant, or never fired
        return peaks, sums, tf.fill(tf.shape(sums), positions), lows

    def without_nan_and_inf() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        finite = tf.math.is_finite(values)
        return (
            tf.reduce_max(tf.where(finite, values, -np.inf), axis=axes),
            tf.reduce_sum(tf.where(finite, values, 0.0), axis=axes),
            tf.reduce_sum(tf.cast(finite, tf.int32), axis=axes),
            tf.reduce_min(tf.where(finite, values, np.inf), axis=axes),
        )

    # A NaN or Inf anywhere in a map makes its sum NaN or Inf: only then is the map masked, so
    # the usual pass costs three reductions, not nine operations over every value.
    return tf.cond(  # type: ignore[no-any-return]
        tf.reduce_all(tf.math.is_finite(sums)), every_value_finite, without_nan_and_inf
    )


def _reduce_step(
    extract: Callable[[Any], list[Any]],
    infos: tuple[LayerInfo, ...],
    pools: tuple[int | None, ...],
    batch: Any,
) -> Any:
    outputs = extract(batch)
    reduced: dict[int, tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]] = {}

    def reduce(index: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        found = reduced.get(index)
        if found is None:
            pool = pools[index]
            pooled = None if pool is None else reduce(pool)[0]  # the pooling's peaks first
            found = reduced[index] = reduce_maps(outputs[index], infos[index], pooled)
        return found

    return tuple(reduce(index) for index in range(len(infos)))


def tiling_pools(engine: ActivationEngine, infos: tuple[LayerInfo, ...]) -> tuple[int | None, ...]:
    """Per layer of ``infos``: the index in ``infos`` of a max-pooling that tiles it, if any.

    Only a pooling the pass reduces anyway counts: its peaks then serve both layers.
    """
    index = {info.name: number for number, info in enumerate(infos)}
    pools = engine.graph.tiling_max_pools()
    return tuple(index.get(pools.get(info.name, "")) for info in infos)


class PassStep:
    """The compiled call of a pass over some layers, and its distributed form, built once.

    Built from the engine's graph (:meth:`~convscope.engine.graph.ModelGraph.extractor`), so
    every layer is computed from the tensor that really reaches it.
    """

    def __init__(self, engine: ActivationEngine, infos: tuple[LayerInfo, ...]) -> None:
        self.infos = infos
        extract = engine.graph.extractor([info.name for info in infos])
        self.signature = tf.TensorSpec((None, *engine.input_shape), tf.float32)
        # A partial of one module-level function: TensorFlow counts traces per code object.
        self.pools = tiling_pools(engine, infos)
        self._reduce = functools.partial(_reduce_step, extract, infos, self.pools)
        self.step = tf.function(self._reduce, input_signature=[self.signature], autograph=False)
        self._distributed: dict[int, Callable[[Any], Any]] = {}

    def distributed(self, strategy: tf.distribute.Strategy) -> Callable[[Any], Any]:
        """Return the step run on every replica of ``strategy``, results gathered in order."""
        found = self._distributed.get(id(strategy))
        if found is None:
            # strategy.run gets the plain function: it would re-wrap a tf.function with that
            # function's input signature, which a per-replica value does not fit.
            found = tf.function(
                functools.partial(_gathered, strategy, self._reduce), autograph=False
            )
            self._distributed[id(strategy)] = found
        return found


def _gathered(strategy: tf.distribute.Strategy, step: Callable[[Any], Any], values: Any) -> Any:
    per_replica = strategy.run(step, args=(values,))
    return tf.nest.map_structure(lambda value: strategy.gather(value, axis=0), per_replica)


def pass_step(engine: ActivationEngine, infos: tuple[LayerInfo, ...]) -> PassStep:
    """Return the engine's compiled pass over ``infos``, traced once per engine and layers.

    Kept on the engine (:mod:`.attached`), as long as it lives (the shared engine of a model
    lives as long as the model).
    """
    steps: dict[tuple[str, ...], PassStep] = attached(engine, "pass_steps", dict)
    key = tuple(info.name for info in infos)
    found = steps.get(key)
    if found is None:
        found = steps[key] = PassStep(engine, infos)
    return found


def current_strategy(strategy: object) -> tf.distribute.Strategy | None:
    """Return the strategy to run under: the one given, else an enclosing ``strategy.scope()``'s.

    Raises
    ------
    ArgumentTypeError
        For anything given that is not a ``tf.distribute.Strategy``.

    """
    if strategy is not None:
        if not isinstance(strategy, tf.distribute.Strategy):
            raise ArgumentTypeError(
                f"strategy must be a tf.distribute.Strategy, got {type(strategy).__name__}; "
                "e.g. strategy=tf.distribute.MirroredStrategy()."
            )
        return strategy
    return tf.distribute.get_strategy() if tf.distribute.has_strategy() else None


def run_pass(
    engine: ActivationEngine,
    infos: tuple[LayerInfo, ...],
    images: object,
    *,
    batch_size: int | None = None,
    progress: bool = True,
    on_batch: Callable[[int, int | None], None] | None = None,
    strategy: tf.distribute.Strategy | None = None,
) -> Iterator[ReducedBatch]:
    """Yield each batch's reductions of ``infos``, in data-set order.

    Parameters
    ----------
    engine : ActivationEngine
        The model's engine.
    infos : tuple of LayerInfo
        The layers, computed in one forward pass per batch.
    images : array-like or stream
        An array (read in slices, converted to float32 a batch at a time) or a stream
        (``tf.data.Dataset``, generator, ``keras.utils.PyDataset``; see
        :mod:`convscope.engine.datasets`), read once, one batch at a time.
    batch_size : int or None
        Images per compiled call (per replica), kept as given; a stream's smaller batches are
        joined up to it, in order, and a larger one is kept whole. ``None``:
        :data:`PASS_BATCH_SIZE`, an array's calls lowered for a large model (not below
        :data:`SMALLEST_DEFAULT_BATCH`) and a stream's joined only within :data:`JOIN_BYTES`
        of layer outputs.
    progress : bool
        Show Keras's progress bar: the count, the time per image, and an ETA when the length
        is known.
    on_batch : callable, optional
        Called as ``on_batch(done, total)`` after every compiled call; ``total`` is ``None``
        when the length is not known.
    strategy : tf.distribute.Strategy, optional
        Run on its replicas.

    """
    (total, batch_total), batches = _source(engine, images, batch_size)
    step = pass_step(engine, infos)
    bar = _Progress(total, batch_total, progress)
    done = 0
    pending: tuple[int, int, Any] | None = None
    for start, size, result in _launched(step, batches, strategy):
        # Read the previous batch's results only now: an accelerator computes this one meanwhile.
        if pending is not None:
            yield _as_numpy(*pending)
        pending = (start, size, result)
        done = start + size
        bar.update(done, batches.first or size)
        if on_batch is not None:
            on_batch(done, bar.total)
    if pending is None:
        raise ImageInputError("The dataset gave no images; pass at least one batch.")
    yield _as_numpy(*pending)
    bar.finish(done)


def _source(
    engine: ActivationEngine, images: object, batch_size: int | None
) -> tuple[tuple[int | None, int | None], _Joined]:
    """Return what is known of the length (images, else batches), and the float32 batches."""
    per_image = max(1, sum(info.nbytes for info in engine.layers))
    fitting = JOIN_BYTES // per_image  # images whose layer outputs fit the bound
    if is_stream(images):
        length = stream_length(images, engine.input_shape)
        if batch_size is None:  # single images batched by 256, as before; joined within bound
            batched, join = PASS_BATCH_SIZE, max(1, min(PASS_BATCH_SIZE, fitting))
        else:
            batched = join = batch_size
        return length, _Joined(_stream_batches(engine, images, batched), join)
    if batch_size is None:  # the default: a large model keeps the old calls of 64
        batch_size = max(SMALLEST_DEFAULT_BATCH, min(PASS_BATCH_SIZE, fitting))
    array = check_images(images, engine.input_shape)  # uint8 stays uint8: no float copy
    chunks = (
        np.ascontiguousarray(array[start : start + batch_size], dtype=np.float32)
        for start in range(0, len(array), batch_size)
    )
    return (len(array), None), _Joined(chunks, batch_size)  # each chunk a call already


def _stream_batches(
    engine: ActivationEngine, images: object, batch_size: int
) -> Iterator[np.ndarray]:
    for number, (batch, _) in enumerate(image_batches(images, engine.input_shape, batch_size)):
        yield _checked(batch, number, engine.input_shape)


class _Joined:
    """A source's consecutive batches joined into calls of at least ``size`` images, in order.

    A batch of another image size (a model with free height and width) starts a call of its
    own; a batch larger than ``size`` is kept whole. Only one call's images are held.
    """

    def __init__(self, batches: Iterator[np.ndarray], size: int) -> None:
        self._batches = batches
        self._size = size
        self.first: int | None = None
        """The source's first batch's size, once read: a stream that knows only its number of
        batches has about that many images per batch."""

    def __iter__(self) -> Iterator[np.ndarray]:
        group: list[np.ndarray] = []
        count = 0
        for batch in self._batches:
            if self.first is None:
                self.first = len(batch)
            if group and batch.shape[1:] != group[0].shape[1:]:
                yield _concatenated(group)
                group, count = [], 0
            group.append(batch)
            count += len(batch)
            if count >= self._size:
                yield _concatenated(group)
                group, count = [], 0
        if group:
            yield _concatenated(group)


def _concatenated(group: list[np.ndarray]) -> np.ndarray:
    return group[0] if len(group) == 1 else np.concatenate(group)


def _checked(batch: np.ndarray, number: int, input_shape: tuple[int | None, ...]) -> np.ndarray:
    try:
        return as_image_batch(batch, input_shape)
    except ImageInputError as error:
        raise ImageInputError(f"Batch {number} of the dataset: {error}") from error


def _launched(
    step: PassStep, batches: Iterable[np.ndarray], strategy: tf.distribute.Strategy | None
) -> Iterator[tuple[int, int, Any]]:
    """Start each batch's compiled call (R batches per call under a strategy of R replicas)."""
    start = 0
    if strategy is None:
        for batch in batches:
            yield start, len(batch), step.step(batch)
            start += len(batch)
        return
    replicas = strategy.num_replicas_in_sync
    run = step.distributed(strategy)
    group: list[np.ndarray] = []
    for batch in batches:
        group.append(batch)
        if len(group) == replicas:
            size = sum(map(len, group))
            yield start, size, run(_per_replica(strategy, group))
            start += size
            group = []
    if group:
        # The last, short group: the other replicas get one image each (an empty batch is not
        # safe with every kernel), gathered last and dropped.
        size = sum(map(len, group))
        group += [group[-1][:1]] * (replicas - len(group))
        yield start, size, run(_per_replica(strategy, group))


def _per_replica(strategy: tf.distribute.Strategy, group: list[np.ndarray]) -> Any:
    def value(context: tf.distribute.experimental.ValueContext) -> tf.Tensor:
        return tf.constant(group[context.replica_id_in_sync_group])

    return strategy.experimental_distribute_values_from_function(value)


def _as_numpy(start: int, size: int, result: Any) -> ReducedBatch:
    layers = tuple(
        (
            np.asarray(peaks)[:size],
            np.asarray(sums)[:size],
            np.asarray(counts)[:size],
            np.asarray(lows)[:size],
        )
        for peaks, sums, counts, lows in result
    )
    return ReducedBatch(start, size, layers)


class _Progress:
    """Keras's progress bar over images: the count, the time per image, and an ETA when known.

    A stream that knows only its number of batches gets a total estimated from its first
    batch's size, set right at the end.
    """

    def __init__(self, total: int | None, batches: int | None, show: bool) -> None:
        self.total = total
        self._batches = batches
        self._bar = keras.utils.Progbar(total, unit_name="image") if show else None

    def update(self, done: int, first: int) -> None:
        """Show ``done`` images; ``first`` is the size of the source's first batch."""
        if self.total is None and self._batches is not None:
            self.total = self._batches * first  # after the first call
        self.total = None if self.total is None else max(self.total, done)
        if self._bar is not None:
            self._bar.target = self.total
            self._bar.update(done, finalize=False)

    def finish(self, done: int) -> None:
        self.total = done
        if self._bar is not None:
            self._bar.target = done
            self._bar.update(done, finalize=True)
