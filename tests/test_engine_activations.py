"""Lazy, cached, compiled activations, and the bad input that must not get through."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope import ActivationEngine
from convscope.engine.cache import ActivationCache
from convscope.errors import ImageInputError, InvalidArgumentError


def test_activations_match_keras_reference(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    engine = ActivationEngine(model)
    reference = keras.Model(model.inputs, model.get_layer("conv2").output)
    expected = reference.predict(images[:16, ..., None].astype(np.float32), verbose=0)
    np.testing.assert_allclose(engine.compute("conv2", images[:16]), expected, atol=1e-5)
    np.testing.assert_allclose(engine.activation("conv2", images[3]), expected[3], atol=1e-5)


def test_first_look_is_eager_and_scrubbing_compiles_only_that_layer(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    engine = ActivationEngine(model)
    assert engine.compiled_layers == []
    first = engine.activation("conv3", images[0], key=0)
    assert engine.compiled_layers == []  # a first look traces nothing
    hits = engine.cache.hits
    visited = engine.activation("conv1", images[0], key=0)  # every row of image 0 came along
    assert engine.cache.hits == hits + 1
    assert visited.shape == (28, 28, 24)
    engine.activation("conv3", images[1], key=1)  # scrubbing: now the layer is worth a trace
    assert engine.compiled_layers == [("conv3",)]
    reference = keras.Model(model.inputs, model.get_layer("conv3").output)
    expected = reference.predict(images[:2, ..., None].astype(np.float32), verbose=0)
    np.testing.assert_allclose(first, expected[0], atol=1e-5)
    np.testing.assert_allclose(engine.activation("conv3", images[1], key=1), expected[1], atol=1e-5)


def test_an_images_output_comes_with_its_maps_from_one_pass(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    """``with_output`` leaves the model's output cached: ``output`` then costs no pass.

    Through a first look (every row), then through the compiled pass of a layer and the output
    that repeated looks earn; each against plain Keras on the same digit.
    """
    images, _ = mnist_test
    engine = ActivationEngine(model)
    maps = keras.Model(model.inputs[0], model.get_layer("conv2").output)
    for index in range(6):
        image = images[index]
        batch = image[None, ..., None].astype(np.float32)
        shown = engine.activation("conv2", image, key=("drawn", index), with_output=True)
        hits, misses = engine.cache.hits, engine.cache.misses
        output = engine.output(image, key=("drawn", index))
        assert (engine.cache.hits, engine.cache.misses) == (hits + 1, misses), index
        np.testing.assert_allclose(shown, maps(batch).numpy()[0], atol=1e-5)
        np.testing.assert_allclose(output, model(batch).numpy()[0], rtol=1e-5, atol=1e-7)
    assert ("conv2", "") in engine.compiled_layers  # the repeated looks were compiled
    np.testing.assert_allclose(  # asked alone, uncached: its own pass, the same numbers
        engine.output(images[9]), model(images[9:10, ..., None].astype(np.float32)).numpy()[0],
        rtol=1e-5, atol=1e-7,
    )  # fmt: skip


def test_every_layer_of_an_image_is_cached_by_one_pass_of_the_weights_in_use(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    """``cache_every_row``: each layer's maps, then read from the cache, are Keras's own.

    On a copy of the model whose weights then change: the next call follows them. A batch is
    refused and caches nothing; a cache too small for one image's rows gets none.
    """
    images, _ = mnist_test
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    engine = ActivationEngine(copy, background_compile=True)
    engine.wait_compiled(timeout=60)  # the every-row pass, compiled
    names = engine.layer_names
    whole = keras.Model(copy.inputs[0], copy.outputs[0])  # one input tensor, as the engine feeds
    for weights in (model.get_weights(), [w * 0.5 for w in model.get_weights()]):
        copy.set_weights(weights)
        assert engine.cache_every_row(images[20], key=20)
        assert not engine.cache_every_row(images[20], key=20)  # all cached: no pass
        hits, misses = engine.cache.hits, engine.cache.misses
        got = {name: engine.activation(name, images[20], key=20) for name in names}
        assert (engine.cache.hits, engine.cache.misses) == (hits + len(names), misses)
        batch = images[20:21, ..., None].astype(np.float32)
        for name in names:
            expected = keras.Model(copy.inputs[0], copy.get_layer(name).output)(batch).numpy()[0]
            np.testing.assert_allclose(got[name], expected, rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(
            engine.output(images[20], key=20), whole(batch).numpy()[0], rtol=1e-5, atol=1e-7
        )
    held = engine.cache.nbytes
    with pytest.raises(InvalidArgumentError, match="one image"):
        engine.cache_every_row(images[:2])
    assert engine.cache.nbytes == held
    small = ActivationEngine(copy, cache_bytes=4096)
    assert not small.cache_every_row(images[20], key=20)
    assert small.cache.nbytes == 0


def test_background_compile_serves_eagerly_until_the_trace_is_ready(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    engine = ActivationEngine(model, background_compile=True)
    first = engine.activation("conv2", images[5], key=5)  # a first look: no trace asked for
    second = engine.activation("conv2", images[6], key=6)  # scrubbing: the trace starts
    engine.wait_compiled(timeout=60)
    assert engine.compiled_layers == [("conv2",)]
    engine.cache.clear()
    np.testing.assert_allclose(engine.activation("conv2", images[5], key=5), first, atol=1e-5)
    np.testing.assert_allclose(engine.activation("conv2", images[6], key=6), second, atol=1e-5)


def test_repeated_requests_come_from_the_cache(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    engine = ActivationEngine(model)
    first = engine.activation("conv1", images[7], key=7)
    again = engine.activation("conv1", images[7], key=7)
    assert again is first
    assert (engine.cache.hits, engine.cache.misses) == (1, 1)
    by_content = engine.activation("conv1", images[7])  # no key: the pixels are hashed
    np.testing.assert_array_equal(by_content, first)
    assert not first.flags.writeable  # callers cannot corrupt the cache


def test_cache_never_holds_more_than_its_bound(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    bound = 2 * 2**20  # 2 MiB: about 27 conv1 maps of 75 KiB
    engine = ActivationEngine(model, cache_bytes=bound)
    for index in range(300):
        engine.activation("conv1", images[index], key=index)
        assert engine.cache.nbytes <= bound
    assert 20 <= len(engine.cache) <= 28
    # the newest are kept, the oldest evicted
    assert engine.is_cached("conv1", 299)
    assert not engine.is_cached("conv1", 0)


def test_cache_counts_what_it_really_holds() -> None:
    # One image of a batch is a view that would keep the whole batch alive; a tiny Dense row
    # costs more in bookkeeping than in data. Both are counted, so the bound is the memory.
    cache = ActivationCache(64 * 2**10)
    batch = np.zeros((32, 16, 16, 4), np.float32)  # 128 KiB, twice the bound
    stored = cache.put(("conv", 0), batch[0])
    assert stored.base is None
    assert not stored.flags.writeable
    assert batch.flags.writeable  # the caller's batch is untouched
    tiny = ActivationCache(100 * 1024)
    for index in range(10_000):
        tiny.put(("dense", index), np.zeros(4, np.float32))  # 16 bytes of data each
    assert tiny.nbytes <= 100 * 1024
    assert len(tiny) < 400  # with data alone counted, all 6,400 of them would be kept


def test_cache_rejects_negative_bound() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        ActivationCache(-1)


def test_channel_ranges_cover_the_data_set(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    engine = ActivationEngine(model)
    low, high = engine.channel_ranges("conv1", images[:2000], quantile=1.0, progress=False)
    maps = engine.compute("conv1", images[:2000])
    np.testing.assert_allclose(high, maps.max(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(low, maps.min(axis=(0, 1, 2)), rtol=1e-6)
    _robust_low, robust_high = engine.channel_ranges("conv1", images[:2000], progress=False)
    assert np.all(robust_high <= high)
    assert robust_high.shape == (24,)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((32, 32), np.uint8), r"shape \(28, 28, 1\)"),
        (np.zeros((2, 28, 28, 3), np.uint8), r"got \(2, 28, 28, 3\)"),
        (np.zeros((0, 28, 28), np.uint8), "empty batch"),
        (np.array([["a"] * 28] * 28), "real numbers"),
        (np.zeros((28, 28), bool), "real numbers"),
        (np.full((28, 28), np.nan, np.float32), "NaN or Inf"),
        (np.full((28, 28), np.inf, np.float32), "NaN or Inf"),
    ],
)
def test_bad_images_get_clear_errors_and_leave_no_state(
    model: keras.Model, bad: np.ndarray, message: str
) -> None:
    engine = ActivationEngine(model)
    with pytest.raises(ImageInputError, match=message):
        engine.activation("conv1", bad)
    with pytest.raises(ImageInputError, match=message):
        engine.compute("conv1", bad)
    assert len(engine.cache) == 0
    assert engine.cache.misses == 0


def test_grey_images_may_omit_the_channel_axis(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = mnist_test
    engine = ActivationEngine(model)
    with_axis = engine.compute("pool1", images[:4, ..., None])
    np.testing.assert_array_equal(engine.compute("pool1", images[:4]), with_axis)
    np.testing.assert_allclose(engine.compute("pool1", images[0])[0], with_axis[0], atol=1e-6)
