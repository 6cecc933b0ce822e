"""js/widget.js in headless Chromium against a minimal host, wired to a real Explorer.

The fake model offers only anywidget's host-neutral API (``get``, ``on`` and ``off`` with one
event each, ``send``, and ``set`` with ``save_changes``, which it records), as marimo does.
Every message the page sends goes through the protocol's check and into a real Explorer's
handler, and the Explorer's changed traits come back, as they would through a comm. No Jupyter
server: each test takes about a second.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page

import convscope
from convscope.widget import frames, protocol
from convscope.widget.frames import read_frame
from jupyter_harness import chromium_page
from test_browser import _require_chromium
from test_widget_frames import noisy_frames
from test_widget_previews import capture, when_idle

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
FAKE_HOST = """
async ([source, css, state]) => {
  const decode = (value) =>
    value && value.__bytes__ !== undefined
      ? new DataView(Uint8Array.from(atob(value.__bytes__), (c) => c.charCodeAt(0)).buffer)
      : value;
  const listeners = new Map();
  const sent = [];
  const buffers = []; // each message's binary buffers, as base64, in the order sent
  const model = {
    state: {},
    get(name) {
      if (!(name in this.state)) throw new Error(`the page read an unknown trait ${name}`);
      return this.state[name];
    },
    on(event, handler) {
      if (/\\s/.test(event)) throw new Error(`one event per on(), got "${event}"`);
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event).add(handler);
    },
    off(event, handler) {
      listeners.get(event)?.delete(handler);
    },
    send(content, callbacks, binary) {
      sent.push(JSON.parse(JSON.stringify(content)));
      buffers.push(
        (binary ?? []).map((b) => btoa(String.fromCharCode(...new Uint8Array(b)))),
      );
    },
    saved: [],  // what the page wrote itself, one entry per save_changes (marimo's echo)
    dirty: {},
    set(name, value) {
      if (!(name in this.state)) throw new Error(`the page wrote an unknown trait ${name}`);
      this.state[name] = value;
      this.dirty[name] = value;
    },
    save_changes() {
      this.saved.push(this.dirty);
      this.dirty = {};
    },
    custom(content, binary) {  // a message of the widget's own, not a trait (the sweep)
      const handlers = [...(listeners.get("msg:custom") ?? [])];
      for (const handler of handlers) handler(content, binary.map(decode));
    },
    update(changes) {
      for (const [name, value] of Object.entries(changes)) this.state[name] = decode(value);
      for (const name of Object.keys(changes)) {
        for (const handler of [...(listeners.get(`change:${name}`) ?? [])]) handler();
      }
    },
  };
  for (const [name, value] of Object.entries(state)) model.state[name] = decode(value);
  const style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
  const moduleUrl = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const widget = (await import(moduleUrl)).default;
  URL.revokeObjectURL(moduleUrl);
  // From here on, count the page's blob URLs.
  const created = new Set();
  const revoked = new Set();
  const create = URL.createObjectURL.bind(URL);
  const revoke = URL.revokeObjectURL.bind(URL);
  URL.createObjectURL = (blob) => {
    const url = create(blob);
    created.add(url);
    return url;
  };
  URL.revokeObjectURL = (url) => {
    revoked.add(url);
    revoke(url);
  };
  const el = document.createElement("div");
  document.body.append(el);
  const cleanup = widget.render({ model, el });
  const listenerCount = () => [...listeners.values()].reduce((n, set) => n + set.size, 0);
  window.fake = { model, sent, buffers, cleanup, created, revoked, listenerCount, el };
}
"""


def encode(value: object) -> object:
    if isinstance(value, (bytes, memoryview)):
        return {"__bytes__": base64.b64encode(bytes(value)).decode()}
    return value


class Host:
    """Carries messages page → Explorer and changed traits Explorer → page, like a comm."""

    def __init__(self, page: Page, explorer: convscope.Explorer) -> None:
        self.page, self.explorer = page, explorer
        self.pushed = self.state()
        self.kinds: set[str] = set()
        source = (ROOT / "js" / "widget.js").read_text()
        css = (ROOT / "js" / "widget.css").read_text()
        page.goto("about:blank")
        page.evaluate(FAKE_HOST, [source, css, {k: encode(v) for k, v in self.pushed.items()}])

    def state(self) -> dict[str, object]:
        full = self.explorer.get_state()
        return {name: full[name] for name in protocol.TRAITS}

    def deliver(self) -> list[dict[str, object]]:
        """Run requests and answers until the page has nothing more to send."""
        delivered = []
        while messages := self.answer():
            delivered += messages
            self.push()
        return delivered

    def answer(self) -> list[dict[str, object]]:
        """Hand the kernel what the page has sent so far; the page hears nothing back yet."""
        script = "() => [window.fake.sent.splice(0), window.fake.buffers.splice(0)]"
        messages, buffers = self.page.evaluate(script)
        for message, binary in zip(messages, buffers, strict=True):
            if protocol.parse_hint(message) is None:  # raise if the page breaks the contract
                protocol.parse_request(message)
            self.kinds.add(message["type"])
            data = [base64.b64decode(b) for b in binary]
            self.explorer._on_frontend_message(self.explorer, message, data)
        # Playwright runs an event loop here, so the Explorer scheduled its flush on it,
        # as in a kernel; run it now rather than at Playwright's next turn.
        if self.explorer._inbox.scheduled:
            self.explorer._flush()
        return messages  # type: ignore[no-any-return]

    def changes(self) -> dict[str, object]:
        """The traits changed since the page last heard, encoded for it; now counted as heard."""
        state = self.state()
        changed = {k: encode(v) for k, v in state.items() if v != self.pushed[k]}
        self.pushed = state
        return changed

    def push(self) -> None:
        self.page.evaluate("(changes) => window.fake.model.update(changes)", self.changes())

    def hold_move_previews(self, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
        """Let the kernel be idle and hand the page every move preview it makes; return them."""
        sent = capture(self.explorer, monkeypatch, "move")
        when_idle(self.explorer, moves=len(self.explorer.layers) + 2)
        for data in sent:
            self.page.evaluate(
                "(b) => window.fake.model.custom({ type: 'move' }, [b])", encode(data)
            )
        self.page.wait_for_function(
            "() => document.querySelector('canvas.convscope-figure').dataset.moves"
        )
        return list(sent)  # those made so far: later ones are over later frames

    def text(self, selector: str) -> str:
        return self.page.locator(f".convscope {selector}").first.inner_text()


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Page]:
    _require_chromium()
    with chromium_page() as page:
        yield page


@pytest.fixture
def host(
    browser_page: Page, model: keras.Model, digit_arrays: tuple[np.ndarray, np.ndarray]
) -> Host:
    images, labels = digit_arrays
    errors: list[str] = []
    browser_page.on("pageerror", lambda error: errors.append(str(error)))
    explorer = convscope.Explorer(model, images[:200], labels[:200], figure="png")
    host = Host(browser_page, explorer)
    host.errors = errors  # type: ignore[attr-defined]
    return host


def change(page: Page, selector: str, value: str, event: str = "change") -> None:
    page.locator(f".convscope {selector}").evaluate(
        "(el, [value, event]) => { el.value = value; el.dispatchEvent(new Event(event)); }",
        [value, event],
    )


def _draw_on_the_pad(page: Page, host: Host) -> None:
    """A stroke on the drawing pad makes the drawing the sample; its pixels come as bytes."""
    page.locator(".convscope-pad summary").click()
    pad = page.locator(".convscope-pad-canvas")
    box = pad.bounding_box()
    assert box is not None
    assert box["width"] == pytest.approx(box["height"])  # a square
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.8, steps=5)
    page.mouse.up()
    sent = host.deliver()
    draws = [message for message in sent if message["type"] == "draw"]
    assert draws
    assert (draws[-1]["width"], draws[-1]["height"]) == (112, 112)
    assert host.explorer.sample == "drawn"
    assert host.text(".convscope-sample-text").startswith(
        "your drawing · predicted 1 ("
    )  # a vertical stroke
    assert page.locator(".convscope-pad.drawn").count() == 1
    assert page.locator(".convscope-thumb.current").count() == 0
    page.click(".convscope-pad-clear")
    host.deliver()
    assert host.text(".convscope-sample-text") == "your drawing · draw a digit"
    assert not host.explorer.drawn.any()


def _choose_view_order_and_cell(page: Page, host: Host) -> None:
    """The view and class pickers, the sort and a confusion-matrix cell, as a user picks them."""
    explorer = host.explorer
    assert not page.locator(".convscope-target-class").is_visible()
    change(page, "select.convscope-view", "grad-cam")
    host.deliver()
    assert explorer.view == "grad-cam"
    assert page.locator(".convscope-target-class").is_visible()
    change(page, "select.convscope-target-class", "2")
    host.deliver()
    assert explorer.target_class == 2
    change(page, "select.convscope-sort", "loss")
    host.deliver()
    assert explorer.sort == "loss"
    assert page.locator("select.convscope-sort").input_value() == "loss"
    page.locator(".convscope-confusion summary").click()
    cell = page.locator('.convscope-cell[data-true="4"][data-predicted="4"]')
    count = int(cell.inner_text())
    cell.click()
    host.deliver()
    assert (explorer.filter_true, explorer.filter_predicted) == (4, 4)
    assert len(explorer.filtered_samples) == count
    assert page.locator(".convscope-cell.current").get_attribute("data-true") == "4"
    assert set(page.locator(".convscope-thumbs .convscope-thumb span").all_inner_texts()) == {"4→4"}
    page.locator(".convscope-panel summary").click()
    # The details element fires "toggle" in a task of its own, after the click.
    page.wait_for_function("() => window.fake.sent.some((m) => m.type === 'panel')")
    host.deliver()
    assert explorer.channel_panel
    strongest = page.locator(".convscope-panel-thumbs .convscope-thumb")
    assert strongest.count() == 9
    assert "strongest" in host.text(".convscope-panel-text")
    third = int(strongest.nth(2).get_attribute("data-index") or -1)
    assert third == explorer.channel_top[2]
    strongest.nth(2).click()
    host.deliver()
    assert explorer.sample == third
    with page.expect_download() as download:  # the GIF button offers the file
        page.click(".convscope-gif")
        host.deliver()
    gif = download.value
    assert gif.suggested_filename == f"convscope-{explorer.layer}-{third}.gif"
    assert Path(gif.path()).read_bytes()[:6] == b"GIF89a"
    figure = page.locator("canvas.convscope-figure")
    figure.click(position={"x": 800, "y": 120})  # on the selected channel's large map
    host.deliver()
    assert explorer.probe is not None


def test_every_request_the_page_sends_is_one_the_kernel_accepts(host: Host) -> None:
    page, explorer = host.page, host.explorer
    change(page, "input.convscope-layer", str(explorer.layers.index("conv2")), "input")
    host.deliver()
    assert explorer.layer == "conv2"
    assert host.text(".convscope-channel + .convscope-value") == "channel 0 of 48"
    change(page, "input.convscope-channel", "7", "input")
    host.deliver()
    assert explorer.channel == 7
    page.click(".convscope-next")
    page.click(".convscope-next")
    page.click(".convscope-prev")
    host.deliver()
    assert explorer.sample == 1
    assert host.text(".convscope-sample-text").startswith("sample 1 ")
    change(page, "select.convscope-cmap", "magma")
    change(page, "select.convscope-norm", "minmax")
    host.deliver()
    assert (explorer.cmap, explorer.norm) == ("magma", "minmax")
    change(page, "select.convscope-filter-true", "3")
    host.deliver()
    assert explorer.filter_true == 3
    captions = page.locator(".convscope-thumb span").all_inner_texts()
    assert captions
    assert all(caption.startswith("3") for caption in captions)
    change(page, "select.convscope-filter-true", "-1")
    page.click(".convscope-page-next")
    host.deliver()
    assert explorer.page == 1
    thumb = page.locator(".convscope-thumb").nth(5)
    index = int(thumb.get_attribute("data-index") or -1)
    thumb.click()
    host.deliver()
    assert explorer.sample == index
    assert page.locator(".convscope-thumb.current").get_attribute("data-index") == str(index)
    page.keyboard.press("ArrowRight")  # focus is on the thumbnail just clicked
    host.deliver()
    assert explorer.sample == index + 1
    page.keyboard.press("ArrowUp")  # ↑: one channel on, as a step
    host.deliver()
    assert explorer.channel == 8
    _draw_on_the_pad(page, host)
    _choose_view_order_and_cell(page, host)
    # No training run here; and the page held every frame, so it never asked for a whole one.
    # The pointer came onto thumbnails on its way to click them: the page hinted at them.
    assert host.kinds == set(protocol.REQUESTS) - {
        protocol.EPOCH,
        protocol.FRAME,
        protocol.TRAINING,
    } | {protocol.AHEAD}
    assert not page.locator(".convscope-epochs").is_visible()
    assert explorer.error == ""
    assert host.errors == []  # type: ignore[attr-defined]


def test_the_banner_shows_the_kernels_error(host: Host) -> None:
    host.explorer._on_frontend_message(host.explorer, {"type": "step", "seq": 1, "delta": "x"}, [])
    host.explorer._flush()
    host.push()
    banner = host.page.locator(".convscope-error")
    assert banner.is_visible()
    assert "'delta' must be an integer" in banner.inner_text()


CANVAS_PIXELS = """async () => {
  const canvas = document.querySelector("canvas.convscope-figure");
  const before = canvas.dataset.frame;
  for (let i = 0; i < 50 && canvas.dataset.frame === before; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let text = "";
  for (let i = 0; i < data.length; i += 0x8000) {
    text += String.fromCharCode(...data.subarray(i, i + 0x8000));
  }
  return [canvas.width, canvas.height, btoa(text)];
}"""


def canvas_pixels(page: Page) -> np.ndarray:
    """The figure canvas's pixels, once it has painted a frame other than the one it held."""
    width, height, data = page.evaluate(CANVAS_PIXELS)
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width, 4)


