"""convscope benchmarks: scrubbing speed against the old ways and against the floor, and memory.

Run from the repository root (``pip install -e ".[bench]"`` adds keract for its baseline)::

    python benchmarks/run.py               # the full run: a few minutes, writes JSON
    python benchmarks/run.py --smoke       # a quick check that everything still runs
    python benchmarks/run.py --browser     # also slider-to-pixels latency in JupyterLab

Every comparison is measured side by side in the same process and reported as a ratio,
because absolute times on shared machines are noisy. "Floor" is the least any implementation
must do for the same view: one compiled forward pass of the layer plus one Agg draw of the
same figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import keras
import numpy as np
import psutil
import tensorflow as tf

import convscope
from baselines import keract_times, timed, tutorial_feature_maps
from convscope.engine.inputs import check_images
from convscope.engine.pass_memo import PASS_MEMO, data_key
from convscope.widget.dataset_stats import DataSetStats
from convscope.widget.figure_display import png_bytes
from convscope.widget.previews import IDLE_S
from convscope.widget.publisher import READY_CHUNK
from insight import bench_insight
from passes import bench_passes, detail_lines
from passes import target_rows as passes_target_rows

ROOT = Path(__file__).resolve().parent.parent


def stats(times: list[float]) -> dict[str, float]:
    """Median and 95th percentile in milliseconds."""
    values = np.asarray(times) * 1e3
    return {
        "median_ms": float(np.median(values)),
        "p95_ms": float(np.percentile(values, 95)),
        "n": len(values),
    }


def vgg_like() -> keras.Model:
    """The VGG-like 160×160×3 network of the cats-vs-dogs tutorial, with random weights."""
    keras.utils.set_random_seed(0)
    conv = {"kernel_size": 3, "padding": "same", "activation": "relu"}
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((160, 160, 3)),
            layers.Rescaling(1 / 255, name="rescale"),
            layers.Conv2D(16, name="block1_conv1", **conv),
            layers.Conv2D(16, name="block1_conv2", **conv),
            layers.MaxPooling2D(name="block1_pool"),
            layers.Conv2D(32, name="block2_conv1", **conv),
            layers.Conv2D(32, name="block2_conv2", **conv),
            layers.MaxPooling2D(name="block2_pool"),
            layers.Conv2D(64, name="block3_conv1", **conv),
            layers.MaxPooling2D(name="block3_pool"),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(2, activation="softmax", name="predictions"),
        ],
        name="vgg_like",
    )


def photo_crops(count: int, size: int = 160) -> np.ndarray:
    """Distinct ``size``-pixel RGB crops of scikit-image's photographs: every sample is new."""
    photos, _ = convscope.sample_images(size=(2 * size, 2 * size))
    rng = np.random.default_rng(0)
    crops = []
    for index in range(count):
        photo = photos[index % len(photos)]
        top, left = rng.integers(0, size, size=2)
        crops.append(photo[top : top + size, left : left + size])
    return np.stack(crops)


def scrub(explorer: convscope.Explorer, samples: Sequence[int]) -> list[float]:
    """Set each sample and fully redraw the figure, as the benchmark target defines a scrub."""
    canvas = explorer.figure.canvas

    def step(index: int) -> None:
        explorer.sample = samples[index]
        canvas.draw()

    return timed(step, len(samples))


def floor(
    explorer: convscope.Explorer, images: np.ndarray, layer: str, samples: range
) -> list[float]:
    """One compiled forward pass of ``layer`` and one Agg draw of the same figure, per sample."""
    step = floor_step(explorer, images, layer)
    return timed(lambda index: step(samples[index]), len(samples))


def floor_step(
    explorer: convscope.Explorer, images: np.ndarray, layer: str
) -> Callable[[int], None]:
    """Return the floor's step for ``images[index]``: a compiled pass and an Agg draw.

    The pass is plain Keras, compiled by ``tf.function`` and called through its concrete
    function, as the engine calls its own; it carries nothing of convscope's (the engine's
    passes also fingerprint the weights, a cost the floor must not hide).
    """
    canvas, engine = explorer.figure.canvas, explorer.engine
    model = engine.model
    extractor = keras.Model(model.inputs[0], model.get_layer(layer).output)
    signature = tf.TensorSpec((None, *engine.input_shape), tf.float32)
    plain = tf.function(
        lambda batch: extractor(batch, training=False), input_signature=[signature]
    ).get_concrete_function()

    def step(index: int) -> None:
        np.asarray(plain(tf.convert_to_tensor(engine.prepare(images[index]))))
        canvas.draw()

    step(0)  # its first call also sets its graph up: not part of the floor
    return step


