"""A pass takes a layer's peaks from a max-pooling that tiles it, and only then.

Each pass here reduces a layer and the pooling after it together (as ``dead_channels`` does
every spatial layer), on real MNIST test digits; every number is checked against numpy over
the maps of a plain Keras model, and against a pass of the layer alone (which reads its own
maps).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import convscope
from convscope.engine import insight as engine_insight
from convscope.engine.activations import engine_for
from convscope.engine.pass_memo import PassMemo

SAMPLES = 600


@pytest.fixture(scope="module")
def digits(mnist_test: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return mnist_test[0][:SAMPLES]


def keras_maps(model: keras.Model, images: np.ndarray, layer: str) -> np.ndarray:
    probe = keras.Model(model.inputs, model.get_layer(layer).output)
    return np.asarray(probe.predict(images, batch_size=200, verbose=0))


def brute_stats(maps: np.ndarray) -> dict[str, np.ndarray]:
    """The pass's rules in numpy: peaks and lows of finite values, the mean of finite values."""
    finite = np.isfinite(maps)
    peaks = np.where(finite, maps, -np.inf).max(axis=(1, 2))
    lows = np.where(finite, maps, np.inf).min(axis=(1, 2))
    sums = np.where(finite, maps, 0).sum(axis=(0, 1, 2), dtype=np.float64)
    return {"peaks": peaks, "lows": lows, "mean": sums / finite.sum(axis=(0, 1, 2))}


def passed(
    model: keras.Model, images: np.ndarray, layers: tuple[str, ...], batch_size: int = 256
) -> dict[str, engine_insight.ChannelStats]:
    """One pass over ``layers`` together, remembering nothing."""
    return engine_insight.channel_stats(
        engine_for(model),
        layers,
        images,
        batch_size=batch_size,
        progress=False,
        memo=PassMemo(0),
    )