def agg_pixels(explorer: convscope.Explorer) -> np.ndarray:
    return np.asarray(explorer.figure.canvas.buffer_rgba())


def test_the_canvas_shows_exactly_the_figure_after_each_frame(host: Host) -> None:
    page, explorer = host.page, host.explorer
    assert np.array_equal(canvas_pixels(page), agg_pixels(explorer))  # the key frame
    for sample, layer, channel in ((17, "conv2", 5), (150, "pool1", 20), (3, "conv3", 0)):
        explorer.update(sample=sample, layer=layer, channel=channel)
        host.push()
        assert np.array_equal(canvas_pixels(page), agg_pixels(explorer)), (sample, layer)
    assert host.errors == []  # type: ignore[attr-defined]


THUMBNAIL_PIXELS = """async () => Promise.all(
  [...document.querySelectorAll(".convscope-thumbs button")].map(async (button) => {
    const image = button.querySelector("img");
    await image.decode();
    const canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = [image.naturalWidth, image.naturalHeight];
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let text = "";
    for (const byte of data) text += String.fromCharCode(byte);
    return [Number(button.dataset.index), canvas.width, canvas.height, btoa(text)];
  }),
)"""


def thumbnail_pixels(page: Page) -> dict[int, np.ndarray]:
    """Each thumbnail's decoded picture, RGBA at its own size, by sample index."""
    return {
        index: np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width, 4)
        for index, width, height, data in page.evaluate(THUMBNAIL_PIXELS)
    }


