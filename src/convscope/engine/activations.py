"""Compute any layer's activations lazily, through compiled calls, with a bounded cache."""

from __future__ import annotations

import functools
import hashlib
import logging
import warnings
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from convscope.engine.attached import attached
from convscope.engine.cache import DEFAULT_CACHE_BYTES, ActivationCache
from convscope.engine.compiled import CompiledPasses, Forward
from convscope.engine.graph import LayerInfo, read_graph
from convscope.engine.inputs import check_images
from convscope.engine.layers import check_model, find_layer
from convscope.engine.weights import WeightsWatch
from convscope.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    ModelNotSupportedError,
)

_LOG = logging.getLogger("convscope")
DEFAULT_BATCH_SIZE = 256
_WEIGHT_TENSOR_BYTES = 64 * 2**20  # weights kept as tensors for quick swaps, all tags together
_BATCH_BYTES = 64 * 2**20  # outputs of one compiled call, so memory stays near the result's
_MODEL_OUTPUT = ""  # the row name of the model's (selected) output


@dataclass(frozen=True)
class NextPass:
    """The one-image pass an update is about to ask for: ``activation(layer, image, key=key)``.

    Given to :meth:`ActivationEngine.follow_weights`, it runs with the weights' check in one
    call into TensorFlow where it can (see :meth:`~ActivationEngine.follow_weights`).
    """

    layer: str
    image: np.ndarray
    key: Hashable


