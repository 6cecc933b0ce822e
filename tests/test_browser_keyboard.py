"""Keys pressed in the Explorer stay in the Explorer, in a real JupyterLab.

With focus on any of the widget's controls, JupyterLab's command-mode keys (``d d`` deletes a
cell, ``a``/``b`` insert one, ``x`` cuts, ``z`` undoes, ``m``/``y`` change a cell's type, ↑/↓
select another cell) must leave the notebook alone, while ←/→ still step through the samples
and chords such as Ctrl+S still reach JupyterLab. Tab and Shift+Tab walk through every control
in order, each with a visible ring, and out again. One notebook shows two Explorers: one on
ipympl's canvas (``figure="ipympl"``), and the default one, whose figure is a canvas inside the
widget in every host.

Found while writing this: Lumino honours ``data-lm-suppress-shortcuts`` on an ancestor of the
focused element only for shortcuts whose selector does not match the element itself, and the
notebook's command-mode selectors end in ``:focus``, which does. The attribute has to be on
every focusable element, and it then stops every shortcut, Ctrl+S included.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from playwright.sync_api import Locator, Page

from jupyter_harness import LabNotebook, chromium_page, jupyter_lab_server
from test_browser import ARTIFACTS, _require_chromium

pytestmark = pytest.mark.browser

NOTEBOOK = "keyboard.ipynb"
SETUP = """\
import convscope
print(convscope.__file__)
images, labels = convscope.load_mnist("test")
lab = convscope.Explorer(images=images[:200], labels=labels[:200], figure="ipympl")
lab"""
COMMAND_MODE_KEYS = ("d", "d", "a", "b", "x", "z", "m", "y", "ArrowUp", "ArrowDown")
CONTROLS = (
    ".convscope",
    "input.convscope-layer",
    "input.convscope-channel",
    "button.convscope-prev",
    "button.convscope-next",
    "button.convscope-play",
    "select.convscope-filter-true",
    "select.convscope-filter-pred",
    "input.convscope-misclassified",
    "select.convscope-cmap",
    "select.convscope-norm",
    "button.convscope-thumb >> nth=0",
    "button.convscope-thumb >> nth=7",
    "button.convscope-page-prev",
    "button.convscope-page-next",
)


def _notebook(folder: Path) -> Path:
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Keys stay in the widget"),
            new_code_cell(SETUP),
            new_code_cell(
                "png = convscope.Explorer(images=images[:200], labels=labels[:200])  # default\npng"
            ),
            new_markdown_cell("The end."),
            new_code_cell("1 + 1"),
        ]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = folder / NOTEBOOK
    nbformat.write(notebook, path)
    return path


class Lab:
    """The notebook, read through JupyterLab's own model, as a user would see it."""

    def __init__(self, page: Page, notebook: LabNotebook) -> None:
        self.page, self.notebook = page, notebook

    def cells(self) -> list[str]:
        """Each cell's type, in order, as the page shows them."""
        return self.page.evaluate(
            """(path) => {
              const notebook = window.__convscope.panel(path).content.node;
              return [...notebook.querySelectorAll(".jp-Cell")].map((cell) =>
                ["Code", "Markdown", "Raw"]
                  .find((kind) => cell.classList.contains(`jp-${kind}Cell`))
                  ?.toLowerCase());
            }""",
            NOTEBOOK,
        )

    def execution_count(self, cell: int) -> int | None:
        return self.page.evaluate(
            "([path, i]) => window.__convscope.panel(path).content.widgets[i].model.executionCount",
            [NOTEBOOK, cell],
        )

    def active_cell(self) -> int:
        return self.page.evaluate(
            "(path) => window.__convscope.panel(path).content.activeCellIndex", NOTEBOOK
        )

    def dirty(self) -> bool:
        return self.page.evaluate(
            "(path) => window.__convscope.panel(path).context.model.dirty", NOTEBOOK
        )

    def explorer(self, index: int) -> Locator:
        return self.page.locator(".jp-OutputArea-output .convscope").nth(index)