def test_each_thumbnail_shows_exactly_its_digit(
    host: Host, digit_arrays: tuple[np.ndarray, np.ndarray]
) -> None:
    page, explorer = host.page, host.explorer
    digits = np.asarray(digit_arrays[0][:200]).reshape(-1, 28, 28)
    assert digits.dtype == np.uint8
    for page_number in (0, 3):
        explorer.page = page_number
        host.push()
        shown = thumbnail_pixels(page)
        assert sorted(shown) == [meta["index"] for meta in explorer._thumb_meta]
        assert len(shown) > 10
        # Pictures, not canvases: each canvas would be one more layer in every frame the
        # browser draws (see thumbImage in widget.js).
        assert page.locator(".convscope-thumbs canvas").count() == 0
        for index, rgba in shown.items():
            assert np.array_equal(rgba[..., :3], np.repeat(digits[index][..., None], 3, -1))
            assert (rgba[..., 3] == 255).all()
    assert host.errors == []  # type: ignore[attr-defined]


def test_a_new_page_of_thumbnails_is_built_once_and_shows_its_samples(host: Host) -> None:
    """A page turn changes several traits in one message (the pictures, the captions, the
    page number): the thumbnails are built once for it, not once per trait (each build took
    4-10 ms of the page's main thread on a busy machine)."""
    page, explorer = host.page, host.explorer
    page.evaluate(
        """() => {
          window.builds = 0;
          new MutationObserver((records) => { window.builds += records.length; })
            .observe(document.querySelector(".convscope-thumbs"), { childList: true });
        }"""
    )
    for number in (2, 4):
        explorer.page = number
        changed = host.changes()
        assert {"_thumbs", "_thumb_meta", "page"} <= changed.keys()  # one message, three traits
        page.evaluate("(changes) => window.fake.model.update(changes)", changed)
        shown = page.evaluate(
            "() => [...document.querySelectorAll('.convscope-thumbs button')]"
            ".map((b) => +b.dataset.index)"
        )
        assert shown == [meta["index"] for meta in explorer._thumb_meta]
    assert page.evaluate("() => window.builds") == 2
    assert host.errors == []  # type: ignore[attr-defined]