class ActivationEngine:
    """Activations of one Keras model, computed only for the layer asked for, when asked.

    The model's graph is read once (:func:`~convscope.engine.graph.read_graph`), nested models
    included, so every row is computed from the tensors that really reach it. A row's first
    request runs eagerly: for a single image, every row of that image is computed in the same
    pass and cached, so visiting the other layers costs nothing. A row asked for again gets a
    ``tf.function``-compiled extractor, so scrubbing costs one compiled forward pass (about
    1 ms for the MNIST CNN) instead of ``model.predict``'s fixed overhead (about 70 ms). With
    ``background_compile`` that trace runs in a worker thread and the eager path serves until
    it is ready: the deep layers of a 175-layer ResNet50 take seconds to trace.

    Parameters
    ----------
    model : keras.Model
        A built model with one image input.
    cache_bytes : int
        Bound on the cache, in bytes (default 256 MiB).
    output : int or str, optional
        For a model with several outputs, the one that :meth:`predict` returns and that the
        Explorer shows as class probabilities: its index, or its name (the name of the layer
        that produces it, or its key in a dict of outputs). By default the first.
    background_compile : bool
        Trace compiled extractors in a worker thread instead of on the second request.

    Examples
    --------
    >>> engine = ActivationEngine(convscope.mnist_cnn())
    >>> [layer.name for layer in engine.layers][:3]
    ['rescale', 'conv1', 'pool1']
    >>> engine.activation("conv1", images[0]).shape
    (28, 28, 24)

    """

    def __init__(
        self,
        model: keras.Model,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        output: int | str | None = None,
        background_compile: bool = False,
    ) -> None:
        self.model = check_model(model)
        self.graph = read_graph(model)
        self.layers: tuple[LayerInfo, ...] = self.graph.rows
        self._by_name = {info.name: info for info in self.layers}
        self.input_shape: tuple[int | None, ...] = tuple(model.inputs[0].shape[1:])
        self.output_names = output_names(model, self.graph.output_count)
        self.output_index = _output_index(output, self.output_names)
        self.cache = ActivationCache(cache_bytes)
        self.weights_tag: Hashable = None  # which weights the cached activations are of
        # Training, set_weights or any assign changes the weights under the cache: each
        # activation() asks the watch's cheap tier first (see follow_weights).
        self.follow_each_call = True
        self._watch = WeightsWatch(self.model)
        self._seen_weights = self._watch.version()
        self._weight_tensors: dict[Hashable, list[Any]] = {}
        self._swap: Callable[[list[Any]], Any] | None = None
        self._passes = CompiledPasses(
            self.graph,
            self.input_shape,
            self.output_index,
            self._watch.inline_check,
            background=background_compile,
        )
        # Every layer's row and the selected output: what a first look at an image computes.
        self._all_rows = (*(info.name for info in self.layers), _MODEL_OUTPUT)
        self._all_rows_bytes = sum(self._row_bytes(row) for row in self._all_rows)
        if self._first_looks_take_every_row:
            # First looks compute every row of one image; compiled (in the background), that
            # costs one forward pass (80 ms for ResNet50 at 96 px, against 0.4 s eagerly).
            self._passes.trace_soon(self._all_rows)

    @property
    def layer_names(self) -> list[str]:
        """Names (paths) of the inspectable layers, in the order the model computes them."""
        return [info.name for info in self.layers]

    @property
    def output_shape(self) -> tuple[int | None, ...]:
        """The selected output's shape without the batch axis, e.g. ``(10,)``."""
        return self.graph.output_shape(self.output_index)

    @property
    def _first_looks_take_every_row(self) -> bool:
        """Whether one image's every row fits comfortably (an eighth) in the cache."""
        return 0 < self._all_rows_bytes <= self.cache.max_bytes // 8

    @property
    def compiled_layers(self) -> list[tuple[str, ...]]:
        """The layer groups that have a compiled extractor so far: proof of laziness.

        The group of every row, which first looks use, is not listed.
        """
        return [rows for rows in self._passes.rows if rows != self._all_rows]

    @property
    def trace_count(self) -> int:
        """How many times TensorFlow has traced this engine's compiled passes, all together.

        Each pass is traced once for its fixed input signature; swapping weights
        (:meth:`use_weights`) must not add to it.
        """
        return self._passes.trace_count

    def wait_compiled(self, timeout: float | None = None) -> None:
        """Block until every background trace has finished (for tests and benchmarks)."""
        self._passes.wait(timeout)

    def layer(self, name: str) -> LayerInfo:
        """Return the :class:`LayerInfo` for ``name``; raises ``UnknownLayerError`` if absent."""
        if not isinstance(name, str):
            raise ArgumentTypeError(f"A layer is named by a string such as 'conv1', got {name!r}.")
        info = self._by_name.get(name)
        return info if info is not None else find_layer(self.layers, name, self.graph.opaque)

    def prepare(self, images: object) -> np.ndarray:
        """Validate ``images`` and return them as the float32 batch the model takes."""
        return np.ascontiguousarray(check_images(images, self.input_shape), dtype=np.float32)

    def compute(
        self,
        layer: str,
        images: object,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: bool = False,
    ) -> np.ndarray:
        """Return ``layer``'s output for a batch, uncached.

        Parameters
        ----------
        layer : str
            Layer name or nested path; ``""`` or the model's name means the selected output.
        images : array-like
            One image or a batch, as :meth:`prepare` takes them.
        batch_size : int
            Images per call, fewer when one call's outputs would pass 64 MiB.
        progress : bool
            Show Keras's progress bar.

        Returns
        -------
        np.ndarray
            Shape ``(N, *output_shape)``, float32.

        """
        return self.compute_layers((layer,), images, batch_size=batch_size, progress=progress)[0]

    def compute_layers(
        self,
        layers: tuple[str, ...],
        images: object,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: bool = False,
    ) -> list[np.ndarray]:
        """Return several layers' outputs for a batch, from one forward pass per batch.

        The results are allocated once and filled batch by batch, so memory stays close to
        the size of what is returned.

        Parameters
        ----------
        layers : tuple of str
            Layer names or nested paths.
        images : array-like
            One image or a batch, as :meth:`prepare` takes them.
        batch_size : int
            Images per call, fewer when one call's outputs would pass 64 MiB.
        progress : bool
            Show Keras's progress bar.

        Returns
        -------
        list of np.ndarray
            One float32 array ``(N, *output_shape)`` per layer, in the order asked for.

        """
        rows = tuple(self._row(name) for name in layers)
        batch = check_images(images, self.input_shape)
        results: list[np.ndarray] = []
        for start, outputs in self._batches(rows, batch, batch_size, progress):
            if not results:
                results = [np.empty((len(batch), *out.shape[1:]), np.float32) for out in outputs]
            for result, out in zip(results, outputs, strict=True):
                result[start : start + len(out)] = out
        return results

    def activation(
        self,
        layer: str,
        image: object,
        *,
        key: Hashable | None = None,
        with_output: bool = False,
    ) -> np.ndarray:
        """Return ``layer``'s output for one image, from the cache when possible.

        Parameters
        ----------
        layer : str
            Layer name or nested path.
        image : array-like
            One image.
        key : hashable, optional
            Identifies the image in the cache (for example its index in a data set). By
            default the image's bytes are hashed.
        with_output : bool
            Also compute the selected output, in the same pass, when a pass is needed; then
            :meth:`output` finds it cached (one call into TensorFlow, not two).

        Returns
        -------
        np.ndarray
            Read-only float32 array of the layer's output shape.

        """
        self.layer(layer)
        rows = (layer, _MODEL_OUTPUT) if with_output else (layer,)
        return self._one(rows, image, key, "activation")

    def output(self, image: object, *, key: Hashable | None = None) -> np.ndarray:
        """Return the selected output for one image, from the cache when possible.

        As :meth:`activation` (``key`` names the image in the cache); :meth:`predict` is the
        uncached pass over a batch.
        """
        return self._one((_MODEL_OUTPUT,), image, key, "output")

    def _one(
        self, rows: tuple[str, ...], image: object, key: Hashable | None, caller: str
    ) -> np.ndarray:
        """Return the first of ``rows`` for one image, cached; one pass computes those missing.

        A first look (no compiled pass for these rows yet, and room in the cache) computes
        every row of the image, the selected output included, so that visiting the other
        layers on this image costs nothing.
        """
        batch, image_key = self._one_image(image, key, caller)
        cached = self.cache.get(self._key(rows[0], image_key))
        if cached is not None:
            return cached
        rows = (rows[0], *(row for row in rows[1:] if self._key(row, image_key) not in self.cache))
        forward, compiled = self._passes.forward(rows)
        if compiled or not self._first_looks_take_every_row:
            return self._keep(rows, forward(batch), image_key)[0]
        # A first look: every row of this image in the same pass, so that visiting the other
        # layers on this image costs nothing.
        return self._every_row(batch, image_key)[rows[0]]

    def cache_every_row(self, image: object, *, key: Hashable | None = None) -> bool:
        """Cache every layer's output and the selected output for one image, in one pass.

        For work that will visit the image's other layers (the Explorer's move previews): one
        pass of the whole model, compiled once its trace is ready, instead of one per layer.
        Nothing is computed where every row is cached already, or where one image's rows would
        take more than an eighth of the cache (as for first looks). Weights are followed as by
        :meth:`activation`.

        Parameters
        ----------
        image : array-like
            One image.
        key : hashable, optional
            Identifies the image in the cache, as for :meth:`activation`.

        Returns
        -------
        bool
            Whether a pass ran.

        """
        batch, image_key = self._one_image(image, key, "cache_every_row")
        if not self._first_looks_take_every_row:
            return False
        if all(self._key(row, image_key) in self.cache for row in self._all_rows):
            return False
        self._every_row(batch, image_key)
        return True

    def _one_image(
        self, image: object, key: Hashable | None, caller: str
    ) -> tuple[np.ndarray, Hashable]:
        """Return one image as a batch of one and its cache key, the weights followed first.

        A batch is refused before anything changes.
        """
        batch = self.prepare(image)
        if batch.shape[0] != 1:
            raise InvalidArgumentError(
                f"{caller}() takes one image, got a batch of {batch.shape[0]}. Use compute()."
            )
        if self.follow_each_call:
            self.follow_weights()
        return batch, key if key is not None else _digest(batch)

    def _every_row(self, batch: np.ndarray, image_key: Hashable) -> dict[str, np.ndarray]:
        """Compute and cache every row of one image in one pass; return them by row."""
        every_row: Forward | None = self._passes.get(self._all_rows)
        if every_row is None:
            every_row = self._passes.eager(self._all_rows)
        outputs = self._keep(self._all_rows, every_row(batch), image_key)
        return dict(zip(self._all_rows, outputs, strict=True))

    def _keep(
        self, rows: Sequence[str], outputs: Sequence[Any], image_key: Hashable
    ) -> list[np.ndarray]:
        """Cache one image's outputs of ``rows`` (a batch of one each); return them in order."""
        return [
            self.cache.put(self._key(row, image_key), np.asarray(out)[0])
            for row, out in zip(rows, outputs, strict=True)
        ]

    def follow_weights(self, *, full: bool = False, ahead: NextPass | None = None) -> bool:
        """Key the cache on the model's weights as they are now; whether they had changed.

        The cheap tier of :class:`~convscope.engine.weights.WeightsWatch` (the optimizer's
        steps and one slice's checksum; every weight of a small model) is asked first, and
        only a change it sees costs the full checksum. ``full`` checks every weight (for an
        idle moment). Activations cached for other weights stay under their own version, so
        weights that come back find theirs, and are never served for other weights.

        ``ahead`` is the pass the caller asks for next. Where it is not cached and its compiled
        pass carries the cheap tier's check (a one-slice model), that pass runs now, and its
        outputs are cached only if its own look at the weights shows them unchanged: one call
        into TensorFlow instead of two. Otherwise the check runs alone, as without ``ahead``.
        """
        if not full and ahead is not None:
            try:
                if self._vouched_pass(ahead):
                    return False
            except Exception:  # noqa: BLE001 - the check below runs; apply's pass fails again
                _LOG.debug("The pass ahead failed; the weights are checked on their own.")
        if not full and not self._watch.changed():
            return False
        version = self._watch.version()
        if version == self._seen_weights:
            return False
        self._seen_weights = version
        self.weights_tag = ("weights", version)
        return True

    def _vouched_pass(self, ahead: NextPass) -> bool:
        """Run ``ahead``'s pass with the weights' check; whether the check vouched for it.

        Its outputs are cached (under the weights' tag) only then: a pass whose look shows
        other weights leaves nothing behind. Not run where the cache could not keep them, or
        where its check no longer reads what the watch reads (``compile`` since its trace).
        Another thread's ``assign`` during the call may reach the check's reads and the
        pass's in either order, as it could between two calls before.
        """
        rows = (self.layer(ahead.layer).name,)
        compiled = self._passes.get(rows)
        if (
            compiled is None
            or compiled.check is None
            or self._key(rows[0], ahead.key) in self.cache
            or self._row_bytes(rows[0]) > self.cache.max_bytes
            or not self._watch.reads_as(compiled.check)
        ):
            return False
        batch = self.prepare(ahead.image)
        if batch.shape[0] != 1:
            return False
        outputs, sums, steps = compiled.checked(batch)
        if not self._watch.vouches_for(compiled.check, sums, steps):
            return False
        self._keep(rows, outputs, ahead.key)
        return True

    def weights_as_tagged(self) -> bool:
        """Whether every weight is still as the cache's tag says; the tag is left as it is.

        For work done while idle, between updates (move previews, thumbnails made ready): its
        passes are cached under the tag of the last update, so they must not run on weights
        changed since (``set_weights`` or ``fit`` in a cell, an ``assign``). Reads every
        weight (:meth:`~convscope.engine.weights.WeightsWatch.unchanged`): as cheap as the
        check of an update on a small model, tens of milliseconds on ResNet50. A change seen
        here is followed by the next update, as always.
        """
        return self._watch.unchanged()

    def is_cached(self, layer: str, key: Hashable) -> bool:
        """Whether ``layer``'s output for the image ``key`` is in the cache, for these weights."""
        return self._key(layer, key) in self.cache

    def use_weights(self, weights: list[np.ndarray], tag: Hashable) -> None:
        """Put other weights of this same model into it, in place (a training epoch, say).

        Nothing is rebuilt and nothing retraced: the compiled passes read the model's variables.
        Cached activations are kept under the weights' ``tag``, so going back to earlier
        weights finds theirs, and never serves them for other weights.

        Raises
        ------
        ModelNotSupportedError
            Weights that do not fit the model (another architecture); nothing changes.

        """
        shapes = [tuple(np.shape(array)) for array in weights]
        expected = [tuple(variable.shape) for variable in self.model.weights]
        if shapes != expected:
            raise ModelNotSupportedError(
                f"These weights do not fit the model: {len(shapes)} arrays against its "
                f"{len(expected)} ({sum(a != b for a, b in zip(shapes, expected, strict=False))}"
                " of different shape). They come from another model."
            )
        tensors = self._weight_tensors.get(tag)
        if tensors is None:
            tensors = [keras.ops.convert_to_tensor(array) for array in weights]
            size = sum(int(np.asarray(array).nbytes) for array in weights)
            if size * (len(self._weight_tensors) + 1) <= _WEIGHT_TENSOR_BYTES:
                self._weight_tensors[tag] = tensors  # converted once: a swap back is cheaper
        if self._swap is None:  # one compiled call assigns every variable: half the time
            self._swap = tf.function(
                functools.partial(_assign_all, self.model.weights), autograph=False
            )
        self._swap(tensors)
        self.weights_tag = tag
        self._seen_weights = self._watch.version()  # a swap the caller named: not a change

    def forget_weights(self, tags: set[Hashable]) -> None:
        """Drop the tensors kept for quick swaps to these weights (never the ones in use)."""
        for tag in tags - {self.weights_tag}:
            self._weight_tensors.pop(tag, None)

    def _key(self, layer: str, image_key: Hashable) -> Hashable:
        return (layer, self.weights_tag, image_key)

    def prefetch(
        self,
        layer: str,
        images: np.ndarray,
        indices: list[int],
        *,
        max_bytes: int = 32 * 2**20,
    ) -> int:
        """Compute ``layer`` in one compiled batch for the listed images not cached yet.

        One batched pass costs far less than one pass per image, so scrubbing forward through
        a data set mostly reads the cache. Results are cached under the image's index, as
        ``activation(layer, images[i], key=i)`` would cache them. Nothing happens until the
        layer has a compiled extractor: an eager batch would cost more than it saves.

        Parameters
        ----------
        layer : str
            Layer name or nested path.
        images : np.ndarray
            The data set the indices point into.
        indices : list of int
            Images to compute, most wanted first.
        max_bytes : int
            Upper bound on the activations computed in this call (and a tenth of the cache).

        Returns
        -------
        int
            How many images were computed.

        """
        info = self.layer(layer)
        compiled = self._passes.get((layer,))
        if compiled is None:
            return 0
        budget = min(max_bytes, self.cache.max_bytes // 10) // info.nbytes
        wanted = [i for i in indices[: max(1, budget)] if not self.is_cached(layer, i)]
        if not wanted:
            return 0
        outputs = np.asarray(compiled(self.prepare(images[wanted]))[0])
        for index, output in zip(wanted, outputs, strict=True):
            self.cache.put(self._key(layer, index), output)
        return len(wanted)

    def predict(
        self, images: object, *, batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False
    ) -> np.ndarray:
        """Return the selected output for a batch, in compiled batches (no ``model.predict``)."""
        return self.compute(_MODEL_OUTPUT, images, batch_size=batch_size, progress=progress)

    def channel_ranges(
        self,
        layer: str,
        images: object,
        *,
        quantile: float = 0.995,
        batch_size: int = 500,
        progress: bool = True,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel value ranges of ``layer`` over a data set, for a colour scale that holds.

        Streams the images in batches and keeps only each image's per-channel minimum and
        maximum, so memory stays small for 10,000 images. NaN and Inf values are left out.

        Parameters
        ----------
        layer : str
            Layer name or nested path.
        images : array-like
            The data set (for example the 10,000 MNIST test digits).
        quantile : float
            The top of the range is this quantile of the per-image maxima, so that a few
            extreme images do not wash out all the others. ``1.0`` takes the true maximum.
        batch_size : int
            Images per compiled call.
        progress : bool
            Show Keras's progress bar.
        on_batch : callable, optional
            Called as ``on_batch(done, total)`` after every batch, for a progress display.

        Returns
        -------
        low, high : np.ndarray
            float32 arrays with one value per channel (per unit for non-spatial layers).

        """
        lows, highs = self.channel_extremes(
            layer, images, batch_size=batch_size, progress=progress, on_batch=on_batch
        )
        low = finite_quantile(lows, 1.0 - quantile)
        high = finite_quantile(highs, quantile)
        return low, high

    def channel_extremes(
        self,
        layer: str,
        images: object,
        *,
        batch_size: int = 500,
        progress: bool = True,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each image's minimum and maximum of each channel of ``layer``, streamed in batches.

        Only these two numbers per image and channel are kept, so memory stays small for
        10,000 images. NaN and Inf values are left out (an all-NaN map gives +Inf and -Inf).
        Arguments as :meth:`channel_ranges`.

        Returns
        -------
        lows, highs : np.ndarray
            float32 ``(N, C)``: one column per channel (per unit for non-spatial layers).

        """
        info = self.layer(layer) if layer else None
        batch = check_images(images, self.input_shape)
        lows = highs = np.empty((0, 0), np.float32)
        for start, (out,) in self.stream((layer,), batch, batch_size=batch_size, progress=progress):
            flat = per_channel(out, info)
            if start == 0:
                lows = np.empty((len(batch), flat.shape[-1]), np.float32)
                highs = np.empty_like(lows)
            finite = np.isfinite(flat)
            lows[start : start + len(out)] = np.where(finite, flat, np.inf).min(axis=1)
            highs[start : start + len(out)] = np.where(finite, flat, -np.inf).max(axis=1)
            if on_batch is not None:
                on_batch(start + len(out), len(batch))
        return lows, highs

    def stream(
        self,
        layers: tuple[str, ...],
        images: object,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: bool = False,
    ) -> Iterator[tuple[int, list[np.ndarray]]]:
        """Yield several layers' outputs for a data set, one compiled batch at a time.

        For statistics over a data set that must not hold every activation at once: each
        batch's outputs are dropped once the caller moves on.

        Parameters
        ----------
        layers : tuple of str
            Layer names or nested paths, computed in one forward pass per batch.
        images : array-like
            The data set, as :meth:`prepare` takes it.
        batch_size : int
            Images per call, fewer when one call's outputs would pass 64 MiB.
        progress : bool
            Show Keras's progress bar.

        Yields
        ------
        start : int
            Index of the batch's first image.
        outputs : list of np.ndarray
            One float32 array ``(batch, *output_shape)`` per layer, in the order asked for.

        """
        rows = tuple(self._row(name) for name in layers)
        yield from self._batches(rows, check_images(images, self.input_shape), batch_size, progress)

    # ----- forward passes ------------------------------------------------------------------
    def _row(self, name: str) -> str:
        """Validate a row name; the model's name also means its selected output."""
        if name in (_MODEL_OUTPUT, self.model.name) and name not in self._by_name:
            return _MODEL_OUTPUT
        return self.layer(name).name

    def _batches(
        self, rows: tuple[str, ...], batch: np.ndarray, batch_size: int, progress: bool
    ) -> Iterator[tuple[int, list[np.ndarray]]]:
        per_image = sum(self._row_bytes(row) for row in rows)
        size = max(1, min(int(batch_size), _BATCH_BYTES // max(per_image, 1)))
        forward, _ = self._passes.forward(rows, calls=-(-len(batch) // size))
        bar = keras.utils.Progbar(len(batch), unit_name="image") if progress else None
        for start in range(0, len(batch), size):
            chunk = np.ascontiguousarray(batch[start : start + size], dtype=np.float32)
            yield start, [np.asarray(out) for out in forward(chunk)]
            if bar is not None:
                bar.add(len(chunk))

    def _row_bytes(self, row: str) -> int:
        if row == _MODEL_OUTPUT:
            return 4 * int(np.prod([dim or 1 for dim in self.output_shape]))
        return self._by_name[row].nbytes


def engine_for(model: keras.Model) -> ActivationEngine:
    """Return the shared uncached :class:`ActivationEngine` of ``model``, made on first use.

    One per live model, kept on the model (:mod:`.attached`), so repeated static-API calls reuse
    compiled extractors and the engine goes with the model. Raises as :class:`ActivationEngine`
    does for anything that is not an inspectable model.
    """
    if not isinstance(model, keras.Model):
        return ActivationEngine(model, cache_bytes=0)
    return attached(model, "engine", lambda: ActivationEngine(model, cache_bytes=0))


def output_names(model: keras.Model, count: int) -> list[tuple[str, ...]]:
    """Return the names each of the model's ``count`` flattened outputs answers to."""
    names: list[list[str]] = [[] for _ in range(count)]
    try:
        layer_names = list(model.output_names)
    except AttributeError:  # Sequential: one output, named after its last layer
        layer_names = [model.layers[-1].name] if model.layers else []
    for index, name in enumerate(layer_names[:count]):
        names[index].append(str(name))
    try:
        structure = model.output  # a dict of outputs keeps its keys here
    except AttributeError:
        structure = model.outputs
    paths = keras.tree.flatten_with_path(structure)
    for index, (path, _) in enumerate(paths[:count]):
        names[index].extend(str(part) for part in path[-1:] if not isinstance(part, int))
    return [tuple(dict.fromkeys(found)) for found in names]


def _output_index(output: int | str | None, names: list[tuple[str, ...]]) -> int:
    described = ", ".join(f"{i}: {' / '.join(found) or '?'}" for i, found in enumerate(names))
    if output is None:
        return 0
    if isinstance(output, bool) or not isinstance(output, (int, np.integer, str)):
        raise ArgumentTypeError(f"output must be an index or a name, got {output!r}.")
    if isinstance(output, str):
        for index, found in enumerate(names):
            if output in found:
                return index
        raise ModelNotSupportedError(
            f"The model has no output named {output!r}. Its outputs are {described}; pass "
            "output= one of those names or indices."
        )
    if not 0 <= int(output) < len(names):
        raise ModelNotSupportedError(
            f"output={output} is out of range: the model has {len(names)} output(s) ({described})."
        )
    return int(output)


def per_channel(out: np.ndarray, info: LayerInfo | None) -> np.ndarray:
    """View a batch of one row's outputs as ``(N, positions, channels)``.

    Maps become their pixels by channel (channels-first ones are moved); any other output is
    one position of its units. ``info`` is ``None`` for the model's output.
    """
    if info is not None and info.spatial:
        by_channel = np.moveaxis(out, 1, -1) if info.channels_first else out
        return by_channel.reshape(out.shape[0], -1, by_channel.shape[-1])
    return out.reshape(out.shape[0], 1, -1)


def _assign_all(variables: list[Any], values: list[Any]) -> int:
    """Assign ``values`` to ``variables``, in order (traced once, for :meth:`use_weights`)."""
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
    return 0


def finite_quantile(values: np.ndarray, quantile: float) -> np.ndarray:
    """Per-column quantile of the finite values; 0 where a column has none."""
    finite = np.where(np.isfinite(values), values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: handled below
        result = np.nanquantile(finite, quantile, axis=0)
    return np.asarray(np.nan_to_num(result, nan=0.0), dtype=np.float32)


def _digest(batch: np.ndarray) -> str:
    return hashlib.blake2b(batch.tobytes(), digest_size=16).hexdigest()
