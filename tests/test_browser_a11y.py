"""The Explorer with a screen reader and in dark themes, in a real JupyterLab in headless Chromium.

axe-core (the copy that the ``axe-playwright-python`` package ships) checks everything inside
the widget in JupyterLab's light and dark themes, and again with JupyterLab's ``--jp-*``
variables taken away, as in Colab, VS Code or marimo, in a light and a dark colour scheme: no
serious or critical violation. The controls are checked by the names a screen reader says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import axe_playwright_python
import pytest
from playwright.sync_api import Locator, Page

from jupyter_harness import (
    LabNotebook,
    chromium_page,
    jupyter_lab_server,
    screenshot,
    write_notebook,
)
from test_browser import ARTIFACTS, _require_chromium

pytestmark = pytest.mark.browser

AXE_SCRIPT = Path(axe_playwright_python.__file__).parent / "axe.min.js"
BLOCKING = ("serious", "critical")
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
# What JupyterLab defines and Colab, VS Code and marimo do not: the widget's CSS falls back
# from each of these to its own colours.
JP_VARIABLES = (
    "--jp-ui-font-family",
    "--jp-ui-font-color1",
    "--jp-ui-font-color2",
    "--jp-layout-color1",
    "--jp-layout-color2",
    "--jp-brand-color1",
)
NOTEBOOK_CELLS = (
    "import convscope\nexplorer = convscope.Explorer()\nexplorer",
    # Every thumbnail a misread digit (the red caption), sample B shown, the channel set.
    (
        "explorer.filter(misclassified=True)\n"
        'explorer.update(layer="conv2", channel=5, compare=int(explorer.filtered_samples[1]))'
    ),
)

# The contrast of an element's text on the first opaque background behind it (WCAG 2.x).
CONTRAST = """
(element) => {
  const parse = (colour) => {
    const numbers = colour.match(/[\\d.]+/g).map(Number);
    return { rgb: numbers.slice(0, 3), alpha: numbers.length > 3 ? numbers[3] : 1 };
  };
  let node = element;
  let background = { rgb: [255, 255, 255], alpha: 1 };
  while (node && node.nodeType === 1) {
    const found = parse(getComputedStyle(node).backgroundColor);
    if (found.alpha > 0.99) { background = found; break; }
    node = node.parentElement;
  }
  const text = parse(getComputedStyle(element).color);
  const rgb = text.rgb.map((v, i) => v * text.alpha + background.rgb[i] * (1 - text.alpha));
  const luminance = (values) => {
    const [r, g, b] = values.map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [high, low] = [luminance(rgb), luminance(background.rgb)].sort((a, b) => b - a);
  return (high + 0.05) / (low + 0.05);
}
"""


@dataclass
class Widget:
    """The notebook's page and the Explorer's controls in it."""

    page: Page
    lab: LabNotebook
    controls: Locator


@pytest.fixture(scope="module")
def widget(mnist_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Widget]:
    _require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    notebook = write_notebook(tmp_path_factory.mktemp("a11y") / "a11y.ipynb", NOTEBOOK_CELLS)
    env = {**mnist_env, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with jupyter_lab_server([notebook], env=env) as server, chromium_page() as page:
        lab = LabNotebook.open(page, server, notebook.name)
        lab.run_all_cells(timeout_ms=180_000)
        controls = page.locator(".jp-OutputArea-output .convscope").first
        controls.locator(".convscope-thumb.compared").wait_for(timeout=90_000)
        lab.wait_for_kernel_idle()
        yield Widget(page, lab, controls)


def _set_theme(widget: Widget, theme: str) -> None:
    widget.page.evaluate(
        "(theme) => window.jupyterapp.commands.execute('apputils:change-theme', { theme })",
        THEMES[theme],
    )
    light = "true" if theme == "light" else "false"
    widget.page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === light", arg=light, timeout=30_000
    )
    widget.page.wait_for_function("() => document.fonts.status === 'loaded'")
    widget.page.wait_for_timeout(500)  # the theme's stylesheet is applied on the next frames


def _show_everything(widget: Widget) -> None:
    """Open the widget's folded parts and arm "pick B", so that axe sees every control."""
    for part in ("panel", "confusion", "pad"):
        details = widget.controls.locator(f".convscope-{part}")
        if details.is_visible() and details.get_attribute("open") is None:
            details.locator("summary").click()
    widget.controls.locator(".convscope-confusion-table button").first.wait_for(timeout=60_000)
    pick = widget.controls.locator(".convscope-compare-pick")
    if pick.get_attribute("aria-pressed") != "true":
        pick.click()


def _blocking_violations(widget: Widget) -> list[str]:
    """Run axe-core on the widget; describe each serious or critical violation inside it."""
    page = widget.page
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    results = page.evaluate(
        "() => window.axe.run(document.querySelector('.jp-OutputArea-output .convscope'),"
        " { resultTypes: ['violations'] })"
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}: "
        + "; ".join(f"{node['target']} {node['failureSummary']}" for node in violation["nodes"])
        for violation in results["violations"]
        if violation["impact"] in BLOCKING
    ]