def test_colour_thumbnails_keep_red_green_and_blue_at_any_width(host: Host) -> None:
    page, explorer = host.page, host.explorer
    count = len(explorer._thumb_meta)
    for height, width in ((5, 7), (3, 4), (2, 1)):  # rows of 21, 12 and 3 bytes: padded or not
        rgb = np.random.default_rng(width).integers(0, 256, (count, height, width, 3), np.uint8)
        page.evaluate(
            "(c) => window.fake.model.update(c)",
            {
                "_thumb_shape": [height, width, 3],
                "_thumbs": encode(rgb.tobytes()),
                "_thumb_meta": [dict(meta) for meta in explorer._thumb_meta],
            },
        )
        shown = thumbnail_pixels(page)
        for i, meta in enumerate(explorer._thumb_meta):
            assert np.array_equal(shown[meta["index"]][..., :3], rgb[i]), (width, i)
    assert host.errors == []  # type: ignore[attr-defined]


def test_the_canvas_paints_every_form_of_rectangle(host: Host) -> None:
    page = host.page
    frames, pictures = noisy_frames()  # deflated words, palettes, one word
    for frame, picture in zip(frames, pictures, strict=True):
        page.evaluate("(f) => window.fake.model.update({ _figure_frame: f })", encode(frame))
        assert np.array_equal(canvas_pixels(page), picture)
    assert host.errors == []  # type: ignore[attr-defined]


def test_on_a_hidpi_screen_the_canvas_gets_twice_the_pixels(
    browser_page: Page,
    model: keras.Model,
    digit_arrays: tuple[np.ndarray, np.ndarray],
    tmp_path: Path,
) -> None:
    images, labels = digit_arrays
    explorer = convscope.Explorer(model, images[:200], labels[:200], figure="png")
    browser = browser_page.context.browser
    assert browser is not None
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, device_scale_factor=2)
    try:
        page = context.new_page()
        host = Host(page, explorer)
        asked = page.evaluate("() => window.fake.sent")
        assert [(m["type"], m.get("dpr")) for m in asked] == [("frame", 2)]
        host.deliver()
        assert np.array_equal(canvas_pixels(page), agg_pixels(explorer))
        assert agg_pixels(explorer).shape == (900, 1800, 4)  # drawn for the screen
        explorer.update(sample=31, channel=7)
        host.push()
        assert np.array_equal(canvas_pixels(page), agg_pixels(explorer))
        figure = page.locator("canvas.convscope-figure")
        assert figure.evaluate("(c) => c.getBoundingClientRect().width") == 900  # CSS pixels
        shot = np.asarray(Image.open(io.BytesIO(figure.screenshot())).convert("RGB"))
        assert shot.shape == (900, 1800, 3)
        difference = np.abs(shot.astype(np.int16) - agg_pixels(explorer)[..., :3])
        assert difference.mean() < 2
    finally:
        context.close()
    explorer.save(tmp_path / "view.png")
    assert Image.open(tmp_path / "view.png").size == (900, 450)  # the figure keeps its size
    assert tuple(explorer.figure.get_size_inches() * explorer.figure.dpi) == (900, 450)


def test_a_view_that_missed_frames_asks_for_the_whole_figure(host: Host) -> None:
    page, explorer = host.page, host.explorer
    explorer.channel = 1
    explorer.channel = 2  # the page misses this frame and the one before
    explorer.sample = 9
    host.push()  # a frame whose base the page never saw: refused
    assert [m["type"] for m in page.evaluate("() => window.fake.sent")] == ["frame"]
    host.deliver()
    assert np.array_equal(canvas_pixels(page), agg_pixels(explorer))
    explorer.sample = 10  # and from there on, only what changes
    host.push()
    assert np.array_equal(canvas_pixels(page), agg_pixels(explorer))
    assert page.evaluate("() => window.fake.sent") == []


