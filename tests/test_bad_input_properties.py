"""Random input, as a hostile user would pass it: each call works or raises a ConvscopeError.

After a failed call the engine is as it was: no cache entry and no compiled extractor for it,
and a good call still works. Examples are few and fixed (``derandomize``), so the suite takes
seconds and CI sees the same examples every run; ``CONVSCOPE_FUZZ=50`` runs fifty times as
many, new ones each run. The plain tests are in test_bad_input.py.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst
from matplotlib.figure import Figure

import convscope
from convscope import ConvscopeError
from convscope.engine.activations import engine_for
from convscope.render.normalise import NORM_MODES

Digits = tuple[np.ndarray, np.ndarray]


FUZZ = int(os.environ.get("CONVSCOPE_FUZZ", "0"))


def examples(count: int) -> settings:
    return settings(
        max_examples=count * max(FUZZ, 1),
        deadline=None,
        derandomize=not FUZZ,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ----- strategies ------------------------------------------------------------------------------
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.binary(max_size=3),
    st.lists(st.integers(-1, 3), max_size=3),
    st.tuples(st.integers(-3, 3), st.floats(allow_nan=True)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.sampled_from([np.array([1, 2]), np.float32(np.nan), np.int64(3), np.bool_(True), object()]),
)


def or_junk(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``values`` four times in five, else junk: several arguments are often all plausible."""
    return st.integers(0, 4).flatmap(lambda pick: JUNK if pick == 0 else values)


LAYERS = ["rescale", "conv1", "pool1", "conv2", "pool2", "flatten", "dense", "predictions"]
LAYER = or_junk(st.sampled_from([*LAYERS, *LAYERS, "conv9", "", "Conv1", "conv1/"]))
INDEX = or_junk(st.integers(-3, 130))

SHAPES = [
    (28, 28),
    (28, 28, 1),
    (1, 28, 28),
    (3, 28, 28),
    (3, 28, 28, 1),
    (5, 28, 28),
    (0, 28, 28),
    (2, 28, 28, 3),
    (2, 14, 14),
    (2, 28, 27),
    (2, 0, 28),
    (28,),
    (),
    (2, 1, 28, 28),
]
DTYPES = [np.uint8, np.int8, np.int64, np.uint64, np.float16, np.float32, np.float64, bool, complex]
SPECIALS = [np.nan, np.inf, -np.inf, 1e38, -3.4e38, 1e300, -1e300, -1.0, 1e-45, 2**70]
CONTAINERS = ["array", "list", "tensor", "dataset", "pairs", "single-images", "generator"]


@st.composite
def images(draw: st.DrawFn, digits: np.ndarray) -> object:
    """Real digits cut to a random shape and dtype, with NaN, Inf or huge values, in a container.

    Special values land in the first image, so a stream is bad from its first batch on.
    """
    shape = draw(
        st.one_of(
            st.sampled_from(SHAPES),
            npst.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5),
        )
    )
    values = np.resize(digits.astype(np.float64), shape)
    first = values.size // shape[0] if len(shape) >= 3 and shape[0] else values.size
    for where, special in draw(
        st.lists(
            st.tuples(st.floats(0, 1, exclude_max=True), st.sampled_from(SPECIALS)), max_size=2
        )
    ):
        if first:
            values.flat[int(where * first)] = special
    with np.errstate(all="ignore"):
        array = values.astype(draw(st.sampled_from(DTYPES)))
    return in_container(array, draw(st.sampled_from(CONTAINERS)), draw(st.integers(1, 4)))


def in_container(array: np.ndarray, container: str, batch: int) -> object:
    if array.ndim == 0 and container not in ("list", "tensor"):
        return array  # nothing to slice into batches
    make = {
        "array": lambda: array,
        "list": array.tolist,
        "tensor": lambda: tf.constant(array),
        "generator": lambda: (
            array[start : start + batch] for start in range(0, len(array), batch)
        ),
        "pairs": lambda: tf.data.Dataset.from_tensor_slices(
            (array, np.arange(len(array)) % 10)
        ).batch(batch),
        "single-images": lambda: tf.data.Dataset.from_tensor_slices(array),
        "dataset": lambda: tf.data.Dataset.from_tensor_slices(array).batch(batch),
    }
    return make[container]()


# ----- fixtures and the check every example ends with -----------------------------------------
@pytest.fixture(scope="module")
def digits(mnist_test: Digits) -> Digits:
    images, labels = mnist_test
    return images[:8], labels[:8]


@pytest.fixture(scope="module")
def explorer(model: keras.Model, digits: Digits) -> convscope.Explorer:
    return convscope.Explorer(model, *digits, figure="none")


@pytest.fixture(scope="module")
def still_works(model: keras.Model, digits: Digits) -> Callable[[], None]:
    """A good call, to make after each bad one: it must give what it gave before them."""
    reference = convscope.get_activations(model, digits[0][:2], "conv1")["conv1"]

    def check() -> None:
        again = convscope.get_activations(model, digits[0][:2], "conv1")["conv1"]
        np.testing.assert_array_equal(again, reference)

    return check