def alternate(
    action: Callable[[int], None], baseline: Callable[[int], None], repeats: int
) -> tuple[list[float], list[float]]:
    """Seconds of ``action(i)`` and of ``baseline(i)`` called in turn, for each ``i``.

    Each pair sees the machine as it is at that moment: on a noisy machine the ratio of their
    medians varies far less than that of two blocks timed one after the other.
    """
    times: list[float] = []
    base: list[float] = []
    for index in range(repeats):
        times.extend(timed(lambda _, i=index: action(i), 1))
        base.extend(timed(lambda _, i=index: baseline(i), 1))
    return times, base


def bench_mnist(repeats: int, *, with_keract: bool) -> dict[str, object]:
    """Sample scrub, layer switch and channel switch on the default MNIST explorer."""
    images, labels = convscope.load_mnist("test")
    model = convscope.mnist_cnn()
    explorer = convscope.Explorer(model, images, labels, figure="none")
    png_explorer = convscope.Explorer(model, images, labels, figure="png")
    results: dict[str, object] = {}
    for layer in ("conv1", "conv2"):
        explorer.update(layer=layer, sample=0)
        png_explorer.update(layer=layer, sample=0)
        scrub(explorer, range(9000, 9005))  # a scrub asks for the layer's compiled pass
        explorer.engine.wait_compiled()  # traces stay outside the timings
        activation_model = keras.Model(model.inputs, model.get_layer(layer).output, name=layer)
        start = 100 if layer == "conv1" else 5000
        fresh = range(start, start + repeats)  # never-seen samples: no cache hits
        results[f"scrub_{layer}"] = {
            "convscope": stats(scrub(explorer, fresh)),
            "floor": stats(
                floor(explorer, images, layer, range(start + 2000, start + 2000 + repeats))
            ),
            "tutorial": stats(
                timed(
                    lambda i, s=start, m=activation_model: tutorial_feature_maps(m, images[s + i]),
                    repeats,
                )
            ),
            "convscope_png": stats(
                timed(lambda i, s=start: setattr(png_explorer, "sample", s + 3000 + i), repeats)
            ),
        }
    if with_keract:
        keract = keract_times(model, images[100 : 100 + max(5, repeats // 4)])
        results["scrub_conv1"]["keract"] = (  # type: ignore[index]
            stats(keract["times"]) if "times" in keract else keract
        )

    uncached = convscope.Explorer(model, images, labels, figure="none", cache_bytes=0)
    cycle = ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "dense"]
    for _ in range(2):  # a layer asked for twice gets its compiled pass: trace them all first
        for layer in cycle:
            uncached.layer = layer
    uncached.engine.wait_compiled()
    canvas = uncached.figure.canvas

    def switch(index: int) -> None:
        uncached.layer = cycle[index % len(cycle)]
        canvas.draw()

    def switch_floor(index: int) -> None:
        uncached.engine.compute(cycle[index % len(cycle)], images[0])
        canvas.draw()

    results["layer_switch"] = {
        "convscope": stats(timed(switch, repeats)),
        "floor": stats(timed(switch_floor, repeats)),
    }

    explorer.update(layer="conv2", sample=0)

    def channel(index: int) -> None:
        explorer.channel = index % 48
        explorer.figure.canvas.draw()

    results["channel_switch"] = {
        "convscope": stats(timed(channel, repeats)),
        "floor": stats(timed(lambda _: explorer.figure.canvas.draw(), repeats)),
    }
    results["accuracy"] = float(np.mean(explorer.engine.predict(images).argmax(1) == labels))
    return results


def bench_large_model(repeats: int) -> dict[str, object]:
    """Sample scrub on the first conv layer of a 160×160×3 VGG-like model."""
    model = vgg_like()
    images = photo_crops(2 * repeats + 10)
    explorer = convscope.Explorer(model, images, figure="none", layer="block1_conv1")
    explorer.engine.compute("block1_conv1", images[:1])
    scrub(explorer, range(1, 4))
    explorer.engine.wait_compiled()
    return {
        "scrub_block1_conv1": {
            "convscope": stats(scrub(explorer, range(5, 5 + repeats))),
            "floor": stats(
                floor(explorer, images, "block1_conv1", range(5 + repeats, 5 + 2 * repeats))
            ),
        }
    }


def resnet50_classifier(size: int = 96) -> keras.Model:
    """The common transfer-learning model: a ResNet50 base first in a Sequential, a new head."""
    keras.utils.set_random_seed(0)
    base = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(size, size, 3))
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(5, name="head"),
        ]
    )