def test_the_bundled_cnns_conv1_and_conv2_take_their_peaks_from_pool1_and_pool2(
    model: keras.Model, digits: np.ndarray
) -> None:
    engine = engine_for(model)
    # conv3 is 7 x 7: pool3's 2 x 2 windows leave its last row and column out
    assert engine.graph.tiling_max_pools() == {"conv1": "pool1", "conv2": "pool2"}
    spatial = tuple(info.name for info in engine.layers if info.spatial)
    together = passed(model, digits, spatial)
    for layer in ("conv1", "conv2", "conv3"):
        alone = passed(model, digits, (layer,))[layer]  # its own maps reduced: no pooling
        stats = together[layer]
        assert stats.peaks is not None
        assert alone.peaks is not None
        np.testing.assert_array_equal(stats.peaks, alone.peaks)  # bit for bit
        reference = brute_stats(keras_maps(model, digits, layer))
        np.testing.assert_allclose(stats.peaks, reference["peaks"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.lows, reference["lows"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.mean, reference["mean"], rtol=1e-4, atol=1e-6)
        for channel in range(0, stats.max.shape[0], 5):
            best = np.argsort(-reference["peaks"][:, channel], kind="stable")[:9]
            assert stats.top(channel).tolist() == best.tolist(), (layer, channel)
    dead = convscope.dead_channels(model, digits, progress=False)
    for layer in spatial:
        maps = keras_maps(model, digits, layer)
        peaks, lows = maps.max(axis=(0, 1, 2)), maps.min(axis=(0, 1, 2))
        expected = np.flatnonzero(((peaks <= 0) & (lows >= 0)) | (lows == peaks)).tolist()
        assert dead[layer] == expected, layer


def _model(pool: keras.Layer, *, between: keras.Layer | None = None, size: int = 3) -> keras.Model:
    """Input -> conv (no activation: negative values, peaks anywhere) -> [between] -> pool."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((28, 28, 1))
    scaled = keras.layers.Rescaling(1 / 255)(inputs)
    # a bias below 0: the background, and the peaks of some channels, are negative
    shift = keras.initializers.Constant(-0.3)
    conv = keras.layers.Conv2D(8, size, bias_initializer=shift, name="conv")(scaled)
    fed = conv if between is None else between(conv)
    return keras.Model(inputs, pool(fed))


@pytest.mark.parametrize(
    ("pool", "between", "size", "misses"),
    [
        # 27 x 27: the last row and column are in no window
        (keras.layers.MaxPooling2D(2, name="pool"), None, 2, True),
        # 24 x 24 in windows of 2 every 3: gaps
        (keras.layers.MaxPooling2D(2, strides=3, name="pool"), None, 5, True),
        # 27 x 27 padded: every value in a window, but the rule asks for exact tiling
        (keras.layers.MaxPooling2D(2, padding="same", name="pool"), None, 2, False),
        # 24 x 24 in windows of 3 every 2: overlapping, the last row in none
        (keras.layers.MaxPooling2D(3, strides=2, name="pool"), None, 5, True),
        # a layer between: the pooling tiles the negated maps, not the conv's
        (keras.layers.MaxPooling2D(2, name="pool"), keras.layers.Rescaling(-1.0), 3, True),
        # a float16 pooling casts the float32 maps first
        (keras.layers.MaxPooling2D(2, dtype="float16", name="pool"), None, 3, False),
        # a subclass may pool otherwise
        (type("MyPool", (keras.layers.MaxPooling2D,), {})(2, name="pool"), None, 3, False),
    ],
    ids=["odd-size", "stride-3", "same-padding-odd", "overlap", "negated", "float16", "sub"],
)
def test_a_pooling_that_does_not_tile_the_maps_exactly_is_not_used(
    digits: np.ndarray, pool: keras.Layer, between: keras.Layer | None, size: int, misses: bool
) -> None:
    model = _model(pool, between=between, size=size)
    engine = engine_for(model)
    assert "conv" not in engine.graph.tiling_max_pools()
    stats = passed(model, digits, ("conv", "pool"))
    conv, pooled = keras_maps(model, digits, "conv"), keras_maps(model, digits, "pool")
    reference = brute_stats(conv)
    assert stats["conv"].peaks is not None
    np.testing.assert_allclose(stats["conv"].peaks, reference["peaks"], rtol=1e-5, atol=1e-6)
    if misses:
        # the pooling's maxima are not the conv's on some images: a shortcut would show
        differs = np.abs(pooled.max(axis=(1, 2)).astype(np.float32) - reference["peaks"])
        assert (differs > 1e-6).any()


def test_same_padding_that_pads_nothing_tiles_and_a_channels_first_pooling(
    digits: np.ndarray,
) -> None:
    """A 2 x 2 "same" pooling of 26 x 26 maps pads nothing: it tiles, as "valid" does."""
    model = _model(keras.layers.MaxPooling2D(2, padding="same", name="pool"))
    assert engine_for(model).graph.tiling_max_pools() == {"conv": "pool"}
    stats = passed(model, digits, ("conv", "pool"))
    alone = passed(model, digits, ("conv",))
    np.testing.assert_array_equal(stats["conv"].peaks, alone["conv"].peaks)
    reference = brute_stats(keras_maps(model, digits, "conv"))
    np.testing.assert_allclose(stats["conv"].peaks, reference["peaks"], rtol=1e-5, atol=1e-6)
    assert (reference["peaks"] < 0).any()  # no activation: negative peaks are kept as they are
    # channels-last maps pooled as channels-first: the windows would cross channels
    crossed = _model(keras.layers.MaxPooling2D(2, data_format="channels_first", name="pool"))
    assert engine_for(crossed).graph.tiling_max_pools() == {}


def test_maps_with_nan_and_inf_take_their_peaks_from_their_own_values(
    digits: np.ndarray,
) -> None:
    """Some images give +Inf and NaN (a pooling's window keeps Inf and skips NaN): only those
    batches are reduced from the maps themselves; the rest take the pooling's peaks."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((28, 28, 1))
    # a pixel above 300 (none of MNIST's) becomes +Inf; two, weighed +w and -w, make NaN
    marked = keras.layers.Lambda(
        lambda x: keras.ops.where(x > 300, np.inf, x / 255), name="marked"
    )(inputs)
    conv = keras.layers.Conv2D(6, 3, padding="same", name="conv")(marked)
    model = keras.Model(inputs, keras.layers.MaxPooling2D(2, name="pool")(conv))
    assert engine_for(model).graph.tiling_max_pools() == {"conv": "pool"}
    images = digits[:300].astype(np.float32)
    images[[3, 40, 77], 14, 14:16] = 1000.0  # in the first of three calls of 100
    maps = keras_maps(model, images, "conv")
    assert np.isnan(maps).any()
    assert np.isposinf(maps).any()
    stats = passed(model, images, ("conv", "pool"), batch_size=100)
    alone = passed(model, images, ("conv",), batch_size=100)
    np.testing.assert_array_equal(stats["conv"].peaks, alone["conv"].peaks)
    np.testing.assert_array_equal(stats["conv"].lows, alone["conv"].lows)
    reference = brute_stats(maps)
    np.testing.assert_allclose(stats["conv"].peaks, reference["peaks"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["conv"].mean, reference["mean"], rtol=1e-4)
    pooled = brute_stats(keras_maps(model, images, "pool"))
    np.testing.assert_allclose(stats["pool"].peaks, pooled["peaks"], rtol=1e-5, atol=1e-6)
    # where a map has +Inf the pooling's maximum is +Inf, and the peak stays a finite value
    assert np.isposinf(keras_maps(model, images, "pool").max(axis=(1, 2))).any()
    assert np.isfinite(stats["conv"].max).all()


def test_a_nested_models_pooling_serves_its_own_layer(digits: np.ndarray) -> None:
    """Inside a nested Sequential (as a keras.applications base sits in a model)."""
    keras.utils.set_random_seed(11)
    inner = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv"),
            keras.layers.MaxPooling2D(2, name="pool"),
        ],
        name="inner",
    )
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.GlobalMaxPooling2D()(inner(keras.layers.Rescaling(1 / 255)(inputs)))
    model = keras.Model(inputs, outputs)
    assert engine_for(model).graph.tiling_max_pools() == {"inner/conv": "inner/pool"}
    stats = passed(model, digits, ("inner/conv", "inner/pool"))
    alone = passed(model, digits, ("inner/conv",))
    np.testing.assert_array_equal(stats["inner/conv"].peaks, alone["inner/conv"].peaks)
    probe = keras.Model(inner.inputs, inner.get_layer("conv").output)
    maps = probe.predict(digits[..., np.newaxis].astype(np.float32) / 255, verbose=0)
    reference = brute_stats(maps)
    np.testing.assert_allclose(stats["inner/conv"].peaks, reference["peaks"], rtol=1e-5)
