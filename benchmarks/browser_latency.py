"""Input to new pixels on screen, in JupyterLab with Chromium, against a bare anywidget round trip.

One JupyterLab page holds three widgets, each in a cell of its own: a bare anywidget echo (the
floor), the default Explorer (its figure a canvas inside the widget, in every host) and one on
the ipympl path (``figure="ipympl"``), both on the 10,000 MNIST test digits. Each event is timed
in the page from the moment it is dispatched to the first animation frame after the figure was
repainted:

- ipympl: the first ``drawImage`` on the view's canvas (ipympl copies its offscreen image
  there once the new PNG is decoded), then the next animation frame;
- canvas path: the figure canvas's ``data-frame`` changes (set once every changed rectangle is
  painted), or its ``data-preview`` (a channel, a layer or a sample painted at the input from
  what the kernel sent ahead, exactly the kernel's pixels: ``widget/previews.py``,
  ``widget/move_previews.py``), then the next animation frame;
- floor: the page sends a message, the kernel sets a trait in reply, and the page waits for the
  change and then the next animation frame.

The kernel's budget: the same echo, but at its input the page also moves a range slider and
its label (as a slider move of the Explorer does), and the kernel spins for 0, 2, 4, 6 or 8 ms
of CPU before it answers. These rows say what p95, as a ratio to the floor's, a widget gets
on this machine for a given time in its kernel handler, with nothing else of its own: the
budget each browser target leaves the Explorer's handler.

Events are spaced (each waits for the kernel's ack and a pause of 150–250 ms) so that none
coalesces with the one before. Random thumbnail clicks pick a thumbnail of the current page
other than the current sample; every 10 clicks the next page of thumbnails is turned, outside
the timing, so that most clicks land on samples never shown before. A *pointed* thumbnail
click is the same click as a mouse makes it: the pointer comes onto the thumbnail (a
``pointerover``, outside the timing), rests there 150 ms, then clicks. A *focused* thumbnail
click is the one a keyboard makes: the focus comes onto the thumbnail (as Tab brings it, a
``focusin``, outside the timing), rests there 150 ms, then the button is clicked, as Enter
clicks it. A pad stroke is one
pointer move on the open drawing pad, a line to a new point of a stroke in progress; every 20
moves the pad is cleared and a new stroke begun, outside the timing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from jupyter_harness import (  # noqa: E402 - test tooling, on the path above
    LabNotebook,
    chromium_page,
    jupyter_lab_server,
    write_notebook,
)

ECHO_CELL = '''import time

import anywidget
import traitlets


class Echo(anywidget.AnyWidget):
    """The floor: the page sends a message, the kernel answers by setting a trait."""

    _esm = """
    export default {
      render({ model, el }) {
        el.className = "latency-echo";
        el.textContent = "echo";
        const slider = Object.assign(document.createElement("input"), { type: "range", max: 47 });
        const label = document.createElement("span");
        el.append(slider, label);
        // spinMs: CPU the kernel spends before it answers; moved: a slider and label move first
        window.__latencyEcho = (spinMs = 0, moved = false) => new Promise((resolve) => {
          const start = performance.now();
          const value = model.get("value") + 1;
          if (moved) {
            slider.value = String(value % 48);
            label.textContent = `channel ${value % 48} of 48`;
          }
          const changed = () => {
            model.off("change:value", changed);
            requestAnimationFrame(() => resolve(performance.now() - start));
          };
          model.on("change:value", changed);
          model.send({ value, spin_ms: spinMs });
        });
      },
    };
    """
    value = traitlets.Int(0).tag(sync=True)

    def __init__(self) -> None:
        super().__init__()
        self.on_msg(self._answer)

    def _answer(self, _widget: object, content: dict, _buffers: object) -> None:
        end = time.perf_counter() + content.get("spin_ms", 0) / 1e3
        while time.perf_counter() < end:  # the handler's own work, as CPU time
            pass
        self.value = content["value"]


echo = Echo()
echo'''
IPYMPL_CELL = (
    'import convscope\n\nipympl_explorer = convscope.Explorer(figure="ipympl")\nipympl_explorer'
)
CANVAS_CELL = "canvas_explorer = convscope.Explorer()  # the default path\ncanvas_explorer"

# In-page timing. ``paints(root)`` counts the figure's repaints; ``event`` runs one user input
# and resolves with the milliseconds to the frame after the repaint (null: none in 10 s).
_PAGE_TIMING = """
() => {
  if (window.__latency) return;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const watchers = new Map();
  // One repaint counter per figure, with the promise of the next repaint.
  function watch(root) {
    if (watchers.has(root)) return watchers.get(root);
    const state = { count: 0, waiters: [] };
    const bump = () => {
      state.count += 1;
      for (const resolve of state.waiters.splice(0)) resolve(performance.now());
    };
    const own = root.querySelector("canvas.convscope-figure");
    const box = root.closest(".widget-vbox");
    const ipympl = box && box.querySelector(".jupyter-matplotlib-canvas-div canvas");
    if (ipympl) {
      const context = ipympl.getContext("2d");
      const drawImage = context.drawImage;
      context.drawImage = function (...args) {
        const result = drawImage.apply(this, args);
        bump();
        return result;
      };
    } else if (own) {
      const options = { attributes: true, attributeFilter: ["data-frame", "data-preview"] };
      new MutationObserver(bump).observe(own, options);
    } else {  // an older release: the figure is a PNG in an <img>
      root.querySelector("img.convscope-figure").addEventListener("load", bump);
    }
    watchers.set(root, state);
    return state;
  }
  const nextPaint = (state) => new Promise((resolve) => state.waiters.push(resolve));
  async function settle(root, ackBefore) {
    for (let i = 0; i < 500 && root.dataset.ack === ackBefore; i += 1) await sleep(10);
  }
  const pick = (count, not) => {
    let value = not;
    while (count > 1 && value === not) value = Math.floor(Math.random() * count);
    return value;
  };
  const actions = {
    channel(root) {
      const slider = root.querySelector("input.convscope-channel");
      const value = pick(Number(slider.max) + 1, Number(slider.value));
      slider.value = String(value);
      slider.dispatchEvent(new Event("input", { bubbles: true }));
      slider.dispatchEvent(new Event("change", { bubbles: true }));
    },
    layer(root) {
      const slider = root.querySelector("input.convscope-layer");
      const value = pick(Number(slider.max) + 1, Number(slider.value));
      slider.value = String(value);
      slider.dispatchEvent(new Event("input", { bubbles: true }));
      slider.dispatchEvent(new Event("change", { bubbles: true }));
    },
    next_layer(root) {
      const slider = root.querySelector("input.convscope-layer");
      slider.value = String((Number(slider.value) + 1) % (Number(slider.max) + 1));
      slider.dispatchEvent(new Event("input", { bubbles: true }));
      slider.dispatchEvent(new Event("change", { bubbles: true }));
    },
    thumbnail(root) {
      const others = ".convscope-thumbs button.convscope-thumb:not(.current)";
      const cells = [...root.querySelectorAll(others)];
      cells[Math.floor(Math.random() * cells.length)].click();
    },
    pointed_thumbnail(root) {
      root.__rested.click();
    },
    focused_thumbnail(root) {
      root.__rested.click();  // what Enter does on the focused button
    },
    pad(root) {
      pointer(root, "pointermove", 0.2 + 0.6 * Math.random(), 0.2 + 0.6 * Math.random());
    },
  };
  function pointer(root, kind, x, y) {
    const pad = root.querySelector("canvas.convscope-pad-canvas");
    const box = pad.getBoundingClientRect();
    pad.dispatchEvent(new PointerEvent(kind, {
      clientX: box.left + x * box.width, clientY: box.top + y * box.height, bubbles: true,
      pointerId: 1, pointerType: "mouse", isPrimary: true, buttons: 1,
    }));
  }
  async function newStroke(root) {
    const pad = root.querySelector("details.convscope-pad");
    if (!pad.open) pad.querySelector("summary").click();
    pointer(root, "pointerup", 0.5, 0.5);
    const ackBefore = root.dataset.ack;
    root.querySelector(".convscope-pad-clear").click();
    await settle(root, ackBefore);
    await sleep(200);
    const again = root.dataset.ack;
    pointer(root, "pointerdown", 0.5, 0.5);
    await settle(root, again);
    await sleep(200);
  }
  async function event(root, kind, gapMs) {
    const state = watch(root);
    const ackBefore = root.dataset.ack;
    let acked = null;
    const ackSeen = new MutationObserver(() => {
      if (acked === null && root.dataset.ack !== ackBefore) acked = performance.now();
    });
    ackSeen.observe(root, { attributes: true, attributeFilter: ["data-ack"] });
    const start = performance.now();
    // A move that changes no pixel (dense to dropout, say) paints nothing: give up 1 s after
    // the kernel's ack.
    const giveUp = (async () => {
      await settle(root, ackBefore);
      await sleep(1000);
      return null;
    })();
    const painted = Promise.race([nextPaint(state), giveUp]);
    actions[kind](root);
    const when = await painted;
    let paint = null;
    if (when !== null) {
      await frame();
      paint = performance.now() - start;
    }
    await settle(root, ackBefore);
    ackSeen.disconnect();
    const ack = acked === null ? null : acked - start;
    await sleep(gapMs + Math.random() * 100);
    return { paint, ack, repaint: when === null ? null : when - start };
  }
  async function turnPage(root) {
    const ackBefore = root.dataset.ack;
    root.querySelector(".convscope-page-next").click();
    await settle(root, ackBefore);
    await sleep(200);
  }
  async function restOnThumbnail(root, how) {  // untimed: the pointer or the focus rests there
    const others = ".convscope-thumbs button.convscope-thumb:not(.current)";
    const cells = [...root.querySelectorAll(others)];
    const cell = cells[Math.floor(Math.random() * cells.length)];
    if (how === "pointer") {
      cell.dispatchEvent(new PointerEvent("pointerover", { bubbles: true, pointerType: "mouse" }));
    } else {
      cell.focus({ preventScroll: true });  // as Tab brings it: a focusin
    }
    root.__rested = cell;
    await sleep(150);
  }
  async function run(root, kind, count, gapMs) {
    const results = [];
    for (let i = 0; i < count; i += 1) {
      if (kind.endsWith("thumbnail") && i % 10 === 0) await turnPage(root);
      if (kind === "pointed_thumbnail") await restOnThumbnail(root, "pointer");
      if (kind === "focused_thumbnail") await restOnThumbnail(root, "focus");
      if (kind === "pad" && i % 20 === 0) await newStroke(root);
      results.push(await event(root, kind, gapMs));
    }
    return results;
  }
  async function floor(count, gapMs, spinMs = 0, moved = false) {
    const results = [];
    for (let i = 0; i < count; i += 1) {
      results.push(await window.__latencyEcho(spinMs, moved));
      await sleep(gapMs + Math.random() * 100);
    }
    return results;
  }
  window.__latency = { run, floor, watch };
}
"""

KINDS = ("channel", "layer", "thumbnail", "pointed_thumbnail", "focused_thumbnail", "pad")
BUDGET_MS = (0, 2, 4, 6, 8)  # the echo's kernel handler spins this long, its page moves a slider


def _stats(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, float)
    return {
        "median_ms": float(np.median(array)),
        "p95_ms": float(np.percentile(array, 95)),
        "n": len(array),
    }


def bench_browser(
    events: int = 100, gap_ms: float = 150, *, paths: bool = True
) -> dict[str, object]:
    """Floor, the kernel's budget, and per figure path and kind of event (not when ``paths`` is
    false): median and p95 in ms, and p95 / floor."""
    folder = Path(tempfile.mkdtemp(prefix="convscope-latency-"))
    notebook = write_notebook(folder / "latency.ipynb", [ECHO_CELL, IPYMPL_CELL, CANVAS_CELL])
    env = {
        "CONVSCOPE_MNIST_DIR": os.environ.get("CONVSCOPE_MNIST_DIR", ""),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    results: dict[str, object] = {
        "events_per_kind": events,
        "gap_ms": f"{gap_ms:g}-{gap_ms + 100:g}",
    }
    started = time.monotonic()
    with jupyter_lab_server([notebook], env=env) as server, chromium_page() as page:
        lab = LabNotebook.open(page, server, notebook.name)
        lab.run_all_cells(timeout_ms=240_000)
        page.evaluate(_PAGE_TIMING)
        page.wait_for_function("() => window.__latencyEcho !== undefined")
        cells = page.locator(".jp-Notebook .jp-Cell")
        roots = {
            "canvas": cells.nth(2).locator(".convscope").first,
            "ipympl": cells.nth(1).locator(".convscope").first,
        }
        for root in roots.values():
            root.wait_for(state="visible", timeout=120_000)
        page.wait_for_function(
            "(root) => root.querySelector('canvas.convscope-figure')?.dataset.frame"
            " ?? root.querySelector('img.convscope-figure')?.complete",
            arg=roots["canvas"].element_handle(),
            timeout=60_000,
        )
        cells.nth(0).scroll_into_view_if_needed()
        page.evaluate("(n) => window.__latency.floor(5, 100)", 5)  # warm up
        floor = page.evaluate("([n, gap]) => window.__latency.floor(n, gap)", [events, gap_ms])
        results["floor"] = {**_stats(floor), "events": floor}
        budget: dict[str, object] = {}
        plan = [spin for spin in BUDGET_MS for _ in range(events)]
        np.random.default_rng(0).shuffle(plan)  # interleaved: a slow minute hits every row
        runs: dict[int, list[float]] = {spin: [] for spin in BUDGET_MS}
        for spin in plan:
            runs[spin] += page.evaluate(
                "([gap, spin]) => window.__latency.floor(1, gap, spin, true)", [gap_ms, spin]
            )
        for spin, times in runs.items():
            budget[str(spin)] = {**_stats(times), "events": times}
        results["budget"] = budget
        for path, root in roots.items() if paths else ():
            root.evaluate("(root) => root.scrollIntoView({ block: 'center' })")
            handle = root.element_handle()
            page.evaluate("(root) => window.__latency.watch(root)", handle)
            layers = int(root.locator("input.convscope-layer").get_attribute("max") or 0) + 1
            # First visits: every layer once, on the sample in view (traces included).
            first = page.evaluate(
                "([root, n, gap]) => window.__latency.run(root, 'next_layer', n, gap)",
                [handle, layers, gap_ms],
            )
            entry: dict[str, object] = {
                "first_layer_visits": _stats([r["paint"] for r in first if r["paint"]])
            }
            for kind in KINDS:
                timings = page.evaluate(
                    "([root, kind, n, gap]) => window.__latency.run(root, kind, n, gap)",
                    [handle, kind, events, gap_ms],
                )
                paints = [r["paint"] for r in timings if r["paint"] is not None]
                entry[kind] = {
                    "paint": _stats(paints),
                    "ack": _stats([r["ack"] for r in timings if r["ack"] is not None]),
                    "missed": len(timings) - len(paints),
                    "events": timings,  # every event: ms to the ack, the repaint, the frame after
                }
            results[path] = entry
    floor_p95 = results["floor"]["p95_ms"]  # type: ignore[index]
    for timing in budget.values():
        timing["p95_over_floor"] = timing["p95_ms"] / floor_p95  # type: ignore[index]
    for path in ("ipympl", "canvas") if paths else ():
        for kind in KINDS:
            timing = results[path][kind]["paint"]  # type: ignore[index]
            timing["p95_over_floor"] = timing["p95_ms"] / floor_p95
    results["seconds"] = time.monotonic() - started
    return results


if __name__ == "__main__":
    import json

    # python benchmarks/browser_latency.py [EVENTS] [--budget]: --budget, the floors only
    counts = [int(arg) for arg in sys.argv[1:] if arg.isdigit()]
    found = bench_browser(counts[0] if counts else 20, paths="--budget" not in sys.argv)
    for timing in [found["floor"], *found.get("budget", {}).values()]:  # type: ignore[attr-defined]
        timing.pop("events")
    print(json.dumps(found, indent=2))