def _misread_caption_contrast(widget: Widget) -> float:
    caption = widget.controls.locator(".convscope-thumbs .convscope-thumb.wrong span").first
    return float(caption.evaluate(CONTRAST))


def test_controls_have_names_a_screen_reader_can_say(widget: Widget) -> None:
    controls = widget.controls
    for name in ("previous sample", "play", "next sample", "stop comparing", "next page"):
        assert controls.get_by_role("button", name=name, exact=True).count() == 1, name
    for name in ("view", "compare mode"):
        assert controls.get_by_role("combobox", name=name, exact=True).count() == 1, name
    # The symbols alone are no names: no button is called "◀", "▶" or "✕".
    for symbol in ("◀", "▶", "✕", "‹", "›"):
        assert controls.get_by_role("button", name=symbol, exact=True).count() == 0, symbol
    thumbnail = controls.locator(".convscope-thumbs .convscope-thumb").first
    assert re.fullmatch(r"sample \d+: .+", thumbnail.get_attribute("aria-label") or "")
    # The sample line is announced when it changes, politely.
    assert controls.locator(".convscope-sample-text").get_attribute("aria-live") == "polite"


def test_the_sliders_say_the_layer_and_the_channel(widget: Widget) -> None:
    layer = widget.controls.locator("input.convscope-layer")
    channel = widget.controls.locator("input.convscope-channel")
    assert (layer.get_attribute("aria-valuetext") or "").startswith("conv2")
    assert channel.get_attribute("aria-valuetext") == "channel 5 of 48, layer conv2"
    channel.focus()
    widget.page.keyboard.press("ArrowRight")
    assert channel.get_attribute("aria-valuetext") == "channel 6 of 48, layer conv2"
    widget.lab.wait_for_kernel_idle()
    layer.focus()
    widget.page.keyboard.press("ArrowRight")  # conv2 -> pool2, the same 48 channels
    assert (layer.get_attribute("aria-valuetext") or "").startswith("pool2")
    widget.controls.locator("input.convscope-channel[aria-valuetext$='layer pool2']").wait_for(
        timeout=30_000
    )
    widget.lab.wait_for_kernel_idle()


def test_the_play_button_says_what_it_will_do(widget: Widget) -> None:
    play = widget.controls.locator(".convscope-play")
    play.click()
    try:
        assert play.get_attribute("aria-label") == "pause"
    finally:
        play.click()
    assert play.get_attribute("aria-label") == "play"
    widget.lab.wait_for_kernel_idle()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_serious_violation_in_jupyterlab_themes(widget: Widget, theme: str) -> None:
    _set_theme(widget, theme)
    _show_everything(widget)
    widget.controls.scroll_into_view_if_needed()
    screenshot(widget.controls, ARTIFACTS / f"a11y-jupyterlab-{theme}.png")
    assert _misread_caption_contrast(widget) >= 4.5
    violations = _blocking_violations(widget)
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_violation_without_jupyterlab_variables(widget: Widget, scheme: str) -> None:
    # A host such as Colab or VS Code: a page of the scheme's colour, which says its scheme
    # only through prefers-color-scheme, and no --jp-* variable.
    _set_theme(widget, scheme)
    page = widget.page
    page.emulate_media(color_scheme=scheme)
    unset = " ".join(f"{name}: initial;" for name in JP_VARIABLES)
    style = page.evaluate_handle(
        """(unset) => {
          const style = document.createElement("style");
          style.textContent = `.convscope { ${unset} }`;
          document.head.append(style);
          document.body.removeAttribute("data-jp-theme-light");
          return style;
        }""",
        unset,
    )
    try:
        _show_everything(widget)
        colour = widget.controls.evaluate("(root) => getComputedStyle(root).color")
        expected = "rgb(31, 35, 40)" if scheme == "light" else "rgb(230, 237, 243)"
        assert colour == expected, "the widget did not fall back to its own colours"
        screenshot(widget.controls, ARTIFACTS / f"a11y-no-jp-variables-{scheme}.png")
        assert _misread_caption_contrast(widget) >= 4.5
        violations = _blocking_violations(widget)
        assert not violations, "\n".join(violations)
    finally:
        style.evaluate("(style) => style.remove()")
        page.evaluate(
            "(light) => document.body.setAttribute('data-jp-theme-light', light)",
            "true" if scheme == "light" else "false",
        )
        page.emulate_media(color_scheme=None)