def test_cleanup_removes_every_listener_and_leaves_no_url(host: Host) -> None:
    page, explorer = host.page, host.explorer
    assert page.evaluate("() => window.fake.listenerCount()") > 0
    frames = []
    for channel in (1, 2, 3):  # three frames in one go, painted in order
        explorer.channel = channel
        frames.append(encode(explorer._figure_frame))
    page.evaluate(
        "(frames) => frames.forEach((f) => window.fake.model.update({ _figure_frame: f }))",
        frames,
    )
    page.evaluate(  # a frame that is not one: ignored, the figure stays
        "(f) => window.fake.model.update({ _figure_frame: f })", encode(b"not a frame")
    )
    host.pushed = host.state()
    assert np.array_equal(canvas_pixels(page), agg_pixels(explorer))

    page.evaluate("() => window.fake.cleanup()")

    assert page.evaluate("() => window.fake.listenerCount()") == 0
    assert page.evaluate("() => [...window.fake.created].every((u) => window.fake.revoked.has(u))")
    assert page.evaluate("() => window.fake.el.childElementCount") == 0
    assert host.errors == []  # type: ignore[attr-defined]


KEYS_REACHING_THE_PAGE = """() => {
  window.reached = [];
  document.addEventListener("keydown", (event) => {
    window.reached.push({
      key: event.key,
      ctrl: event.ctrlKey,
      suppressed: event.target.hasAttribute?.("data-lm-suppress-shortcuts") ?? false,
    });
    event.preventDefault();  // no browser save dialog for Ctrl+S
  });
}"""


def test_single_keys_stay_in_the_widget_and_chords_pass(host: Host) -> None:
    page = host.page
    page.evaluate(KEYS_REACHING_THE_PAGE)
    focusables = page.locator(
        ".convscope, .convscope-figure, .convscope button, .convscope input, .convscope select"
    )
    count = focusables.count()
    assert count > 10
    for i in range(count):
        element = focusables.nth(i)
        assert element.get_attribute("data-lm-suppress-shortcuts") == "true", i
        element.focus()
        for key in ("d", "d", "a", "b", "x", "z", "m", "y", "Enter", "Escape", "ArrowUp"):
            page.keyboard.press(key)
    assert page.evaluate("() => window.reached") == []  # nothing reached the notebook's level

    page.locator(".convscope-channel").focus()
    page.keyboard.press("Control+s")
    page.keyboard.press("Shift+Enter")
    reached = [r for r in page.evaluate("() => window.reached") if r["key"] != "Control"]
    assert [(r["key"], r["ctrl"]) for r in reached] == [("s", True), ("Enter", False)]
    assert not any(r["suppressed"] for r in reached)  # Lumino would run these shortcuts
    page.wait_for_timeout(50)
    assert page.locator(".convscope-channel").get_attribute("data-lm-suppress-shortcuts") == "true"
    assert page.locator(".convscope").first.get_attribute("data-lm-suppress-shortcuts") == "true"


def test_arrows_step_from_the_figure_and_the_buttons_but_move_sliders(host: Host) -> None:
    page, explorer = host.page, host.explorer
    page.click(".convscope-figure")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    host.deliver()
    assert explorer.sample == 2
    page.locator(".convscope-channel").focus()
    page.keyboard.press("ArrowRight")  # the slider's own key: the next channel, not a sample
    assert [m["type"] for m in host.deliver()] == ["view"]
    assert (explorer.sample, explorer.channel) == (2, 1)
    page.click(".convscope-figure")
    page.keyboard.press("ArrowUp")  # ↑/↓: channels, PageUp/PageDown: layers
    host.deliver()
    page.keyboard.press("ArrowUp")
    host.deliver()
    assert explorer.channel == 3
    layer = explorer.layers.index(explorer.layer)
    page.keyboard.press("PageDown")
    host.deliver()
    assert explorer.layers.index(explorer.layer) == layer + 1
    page.keyboard.press("PageUp")
    page.keyboard.press("ArrowDown")
    host.deliver()
    assert (explorer.layers.index(explorer.layer), explorer.channel) == (layer, 2)


def test_every_press_counts_when_keys_come_faster_than_the_kernel(host: Host) -> None:
    """The kernel answers only in deliver(): every press below is made before it answers."""
    page, explorer = host.page, host.explorer
    page.click(".convscope-figure")
    for _ in range(10):
        page.keyboard.press("ArrowUp")
    host.deliver()
    assert explorer.channel == 10
    assert page.locator("input.convscope-channel").input_value() == "10"
    assert host.text(".convscope-channel + .convscope-value") == "channel 10 of 24"
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    host.deliver()
    assert explorer.channel == 6
    for _ in range(40):  # conv1 has 24 channels: the presses past the last one do nothing
        page.keyboard.press("ArrowUp")
    host.deliver()
    assert explorer.channel == 23
    start = explorer.layers.index(explorer.layer)
    for _ in range(3):
        page.keyboard.press("PageDown")
    host.deliver()
    assert explorer.layers.index(explorer.layer) == start + 3
    assert page.locator("input.convscope-layer").input_value() == str(start + 3)
    for _ in range(20):
        page.keyboard.press("PageUp")
    host.deliver()
    assert explorer.layers.index(explorer.layer) == 0
    assert explorer.error == ""