def refusal(call: Callable[[], object]) -> ConvscopeError | None:
    """Run ``call``: return the ConvscopeError it raised, or None if it worked.

    Any other exception fails the test. Hypothesis's statistics count the outcomes.
    """
    try:
        call()
    except ConvscopeError as error:
        event(f"refused: {type(error).__name__}")
        return error
    event("worked")
    return None


def works_or_refuses(engine: Any, call: Callable[[], object]) -> None:
    """``call`` works, or fails with a ConvscopeError that left ``engine`` as it was."""
    # Traces asked for by earlier calls finish in the background: settle them on both sides,
    # so that only a trace this call asked for can make a difference.
    engine.wait_compiled()
    compiled, cached = list(engine.compiled_layers), len(engine.cache)
    error = refusal(call)
    if error is not None:
        assert str(error)  # a message, naming the fix
        engine.wait_compiled()
        assert engine.compiled_layers == compiled, "a refused call traced an extractor"
        assert len(engine.cache) == cached, "a refused call left a cache entry"


# ----- images --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def image_inputs(mnist_test: Digits) -> st.SearchStrategy[object]:
    return images(mnist_test[0][:5])


@examples(60)
@given(data=st.data())
def test_random_images_through_get_activations(
    model: keras.Model, still_works: Callable[[], None], image_inputs: Any, data: st.DataObject
) -> None:
    x = data.draw(image_inputs, "images")
    layers = data.draw(st.sampled_from([["conv1"], ["conv2", "pool2"], "dense", ["predictions"]]))
    batch_size = data.draw(st.integers(1, 4), "batch_size")

    def call() -> None:
        acts = convscope.get_activations(model, x, layers, batch_size=batch_size)
        assert len({len(values) for values in acts.values()}) == 1  # one row per image

    works_or_refuses(engine_for(model), call)
    still_works()


@examples(40)
@given(data=st.data())
def test_random_images_through_plot_feature_maps(
    model: keras.Model, still_works: Callable[[], None], image_inputs: Any, data: st.DataObject
) -> None:
    x = data.draw(image_inputs, "images")
    layer = data.draw(st.sampled_from(["conv1", "pool2", "dense"]), "layer")
    sample = data.draw(st.integers(0, 3), "sample")

    def call() -> None:
        figure = convscope.plot_feature_maps(model, x, layer, sample=sample)
        figure.canvas.draw()  # Inf and NaN activations are drawn, never warned about

    works_or_refuses(engine_for(model), call)
    still_works()


@examples(25)
@given(data=st.data())
def test_random_images_through_the_explorer(
    model: keras.Model, still_works: Callable[[], None], image_inputs: Any, data: st.DataObject
) -> None:
    x = data.draw(image_inputs, "images")

    def call() -> None:
        explorer = convscope.Explorer(model, x, figure="none")
        explorer.update(layer="conv2", sample=explorer.sample_count - 1, norm="fixed")
        explorer.figure.canvas.draw()

    refusal(call)
    still_works()


# ----- keyword arguments -----------------------------------------------------------------------
@examples(60)
@given(
    layers=or_junk(
        st.one_of(
            st.sampled_from(LAYERS), st.lists(st.sampled_from([*LAYERS, "conv9"]), max_size=3)
        )
    ),
    batch_size=or_junk(st.integers(-3, 300)),
)
def test_random_get_activations_arguments(
    model: keras.Model,
    digits: Digits,
    still_works: Callable[[], None],
    layers: Any,
    batch_size: Any,
) -> None:
    def call() -> None:
        acts = convscope.get_activations(model, digits[0][:3], layers, batch_size=batch_size)
        assert all(len(values) == 3 for values in acts.values())

    works_or_refuses(engine_for(model), call)
    still_works()


PLOT_OPTIONS = {
    "sample": or_junk(st.integers(-1, 3)),
    "layout": or_junk(st.sampled_from(["grid", "strip", "GRID"])),
    "images_per_row": or_junk(st.one_of(st.integers(-1, 70), st.just(2**40))),
    "norm": or_junk(st.sampled_from([*NORM_MODES, "zscore"])),
    "value_range": or_junk(
        st.one_of(
            st.tuples(st.floats(-10, 10), st.floats(-10, 10)),
            st.tuples(st.just(np.zeros(24)), st.sampled_from([np.ones(24), np.ones(5), 1.0])),
        )
    ),
    "cmap": or_junk(st.sampled_from(["viridis", "gray", "RdBu_r", "Viridis", "nope"])),
    "title": or_junk(st.text(max_size=8)),
    "width": or_junk(st.floats(-1, 150)),
}


@examples(80)
@given(layer=LAYER, options=st.fixed_dictionaries({}, optional=PLOT_OPTIONS))
def test_random_plot_feature_maps_arguments(
    model: keras.Model, digits: Digits, still_works: Callable[[], None], layer: Any, options: dict
) -> None:
    def call() -> None:
        figure = convscope.plot_feature_maps(model, digits[0][:3], layer, **options)
        assert isinstance(figure, Figure)

    works_or_refuses(engine_for(model), call)
    still_works()