@pytest.fixture(scope="module")
def lab(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    _require_chromium()
    notebook = _notebook(tmp_path_factory.mktemp("keyboard"))
    env = {"CONVSCOPE_MNIST_DIR": str(mnist_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with jupyter_lab_server([notebook], env=env) as server, chromium_page() as page:
        opened = LabNotebook.open(page, server, NOTEBOOK)
        opened.run_all_cells(timeout_ms=120_000)
        lab = Lab(page, opened)
        for index in (0, 1):
            lab.explorer(index).locator(".convscope-thumb").first.wait_for()
        yield lab
        page.screenshot(path=ARTIFACTS / "keyboard-last.png")


def _sample(explorer: Locator) -> int:
    return int(explorer.locator(".convscope-sample-text").inner_text().split()[1])


def _wait_for_sample(explorer: Locator, sample: int) -> None:
    explorer.locator(".convscope-sample-text").filter(
        has_text=re.compile(rf"^sample {sample}\b")
    ).wait_for(timeout=30_000)


def _wait_for_another_sample(explorer: Locator, sample: int) -> int:
    """Wait until the widget shows a sample other than ``sample`` (the next one that passes
    the filters, which the keys above may have changed); return it."""
    explorer.locator(".convscope-sample-text").filter(
        has_not_text=re.compile(rf"^sample {sample}\b")
    ).wait_for(timeout=30_000)
    return _sample(explorer)


def test_the_kernel_runs_this_checkout(lab: Lab) -> None:
    printed = lab.page.locator(".jp-OutputArea-output pre").first.inner_text()
    assert printed.strip() == str(
        Path(__file__).resolve().parent.parent / "src/convscope/__init__.py"
    )


@pytest.mark.parametrize("which", [0, 1], ids=["ipympl", "png"])
def test_command_mode_keys_never_reach_the_notebook(lab: Lab, which: int) -> None:
    page, explorer = lab.page, lab.explorer(which)
    cells = lab.cells()
    assert cells == ["markdown", "code", "code", "markdown", "code"]
    controls = [*CONTROLS, "canvas.convscope-figure"] if which == 1 else CONTROLS
    for selector in controls:
        control = explorer.locator(selector) if selector != ".convscope" else explorer
        control.focus()
        active = lab.active_cell()
        assert active == which + 1, f"focus on {selector} did not select the widget's cell"
        for key in COMMAND_MODE_KEYS:
            page.keyboard.press(key)
        time.sleep(0.3)  # `d d` fires on the second `d`; give a stray command time to land
        assert lab.cells() == cells, f"keys on {selector} changed the notebook's cells"
        assert lab.active_cell() == active, f"↑/↓ on {selector} selected another cell"
    assert lab.notebook.page_errors == []


def test_arrows_step_from_the_png_figure_and_move_the_sliders(lab: Lab) -> None:
    page, explorer = lab.page, lab.explorer(1)
    figure = explorer.locator("canvas.convscope-figure")
    figure.scroll_into_view_if_needed()
    figure.click()
    start = _sample(explorer)
    page.keyboard.press("ArrowRight")
    assert _wait_for_another_sample(explorer, start) > start
    page.keyboard.press("ArrowLeft")
    _wait_for_sample(explorer, start)
    slider = explorer.locator("input.convscope-channel")
    slider.focus()
    channel = int(slider.input_value())
    page.keyboard.press("ArrowRight" if channel == 0 else "ArrowLeft")
    label = explorer.locator(".convscope-channel + .convscope-value")
    label.filter(
        has_text=re.compile(rf"^channel {1 if channel == 0 else channel - 1} of")
    ).wait_for()
    assert _sample(explorer) == start  # the slider took the arrow, not the sample


def test_arrows_step_from_the_ipympl_canvas(lab: Lab) -> None:
    """A click on the ipympl canvas focuses ipympl's element, a sibling of our controls: its
    keys go to matplotlib in the kernel, which the Explorer listens to."""
    page, explorer = lab.page, lab.explorer(0)
    canvas = page.locator(".jupyter-matplotlib-canvas-div").first
    canvas.scroll_into_view_if_needed()
    canvas.click()
    start, cells = _sample(explorer), lab.cells()
    page.keyboard.press("ArrowRight")
    assert _wait_for_another_sample(explorer, start) > start
    for key in COMMAND_MODE_KEYS:
        page.keyboard.press(key)  # ipympl keeps these from the notebook itself
    time.sleep(0.3)
    assert lab.cells() == cells


TAB_STOPS = (  # in the order of the page, each a control a keyboard user must reach
    "input.convscope-layer",
    "input.convscope-channel",
    "button.convscope-prev",
    "button.convscope-play",
    "button.convscope-next",
    "input.convscope-compare",
    "select.convscope-view",
    ".convscope-pad summary",
    ".convscope-panel summary",
    "select.convscope-filter-true",
    "select.convscope-cmap",
    "select.convscope-norm",
    "button.convscope-gif",
    "button.convscope-thumb >> nth=0",
    "button.convscope-thumb >> nth=-1",
    "button.convscope-page-prev",
    "button.convscope-page-next",
    ".convscope-confusion summary",
)
FOCUSED = """(box) => {
  const element = document.activeElement;
  if (!box.contains(element)) return null;
  window.__walk = (window.__walk ?? 0) + 1;
  element.dataset.walk = element.dataset.walk ?? String(window.__walk);
  const style = getComputedStyle(element);
  return [element.dataset.walk, element.className, style.outlineStyle, style.outlineWidth];
}"""


def _walk(page: Page, box: Locator, key: str, limit: int = 400) -> list[list[str]]:
    """Press ``key`` until the focus leaves ``box``; return each element it stopped on."""
    stops = []
    for _ in range(limit):
        page.keyboard.press(key)
        stop = page.evaluate(FOCUSED, box.element_handle())
        if stop is None:
            return stops
        stops.append(stop)
    pytest.fail(f"{key}: {limit} presses, still in the widget (a trap), at {stops[-3:]}")


@pytest.mark.parametrize("which", [0, 1], ids=["ipympl", "png"])
def test_tab_walks_through_every_control_and_out_again(lab: Lab, which: int) -> None:
    page, explorer = lab.page, lab.explorer(which)
    box = explorer.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-output')]")
    page.evaluate("() => { window.__walk = 0; }")
    # From the cell: its output area, just around the widget (tabindex -1: not itself a stop).
    box.locator("xpath=..").evaluate("(node) => { node.tabIndex = -1; node.focus(); }")
    forward = _walk(page, box, "Tab")
    first = ".jupyter-matplotlib-canvas-div" if which == 0 else ".convscope"
    assert first.lstrip(".") in forward[0][1].split()  # the figure (ipympl) or the widget
    names = [stop[0] for stop in forward]
    assert len(set(names)) == len(names), "Tab came back to a control: a loop"
    order = [int(box.locator(stop).first.get_attribute("data-walk") or 0) for stop in TAB_STOPS]
    assert all(order), dict(zip(TAB_STOPS, order, strict=True))  # each one reached...
    assert order == sorted(order), dict(zip(TAB_STOPS, order, strict=True))  # ...in order
    rings = {(style, width) for _, _, style, width in forward}
    assert rings == {("solid", "2px")}, forward  # a visible ring on every one
    # Back from the last control: the same stops in reverse, and out at the top.
    box.locator(f'[data-walk="{forward[-1][0]}"]').focus()
    backward = _walk(page, box, "Shift+Tab")
    assert [stop[0] for stop in backward] == names[-2::-1]
    assert lab.cells() == ["markdown", "code", "code", "markdown", "code"]


def _press(page: Page, key: str, times: int) -> None:
    for _ in range(times):
        page.keyboard.press(key)
        page.wait_for_timeout(30)  # faster than the kernel answers


def _position(explorer: Locator) -> tuple[int, int]:
    """The layer's index and the channel the sliders show."""
    return (
        int(explorer.locator("input.convscope-layer").input_value()),
        int(explorer.locator("input.convscope-channel").input_value()),
    )


@pytest.mark.parametrize(
    ("which", "on"),
    [(0, ".convscope-sample-text"), (0, "figure"), (1, ".convscope-sample-text")],
    ids=["ipympl-controls", "ipympl-canvas", "png"],
)
def test_every_press_counts_at_30_ms(lab: Lab, which: int, on: str) -> None:
    page, explorer = lab.page, lab.explorer(which)
    target = (
        page.locator(".jupyter-matplotlib-canvas-div").first
        if on == "figure"
        else explorer.locator(on)
    )
    target.scroll_into_view_if_needed()
    explorer.locator("input.convscope-layer").evaluate(  # conv1, channel 0, by its slider
        "(s) => { s.value = '1'; s.dispatchEvent(new Event('input', { bubbles: true })); }"
    )
    lab.notebook.wait_for_kernel_idle()
    explorer.locator("input.convscope-channel").evaluate(
        "(s) => { s.value = '0'; s.dispatchEvent(new Event('input', { bubbles: true })); }"
    )
    lab.notebook.wait_for_kernel_idle()
    assert _position(explorer) == (1, 0)
    target.click(position={"x": 5, "y": 5})
    expected = [
        ("ArrowUp", 10, (1, 10)),
        ("ArrowDown", 3, (1, 7)),
        ("ArrowUp", 30, (1, 23)),  # conv1 has 24 channels: it stops at the last
        ("PageDown", 3, (4, 23)),  # conv1 → pool1 → conv2 → pool2, the channel kept
        ("PageUp", 9, (0, 0)),  # to the first layer, whose one channel is 0
    ]
    for key, times, position in expected:
        _press(page, key, times)
        lab.notebook.wait_for_kernel_idle()
        page.wait_for_function(
            "([el, want]) => [el.querySelector('input.convscope-layer').value,"
            " el.querySelector('input.convscope-channel').value].join() === want.join()",
            arg=[explorer.element_handle(), [str(p) for p in position]],
            timeout=10_000,
        )
        assert _position(explorer) == position, f"{times} × {key}"
    assert not explorer.locator(".convscope-error").is_visible()


def test_ctrl_s_still_saves_from_inside_the_widget(lab: Lab) -> None:
    page, slider = lab.page, lab.explorer(1).locator("input.convscope-channel")
    page.evaluate(  # make the notebook dirty without touching its cells
        "(path) => window.__convscope.panel(path).context.model.dirty = true", NOTEBOOK
    )
    slider.focus()
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "(path) => !window.__convscope.panel(path).context.model.dirty", arg=NOTEBOOK
    )
    page.wait_for_timeout(50)
    assert slider.get_attribute("data-lm-suppress-shortcuts") == "true"  # back after the chord


def test_keyboard_focus_is_visible_in_jupyterlab(lab: Lab) -> None:
    page, explorer = lab.page, lab.explorer(1)
    explorer.locator("input.convscope-layer").focus()
    page.keyboard.press("Tab")  # to the channel slider, by keyboard
    style = page.evaluate(
        """() => {
          const style = getComputedStyle(document.activeElement);
          return [document.activeElement.className, style.outlineStyle, style.outlineWidth];
        }"""
    )
    assert style == ["convscope-channel", "solid", "2px"]


def test_shift_enter_still_runs_the_cell(lab: Lab) -> None:
    """Last: it runs the PNG Explorer's cell again, which replaces that widget."""
    page, slider = lab.page, lab.explorer(1).locator("input.convscope-channel")
    runs = lab.execution_count(2)
    slider.focus()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        "([path, runs]) => window.__convscope.panel(path).content.widgets[2].model.executionCount"
        " > runs",
        arg=[NOTEBOOK, runs],
        timeout=60_000,
    )
    assert lab.active_cell() == 3  # run and select the next cell, as anywhere in the notebook
    assert lab.cells() == ["markdown", "code", "code", "markdown", "code"]