def test_in_marimo_the_page_writes_back_each_ack_once_nothing_is_in_flight(host: Host) -> None:
    """marimo runs the cells that read ``mo.ui.anywidget(explorer)`` only for the page's own
    changes: there the page writes back the ack it has shown, once per quiet moment, and never
    a trait of the user's (test_browser_marimo_wrapped.py shows the cells following)."""
    page, explorer = host.page, host.explorer
    saved = "() => window.fake.model.saved"
    page.click(".convscope-figure")
    page.keyboard.press("ArrowRight")
    host.deliver()
    assert page.evaluate(saved) == []  # outside marimo, nothing is written back
    explorer._echo_acks = True
    host.push()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    host.answer()  # the first press; the other two wait for its ack, merged
    host.push()
    assert page.evaluate(saved) == []  # the ack came, but a request is in flight
    host.deliver()
    assert explorer.sample == 4
    assert page.evaluate(saved) == [{"_shown": explorer._ack}]
    explorer.set_state(page.evaluate(saved)[0])  # what the kernel gets: no user state moves
    assert (explorer.sample, explorer._shown) == (4, explorer._ack)
    assert set(host.changes()) == {"_shown"}  # the page's own write, and nothing else


SHOWN_PIXELS = """() => {
  const canvas = document.querySelector("canvas.convscope-figure");
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let text = "";
  for (let i = 0; i < data.length; i += 0x8000) {
    text += String.fromCharCode(...data.subarray(i, i + 0x8000));
  }
  return [canvas.width, canvas.height, btoa(text), canvas.dataset.preview ?? null];
}"""


def shown_pixels(page: Page) -> tuple[np.ndarray, str | None]:
    """The figure canvas's pixels now, and the channel previewed over its frame (or None)."""
    return decoded_pixels(page.evaluate(SHOWN_PIXELS))


def decoded_pixels(shown: tuple[int, int, str, str | None]) -> tuple[np.ndarray, str | None]:
    """What :data:`SHOWN_PIXELS` returns, as pixels ``(H, W, 4)`` and the preview's name."""
    width, height, data, preview = shown
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width, 4), preview