@examples(40)
@given(
    layer=LAYER,
    channel=INDEX,
    options=st.fixed_dictionaries(
        {}, optional={key: PLOT_OPTIONS[key] for key in ("sample", "cmap", "title")}
    ),
)
def test_random_plot_channel_arguments(
    model: keras.Model, digits: Digits, layer: Any, channel: Any, options: dict
) -> None:
    def call() -> None:
        figure = convscope.plot_channel(model, digits[0][:3], layer, channel, **options)
        assert isinstance(figure, Figure)

    works_or_refuses(engine_for(model), call)


NAMES = [str(digit) for digit in range(10)]
LABELS = or_junk(
    st.one_of(
        st.lists(st.integers(-1, 10), min_size=8, max_size=8),
        st.lists(st.integers(0, 9), min_size=7, max_size=9),
        st.lists(st.sampled_from([*NAMES, *NAMES, "cat"]), min_size=8, max_size=8),
        st.lists(st.floats(-1, 12), min_size=8, max_size=8),
        npst.arrays(np.float32, st.sampled_from([(8, 10), (8, 1), (8, 9), (8, 10, 1)])),
        st.integers(0, 9).map(lambda digit: np.eye(10)[np.full(8, digit)]),  # one-hot rows
        st.just("labels"),
    )
)
EXPLORER_OPTIONS = {
    "labels": LABELS,
    "class_names": or_junk(
        st.one_of(
            st.just(NAMES),
            st.permutations(NAMES),
            st.lists(st.sampled_from([*NAMES, "cat", "$x$", ""]), max_size=11),
        )
    ),
    "layer": LAYER,
    "figure": or_junk(st.sampled_from(["auto", "png", "none", "ipympl", "svg"])),
    "cache_bytes": or_junk(st.integers(-5, 2**30)),
}


@examples(40)
@given(options=st.fixed_dictionaries({}, optional=EXPLORER_OPTIONS))
def test_random_explorer_arguments(
    model: keras.Model, digits: Digits, still_works: Callable[[], None], options: dict
) -> None:
    def call() -> None:
        explorer = convscope.Explorer(model, digits[0], **options)
        assert explorer.sample_count == len(digits[0])
        assert len(explorer.class_names) == 10

    refusal(call)
    still_works()


VIEW_CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "layer": LAYER,
        "channel": INDEX,
        "sample": or_junk(st.integers(-1, 8)),
        "cmap": PLOT_OPTIONS["cmap"],
        "norm": PLOT_OPTIONS["norm"],
        "compare": or_junk(st.integers(-2, 8)),
        "compare_mode": or_junk(st.sampled_from(["side", "difference", "overlay"])),
    },
)
UNKNOWN_FIELD = st.tuples(VIEW_CHANGES, st.integers(0, 9), JUNK).map(
    lambda drawn: {**drawn[0], "colour": drawn[2]} if drawn[1] == 0 else drawn[0]
)


@examples(60)
@given(changes=UNKNOWN_FIELD)
def test_random_explorer_updates(explorer: convscope.Explorer, changes: dict) -> None:
    state, pixels = explorer._controller.state, explorer.panels.grid_panel.pixels.copy()
    works_or_refuses(explorer.engine, lambda: explorer.update(**changes))
    if explorer._controller.state == state:  # refused, or a change to what was there
        np.testing.assert_array_equal(explorer.panels.grid_panel.pixels, pixels)
    compared = explorer.compare is not None
    assert explorer.panels.grid_b_panel.get_visible() == (
        compared and explorer.compare_mode == "side"
    )
    explorer.update(layer="conv1", channel=0, sample=0)  # a good call still works


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("saved")


@examples(40)
@given(
    name=or_junk(
        st.one_of(
            st.sampled_from(
                ["v.png", "v.JPG", "v.svg", "v.pdf", "noext", "v.txt", "v.", ".png", "no/v.png"]
            ),
            st.text(st.characters(codec="ascii", exclude_characters="/\\"), max_size=12),
        )
    ),
    dpi=or_junk(
        st.one_of(
            st.floats(-10, 60),
            st.sampled_from([9.99, 10, 1111.5, 1112, 5000, 1e9, math.inf, math.nan]),
        )
    ),
)
def test_random_save_arguments(
    explorer: convscope.Explorer, folder: Path, name: object, dpi: Any
) -> None:
    path: Any = folder / name if isinstance(name, str) and name else name
    before = sorted(folder.iterdir())
    if refusal(lambda: explorer.save(path, dpi)) is not None:
        assert sorted(folder.iterdir()) == before  # nothing written
    else:
        assert path.is_file()
        path.unlink()


def test_the_explorer_draws_after_the_random_updates(explorer: convscope.Explorer) -> None:
    explorer.update(layer="dense", norm="fixed", cmap="magma")
    explorer.figure.canvas.draw()
    assert explorer.layer == "dense"
