"""Grad-CAM, channel heatmaps and gradient ascent (filter patterns, class maximisation).

Every gradient is taken through :class:`~convscope.engine.split.SplitModel`, of a class score
before the softmax or of a channel's activation, so nested rows work as top-level ones do.
Compiled functions are made per layer on first use and kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from convscope.engine.activations import ActivationEngine, engine_for
from convscope.engine.attached import attached
from convscope.engine.graph import LayerInfo
from convscope.engine.pattern_cache import PatternStore, settings_key, weights_digest
from convscope.engine.split import (
    GraphValue,
    Scores,
    SplitModel,
    find_class_scores,
    find_pre_activation,
    nested_calls,
)
from convscope.errors import (
    ArgumentTypeError,
    ConvscopeError,
    ImageInputError,
    IndexOutOfRangeError,
    InvalidArgumentError,
    ModelNotSupportedError,
    NotSpatialLayerError,
    WeightsChangedError,
    check_index,
    check_int,
)

_LEAK = 0.2  # how much gradient ascent also climbs a pre-activation
_DECAY = 0.02  # class maximisation's pull towards the model's zero input, per step
_ASCENT_BYTES = 1024 * 2**20  # activations kept for one batch's backward pass
_GRAD_CAM_BATCH = 256
_PATTERN_VERSION = 1  # part of the disk cache key: bump when the search changes


class GradientEngine:
    """Grad-CAM, heatmaps, filter patterns and class maximisation for one model.

    Compiled functions are made per layer on first use and kept; the class is a tensor
    argument, so every class shares one trace.

    Parameters
    ----------
    engine : ActivationEngine
        The model's activation engine (its graph, layers, selected output and input checks).

    """

    def __init__(self, engine: ActivationEngine) -> None:
        self.engine = engine
        self._scores: GraphValue | None = None
        self._grad_cam: dict[str, Callable[..., Any]] = {}
        self._ascent: dict[str, Callable[..., Any]] = {}
        self._maximise: Callable[..., Any] | None = None
        self._images_spec = tf.TensorSpec((None, *engine.input_shape), tf.float32)

    # ----- what the model offers ------------------------------------------------------------
    @property
    def class_scores(self) -> GraphValue:
        """Where the class scores before the softmax are (found on first use)."""
        if self._scores is None:
            shape = self.engine.output_shape
            if len(shape) != 1:
                raise ModelNotSupportedError(
                    f"The model's output has shape {shape}, not one score per class. Grad-CAM "
                    "and class maximisation need a classifier's output, shape (classes,); for "
                    "a model with several outputs, pick one with ActivationEngine(output=...)."
                )
            self._scores = find_class_scores(self.engine.graph, self.engine.output_index)
        return self._scores

    @property
    def class_count(self) -> int:
        """How many classes the selected output scores: two for a one-unit sigmoid."""
        units = int(self.engine.output_shape[-1] or 0)
        return 2 if units == 1 and self.class_scores.two_sided else units

    def last_spatial_layer(self) -> LayerInfo:
        """Return Grad-CAM's default layer: the last one with a spatial output.

        Pooling layers and whole nested models are passed over: a pooling layer's maps are a
        coarser copy of the maps before it, and a nested model's output is its own last row.
        What is left is the last convolutional block, where Selvaraju et al. and Chollet take
        Grad-CAM (on the bundled CNN, ``conv3`` at 7×7 rather than ``pool3`` at 3×3).
        """
        spatial = [info for info in self.engine.layers if info.spatial]
        if not spatial:
            raise ModelNotSupportedError(
                "Grad-CAM needs a layer with a spatial output (height × width × channels), and "
                "this model has none: every layer's output is a vector. Use a model with "
                "convolutional layers, or look at get_activations() for its vectors."
            )
        nested = nested_calls(self.engine.graph.root)
        preferred = [
            info for info in spatial if "Pooling" not in info.kind and info.name not in nested
        ]
        return (preferred or spatial)[-1]

    def spatial_layer(self, layer: str | None, purpose: str) -> LayerInfo:
        """Return ``layer``'s info if its output is a stack of maps; ``None`` means the last one."""
        info = self.last_spatial_layer() if layer is None else self.engine.layer(layer)
        if not info.spatial:
            names = [row.name for row in self.engine.layers if row.spatial]
            raise NotSpatialLayerError(
                f"{purpose} needs a layer with a spatial output, and {info.name!r} "
                f"({info.kind}, {info.shape_text}) has none. Pick one of the convolutional or "
                f"pooling layers: {', '.join(names[-12:]) or 'none in this model'}."
            )
        return info

    def classes(self, class_index: object, count: int) -> np.ndarray:
        """Return ``count`` class indices as int32; ``None`` gives -1, the predicted class."""
        if class_index is None:
            return np.full(count, -1, np.int32)
        wanted = np.atleast_1d(np.asarray(class_index, dtype=object))
        if wanted.ndim != 1 or len(wanted) not in (1, count):
            raise InvalidArgumentError(
                f"class_index must be one class or one per image ({count}), got {class_index!r}."
            )
        checked = [self._check_class(value) for value in wanted]
        return np.resize(np.asarray(checked, np.int32), count)

    def _check_class(self, value: object) -> int:
        try:
            return check_index("class_index", value, self.class_count)
        except IndexOutOfRangeError:
            raise IndexOutOfRangeError(
                f"class_index {value} is out of range: the model scores {self.class_count} "
                f"classes, so use 0..{self.class_count - 1} (or None for the predicted class)."
            ) from None

    # ----- Grad-CAM and heatmaps ------------------------------------------------------------
    def grad_cam(
        self, images: np.ndarray, classes: np.ndarray, layer: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return Grad-CAM maps ``(N, H, W)`` in [0, 1], the classes explained, the predicted.

        Parameters
        ----------
        images : np.ndarray
            A float32 batch, as :meth:`ActivationEngine.prepare` returns it.
        classes : np.ndarray
            int32, one per image; -1 means the predicted class.
        layer : str, optional
            The row to explain; by default the last spatial one.

        """
        info = self.spatial_layer(layer, "Grad-CAM")
        compiled = self._grad_cam.get(info.name)
        if compiled is None:
            path = SplitModel(self.engine.graph, info.name, self.class_scores)
            compiled = tf.function(
                functools.partial(_grad_cam, path, info),
                input_signature=[self._images_spec, tf.TensorSpec((None,), tf.int32)],
                autograph=False,
            )
            self._grad_cam[info.name] = compiled
        every_row = 3 * sum(row.nbytes for row in self.engine.layers)  # forward and backward
        size = max(1, min(_GRAD_CAM_BATCH, _ASCENT_BYTES // max(every_row, 1)))
        found = [
            [
                np.asarray(out)
                for out in compiled(images[start : start + size], classes[start : start + size])
            ]
            for start in range(0, len(images), size)
        ]
        maps, chosen, predicted = (np.concatenate(parts) for parts in zip(*found, strict=True))
        return maps, chosen, predicted

    def heatmap(self, images: np.ndarray, layer: str) -> np.ndarray:
        """Return ``layer``'s channel mean, upsampled to the images, ``(N, H, W)`` in [0, 1].

        Each map is scaled by its own minimum and maximum; a flat map is all zeros.
        """
        info = self.spatial_layer(layer, "An activation heatmap")
        activation = self.engine.compute(info.name, images)
        return heatmap_of(activation, images.shape[1:3], channels_first=info.channels_first)

    # ----- gradient ascent ------------------------------------------------------------------
    def filter_patterns(
        self,
        layer: str,
        channels: Sequence[int] | None,
        *,
        steps: int,
        size: tuple[int, int] | None,
        seed: int,
        input_range: tuple[float, float],
        progress: bool,
        on_step: Callable[[int, int], None] | None = None,
        still_valid: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """Return one image per channel that maximises its mean activation, in [0, 1].

        See :func:`convscope.api.filter_patterns`; cached on disk by
        :class:`~convscope.engine.pattern_cache.PatternStore`. ``on_step(done, total)`` is
        called after every gradient step, for a progress line of the caller's own.
        ``still_valid()`` is asked after the ascent, before anything is saved: a caller that
        knows of weights swapped during it (and back: their digest is the same again) says
        ``False``, and ``WeightsChangedError`` is raised as for any change seen.
        """
        info = self.spatial_layer(layer, "Filter patterns")
        wanted = self._channels(info, channels)
        shape = self._pattern_shape(size)
        low, high = _check_range(input_range)
        steps = _check_steps(steps)
        weights = weights_digest(self.engine.model)
        store = PatternStore(
            settings_key(
                _PATTERN_VERSION,
                weights,
                [(row.name, row.kind, row.output_shape) for row in self.engine.layers],
                info.name,
                steps,
                shape,
                seed,
                (low, high),
            )
        )
        known = store.load()
        missing = [channel for channel in dict.fromkeys(wanted) if channel not in known]
        if missing:
            found = self._ascend(info, missing, steps, shape, seed, (low, high), progress, on_step)
            moved = still_valid is not None and not still_valid()
            if moved or weights_digest(self.engine.model) != weights:
                # Another thread (a training, an Explorer's epoch slider) moved the weights
                # during the ascent: its steps mixed them. Nothing is kept or saved.
                raise WeightsChangedError(
                    f"The model's weights changed while the filter patterns of {info.name} "
                    "were computed (a training, set_weights or another epoch in the meantime), "
                    "so they fit no weights; nothing was saved. Ask again once the weights "
                    "stay as they are."
                )
            known.update(zip(missing, found, strict=True))
            store.save(known)
        return np.stack([known[channel] for channel in wanted])

    def _ascend(  # noqa: PLR0917 - private, called once with the public call's options
        self,
        info: LayerInfo,
        channels: list[int],
        steps: int,
        shape: tuple[int, int, int],
        seed: int,
        input_range: tuple[float, float],
        progress: bool,
        on_step: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        compiled = self._ascent.get(info.name)
        if compiled is None:
            target, activation = find_pre_activation(self.engine.graph, info.name)
            path = SplitModel(self.engine.graph, None, target)
            compiled = tf.function(
                functools.partial(_ascent_step, path, activation, info.channels_first),
                input_signature=[
                    self._images_spec,
                    tf.TensorSpec((None,), tf.int32),
                    tf.TensorSpec((), tf.float32),
                    tf.TensorSpec((2,), tf.float32),
                ],
                autograph=False,
            )
            self._ascent[info.name] = compiled
        low, high = input_range
        per_image = 3 * sum(row.nbytes for row in self._rows_up_to(info.name))
        chunks = -(-len(channels) // max(1, _ASCENT_BYTES // max(per_image, 1)))
        size = -(-len(channels) // chunks)  # equal chunks: 32 + 32, not 58 + 6
        bar = keras.utils.Progbar(steps * chunks, unit_name="step") if progress else None
        results: list[np.ndarray] = []
        for start in range(0, len(channels), size):
            chunk = channels[start : start + size]
            images = tf.constant(_noise(chunk, shape, seed, low, high))
            indices = tf.constant(chunk, tf.int32)
            bounds = tf.constant([low, high], tf.float32)
            for step in range(steps):
                images = compiled(images, indices, _step_size(step, steps, high - low), bounds)
                if bar is not None:
                    bar.add(1)
                if on_step is not None:
                    on_step(len(results) * steps + step + 1, steps * chunks)
            results.append((np.asarray(images) - low) / (high - low))
        return np.concatenate(results).astype(np.float32)

    def maximize_class(
        self,
        classes: np.ndarray,
        *,
        steps: int,
        seed: int,
        input_range: tuple[float, float],
        progress: bool,
    ) -> np.ndarray:
        """Return one image per class that maximises its score before the softmax, in [0, 1].

        Gradient ascent from seeded smooth noise with three light regularisers, so the images
        look like something: random jitter of up to 1/14 of the image each step, a pull of 2 %
        a step towards the model's zero input (an L2 penalty; 0 clipped into ``input_range``),
        and a slight 3×3 blur every fourth step. The last quarter of the steps has no jitter
        and no blur.
        """
        low, high = _check_range(input_range)
        steps = _check_steps(steps)
        shape = self._pattern_shape(None)
        if self._maximise is None:
            path = SplitModel(self.engine.graph, None, self.class_scores)
            self._maximise = tf.function(
                functools.partial(_maximise_step, path),
                input_signature=[
                    self._images_spec,
                    tf.TensorSpec((None,), tf.int32),
                    tf.TensorSpec((), tf.float32),
                    tf.TensorSpec((2,), tf.float32),
                    tf.TensorSpec((2,), tf.int32),
                    tf.TensorSpec((), tf.bool),
                ],
                autograph=False,
            )
        rng = np.random.default_rng(seed)
        jitter = max(1, min(shape[:2]) // 14)
        images = tf.constant(_noise(classes.tolist(), shape, seed, low, high))
        indices = tf.constant(classes, tf.int32)
        bounds = tf.constant([low, high], tf.float32)
        bar = keras.utils.Progbar(steps, unit_name="step") if progress else None
        for step in range(steps):
            polishing = step >= 0.75 * steps  # the last quarter: no jitter, no blur
            offsets = rng.integers(-jitter, jitter + 1, size=2) * (not polishing)
            shift = tf.constant(offsets, tf.int32)
            blur = tf.constant(step % 4 == 3 and not polishing)  # noqa: PLR2004
            size = _step_size(step, steps, high - low)
            images = self._maximise(images, indices, size, bounds, shift, blur)
            if bar is not None:
                bar.add(1)
        return ((np.asarray(images) - low) / (high - low)).astype(np.float32)

    # ----- helpers ----------------------------------------------------------------------------
    def _channels(self, info: LayerInfo, channels: Sequence[int] | None) -> list[int]:
        if channels is None:
            return list(range(info.channels))
        listed = [channels] if isinstance(channels, (int, np.integer)) else list(channels)
        if not listed:
            raise InvalidArgumentError(
                "channels is empty: pass channel indices, or None for all of them."
            )
        return [check_index("channel", channel, info.channels) for channel in listed]

    def _pattern_shape(self, size: tuple[int, int] | int | None) -> tuple[int, int, int]:
        height, width, depth = self.engine.input_shape
        if isinstance(size, (int, np.integer)):
            size = (int(size), int(size))
        if size is None:
            if height is None or width is None:
                raise ImageInputError(
                    "This model takes images of any size, so say which: size=(height, width)."
                )
            return int(height), int(width), int(depth or 1)
        fixed = (height, width)
        if any(want is not None and want != got for want, got in zip(fixed, size, strict=True)):
            raise ImageInputError(
                f"This model takes {height}×{width} images, so patterns are {height}×{width}: "
                f"leave size=None (got size={size})."
            )
        return int(size[0]), int(size[1]), int(depth or 1)

    def _rows_up_to(self, name: str) -> list[LayerInfo]:
        rows = []
        for info in self.engine.layers:
            rows.append(info)
            if info.name == name:
                break
        return rows


def gradients_for(model: keras.Model) -> GradientEngine:
    """Return the shared :class:`GradientEngine` of ``model``, made on first use.

    One per live model, kept on the model (:mod:`.attached`), so repeated static-API calls
    reuse compiled functions and it goes with the model.
    """
    engine = engine_for(model)
    return attached(engine.model, "gradients", lambda: GradientEngine(engine))


# ----- traced functions: module level, so each trace is counted once ------------------------
def _grad_cam(path: SplitModel, info: LayerInfo, images: tf.Tensor, classes: tf.Tensor) -> Any:
    """Selvaraju et al. (2017), step by step as Chollet writes it out."""
    inputs, maps = path.row_output(images)
    maps = tf.cast(maps, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(maps)
        scores = path.value(inputs, maps)
        predicted = tf.argmax(scores, axis=-1, output_type=tf.int32)
        chosen = tf.where(classes < 0, predicted, classes)
        score = tf.reduce_sum(tf.gather(scores, chosen, batch_dims=1))
    grads = tape.gradient(score, maps)
    if grads is None:
        raise ConvscopeError(
            f"The class scores do not depend on {info.name!r}, so it has no Grad-CAM. Pick a "
            "layer on the way from the input to the output."
        )
    if info.channels_first:
        maps, grads = tf.transpose(maps, (0, 2, 3, 1)), tf.transpose(grads, (0, 2, 3, 1))
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # one per channel
    cam = tf.nn.relu(tf.reduce_sum(maps * weights, axis=-1))
    cam = _upsample(cam, tf.shape(images)[1:3])
    peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
    return tf.math.divide_no_nan(cam, peak), chosen, predicted


def heatmap_of(
    activation: np.ndarray, size: tuple[int, ...], *, channels_first: bool = False
) -> np.ndarray:
    """Return the heatmaps of activations already computed: ``(N, *size)`` in [0, 1].

    Each ``(N, h, w, C)`` map (``(N, C, h, w)`` with ``channels_first``) is averaged over its
    channels, upsampled bilinearly to ``size`` and scaled by its own minimum and maximum; a
    flat map is all zeros. The Explorer passes the activation it has cached, so its heatmap
    view costs no forward pass of its own.
    """
    mean = activation.mean(axis=1 if channels_first else -1, dtype=np.float32)
    upsampled: np.ndarray = np.asarray(_upsample(mean, tuple(size)))
    low = upsampled.min(axis=(1, 2), keepdims=True)
    span = upsampled.max(axis=(1, 2), keepdims=True) - low
    return np.asarray(
        np.divide(upsampled - low, span, out=np.zeros_like(upsampled), where=span > 0)
    )


def _upsample(maps: Any, size: Any) -> Any:
    """Resize ``(N, h, w)`` maps bilinearly to ``size``."""
    return tf.image.resize(maps[..., tf.newaxis], size, method="bilinear")[..., 0]


def _ascent_step(  # noqa: PLR0917 - the traced signature
    path: SplitModel,
    activation: Scores,
    channels_first: bool,
    images: tf.Tensor,
    channels: tf.Tensor,
    step_size: tf.Tensor,
    bounds: tf.Tensor,
) -> tf.Tensor:
    """One step of every image up the mean activation of its own channel, kept in range."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        before = path.value([images])
        after = tf.cast(activation(before), tf.float32)
        if channels_first:
            before = tf.transpose(before, (0, 2, 3, 1))
            after = tf.transpose(after, (0, 2, 3, 1))
        own = tf.gather(after, channels, axis=-1, batch_dims=1)  # (N, h, w)
        own_before = tf.gather(before, channels, axis=-1, batch_dims=1)
        total = tf.reduce_sum(tf.reduce_mean(own + _LEAK * own_before, axis=(1, 2)))
    grads = _normalised(tape.gradient(total, images))
    return tf.clip_by_value(images + step_size * grads, bounds[0], bounds[1])


def _maximise_step(  # noqa: PLR0917 - the traced signature
    path: SplitModel,
    images: tf.Tensor,
    classes: tf.Tensor,
    step_size: tf.Tensor,
    bounds: tf.Tensor,
    shift: tf.Tensor,
    blur: tf.Tensor,
) -> tf.Tensor:
    """One step of every image up its class score, with jitter, a pull to zero and blur."""
    moved = tf.roll(images, shift, axis=(1, 2))
    with tf.GradientTape() as tape:
        tape.watch(moved)
        scores = path.value([moved])
        total = tf.reduce_sum(tf.gather(scores, classes, batch_dims=1))
    grads = tf.roll(_normalised(tape.gradient(total, moved)), -shift, axis=(1, 2))
    zero = tf.clip_by_value(0.0, bounds[0], bounds[1])  # the model's own zero: an L2 penalty
    images = zero + (images + step_size * grads - zero) * (1.0 - _DECAY)
    images = tf.cond(blur, lambda: _blur(images), lambda: images)
    return tf.clip_by_value(images, bounds[0], bounds[1])


def _normalised(grads: tf.Tensor) -> tf.Tensor:
    """Scale each image's gradient to unit root mean square, so steps have a known size."""
    rms = tf.sqrt(tf.reduce_mean(tf.square(grads), axis=(1, 2, 3), keepdims=True))
    return tf.math.divide_no_nan(grads, rms)


def _blur(images: tf.Tensor) -> tf.Tensor:
    """Blur every colour channel with a 3×3 binomial kernel (edges repeat the border pixels)."""
    taps = tf.constant([0.25, 0.5, 0.25])
    kernel = (taps[:, tf.newaxis] * taps[tf.newaxis, :])[:, :, tf.newaxis, tf.newaxis]
    kernel = tf.tile(kernel, (1, 1, tf.shape(images)[-1], 1))
    padded = tf.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="SYMMETRIC")
    return tf.nn.depthwise_conv2d(padded, kernel, (1, 1, 1, 1), "VALID")