def test_a_frame_that_comes_over_a_preview_applies_to_its_own_base(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From channel 0, ↓↓↑↑ before the kernel answers: the page previews channel 2 from the
    sweep (each press clamped), the kernel goes to channel 1 (the first press alone, then the
    sum of the other three). Its frame, delivered before its ack, must first put back the
    channel the frame was made over, or channel 2's outline would stay on the grid."""
    page, explorer = host.page, host.explorer
    explorer.update(layer="conv2", channel=0)
    host.push()
    sent = capture(explorer, monkeypatch, "sweep")
    when_idle(explorer)
    assert len(sent) == 1
    page.evaluate("(b) => window.fake.model.custom({ type: 'sweep' }, [b])", encode(sent[0]))
    before, _ = shown_pixels(page)
    page.click(".convscope-sample-text")  # the focus in the widget; a click on the figure probes
    for key in ("ArrowDown", "ArrowDown", "ArrowUp", "ArrowUp"):
        page.keyboard.press(key)
    previewed, channel = shown_pixels(page)
    assert channel == "2", "the presses were not painted at once"
    assert not np.array_equal(previewed, before)
    host.deliver()  # each answer pushes the frame before the ack, as protocol.TRAITS orders them
    assert explorer.channel == 1
    shown, channel = shown_pixels(page)
    assert channel is None
    assert np.array_equal(shown, agg_pixels(explorer))
    assert host.errors == []  # type: ignore[attr-defined]


def test_a_layer_move_is_painted_at_the_key_and_gives_way_to_the_kernels_frame(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the kernel's layer previews held, PageDown paints the next layer at once: exactly
    the figure the kernel then shows. A second press before the kernel answers is not
    previewed (previews are of moves from the frame on screen); once answered, the canvas is
    exactly the kernel's figure, two layers on, and no preview is left over it."""
    page, explorer = host.page, host.explorer
    explorer.update(layer="conv1", channel=5)
    host.push()
    old = host.hold_move_previews(monkeypatch)
    assert len(old) == len(explorer.layers) + 1  # every other layer, and ← and →
    start = explorer.layers.index("conv1")
    before, _ = shown_pixels(page)
    page.click(".convscope-sample-text")  # the focus in the widget; a click on the figure probes
    page.keyboard.press("PageDown")
    previewed, marker = shown_pixels(page)
    assert marker == f"layer {start + 1}", "the layer was not painted at the key"
    assert not np.array_equal(previewed, before)
    host.deliver()
    assert explorer.layers.index(explorer.layer) == start + 1
    assert np.array_equal(previewed, agg_pixels(explorer)), "the preview is not the kernel's figure"
    assert shown_pixels(page)[1] is None
    for data in old:  # previews over the frame before: stale now, and dropped
        page.evaluate("(b) => window.fake.model.custom({ type: 'move' }, [b])", encode(data))
    page.keyboard.press("PageUp")
    assert shown_pixels(page)[1] is None, "a stale preview was painted"
    host.deliver()
    assert explorer.layers.index(explorer.layer) == start
    assert np.array_equal(shown_pixels(page)[0], agg_pixels(explorer))
    assert host.errors == []  # type: ignore[attr-defined]


def test_a_frame_over_a_painted_move_first_puts_back_what_the_move_covered(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PageDown paints the next layer at once; before its request reaches the kernel, code in
    the kernel moves the channel (a linked widget, a training callback), and that frame comes
    first. It changes only the channel's pixels, over the frame the preview was painted on:
    the page must put back the preview's pixels before painting it, or the next layer's maps
    would stay around the new channel. Then the request lands, and the canvas is the kernel's."""
    page, explorer = host.page, host.explorer
    explorer.update(layer="conv1", channel=5)
    host.push()
    host.hold_move_previews(monkeypatch)
    start = explorer.layers.index("conv1")
    page.click(".convscope-sample-text")  # the focus in the widget; a click on the figure probes
    page.keyboard.press("PageDown")
    previewed, marker = shown_pixels(page)
    assert marker == f"layer {start + 1}", "the layer was not painted at the key"
    explorer.update(channel=6)  # the kernel's own move, before the page's request
    assert explorer.layer == "conv1"
    host.push()
    frame = read_frame(explorer._figure_frame)[0]["id"]
    page.wait_for_function(
        "(id) => document.querySelector('canvas.convscope-figure').dataset.frame === String(id)",
        arg=frame,
    )
    shown, marker = shown_pixels(page)
    assert marker is None
    assert not np.array_equal(shown, previewed)
    assert np.array_equal(shown, agg_pixels(explorer)), "the preview was left under the frame"
    host.deliver()
    assert explorer.layers.index(explorer.layer) == start + 1
    assert np.array_equal(shown_pixels(page)[0], agg_pixels(explorer))
    assert host.errors == []  # type: ignore[attr-defined]


ACK_FIRST_JS = f"""async (changes) => {{
  // The host's message as ipywidgets builds it: binary values (the frame) put back last.
  window.fake.model.update(changes);
  await new Promise((resolve) => setTimeout(resolve, 0));  // after the message's microtasks
  return ({SHOWN_PIXELS})();
}}"""


def test_an_ack_that_comes_before_its_frame_never_shows_the_old_figure(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ipywidgets sends a frame's bytes as a buffer, and the page puts them back after the
    message's other values: the ack's change comes before the frame's. The layer painted at
    PageDown must stay until the frame is painted, never giving way to the figure it was
    painted over (a flash of the old layer)."""
    page, explorer = host.page, host.explorer
    explorer.update(layer="conv1", channel=5)
    host.push()
    host.hold_move_previews(monkeypatch)
    before, _ = shown_pixels(page)
    page.click(".convscope-sample-text")  # the focus in the widget; a click on the figure probes
    page.keyboard.press("PageDown")
    assert shown_pixels(page)[1] is not None
    # A frame as a large one is sent (a layer at a high pixel ratio): deflated, so the page
    # inflates it asynchronously, and the screen may be drawn before it is painted.
    monkeypatch.setattr(frames, "DEFLATE_ABOVE", 0)
    assert host.answer()
    changed = host.changes()
    frame = changed.pop("_figure_frame")
    seen, _ = decoded_pixels(page.evaluate(ACK_FIRST_JS, {**changed, "_figure_frame": frame}))
    assert not np.array_equal(seen, before), "the old figure was shown between ack and frame"
    page.wait_for_function(
        "(id) => document.querySelector('canvas.convscope-figure').dataset.frame === String(id)",
        arg=read_frame(explorer._figure_frame)[0]["id"],
    )
    assert np.array_equal(shown_pixels(page)[0], agg_pixels(explorer))
    assert host.errors == []  # type: ignore[attr-defined]


def test_a_refused_choice_puts_every_control_back(host: Host) -> None:
    """The kernel keeps its view when it refuses one; the controls show that view again."""
    page, explorer = host.page, host.explorer
    explorer.update(layer="conv3", view="heatmap")
    host.push()
    conv3, dense = explorer.layers.index("conv3"), explorer.layers.index("dense")
    slider = page.locator("input.convscope-layer")
    label = page.locator(".convscope-layer + .convscope-value")
    slider.dispatch_event("pointerdown")  # held under the pointer, dragged to dense
    change(page, "input.convscope-layer", str(dense), "input")
    assert label.inner_text().startswith("dense")
    host.deliver()
    assert explorer.layer == "conv3"
    assert "heatmap" in explorer.error
    slider.dispatch_event("pointerup")  # let go: back where the kernel is
    assert slider.input_value() == str(conv3)
    assert label.inner_text().startswith("conv3")
    change(page, "input.convscope-layer", str(dense), "input")  # the slider's own arrow keys
    host.deliver()
    assert (slider.input_value(), label.inner_text()[:5]) == (str(conv3), "conv3")
    page.click(".convscope-figure")
    for _ in range(dense - conv3):  # PageDown to dense, faster than the kernel answers
        page.keyboard.press("PageDown")
    host.deliver()
    assert explorer.layer == "conv3"
    assert slider.input_value() == str(conv3)
    explorer.update(view="maps", compare=5)
    host.push()
    change(page, "select.convscope-view", "grad-cam")  # refused while comparing
    host.deliver()
    assert explorer.view == "maps"
    assert page.locator("select.convscope-view").input_value() == "maps"
    change(page, "input.convscope-compare", "99999")  # no such sample
    host.deliver()
    assert explorer.compare == 5
    assert page.locator("input.convscope-compare").input_value() == "5"


def test_keyboard_focus_is_visible(host: Host) -> None:
    page = host.page
    page.locator("body").click(position={"x": 1, "y": 1})
    outlines = []
    for _ in range(4):
        page.keyboard.press("Tab")
        outlines.append(
            page.evaluate(
                """() => {
                  const style = getComputedStyle(document.activeElement);
                  return [document.activeElement.className, style.outlineStyle, style.outlineWidth];
                }"""
            )
        )
    assert all(style == "solid" and width == "2px" for _, style, width in outlines), outlines


def test_the_epoch_slider_replays_the_training(
    browser_page: Page, digit_arrays: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = digit_arrays
    explorer = convscope.Explorer(convscope.mnist_training_run(), images[:200], labels[:200])
    host = Host(browser_page, explorer)
    page = host.page
    assert page.locator(".convscope-epochs").is_visible()
    assert host.text(".convscope-epoch + .convscope-value").startswith("epoch 30 of 30")
    assert page.locator(".convscope-curve polyline").count() == 3
    figure = canvas_pixels(page)
    change(page, "input.convscope-epoch", "0", "input")
    delivered = host.deliver()
    assert [m["epoch"] for m in delivered if m["type"] == "epoch"] == [0]
    assert explorer.epoch == 0
    assert host.text(".convscope-epoch + .convscope-value").startswith("epoch 0 of 30")
    assert not np.array_equal(canvas_pixels(page), figure)  # the untrained maps
    assert "predicted 7" not in host.text(".convscope-sample-text")  # chance, not a 7
    marker = page.locator(".convscope-curve line")
    assert float(marker.get_attribute("x1") or -1) < 5  # the mark moved to epoch 0
    change(page, "input.convscope-epoch", "8", "input")  # index 8: epoch 30 again
    host.deliver()
    assert explorer.epoch == 30
    assert np.array_equal(canvas_pixels(page), figure)
    assert explorer.error == ""


def test_text_that_is_no_number_in_the_compare_box_gives_way_to_the_kernels_state(
    host: Host,
) -> None:
    """A number box holding "1e" reads "" and sends nothing; the next answer shows "off"'s
    empty box again, not the text (a control shows the kernel's state)."""
    page, explorer = host.page, host.explorer
    field = page.locator("input.convscope-compare")
    field.click()
    page.keyboard.type("1e")
    page.locator(".convscope-sample-text").click()  # the box left: no change event for "1e"
    bad = "() => document.querySelector('input.convscope-compare').validity.badInput"
    assert page.evaluate(bad)
    page.keyboard.press("ArrowRight")  # any request: its answer mirrors every control
    host.deliver()
    assert explorer.compare is None
    assert page.evaluate(
        "() => { const f = document.querySelector('input.convscope-compare');"
        " return [f.value, f.validity.badInput]; }"
    ) == ["", False]
    assert host.errors == []  # type: ignore[attr-defined]


def test_the_compare_control_picks_b_and_keeps_its_keys(host: Host) -> None:
    page, explorer = host.page, host.explorer
    page.evaluate(KEYS_REACHING_THE_PAGE)
    assert host.text(".convscope-compare-text") == "off"
    figure = explorer._figure_frame
    page.click(".convscope-compare-pick")  # "pick B", then a thumbnail
    assert page.locator(".convscope-compare-pick").get_attribute("aria-pressed") == "true"
    thumb = page.locator(".convscope-thumb").nth(4)
    index = int(thumb.get_attribute("data-index") or -1)
    thumb.click()
    host.deliver()
    assert (explorer.sample, explorer.compare) == (0, index)
    assert explorer._figure_frame != figure  # B's row reached the page
    assert page.locator(".convscope-thumb.compared").get_attribute("data-index") == str(index)
    assert host.text(".convscope-compare-text").startswith(f"B: sample {index} · label")
    assert page.locator(".convscope-compare-pick").get_attribute("aria-pressed") == "false"
    page.locator(".convscope-thumb").nth(2).click()  # disarmed: a click picks A again
    host.deliver()
    assert (explorer.sample, explorer.compare) == (2, index)

    change(page, "select.convscope-compare-mode", "difference")
    host.deliver()
    assert explorer.compare_mode == "difference"
    assert "A − B" in host.text(".convscope-compare-text")

    field = page.locator("input.convscope-compare")
    field.fill("")  # then typed, as a user does
    page.keyboard.type("17")
    page.keyboard.press("Enter")
    host.deliver()
    assert explorer.compare == 17
    channel = explorer.channel
    page.keyboard.press("ArrowUp")  # the field's own key: B goes to 18, the channel stays
    page.keyboard.press("Enter")
    host.deliver()
    assert (explorer.compare, explorer.channel) == (18, channel)
    assert page.evaluate("() => window.reached") == []  # no key reached the notebook

    change(page, "input.convscope-compare", "999")
    host.deliver()
    assert "compare 999 is out of range" in host.text(".convscope-error")
    assert explorer.compare == 18  # nothing lost
    change(page, "select.convscope-view", "grad-cam")  # refused while comparing...
    host.deliver()
    assert "Comparing two samples shows their feature maps" in host.text(".convscope-error")
    assert page.locator("select.convscope-view").input_value() == "maps"  # ...and shown so
    page.click(".convscope-compare-clear")
    host.deliver()
    assert explorer.compare is None
    assert host.text(".convscope-compare-text") == "off"
    assert page.locator(".convscope-thumb.compared").count() == 0
    assert not explorer.panels.image_b_panel.get_visible()  # one sample in the figure again
    assert host.errors == []  # type: ignore[attr-defined]
