"""The static export: one HTML file that is the Explorer with no kernel, pixel for pixel.

The tables are read back here in Python and in Chromium (opened from ``file://`` with every
other request refused), and each figure shown is compared with the live Explorer's Agg buffer
for the same state: exactly, with no tolerance.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

import convscope
from convscope.render.pixel_panel import outline_strips
from convscope.widget import export_table
from convscope.widget.explorer import Explorer
from convscope.widget.export_table import ExportTable, draw_states
from jupyter_harness import CHROMIUM, CHROMIUM_ARGS
from test_browser import _require_chromium

LAYERS = ["conv1", "pool2", "dense"]
VIEWS = ("maps", "grad-cam")
CMAPS = ("viridis", "magma")


@pytest.fixture(scope="module")
def explorer() -> Explorer:
    return Explorer(figure="none")


@pytest.fixture(scope="module")
def strongest(explorer: Explorer) -> list[int]:
    """The live channel panel's strongest samples of conv1's channel 3, over the test set."""
    explorer.update(layer="conv1", channel=3)
    explorer.channel_panel = True
    top = explorer.channel_top.tolist()
    explorer.channel_panel = False
    explorer.update(channel=0)
    return top


@pytest.fixture(scope="module")
def samples(explorer: Explorer, strongest: list[int]) -> list[int]:
    """Twelve samples: two the bundled model gets wrong, and two of conv1 channel 3's strongest."""
    explorer.filter(misclassified=True)
    wrong = explorer.filtered_samples[:2].tolist()
    explorer.filter()
    return sorted({*range(8), *wrong, *strongest[:2]})