def bench_weights_check(repeats: int) -> dict[str, object]:
    """What following the weights costs per update: the cheap tier and the full checksum.

    The cheap tier (``WeightsWatch.changed``: the optimizer's steps and one slice's checksum)
    runs on every Explorer update; the full checksum when the widget is idle. On the MNIST CNN
    and on ResNet50 at 224 px (25.6 M weights, about 100 MB).
    """
    from convscope.engine.weights import WeightsWatch  # noqa: PLC0415

    def timed(call: Callable[[], object], count: int) -> list[float]:
        times = []
        for _ in range(count):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return times

    results: dict[str, object] = {}
    for name, model in (
        ("mnist_cnn", convscope.mnist_cnn()),
        ("resnet50", keras.applications.ResNet50(weights=None)),
    ):
        watch = WeightsWatch(model)
        watch.version()
        timed(watch.changed, watch.slice_count)  # traces every slice's checksum
        results[name] = {
            "cheap_check": stats(timed(watch.changed, repeats)),
            "full_checksum": stats(timed(watch.version, max(3, repeats // 4))),
            "slices": watch.slice_count,
            "weights": int(sum(np.prod(w.shape) for w in model.weights)),
        }
    return results


def bench_first_visit(layers: int) -> dict[str, object]:
    """First visits to layers spread through a 175-layer ResNet50 at 96 px, tracing included.

    ``new_layer_new_sample``: each visit goes to a layer never shown before on a sample never
    shown before, so no cache helps: the worst case when dragging the layer slider on a new
    image. ``new_layer_same_sample``: the layer slider dragged on one image. ``scrub_compiled``:
    a new sample on each of those layers once its background trace is done.
    """
    model = resnet50_classifier()
    images = photo_crops(3 * layers + 4, size=96)
    start = time.perf_counter()
    explorer = convscope.Explorer(model, images, figure="none")
    created = time.perf_counter() - start
    canvas, engine = explorer.figure.canvas, explorer.engine
    names = [name for name in explorer.layers if engine.layer(name).spatial]
    chosen = [names[int(i)] for i in np.linspace(0, len(names) - 1, 2 * layers)]
    order = [chosen[i] for i in np.random.default_rng(0).permutation(len(chosen))]
    fresh, same = order[:layers], order[layers:]

    def visit(layer: str, sample: int) -> None:
        explorer.update(layer=layer, sample=sample)
        canvas.draw()

    new_sample = timed(lambda i: visit(fresh[i], 2 + i), layers)
    explorer.update(sample=1)
    same_sample = timed(lambda i: visit(same[i], 1), layers)
    traced = []
    for index, layer in enumerate(fresh):  # a second sample asks for the trace; wait for it
        visit(layer, 2 + layers + index)
        begin = time.perf_counter()
        engine.wait_compiled()
        traced.append(time.perf_counter() - begin)
    compiled = timed(lambda i: visit(fresh[i], 2 + 2 * layers + i), layers)
    return {
        "model": f"ResNet50 in a Sequential, 96x96x3, {len(explorer.layers)} rows",
        "explorer_created_s": created,
        "layers": fresh + same,
        "new_layer_new_sample": {**stats(new_sample), "max_ms": float(np.max(new_sample) * 1e3)},
        "new_layer_same_sample": stats(same_sample),
        "background_trace_wait": stats(traced),
        "scrub_compiled": stats(compiled),
    }


def bench_fixed_scale() -> dict[str, object]:
    """The data-set-wide colour scale of one layer over the 10,000 test digits, as the Explorer
    makes it: ``DataSetStats.channel_ranges`` on its float32 images, keyed as the controller keys
    them, which reads the memoised pass of ``channel_stats``. The memo is emptied before each
    layer, so each time is a whole pass (the first opening of the fixed scale on a layer).
    """
    images, _ = convscope.load_mnist("test")
    engine = convscope.ActivationEngine(convscope.mnist_cnn())
    prepared = engine.prepare(images)
    data = data_key(check_images(images, engine.input_shape))
    seen: list[int] = []
    DataSetStats(engine, prepared[:10], ("trace",)).channel_ranges("conv1")  # trace first
    results = {}
    for layer in ("conv1", "conv2"):
        PASS_MEMO.clear()
        stats = DataSetStats(engine, prepared, data)
        start = time.perf_counter()
        stats.channel_ranges(layer, lambda done, _total: seen.append(done))
        results[layer] = {"seconds": time.perf_counter() - start, "images": len(images)}
    return results


def bench_memory(samples: int) -> dict[str, object]:
    """RSS growth while every sample is shown at every layer with the default cache bound."""
    images, labels = convscope.load_mnist("test")
    explorer = convscope.Explorer(convscope.mnist_cnn(), images, labels, figure="none")
    process = psutil.Process()
    for layer in explorer.layers:  # trace first: compiled graphs are not cache
        explorer.layer = layer
    gc.collect()
    before = process.memory_info().rss
    peak = before
    for layer in explorer.layers:
        explorer.layer = layer
        for sample in range(samples):
            explorer.sample = sample
        peak = max(peak, process.memory_info().rss)
    bound = explorer.engine.cache.max_bytes
    return {
        "samples": samples,
        "layers": len(explorer.layers),
        "cache_bound_mb": bound / 2**20,
        "cache_held_mb": explorer.engine.cache.nbytes / 2**20,
        "rss_growth_mb": (peak - before) / 2**20,
        "limit_mb": bound / 2**20 + 100,
    }


def jumps(
    explorer: convscope.Explorer,
    rng: np.random.Generator,
    repeats: int,
    frame_bytes: list[int] | None,
    *,
    ready: bool = False,
    baseline: tuple[Callable[[int], None], list[float]] | None = None,
) -> list[float]:
    """Seconds of each jump to a random other sample of the page, the page turned every 10.

    The turns are outside the timing. With ``ready``, the kernel is idle for ``IDLE_S`` after
    each turn and makes the page ready as its event loop would (``thumbnails_when_idle``).
    ``frame_bytes`` gets each frame's size. ``baseline``: a step timed after each jump (as
    :func:`alternate` does), and the list that gets its seconds.
    """
    times = []
    for index in range(repeats):
        if index % 10 == 0:
            explorer.page += 1
            if ready:
                time.sleep(IDLE_S)
                for _ in range(-(-48 // READY_CHUNK)):  # the loop's turns, one after another
                    explorer._publisher.thumbnails_when_idle()  # noqa: SLF001
        shown = [m["index"] for m in explorer._thumb_meta if m["index"] != explorer.sample]  # noqa: SLF001
        sample = int(rng.choice(shown))
        begin = time.perf_counter()
        explorer.sample = sample
        times.append(time.perf_counter() - begin)
        if frame_bytes is not None:
            frame_bytes.append(len(explorer._figure_frame))  # noqa: SLF001
        if baseline is not None:
            step, base = baseline
            base.extend(timed(lambda _, i=index, s=step: s(6000 + i), 1))
    return times


def bench_delivery(repeats: int) -> dict[str, object]:
    """Per update in the kernel, the bytes for the page included, on each figure path.

    ``canvas`` is the default path, in every host (``figure="png"``): the update, the figure's
    pixels composed in numpy (Agg draws only when the buffer is read, not here) and the frame of
    changed rectangles. ``ipympl`` is the opt-in ``figure="ipympl"``: the
    update, then ipympl's draw and a whole-figure PNG (its page is taken as connected, so no
    data URL is made). ``whole_png`` is what the PNG path did before: the whole frame encoded
    as PNG. The floor is one compiled forward pass of the layer plus one Agg draw.
    On the default path the floor is also timed after each sequential and random update, in
    turn with them (``paired_floor``), on a second Explorer's figure: the targets are the
    ratios of those pairs' medians, which a noisy machine moves far less.
    ``sequential`` scrubs new samples one after another; ``random`` jumps as a thumbnail click
    does, to a random other sample of the page of thumbnails in view, the page turned every 10
    jumps outside the timing (as in the browser benchmark), so that most samples are new, with
    no pause between jumps. ``random_ready`` makes the same kind of jumps on new pages after a
    pause of ``IDLE_S`` at each page turn, in which the kernel makes the page ready as it does
    when idle (one batched pass for its thumbnails, untimed): what a click on a page shown for
    a moment costs.
    """
    images, labels = convscope.load_mnist("test")
    model = convscope.mnist_cnn()
    rng = np.random.default_rng(0)
    results: dict[str, object] = {}
    bytes_sent: list[int] = []
    for path, mode in (("canvas", "png"), ("ipympl", "ipympl")):
        explorer = convscope.Explorer(model, images, labels, figure=mode, layer="conv2")
        canvas = explorer.figure.canvas
        if mode == "ipympl":
            canvas.syncing_data_url = False  # as once its page is connected
            sent = canvas.send_binary
            canvas.send_binary = lambda data, send=sent: (bytes_sent.append(len(data)), send(data))
        scrub(explorer, range(9000, 9005))  # a scrub asks for the layer's compiled pass
        explorer.engine.wait_compiled()
        start = 100 if mode == "png" else 1100
        bytes_sent.clear()
        paired: dict[str, list[float]] = {"sequential": [], "random": []}
        if mode == "png":  # the floor in turn with each update, on a figure of its own
            other = convscope.Explorer(model, images, labels, figure=mode, layer="conv2")
            step = floor_step(other, images, "conv2")
            sequential, paired["sequential"] = alternate(
                lambda i, s=start, e=explorer: setattr(e, "sample", s + i),
                lambda i, s=start, f=step: f(6000 + s + i),
                repeats,
            )
        else:
            sequential = timed(lambda i, s=start, e=explorer: setattr(e, "sample", s + i), repeats)
        frame_bytes = list(bytes_sent) if mode == "ipympl" else []
        explorer.page = 40 if mode == "png" else 120
        random_jumps = jumps(
            explorer,
            rng,
            repeats,
            frame_bytes if mode == "png" else None,
            baseline=(step, paired["random"]) if mode == "png" else None,
        )
        ready_jumps = jumps(explorer, rng, repeats, None, ready=True)
        channel = timed(lambda i, e=explorer: setattr(e, "channel", (7 * i + 1) % 48), repeats)
        cycle = ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "dense"]
        layer = timed(lambda i, e=explorer, c=cycle: setattr(e, "layer", c[i % len(c)]), repeats)
        results[path] = {
            "sequential": stats(sequential),
            "random": stats(random_jumps),
            "random_ready": stats(ready_jumps),
            "channel": stats(channel),
            "layer": stats(layer),
            "frame_kb_median": float(np.median(frame_bytes)) / 1e3 if frame_bytes else None,
            "frame_kb_max": float(np.max(frame_bytes)) / 1e3 if frame_bytes else None,
        }
        if mode == "png":
            results[path]["paired_floor"] = {key: stats(value) for key, value in paired.items()}
        if mode == "png":
            explorer.layer = "conv2"
            whole = timed(lambda i, e=explorer, s=start: _whole_png(e, s + 500 + i), repeats)
            results["whole_png"] = {"sequential": stats(whole)}
            # A HiDPI page (device pixel ratio 2) asks for its frames at twice the pixels.
            explorer._on_frontend_message(explorer, {"type": "frame", "seq": 1, "dpr": 2}, [])  # noqa: SLF001
            sizes = []

            def hidpi(index: int, e: convscope.Explorer = explorer, s: int = start) -> None:
                e.sample = s + 1000 + index
                sizes.append(len(e._figure_frame))  # noqa: SLF001, B023 - one explorer

            results["canvas_hidpi_2x"] = {
                "sequential": stats(timed(hidpi, repeats)),
                "frame_kb_median": float(np.median(sizes)) / 1e3,
                "frame_kb_max": float(np.max(sizes)) / 1e3,
            }
            results["floor"] = stats(floor(explorer, images, "conv2", range(6000, 6000 + repeats)))
    first = convscope.Explorer(model, images, labels, figure="png")
    order = [name for name in first.layers if name != first.layer]
    visits = timed(lambda i: first.update(layer=order[i], sample=200 + i), len(order))
    results["first_visit_new_sample"] = {**stats(visits), "max_ms": float(np.max(visits) * 1e3)}
    return results


def bench_looking_deeper(*, smoke: bool) -> dict[str, object]:
    """The deeper views' speeds (issue 9), measured by ``looking_deeper.py``'s functions.

    Grad-CAM and heatmap scrubs in the MNIST Explorer against its feature-map scrub, and the
    filter patterns of all 24 ``conv1`` channels of the MNIST CNN and of all 64 channels of the
    VGG-like model's ``block3_conv1`` at 160 px, from an empty cache, tracing included. A
    smoke run scrubs 3 samples per view and climbs 1 ascent step instead of the default 20.
    """
    import inspect  # noqa: PLC0415 - only for the default number of steps

    from looking_deeper import (  # noqa: PLC0415 - it imports this module
        bench_explorer_views,
        bench_grad_cam,
        bench_patterns,
        patterns_seconds,
    )

    cache = os.environ.get("CONVSCOPE_CACHE_DIR")  # each pattern run sets a temporary one
    try:
        if not smoke:
            default = inspect.signature(convscope.filter_patterns).parameters["steps"].default
            return {
                "grad_cam": bench_grad_cam(60),
                "views": bench_explorer_views(200),
                "patterns": bench_patterns(None),
                "steps": default,
            }
        mnist, vgg = convscope.mnist_cnn(), vgg_like()
        return {
            "views": bench_explorer_views(3),
            "patterns": {
                "mnist_conv1_24_channels_s": patterns_seconds(mnist, "conv1", steps=1),
                "vgg_like_block3_conv1_64_channels_160px_s": patterns_seconds(
                    vgg, "block3_conv1", steps=1
                ),
            },
            "steps": 1,
        }
    finally:
        if cache is None:
            os.environ.pop("CONVSCOPE_CACHE_DIR", None)
        else:
            os.environ["CONVSCOPE_CACHE_DIR"] = cache


def bench_epochs(repeats: int, *, smoke: bool) -> dict[str, object]:
    """An epoch switch in the training replay's Explorer against a sample scrub (issue 10).

    ``insight.py``'s measurement; a smoke run keeps 500 test digits, since a first visit to
    an epoch predicts every one.
    """
    from insight import bench_epoch_switch  # noqa: PLC0415 - beside bench_insight

    return bench_epoch_switch(repeats, samples=500 if smoke else None)


def deeper_timing_rows(results: dict[str, object]) -> list[str]:
    """The timing lines of the deeper views and of the epoch switch: median and p95."""
    rows = []
    views = results.get("looking_deeper", {}).get("views", {})
    for view, orders in views.items():
        for order, timing in orders.items():
            label = f"deeper.scrub_conv3.{view}.{order}"
            rows.append(f"{label:44} {timing['median_ms']:10.2f} {timing['p95_ms']:9.2f}")
    epochs = results.get("insight", {}).get("epochs", {})
    for name in ("epoch_switch", "sample_scrub"):
        timing = epochs.get(name)
        if timing:
            label = f"insight.replay_conv2.{name}"
            rows.append(f"{label:44} {timing['median_ms']:10.2f} {timing['p95_ms']:9.2f}")
    return rows


def deeper_target_rows(results: dict[str, object]) -> list[tuple[str, str, bool | None]]:
    """``(target, value, met)`` for the deeper views' targets and the epoch switch's."""
    rows: list[tuple[str, str, bool | None]] = []
    deeper = results.get("looking_deeper", {})
    views = deeper.get("views", {})
    for order in ("sequential", "random") if "grad-cam" in views else ():
        # ratio() divides the baseline's median by ours: here Grad-CAM's by the maps'
        times = ratio({view: timing[order] for view, timing in views.items()}, "grad-cam", "maps")
        label = f"Grad-CAM scrub ({order}): within 2x of the maps scrub"
        rows.append(within(label, times, 2.0))
    steps = deeper.get("steps")
    limits = (
        ("mnist_conv1_24_channels_s", "24 conv1 filter patterns", 5.0),
        ("vgg_like_block3_conv1_64_channels_160px_s", "64 VGG-like patterns, 160 px", 60.0),
    )
    for key, what, limit in limits:
        seconds = deeper.get("patterns", {}).get(key)
        if seconds is not None:
            label = f"{what} (steps={steps}): <= {limit:g} s"
            rows.append((label, f"{seconds:.2f} s", seconds <= limit))
    epochs = results.get("insight", {}).get("epochs")
    if epochs:
        times = ratio(epochs, "epoch_switch", "sample_scrub")
        rows.append(within("epoch switch in the replay: within 2x of a sample scrub", times, 2.0))
    return rows


def within(label: str, times: float | None, limit: float) -> tuple[str, str, bool | None]:
    """A target row for "at most ``limit`` times the baseline"; None when not measured."""
    if times is None:
        return label, "n/a", None
    return label, f"{times:.2f}x", times <= limit


def _whole_png(explorer: convscope.Explorer, sample: int) -> None:
    """The PNG path as it was: the update, then the whole figure drawn and encoded as PNG."""
    explorer.sample = sample
    png_bytes(explorer.figure)


def bench_browser(events: int) -> dict[str, object]:
    """Input to new pixels in JupyterLab with Chromium; see ``browser_latency.py``."""
    from browser_latency import bench_browser as run_in_browser  # noqa: PLC0415

    return run_in_browser(events)


def ratio(result: dict[str, object], baseline: str, ours: str = "convscope") -> float | None:
    """How many times faster ``ours`` is than ``baseline`` (medians), or None if missing."""
    mine, theirs = result.get(ours), result.get(baseline)
    if not isinstance(mine, dict) or not isinstance(theirs, dict) or "median_ms" not in theirs:
        return None
    return theirs["median_ms"] / mine["median_ms"]


# (section, measurement, baseline, kind, threshold): "faster" means at least that many times
# faster than the baseline; "within" means at most that many times the floor.
TARGETS = [
    ("mnist", "scrub_conv1", "tutorial", "faster", 8.0),
    ("mnist", "scrub_conv1", "keract", "faster", 50.0),
    ("mnist", "scrub_conv1", "floor", "within", 1.5),
    ("mnist", "scrub_conv2", "tutorial", "faster", 8.0),
    ("mnist", "scrub_conv2", "floor", "within", 1.5),
    ("mnist", "layer_switch", "floor", "within", 1.5),
    ("mnist", "channel_switch", "floor", "within", 1.5),
    ("large", "scrub_block1_conv1", "floor", "within", 2.0),
]


def timing_rows(results: dict[str, object]) -> list[str]:
    """One line per measured timing: median and p95."""
    rows = [f"{'measurement':44} {'median ms':>10} {'p95 ms':>9}"]
    for section in ("mnist", "large"):
        for key, value in results.get(section, {}).items():
            for name, timing in value.items() if isinstance(value, dict) else ():
                label = f"{section}.{key}.{name}"
                if "median_ms" in timing:
                    rows.append(f"{label:44} {timing['median_ms']:10.2f} {timing['p95_ms']:9.2f}")
                else:
                    rows.append(f"{label:44} {timing.get('error')}")
    for name in ("new_layer_new_sample", "new_layer_same_sample", "scrub_compiled"):
        timing = results.get("first_visit", {}).get(name)
        if timing:
            label = f"resnet50_96.{name}"
            rows.append(f"{label:44} {timing['median_ms']:10.2f} {timing['p95_ms']:9.2f}")
    for model, checks in results.get("weights", {}).items():
        for name in ("cheap_check", "full_checksum"):
            timing = checks[name]
            label = f"weights.{model}.{name}"
            rows.append(f"{label:44} {timing['median_ms']:10.2f} {timing['p95_ms']:9.2f}")
    return rows + delivery_rows(results)


def delivery_rows(results: dict[str, object]) -> list[str]:
    """Timing lines of the kernel's delivery and of the browser: median and p95."""
    rows = []
    delivery = results.get("delivery", {})
    for path, entry in delivery.items():
        for name, timing in entry.items() if isinstance(entry, dict) else ():
            if isinstance(timing, dict) and "median_ms" in timing:
                label = f"kernel.{path}.{name}"
                rows.append(f"{label:44} {timing['median_ms']:10.2f} {timing['p95_ms']:9.2f}")
        if isinstance(entry, dict) and entry.get("frame_kb_median") is not None:
            rows.append(
                f"{f'kernel.{path}.frame_kb (median, max)':44} "
                f"{entry['frame_kb_median']:10.1f} {entry['frame_kb_max']:9.1f}"
            )
    if "median_ms" in delivery.get("floor", {}):
        timing = delivery["floor"]
        rows.append(f"{'kernel.floor':44} {timing['median_ms']:10.2f} {timing['p95_ms']:9.2f}")
    browser = results.get("browser", {})
    if "floor" in browser:
        timing = browser["floor"]
        rows.append(
            f"{'browser.floor (echo)':44} {timing['median_ms']:10.2f} {timing['p95_ms']:9.2f}"
        )
    for spin, timing in browser.get("budget", {}).items():  # the echo, a slider, kernel CPU
        label = f"browser.echo+slider, kernel {spin} ms ({timing['p95_over_floor']:.2f}x)"
        rows.append(f"{label:44} {timing['median_ms']:10.2f} {timing['p95_ms']:9.2f}")
    for path in ("ipympl", "canvas"):
        for kind, entry in browser.get(path, {}).items():
            timing = entry.get("paint", entry)
            label = f"browser.{path}.{kind}"
            rows.append(f"{label:44} {timing['median_ms']:10.2f} {timing['p95_ms']:9.2f}")
    return rows


def target_rows(results: dict[str, object]) -> list[tuple[str, str, bool | None]]:
    """``(target, value, met)`` for every target; ``met`` is None when not measured."""
    rows: list[tuple[str, str, bool | None]] = []
    for section, key, baseline, kind, threshold in TARGETS:
        value = ratio(results.get(section, {}).get(key, {}), baseline)
        if kind == "faster":
            label = f"{section}.{key}: >= {threshold:g}x faster than {baseline}"
            shown = value
            met = None if value is None else value >= threshold
        else:
            label = f"{section}.{key}: within {threshold:g}x of the floor"
            shown = None if value is None else 1 / value
            met = None if shown is None else shown <= threshold
        rows.append((label, "n/a" if shown is None else f"{shown:.2f}x", met))
    for layer, entry in results.get("fixed_scale", {}).items():
        label = f"fixed scale of {layer} over {entry['images']:,} images: <= 10 s"
        rows.append((label, f"{entry['seconds']:.2f} s", entry["seconds"] <= 10.0))
    memory = results.get("memory")
    if memory:
        label = (
            f"RSS growth, {memory['samples']:,} samples x {memory['layers']} layers:"
            f" <= {memory['limit_mb']:.0f} MB"
        )
        rows.append(
            (
                label,
                f"{memory['rss_growth_mb']:.0f} MB",
                memory["rss_growth_mb"] <= memory["limit_mb"],
            )
        )
    first = results.get("first_visit")
    if first:
        label = "ResNet50 96 px: first visit to a layer (new sample) <= 1 s"
        worst = first["new_layer_new_sample"]["max_ms"] / 1e3
        rows.append((label, f"{worst:.2f} s", worst <= 1.0))
    insight = results.get("insight")
    if insight:
        label = f"stats + top images, conv1-3, {insight['images']:,} images: <= 5 s"
        rows.append((label, f"{insight['seconds']:.2f} s", insight["seconds"] <= 5.0))
        label = "  memory during that pass: <= 100 MB above the start"
        above = insight["rss_peak_above_start_mb"]
        rows.append((label, f"{above:.0f} MB", above <= 100.0))
    rows.extend(deeper_target_rows(results))
    rows.extend(passes_target_rows(results.get("passes", {})))  # type: ignore[arg-type]
    return rows + delivery_targets(results)


BROWSER_TARGETS = {"canvas": 1.5, "ipympl": 2.5}  # p95 over the echo's: default path, opt-in


def delivery_targets(results: dict[str, object]) -> list[tuple[str, str, bool | None]]:
    """Targets of the delivery: kernel per update and browser p95, as ratios to their floors."""
    rows: list[tuple[str, str, bool | None]] = []
    delivery = results.get("delivery", {})
    canvas = delivery.get("canvas", {})
    for access in ("sequential", "random"):  # the default path's, each against its paired floor
        timing = canvas.get(access)
        kernel_floor = canvas.get("paired_floor", {}).get(access) or delivery.get("floor", {})
        if kernel_floor.get("median_ms") and timing:
            label = f"kernel.canvas.{access}, bytes included: within 1.5x of the floor"
            value = timing["median_ms"] / kernel_floor["median_ms"]
            rows.append((label, f"{value:.2f}x", value <= 1.5))
    browser = results.get("browser", {})
    floor_p95 = browser.get("floor", {}).get("p95_ms")
    for path, most in BROWSER_TARGETS.items():
        for kind in ("channel", "layer", "thumbnail", "pad"):
            timing = browser.get(path, {}).get(kind, {}).get("paint")
            if floor_p95 and timing:
                label = f"browser.{path}.{kind}: p95 within {most:g}x of the echo's p95"
                value = timing["p95_ms"] / floor_p95
                rows.append((label, f"{value:.2f}x", value <= most))
    return rows


def report(results: dict[str, object]) -> list[str]:
    """Print both tables; return the targets that were missed."""
    passes = detail_lines(results.get("passes", {}))  # type: ignore[arg-type]
    print("\n" + "\n".join(timing_rows(results) + deeper_timing_rows(results) + passes))
    print(f"\n{'target':62} {'value':>9}  result")
    missed = []
    for label, value, met in target_rows(results):
        verdict = "not measured" if met is None else "ok" if met else "MISSED"
        print(f"{label:62} {value:>9}  {verdict}")
        if met is False:
            missed.append(label)
    return missed


def main() -> int:
    """Run the benchmarks, print the table, write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="few repeats; checks it all runs")
    parser.add_argument("--browser", action="store_true", help="also measure in JupyterLab")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--events", type=int, default=None, help="browser events per kind")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latest.json"))
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.smoke else 60)

    results: dict[str, object] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "tensorflow": __import__("tensorflow").__version__,
            "keras": keras.__version__,
            "convscope": convscope.__version__,
        },
        "mode": "smoke" if args.smoke else "full",
    }
    results["mnist"] = bench_mnist(repeats, with_keract=not args.smoke)
    results["large"] = bench_large_model(max(5, repeats // 2))
    results["first_visit"] = bench_first_visit(4 if args.smoke else 12)
    results["weights"] = bench_weights_check(5 if args.smoke else 40)
    results["fixed_scale"] = {} if args.smoke else bench_fixed_scale()
    results["memory"] = bench_memory(20 if args.smoke else 10_000)
    results["insight"] = bench_insight()
    results["insight"]["epochs"] = bench_epochs(repeats, smoke=args.smoke)
    results["looking_deeper"] = bench_looking_deeper(smoke=args.smoke)
    results["passes"] = bench_passes(smoke=args.smoke)
    results["delivery"] = bench_delivery(repeats)
    if args.browser:
        results["browser"] = bench_browser(args.events or (10 if args.smoke else 100))
    missed = report(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")
    if missed and not args.smoke:
        print(f"missed: {missed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
