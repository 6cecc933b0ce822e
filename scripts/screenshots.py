"""Screenshots of today's Explorer in a real JupyterLab, for the README: one command.

Run from the repository root, after any change to the widget's controls::

    python scripts/screenshots.py

It starts JupyterLab in headless Chromium through the browser tests' harness
(``tests/jupyter_harness.py``, so it needs the ``[test]`` extra and Debian's Chromium), opens
one notebook, drives the widget as a user would and writes, downscaled to at most 820 px wide
and palette-quantised (256 colours), into ``docs/images/``:

- ``explorer-jupyterlab.png``: the whole widget, conv2 channel 5 on test digit 42;
- ``explorer-panel.png``: the same with the channel panel open;
- ``explorer-draw.png``: a 0 drawn on the drawing pad with the mouse;
- ``explorer-dark.png``: the widget in JupyterLab's dark theme;
- ``explorer-insight.png``: the training replay at epoch 0 (the first run trains it, about a
  minute, then it is read back from convscope's cache);
- ``explorer-live.png``: the untrained CNN after ``ex.fit`` on the offline digits (two epochs,
  about a minute): the training row, its curves and conv1's trained maps;
- ``export.png``: a small ``export_html`` file opened from ``file://`` in the same Chromium,
  with no kernel.

The pictures show the 10,000 MNIST test digits: point ``CONVSCOPE_MNIST_DIR`` at them (``.ci/run``
does). Without them it stops, rather than picture the 500 offline digits under the README's
words about the test set. The static figures come from ``scripts/make_readme_images.py``.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the browser tests' harness

from playwright.sync_api import Locator, Page  # noqa: E402

from jupyter_harness import (  # noqa: E402
    LabNotebook,
    chromium_page,
    jupyter_lab_server,
    save_small_png,
    write_notebook,
)
from real_mnist import find_real_mnist  # noqa: E402

OUT = ROOT / "docs" / "images"
MAX_BYTES = 250_000  # each picture; the README loads all of them
CELLS = (
    (
        "import convscope\n"
        "explorer = convscope.Explorer()\n"
        'explorer.update(layer="conv2", channel=5, sample=42)\n'
        "explorer"
    ),
    (
        'images, labels = convscope.load_mnist("test")\n'
        "replay = convscope.Explorer(convscope.mnist_training_run(), images, labels)\n"
        'replay.update(layer="conv1", sample=0)\n'
        "replay.epoch = 0\n"
        "replay"
    ),
    (
        "from convscope.data.mnist import offline_digits\n"
        'x, y = offline_digits("train")\n'
        'shown, labels = offline_digits("test")\n'
        "live = convscope.Explorer(convscope.mnist_cnn(pretrained=False), shown, labels)\n"
        'live.layer = "conv1"\n'
        "live"
    ),
)
LIVE_FIT = (
    "live.fit(x[..., None], y, epochs=2, validation_data=(shown[..., None], labels))\nlive.wait()"
)
# A 0 drawn with the mouse: an ellipse through these points, fractions of the pad.
ZERO = [
    (0.5 + 0.2 * np.cos(angle), 0.5 + 0.3 * np.sin(angle))
    for angle in np.linspace(-np.pi / 2, 1.6 * np.pi, 24)
]
# Every canvas of a widget, hashed, to see when it has stopped changing.
CANVASES_HASH = """
(output) => Array.from(output.querySelectorAll("canvas"))
  .filter((canvas) => canvas.width > 0 && canvas.height > 0)
  .map((canvas) => window.__convscope.fingerprint(canvas)).join("|")
