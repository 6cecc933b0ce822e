"""Compute any layer's activations lazily, through compiled calls, with a bounded cache."""

from __future__ import annotations

import functools
import hashlib
import weakref
from collections.abc import Callable, Hashable, Iterator

import keras
import numpy as np
import tensorflow as tf

from convscope.engine.cache import DEFAULT_CACHE_BYTES, ActivationCache
from convscope.engine.inputs import as_image_batch
from convscope.engine.layers import (
    LayerInfo,
    check_model,
    find_layer,
    layers_extractor,
    list_layers,
)

DEFAULT_BATCH_SIZE = 256


class ActivationEngine:
    """Activations of one Keras model, computed only for the layer asked for, when asked.

    Each layer gets its own extractor (``keras.Model(model.inputs, layer.output)``) wrapped in
    a ``tf.function`` on first use, so a request costs one compiled forward pass (about 1 ms
    for the MNIST CNN) instead of ``model.predict``'s fixed overhead (about 70 ms). Results for
    single images are kept in an :class:`ActivationCache` bounded in bytes.

    Parameters
    ----------
    model : keras.Model
        A built model with one image input.
    cache_bytes : int
        Bound on the cache, in bytes (default 256 MiB).

    Examples
    --------
    >>> engine = ActivationEngine(convscope.mnist_cnn())
    >>> [layer.name for layer in engine.layers][:3]
    ['rescale', 'conv1', 'pool1']
    >>> engine.activation("conv1", images[0]).shape
    (28, 28, 24)

    """

    def __init__(self, model: keras.Model, *, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.model = check_model(model)
        self.layers: tuple[LayerInfo, ...] = list_layers(model)
        self._by_name = {info.name: info for info in self.layers}
        self.input_shape: tuple[int | None, ...] = tuple(model.inputs[0].shape[1:])
        self.cache = ActivationCache(cache_bytes)
        self._compiled: dict[tuple[str, ...], Callable[[np.ndarray], list[tf.Tensor]]] = {}
        self._signature = tf.TensorSpec((None, *self.input_shape), tf.float32)

    @property
    def layer_names(self) -> list[str]:
        """Names (paths) of the inspectable layers, in model order."""
        return [info.name for info in self.layers]

    @property
    def output_shape(self) -> tuple[int | None, ...]:
        """The model's (first) output shape without the batch axis, e.g. ``(10,)``."""
        return tuple(self.model.outputs[0].shape[1:])

    @property
    def compiled_layers(self) -> list[tuple[str, ...]]:
        """The layer groups that have a compiled extractor so far: proof of laziness."""
        return list(self._compiled)

    def layer(self, name: str) -> LayerInfo:
        """Return the :class:`LayerInfo` for ``name``; raises ``UnknownLayerError`` if absent."""
        if not isinstance(name, str):
            raise TypeError(f"A layer is named by a string such as 'conv1', got {name!r}.")
        info = self._by_name.get(name)
        return info if info is not None else find_layer(self.layers, name)

    def prepare(self, images: object) -> np.ndarray:
        """Validate ``images`` and return them as the float32 batch the model takes."""
        return as_image_batch(images, self.input_shape)

    def compute(
        self,
        layer: str,
        images: object,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: bool = False,
    ) -> np.ndarray:
        """Return ``layer``'s output for a batch, uncached, in compiled batches.

        Parameters
        ----------
        layer : str
            Layer name or nested path; ``""`` or the model's name means the model's output.
        images : array-like
            One image or a batch, as :meth:`prepare` takes them.
        batch_size : int
            Images per compiled call.
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

        Parameters
        ----------
        layers : tuple of str
            Layer names or nested paths.
        images : array-like
            One image or a batch, as :meth:`prepare` takes them.
        batch_size : int
            Images per compiled call.
        progress : bool
            Show Keras's progress bar.

        Returns
        -------
        list of np.ndarray
            One float32 array ``(N, *output_shape)`` per layer, in the order asked for.

        """
        for name in layers:
            if name not in ("", self.model.name):
                self.layer(name)
        batch = self.prepare(images)
        chunks = list(self._batches(tuple(layers), batch, batch_size, progress))
        return [np.concatenate([chunk[i] for chunk in chunks]) for i in range(len(layers))]

    def activation(self, layer: str, image: object, *, key: Hashable | None = None) -> np.ndarray:
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

        Returns
        -------
        np.ndarray
            Read-only float32 array of the layer's output shape.

        """
        self.layer(layer)
        batch = self.prepare(image)
        if batch.shape[0] != 1:
            raise ValueError(
                f"activation() takes one image, got a batch of {batch.shape[0]}. Use compute()."
            )
        cache_key = (layer, key if key is not None else _digest(batch))
        cached = self.cache.get(cache_key)
        if cached is not None:
            return cached
        result = np.asarray(self._extractor((layer,))(batch)[0])[0]
        self.cache.put(cache_key, result)
        return result

    def prefetch(
        self,
        layer: str,
        images: np.ndarray,
        indices: list[int],
        *,
        max_bytes: int = 32 * 2**20,
    ) -> int:
        """Compute ``layer`` in one batch for the listed images that are not cached yet.

        One batched pass costs far less than one pass per image, so scrubbing forward through
        a data set mostly reads the cache. Results are cached under the image's index, as
        ``activation(layer, images[i], key=i)`` would cache them.

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
        per_image = 4 * int(np.prod([dim or 1 for dim in info.output_shape]))
        budget = min(max_bytes, self.cache.max_bytes // 10) // per_image
        wanted = [i for i in indices[: max(1, budget)] if (layer, i) not in self.cache]
        if not wanted:
            return 0
        outputs = np.asarray(self._extractor((layer,))(self.prepare(images[wanted]))[0])
        for index, output in zip(wanted, outputs, strict=True):
            self.cache.put((layer, index), output)
        return len(wanted)

    def predict(
        self, images: object, *, batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False
    ) -> np.ndarray:
        """Return the model's output for a batch, in compiled batches (no ``model.predict``)."""
        return self.compute("", images, batch_size=batch_size, progress=progress)

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
        maximum, so memory stays small for 10,000 images.

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
        info = self.layer(layer) if layer else None
        lows, highs = [], []
        batch = self.prepare(images)
        for (out,) in self._batches((layer,), batch, batch_size, progress):
            flat = (
                out.reshape(out.shape[0], -1, out.shape[-1])
                if info and info.spatial
                else (out.reshape(out.shape[0], 1, -1))
            )
            lows.append(flat.min(axis=1))
            highs.append(flat.max(axis=1))
            if on_batch is not None:
                on_batch(sum(len(low) for low in lows), len(batch))
        low = np.quantile(np.concatenate(lows), 1.0 - quantile, axis=0).astype(np.float32)
        high = np.quantile(np.concatenate(highs), quantile, axis=0).astype(np.float32)
        return low, high

    def _batches(
        self, layers: tuple[str, ...], batch: np.ndarray, batch_size: int, progress: bool
    ) -> Iterator[list[np.ndarray]]:
        extractor = self._extractor(layers)
        bar = keras.utils.Progbar(len(batch), unit_name="image") if progress else None
        for start in range(0, len(batch), batch_size):
            chunk = batch[start : start + batch_size]
            yield [np.asarray(out) for out in extractor(chunk)]
            if bar is not None:
                bar.add(len(chunk))

    def _extractor(self, layers: tuple[str, ...]) -> Callable[[np.ndarray], list[tf.Tensor]]:
        """Return the compiled forward pass for ``layers``, tracing it on first use."""
        compiled = self._compiled.get(layers)
        if compiled is None:
            inner = tuple(name for name in layers if name not in ("", self.model.name))
            extract = layers_extractor(self.model, inner) if inner else None
            # A partial, not a closure: TensorFlow counts traces per code object, and one
            # trace per layer is expected, not the "frequent retracing" it warns about.
            forward = functools.partial(_forward, self.model, extract, inner, layers)
            compiled = tf.function(forward, input_signature=[self._signature])
            self._compiled[layers] = compiled
        return compiled


# One uncached engine per live model, so repeated static-API calls reuse compiled extractors.
_SHARED: weakref.WeakKeyDictionary[keras.Model, ActivationEngine] = weakref.WeakKeyDictionary()


def engine_for(model: keras.Model) -> ActivationEngine:
    """Return the shared uncached :class:`ActivationEngine` of ``model``, made on first use.

    Raises as :class:`ActivationEngine` does for anything that is not an inspectable model.
    """
    engine = _SHARED.get(model) if isinstance(model, keras.Model) else None
    if engine is None:
        engine = ActivationEngine(model, cache_bytes=0)
        _SHARED[model] = engine
    return engine


def _forward(
    model: keras.Model,
    extract: Callable[..., list[object]] | None,
    inner: tuple[str, ...],
    layers: tuple[str, ...],
    batch: tf.Tensor,
) -> list[object]:
    found = dict(zip(inner, extract(batch), strict=True)) if extract else {}
    if len(found) < len(layers):
        found[""] = model(batch, training=False)
    return [found.get(name, found.get("")) for name in layers]


def _digest(batch: np.ndarray) -> str:
    return hashlib.blake2b(batch.tobytes(), digest_size=16).hexdigest()