def _step_size(step: int, steps: int, span: float) -> tf.Tensor:
    """Return step ``step``'s size: from 10 % to 1 % of the input range, coarse then fine."""
    fraction = 0.1 - 0.09 * step / max(steps - 1, 1)
    return tf.constant(fraction * span, tf.float32)


def _noise(
    seeds: list[int], shape: tuple[int, int, int], seed: int, low: float, high: float
) -> np.ndarray:
    """Smooth noise, one image per entry of ``seeds``, each from its own seeded generator.

    Uniform noise blurred twice (about one pixel), with a mean of half the input range and a
    standard deviation of a quarter of it: a unit whose ReLU is off everywhere has no gradient
    to climb, and this much contrast switches more of them on than flat grey noise does. An
    image depends only on ``(seed, its entry)``, not on what else is in the batch, so a
    channel's pattern is the same whichever channels are asked for with it.
    """
    noise = np.stack([np.random.default_rng([seed, entry]).random(shape) for entry in seeds])
    smooth: np.ndarray = np.asarray(_blur(_blur(tf.constant(noise, tf.float32))))
    centred = smooth - smooth.mean(axis=(1, 2, 3), keepdims=True)
    spread = centred.std(axis=(1, 2, 3), keepdims=True)
    standard = np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0)
    fractions = np.clip(0.5 + 0.25 * standard, 0.0, 1.0)
    return np.asarray(low + (high - low) * fractions, dtype=np.float32)


def _check_range(input_range: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = (float(value) for value in input_range)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"input_range must be (low, high), the values the model takes, got {input_range!r}."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InvalidArgumentError(
            f"input_range must be finite with low < high, got {input_range!r}; the bundled "
            "model takes (0, 255)."
        )
    return low, high


def _check_steps(steps: object) -> int:
    return check_int("steps", steps, minimum=1, example=20)