"""


def main() -> None:
    """Write the widget's screenshots into docs/images."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNG files")
    out = parser.parse_args().out
    found = find_real_mnist()
    if isinstance(found, str):
        sys.exit(f"No screenshots: {found}.")
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="convscope-shots-"))
    notebook = write_notebook(work / "screenshots.ipynb", CELLS)
    env = {**found.env, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with (
        jupyter_lab_server([notebook], env=env) as server,
        chromium_page(viewport=(1400, 2400)) as page,
    ):
        lab = LabNotebook.open(page, server, notebook.name)
        lab.run_all_cells(timeout_ms=300_000)
        explorer, replay, live = (_widget(page, index) for index in (0, 1, 2))
        _settle(page, lab, explorer)
        _save(page, explorer, out / "explorer-jupyterlab.png")

        explorer.locator(".convscope-panel summary").click()
        explorer.locator(".convscope-panel-thumbs .convscope-thumb").first.wait_for(timeout=90_000)
        _settle(page, lab, explorer)
        _save(page, explorer, out / "explorer-panel.png")
        explorer.locator(".convscope-panel summary").click()

        _draw_zero(page, explorer)
        _settle(page, lab, explorer)
        _save(page, explorer, out / "explorer-draw.png")
        explorer.locator("button.convscope-pad-clear").click()
        explorer.locator(".convscope-pad summary").click()
        lab.run_code('explorer.update(layer="conv2", channel=5, sample=42)')

        page.evaluate(
            "() => window.jupyterapp.commands.execute("
            "'apputils:change-theme', { theme: 'JupyterLab Dark' })"
        )
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        _settle(page, lab, explorer)
        _save(page, explorer, out / "explorer-dark.png")
        page.evaluate(
            "() => window.jupyterapp.commands.execute("
            "'apputils:change-theme', { theme: 'JupyterLab Light' })"
        )
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")

        _settle(page, lab, replay)
        _save(page, replay, out / "explorer-insight.png")

        lab.run_code(LIVE_FIT, timeout_ms=600_000)
        _settle(page, lab, live)
        _save(page, live, out / "explorer-live.png")

        lesson = work / "lesson.html"
        lab.run_code(
            f'explorer.export_html({str(lesson)!r}, samples=range(10), layers=["conv1", "conv2"])',
            timeout_ms=300_000,
        )
        page.goto(lesson.as_uri())
        exported = page.locator("body")
        exported.locator(".convscope .convscope-thumbs .convscope-thumb").first.wait_for()
        page.wait_for_timeout(1000)  # the first frame is painted from the file's tables
        _save(page, exported, out / "export.png")
    print(f"wrote {sorted(path.name for path in out.glob('*.png'))} in {out}")


def _widget(page: Page, index: int) -> Locator:
    """Return the output of the ``index``-th Explorer: its figure (either path), its controls."""
    output = page.locator(".jp-OutputArea-output:has(.convscope)").nth(index)
    output.locator(".convscope .convscope-thumbs .convscope-thumb").first.wait_for(timeout=300_000)
    return output


def _settle(page: Page, lab: LabNotebook, output: Locator, quiet_ms: int = 1500) -> None:
    """Wait until the kernel is idle and no canvas of ``output`` has changed for ``quiet_ms``."""
    page.evaluate("() => document.fonts.ready")
    lab.wait_for_kernel_idle(120_000)
    output.scroll_into_view_if_needed()
    before = output.evaluate(CANVASES_HASH)
    for _ in range(120):
        page.wait_for_timeout(quiet_ms)
        after = output.evaluate(CANVASES_HASH)
        if after == before:
            return
        before = after
    raise RuntimeError("the widget never stopped changing")


def _draw_zero(page: Page, output: Locator) -> None:
    pad = output.locator(".convscope-pad")
    if not pad.evaluate("(details) => details.open"):
        pad.locator("summary").click()
    canvas = pad.locator("canvas.convscope-pad-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    if box is None:
        raise RuntimeError("the drawing pad is not visible")
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in ZERO]
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=2)
    page.mouse.up()
    output.locator(".convscope-pad.drawn").wait_for(timeout=30_000)


def _save(page: Page, output: Locator, path: Path) -> None:
    """Screenshot the widget (figure and controls, not the output's empty width), small."""
    parts = output.locator(".convscope, .jupyter-matplotlib-canvas-div")
    boxes = [box for box in (parts.nth(i).bounding_box() for i in range(parts.count())) if box]
    margin = 6
    left = min(box["x"] for box in boxes) - margin
    top = min(box["y"] for box in boxes) - margin
    right = max(box["x"] + box["width"] for box in boxes) + margin
    bottom = max(box["y"] + box["height"] for box in boxes) + margin
    png = page.screenshot(
        clip={"x": left, "y": top, "width": right - left, "height": bottom - top},
        full_page=True,
        animations="disabled",
        caret="hide",
    )
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    size = save_small_png(pixels, path, colours=256)  # 128 lose the pink of a misread caption
    if size > MAX_BYTES:
        raise RuntimeError(f"{path} is {size:,} bytes, over {MAX_BYTES:,}")
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {size:,} bytes")


if __name__ == "__main__":
    main()