@pytest.fixture(scope="module")
def exported(
    explorer: Explorer, samples: list[int], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("export") / "lesson.html"
    explorer.export_html(path, samples, LAYERS, VIEWS, cmaps=CMAPS, progress=False)
    return path


def _tables(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    text = path.read_text(encoding="utf-8")
    found = re.search(
        r'<script type="application/json" id="convscope-data">(.*?)</script>', text, re.DOTALL
    )
    assert found is not None
    content = json.loads(found.group(1))
    kinds = {"pieces": "<u4", "runs": "<u2", "data": "u1", "group_of": "<i4", "thumbs": "u1"}
    sections = {
        name: np.frombuffer(zlib.decompress(base64.b64decode(value)), kinds.get(name, "<u4"))
        for name, value in content["sections"].items()
    }
    return content["meta"], sections


def _rebuild(meta: dict[str, Any], t: dict[str, np.ndarray], state: dict[str, Any]) -> np.ndarray:
    """Paint a state's figure from the file's tables, as static_model.js and widget.js do."""
    v, layer = (
        meta["views"].index(state["view"]),
        [x["name"] for x in meta["layers"]].index(state["layer"]),
    )
    k, m = meta["samples"].index(state["sample"]), meta["cmaps"].index(state["cmap"])
    _, layers, samples, cmaps = meta["group_shape"]
    group = int(t["group_of"][((v * layers + layer) * samples + k) * cmaps + m])
    assert group >= 0
    first = int(t["group_first"][group]) + state["channel"]
    ids = [
        *t["group_pieces"][t["group_offsets"][group] : t["group_offsets"][group + 1]],
        *t["state_pieces"][t["state_offsets"][first] : t["state_offsets"][first + 1]],
    ]
    words = np.full((meta["height"], meta["width"]), 0xFFFFFFFF, np.uint32)
    for piece in ids:
        x, y, w, h, nrows, ncols, colours, size, offset, length, at = t["pieces"][
            11 * piece : 11 * piece + 11
        ]
        rows, cols = t["runs"][at : at + nrows], t["runs"][at + nrows : at + nrows + ncols]
        raw = t["data"][offset : offset + length].tobytes()
        if colours:
            palette = np.frombuffer(raw[: 4 * colours], "<u4")
            folded = palette[np.frombuffer(raw[4 * colours :], "u1" if size == 1 else "<u2")]
        else:
            folded = np.frombuffer(raw, "<u4")
        block = np.repeat(np.repeat(folded.reshape(nrows, ncols), rows, 0), cols, 1)
        words[y : y + h, x : x + w] = block
    return words.view(np.uint8).reshape(meta["height"], meta["width"], 4)


def _agg(explorer: Explorer, state: dict[str, Any]) -> np.ndarray:
    """The live Explorer's own pixels for ``state``: its Agg buffer after the update."""
    explorer.update(**state)
    explorer.figure.canvas.draw()
    return np.asarray(explorer.figure.canvas.buffer_rgba()).copy()


@pytest.mark.slow
def test_every_kind_of_state_in_the_file_is_the_explorers_agg_buffer(
    explorer: Explorer, exported: Path
) -> None:
    meta, tables = _tables(exported)
    rng = np.random.default_rng(5)
    states = [
        {
            "view": "maps",
            "layer": "conv1",
            "sample": meta["samples"][0],
            "cmap": "viridis",
            "channel": 0,
        },
        {
            "view": "maps",
            "layer": "conv1",
            "sample": meta["samples"][3],
            "cmap": "magma",
            "channel": 23,
        },
        {
            "view": "grad-cam",
            "layer": "pool2",
            "sample": meta["samples"][-1],
            "cmap": "viridis",
            "channel": 47,
        },
        {
            "view": "maps",
            "layer": "dense",
            "sample": meta["samples"][1],
            "cmap": "viridis",
            "channel": 127,
        },
    ]
    for _ in range(24):
        layer = LAYERS[rng.integers(2)]  # dense has no Grad-CAM
        channels = explorer.engine.layer(layer).channels
        states.append({
            "view": VIEWS[rng.integers(2)], "layer": layer, "cmap": CMAPS[rng.integers(2)],
            "sample": int(rng.choice(meta["samples"])), "channel": int(rng.integers(channels)),
        })  # fmt: skip
    for state in states:
        assert np.array_equal(_rebuild(meta, tables, state), _agg(explorer, state)), state


@pytest.mark.slow
def test_the_file_says_what_it_left_out_and_the_explorer_keeps_its_view(
    explorer: Explorer, exported: Path
) -> None:
    meta, _ = _tables(exported)
    # Grad-CAM of a dense layer is refused live; the file keeps the live refusal's words.
    assert "NotSpatialLayerError" in meta["refusals"]["grad-cam|dense"]
    assert "dense" in meta["refusals"]["grad-cam|dense"]
    assert explorer.error == ""


# ----- the numpy path that makes a group's channels at once, against Agg ----------------------
SWEPT_LAYERS = ["conv1", "pool2", "conv3", "dense"]


def _swept_table(explorer: Explorer) -> tuple[ExportTable, dict[str, Any], dict[str, np.ndarray]]:
    """Draw two samples of four layers in both views; the table, and its meta and sections."""
    choices = (list(VIEWS), SWEPT_LAYERS, [3, 8], ["magma"])
    channels = [explorer.engine.layer(layer).channels for layer in SWEPT_LAYERS]
    table = draw_states(explorer, choices, channels, lambda: None)
    pieces = table.pieces
    meta = {
        "views": list(VIEWS),
        "layers": [{"name": layer} for layer in SWEPT_LAYERS],
        "samples": [3, 8],
        "cmaps": ["magma"],
        "group_shape": list(table.group_of.shape),
        "width": table.width,
        "height": table.height,
    }
    sections = {
        "pieces": np.asarray(pieces.meta, "<u4"),
        "runs": np.concatenate(pieces.runs).astype("<u2"),
        "data": np.frombuffer(b"".join(pieces.data), np.uint8),
        "group_of": table.group_of.ravel(),
        **{
            name: np.asarray(getattr(table, name))
            for name in ("group_offsets", "group_pieces", "group_first")
        },
        **{name: np.asarray(getattr(table, name)) for name in ("state_offsets", "state_pieces")},
    }
    return table, meta, sections


def _swept_states(explorer: Explorer) -> list[dict[str, Any]]:
    """A channel in the middle and the last one of each layer, in each view it can show."""
    states = []
    for layer in SWEPT_LAYERS:
        channels = explorer.engine.layer(layer).channels
        for view in VIEWS if layer != "dense" else ("maps",):
            for sample, channel in ((3, channels // 2 - 1), (8, channels - 1)):
                states.append(
                    {"view": view, "layer": layer, "sample": sample, "cmap": "magma",
                     "channel": channel}
                )  # fmt: skip
    return states


def test_every_channel_made_in_numpy_is_the_explorers_agg_buffer(explorer: Explorer) -> None:
    table, meta, sections = _swept_table(explorer)
    # Every group but the refused Grad-CAM of dense went through the numpy path.
    assert (table.swept, table.drawn) == (14, 0)
    assert "grad-cam|dense" in table.refusals
    for state in _swept_states(explorer):
        assert np.array_equal(_rebuild(meta, sections, state), _agg(explorer, state)), state


def test_a_numpy_figure_that_is_not_aggs_is_drawn_by_agg_instead(
    explorer: Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def shifted(*arguments: Any) -> np.ndarray:
        strips = outline_strips(*arguments)
        strips[..., 0] += 1  # every outline one pixel to the right
        return strips

    monkeypatch.setattr(export_table, "outline_strips", shifted)
    table, meta, sections = _swept_table(explorer)
    # The maps view's outlines were wrong: each of those groups was caught and drawn by Agg.
    assert (table.swept, table.drawn) == (6, 8)
    for state in _swept_states(explorer):
        assert np.array_equal(_rebuild(meta, sections, state), _agg(explorer, state)), state


def test_an_export_too_large_stops_before_writing_and_says_what_to_reduce(
    explorer: Explorer, tmp_path: Path
) -> None:
    path = tmp_path / "big.html"
    before = (explorer.layer, explorer.channel, explorer.sample)
    with pytest.raises(
        convscope.ExportTooLargeError, match=r"about [\d.]+ MB.*limit of 0\.1 MB"
    ) as caught:
        explorer.export_html(path, range(100), max_bytes=100_000, progress=False)
    assert "fewer samples" in str(caught.value)
    assert "max_bytes" in str(caught.value)
    assert not path.exists()
    assert (explorer.layer, explorer.channel, explorer.sample) == before


@pytest.mark.parametrize(
    ("arguments", "error", "words"),
    [
        ({"path": "lesson.png"}, convscope.InvalidArgumentError, "end it in .html"),
        ({"layers": ["conv9"]}, convscope.UnknownLayerError, "conv9"),
        (
            {"views": ("maps", "x-ray")},
            convscope.InvalidArgumentError,
            "'x-ray' cannot be exported",
        ),
        ({"samples": [10**7]}, convscope.InvalidArgumentError, "out of range"),
        ({"cmaps": ["plasma"]}, convscope.InvalidArgumentError, "'plasma' cannot be exported"),
    ],
)
def test_a_bad_export_argument_names_the_fix_and_writes_nothing(
    explorer: Explorer, tmp_path: Path, arguments: dict[str, Any], error: type, words: str
) -> None:
    path = tmp_path / str(arguments.pop("path", "lesson.html"))
    with pytest.raises(error, match=re.escape(words)):
        explorer.export_html(path, progress=False, **{"samples": [0], **arguments})
    assert list(tmp_path.iterdir()) == []


# ----- in Chromium, from file://, with the network off -----------------------------------------
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    _require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_context(chromium: Browser) -> tuple[BrowserContext, list[str]]:
    """A desktop page's context where every request but a file's is refused, and recorded."""
    return _offline(chromium.new_context(viewport={"width": 1200, "height": 1000}))


def _offline(context: BrowserContext) -> tuple[BrowserContext, list[str]]:
    refused: list[str] = []

    def only_files(route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_files)
    return context, refused


def _open(context: BrowserContext, path: Path) -> tuple[Page, list[str]]:
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda line: problems.append(line.text) if line.type == "error" else None)
    page.goto(path.as_uri())
    # A selector, not a function: the page's Content-Security-Policy forbids eval.
    page.wait_for_selector(".convscope[data-ready=true] canvas.convscope-figure[data-frame]")
    return page, problems


def _shown(page: Page) -> tuple[dict[str, Any], np.ndarray]:
    """The state the page's controls show, and its canvas's pixels."""
    found = page.evaluate(
        """() => {
          const root = document.querySelector('.convscope');
          const canvas = root.querySelector('canvas.convscope-figure');
          const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
          return {
            layer: root.querySelector('.convscope-layer + .convscope-value')
              .textContent.split(' · ')[0].trim(),
            channel: Number(root.querySelector('.convscope-channel').value),
            sample: Number(root.querySelector('.convscope-sample-text')
              .textContent.match(/sample (\\d+)/)[1]),
            view: root.querySelector('.convscope-view').value,
            cmap: root.querySelector('.convscope-cmap').value,
            error: root.querySelector('.convscope-error').textContent,
            size: [canvas.height, canvas.width],
            pixels: Array.from(pixels.data),
          };
        }"""
    )
    pixels = np.asarray(found.pop("pixels"), np.uint8).reshape(*found.pop("size"), 4)
    return found, pixels


def _check_against_explorer(explorer: Explorer, page: Page) -> dict[str, Any]:
    state, pixels = _shown(page)
    error = state.pop("error")
    assert np.array_equal(pixels, _agg(explorer, state)), (state, error)
    return state


@pytest.mark.browser
@pytest.mark.slow
def test_the_file_opens_offline_and_every_burst_of_presses_shows_the_explorers_pixels(
    explorer: Explorer,
    exported: Path,
    samples: list[int],
    browser_context: tuple[BrowserContext, list[str]],
) -> None:
    context, refused = browser_context
    page, problems = _open(context, exported)
    first = _check_against_explorer(explorer, page)
    assert first == {
        "layer": "conv1",
        "channel": 0,
        "sample": samples[0],
        "view": "maps",
        "cmap": "viridis",
    }
    root = page.locator(".convscope")
    root.focus()
    for key in ["ArrowRight"] * 5 + ["ArrowUp"] * 7 + ["ArrowDown"]:
        page.keyboard.press(key)  # a burst: no wait between presses
    state = _check_against_explorer(explorer, page)
    assert (state["sample"], state["channel"]) == (samples[5], 6)  # every press counted
    page.keyboard.press("PageDown")
    page.select_option(".convscope-view", "grad-cam")
    page.select_option(".convscope-cmap", "magma")
    for _ in range(9):
        page.keyboard.press("ArrowLeft")
    state = _check_against_explorer(explorer, page)
    assert state["layer"] == "pool2"
    assert (state["view"], state["cmap"]) == ("grad-cam", "magma")
    assert state["sample"] == samples[(5 - 9) % len(samples)]
    # The layer slider to dense, where Grad-CAM is refused as live: the banner, the view kept.
    page.locator(".convscope-layer").fill("2")
    state, _ = _shown(page)
    assert "Grad-CAM needs a layer with a spatial output" in state["error"]
    assert state["layer"] == "pool2"
    page.select_option(".convscope-view", "maps")
    page.locator(".convscope-layer").fill("2")
    page.locator(".convscope-channel").fill("100")
    assert _check_against_explorer(explorer, page)["channel"] == 100
    # A thumbnail click, then the filters: only the samples that pass, and ←/→ among them.
    page.locator(".convscope-thumbs .convscope-thumb").nth(3).click()
    assert _check_against_explorer(explorer, page)["sample"] == samples[3]
    page.locator(".convscope-misclassified").check()
    shown = [
        int(x)
        for x in page.locator(".convscope-thumbs .convscope-thumb").evaluate_all(
            "(cells) => cells.map((c) => c.dataset.index)"
        )
    ]
    explorer.filter(misclassified=True)  # the live filter, over the whole data set
    wrong = set(explorer.filtered_samples.tolist())
    explorer.filter()
    assert shown == [sample for sample in samples if sample in wrong]
    assert len(shown) >= 2
    assert _check_against_explorer(explorer, page)["sample"] == shown[0]
    page.keyboard.press("ArrowRight")
    assert _check_against_explorer(explorer, page)["sample"] == shown[1]
    assert problems == []
    assert refused == []


@pytest.mark.browser
@pytest.mark.slow
def test_controls_with_nothing_exported_behind_them_are_disabled_and_say_why(
    exported: Path, browser_context: tuple[BrowserContext, list[str]]
) -> None:
    context, _ = browser_context
    page, problems = _open(context, exported)
    for selector in [
        ".convscope-sort",
        ".convscope-gif",
        ".convscope-compare",
        ".convscope-target-class",
    ]:
        control = page.locator(selector)
        assert control.is_disabled(), selector
        assert "not in this export" in (control.get_attribute("title") or ""), selector
    heatmap = page.locator(".convscope-view option[value=heatmap]")
    assert heatmap.is_disabled()
    assert "not in this export" in (heatmap.get_attribute("title") or "")
    assert not page.locator(".convscope-view option[value=grad-cam]").is_disabled()
    assert page.locator(".convscope-cmap option[value=inferno]").is_disabled()
    assert not page.locator(".convscope-cmap option[value=magma]").is_disabled()
    assert problems == []


@pytest.mark.browser
@pytest.mark.slow
def test_on_a_phone_the_figure_scales_the_controls_wrap_and_a_tap_moves_a_slider(
    explorer: Explorer, exported: Path, chromium: Browser
) -> None:
    context, refused = _offline(
        chromium.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=3,
            is_mobile=True,
            has_touch=True,
        )
    )
    page, problems = _open(context, exported)
    box = page.locator("canvas.convscope-figure").bounding_box()
    assert box is not None
    assert 300 < box["width"] <= 390
    assert abs(box["height"] - box["width"] / 2) < 2  # scaled, not squashed
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out
    slider = page.locator(".convscope-channel")
    area = slider.bounding_box()
    assert area is not None
    assert area["x"] + area["width"] <= 390
    page.touchscreen.tap(area["x"] + area["width"] - 2, area["y"] + area["height"] / 2)
    state = _check_against_explorer(explorer, page)
    assert state["channel"] > 12  # the tap near the right end moved the slider there
    assert problems == []
    assert refused == []
    context.close()


# ----- any model ---------------------------------------------------------------------------------
def _vgg_like() -> keras.Model:
    """A VGG-like 160×160×3 network, random weights: the benchmarks' ``vgg_like`` with one
    convolution per block (not two) and no third pooling, so that its export stays quick."""
    keras.utils.set_random_seed(0)
    conv = {"kernel_size": 3, "padding": "same", "activation": "relu"}
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((160, 160, 3)),
            layers.Rescaling(1 / 255, name="rescale"),
            layers.Conv2D(16, name="block1_conv1", **conv),
            layers.MaxPooling2D(name="block1_pool"),
            layers.Conv2D(32, name="block2_conv1", **conv),
            layers.MaxPooling2D(name="block2_pool"),
            layers.Conv2D(64, name="block3_conv1", **conv),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(2, activation="softmax", name="predictions"),
        ],
        name="vgg_like",
    )


def _application() -> keras.Model:
    """A keras.applications base first in a Sequential, as transfer learning builds it."""
    keras.utils.set_random_seed(1)
    base = keras.applications.MobileNetV2(input_shape=(48, 48, 3), include_top=False, weights=None)
    return keras.Sequential(
        [
            keras.Input((48, 48, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["vgg-like on photos", "applications base in a Sequential"])
def test_other_models_export_and_open_with_the_explorers_pixels(
    kind: str, chromium: Browser, tmp_path: Path
) -> None:
    if kind == "vgg-like on photos":
        photos, names = convscope.sample_images(size=(160, 160))
        model, images, labels = _vgg_like(), photos[:3], None
        layers = ["block1_conv1", "block3_conv1", "gap"]
    else:
        model = _application()
        images = np.random.default_rng(2).uniform(0, 255, (3, 48, 48, 3)).astype(np.float32)
        labels = None
        layers = []
    explorer = Explorer(model, images, labels, figure="none")
    if not layers:  # a row of the base, and the base's own output row
        names = explorer.layers
        layers = [next(name for name in names if name.endswith("block_16_project")), names[-3]]
    path = explorer.export_html(
        tmp_path / "model.html", [0, 2], layers, ("maps", "grad-cam"), progress=False
    )
    context, refused = _offline(chromium.new_context(viewport={"width": 1200, "height": 1000}))
    page, problems = _open(context, path)
    _check_against_explorer(explorer, page)
    page.locator(".convscope").focus()
    for key in ["ArrowUp", "ArrowUp", "ArrowRight", "PageDown"]:
        page.keyboard.press(key)
    page.select_option(".convscope-view", "grad-cam")
    state = _check_against_explorer(explorer, page)
    assert (state["layer"], state["channel"], state["sample"]) == (layers[1], 2, 2)
    assert problems == []
    assert refused == []
    context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_the_channel_panel_shows_the_live_panels_words_and_its_strongest_samples_in_the_file(
    explorer: Explorer,
    exported: Path,
    samples: list[int],
    strongest: list[int],
    browser_context: tuple[BrowserContext, list[str]],
) -> None:
    context, _ = browser_context
    page, problems = _open(context, exported)
    page.locator(".convscope").focus()
    for key in ["ArrowUp"] * 3:
        page.keyboard.press(key)
    page.locator(".convscope-panel summary").click()
    explorer.update(layer="conv1", channel=3)
    explorer.channel_panel = True
    live_text = explorer._panel_text
    explorer.channel_panel = False
    text = page.locator(".convscope-panel-text").text_content() or ""
    assert text.startswith(live_text)
    held = [index for index in strongest if index in samples]
    assert len(held) >= 2
    assert f"({len(held)} of them in this file)" in text
    cells = page.locator(".convscope-panel-thumbs .convscope-thumb")
    assert cells.evaluate_all("(cells) => cells.map((c) => Number(c.dataset.index))") == held
    cells.nth(1).click()
    assert _check_against_explorer(explorer, page)["sample"] == held[1]
    assert problems == []


@pytest.mark.browser
@pytest.mark.slow
def test_a_random_walk_of_presses_and_menus_shows_the_explorers_pixels_at_every_step(
    explorer: Explorer, exported: Path, browser_context: tuple[BrowserContext, list[str]]
) -> None:
    """Each change of channel is painted as a difference from the last figure: every step."""
    context, _ = browser_context
    page, problems = _open(context, exported)
    page.locator(".convscope").focus()
    rng = np.random.default_rng(11)
    keys = ["ArrowUp", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "PageUp", "PageDown"]
    for step in range(30):
        if step % 7 == 6:
            page.select_option(".convscope-cmap", CMAPS[rng.integers(2)])
            page.locator(".convscope").focus()
        else:
            page.keyboard.press(keys[rng.integers(len(keys))])
        _check_against_explorer(explorer, page)
    assert problems == []


@pytest.mark.slow
def test_the_command_line_writes_an_export_or_says_what_to_reduce(tmp_path: Path) -> None:
    from convscope.cli import main

    path = tmp_path / "lesson.html"
    arguments = ["export", str(path), "--samples", "0-2,7", "--layers", "conv1,dense"]
    assert main([*arguments, "--views", "maps", "--max-mb", "5"]) == 0
    meta, _ = _tables(path)
    assert meta["samples"] == [0, 1, 2, 7]
    assert [layer["name"] for layer in meta["layers"]] == ["conv1", "dense"]
    too_big = tmp_path / "big.html"
    assert main(["export", str(too_big), "--samples", "0-99", "--max-mb", "0.5"]) == 2
    assert not too_big.exists()


@pytest.mark.browser
@pytest.mark.slow
def test_teaching_mode_exports_its_captions_and_titles_drawn_by_agg(
    chromium: Browser, tmp_path: Path
) -> None:
    teacher = Explorer(figure="none", teaching=True)
    path = teacher.export_html(tmp_path / "class.html", [0, 1], ["conv1", "dense"], ("maps",))
    context, refused = _offline(chromium.new_context(viewport={"width": 1200, "height": 1000}))
    page, problems = _open(context, path)
    page.locator(".convscope").focus()
    for key in ["ArrowUp", "ArrowUp", "ArrowRight", "PageDown", "ArrowUp"]:
        page.keyboard.press(key)
    state = _check_against_explorer(teacher, page)  # the live titles are on the figure too
    assert (state["layer"], state["channel"], state["sample"]) == ("dense", 3, 1)
    captions = page.locator(".convscope-captions span").all_text_contents()
    assert captions == teacher._captions
    assert "unit 3" in captions[2]
    assert (
        page.locator(".convscope").get_attribute("class")
        == "convscope convscope-teaching convscope-static"
    )
    assert problems == []
    assert refused == []
    context.close()
