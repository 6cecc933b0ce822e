"""Drive a real JupyterLab in headless Chromium: the browser tests and benchmarks share this.

A typical session::

    with jupyter_lab_server([NOTEBOOKS / "quickstart.ipynb"]) as server:
        with chromium_page() as page:
            lab = LabNotebook.open(page, server, "quickstart.ipynb")
            lab.run_all_cells()
            explorer = lab.wait_for_explorer()
            before = screenshot(explorer.figure)
            drag_slider(page, explorer.layer_slider, 5)
            explorer.wait_until_settled()

Nothing here touches the network: JupyterLab's news, update checks and extension manager are
off, and Chromium runs with its background networking disabled. JupyterLab's user settings,
workspaces and config live in a temporary folder, so the developer's own settings never leak in.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
from PIL import Image
from playwright.sync_api import Locator, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Without these Chromium keeps trying to reach Google's services on a closed network.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
OUTLINE_RGB = (0xFF, 0x2D, 0x55)  # the selected channel's outline, #ff2d55

# User settings for a quiet, deterministic JupyterLab: no news or update toasts, and every
# cell attached to the DOM so widgets below the fold render like the ones above it.
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}
_DISABLED_PLUGINS = ("@jupyterlab/apputils-extension:announcements",)

# In-page helpers, defined once per page. ``fingerprint`` hashes every pixel of a canvas so
# that any repaint, however small, is seen; ``kernelStatus`` reads the notebook kernel's status.
_PAGE_HELPERS = """
() => {
  if (window.__convscope) return;
  const fingerprint = (canvas) => {
    const context = canvas.getContext("2d");
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
    let hash = 0x811c9dc5;
    for (let i = 0; i < words.length; i += 1) hash = Math.imul(hash ^ words[i], 16777619);
    return `${canvas.width}x${canvas.height}:${hash >>> 0}`;
  };
  // A cheap fingerprint for timing loops: three rows and three columns of pixels, so that
  // checking every animation frame does not itself load the machine being measured.
  const probe = (canvas) => {
    const context = canvas.getContext("2d");
    const { width, height } = canvas;
    let hash = 0x811c9dc5;
    for (const fraction of [0.25, 0.5, 0.75]) {
      for (const data of [
        context.getImageData(0, Math.floor(height * fraction), width, 1).data,
        context.getImageData(Math.floor(width * fraction), 0, 1, height).data,
      ]) {
        for (let i = 0; i < data.length; i += 1) hash = Math.imul(hash ^ data[i], 16777619);
      }
    }
    return hash >>> 0;
  };
  const inked = (canvas) => {
    if (!canvas.width || !canvas.height) return 0;
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      const white = data[i] > 245 && data[i + 1] > 245 && data[i + 2] > 245;
      if (data[i + 3] > 0 && !white) count += 1;
    }
    return count / (canvas.width * canvas.height);
  };
  const panel = (path) => {
    const app = window.jupyterapp;
    if (!app) return null;
    return Array.from(app.shell.widgets("main")).find((w) => w.context && w.context.path === path)
      ?? null;
  };
  const kernelStatus = (path) => panel(path)?.sessionContext?.session?.kernel?.status ?? "none";
  window.__convscope = { fingerprint, probe, inked, panel, kernelStatus };
}
"""


# ----- the server ----------------------------------------------------------------------------
@dataclass
class JupyterServer:
    """A running JupyterLab server started by :func:`jupyter_lab_server`.

    Attributes
    ----------
    base_url : str
        ``http://127.0.0.1:PORT/``.
    token : str
        The server's authentication token.
    root_dir : pathlib.Path
        The folder the server serves; holds the copied notebooks and whatever they write.
    log_path : pathlib.Path
        The server's (and its kernels') combined stdout and stderr.
    process : subprocess.Popen
        The server process, leader of its own process group.

    """

    base_url: str
    token: str
    root_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def lab_url(self, path: str) -> str:
        """Return the URL that opens ``path`` (relative to the root) in JupyterLab."""
        return f"{self.base_url}lab/tree/{path}?token={self.token}&reset"

    def log_text(self) -> str:
        """Return what the server has logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_json(path: Path, content: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))


def _lab_command(port: int, token: str, root: Path) -> list[str]:
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        *as_root,  # containers and CI runners often run as root
    ]


@contextmanager
def jupyter_lab_server(
    notebooks: Iterable[Path],
    *,
    env: Mapping[str, str] | None = None,
    drop_env: Iterable[str] = ("MPLBACKEND",),
    startup_timeout: float = 90.0,
) -> Iterator[JupyterServer]:
    """Start JupyterLab on a free local port in a temporary root holding copies of ``notebooks``.

    Parameters
    ----------
    notebooks : iterable of pathlib.Path
        Notebooks to copy into the server's root folder.
    env : mapping, optional
        Extra environment for the server and so for its kernels (``CONVSCOPE_MNIST_DIR``...).
    drop_env : iterable of str
        Variables of this process not to pass on; ``MPLBACKEND=Agg`` (set for the unit tests)
        would stop the notebooks' inline figures.
    startup_timeout : float
        Seconds to wait for the server to answer.

    Yields
    ------
    JupyterServer
        The running server; on exit it is shut down, kernels included, and the folder removed.

    Raises
    ------
    RuntimeError
        If the server exits or does not answer in time; the message ends with its log.

    """
    workdir = Path(tempfile.mkdtemp(prefix="convscope-lab-"))
    root = workdir / "root"
    root.mkdir()
    for notebook in notebooks:
        shutil.copy2(notebook, root / Path(notebook).name)
    config_dir = workdir / "config"
    settings_dir = workdir / "settings"
    for name, values in _LAB_SETTINGS.items():
        _write_json(settings_dir / f"{name}.jupyterlab-settings", values)
    _write_json(
        config_dir / "labconfig" / "page_config.json",
        {"disabledExtensions": dict.fromkeys(_DISABLED_PLUGINS, True)},
    )
    _write_json(config_dir / "jupyter_server_config.json", {"LabApp": {"news_url": None}})

    server_env = {key: value for key, value in os.environ.items() if key not in set(drop_env)}
    server_env.update(env or {})
    server_env.update(
        {
            "JUPYTER_CONFIG_DIR": str(config_dir),
            "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
            "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
            "JUPYTER_DATA_DIR": str(workdir / "data"),  # notebook signatures and secrets
            "IPYTHONDIR": str(workdir / "ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    port, token = free_port(), secrets.token_hex(16)
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            _lab_command(port, token, root),
            cwd=root,
            env=server_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = JupyterServer(f"http://127.0.0.1:{port}/", token, root, log_path, process)
    try:
        _wait_until_answering(server, startup_timeout)
        yield server
    finally:
        stop_server(server)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_until_answering(server: JupyterServer, timeout: float) -> None:
    url = f"{server.base_url}api/status?token={server.token}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {server.process.returncode}:\n{server.log_text()}"
            )
        with suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            if response.status == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(
        f"JupyterLab did not answer on {server.base_url} in {timeout:.0f} s:\n{server.log_text()}"
    )


def stop_server(server: JupyterServer, timeout: float = 15.0) -> None:
    """Shut ``server`` down with its kernels; kill whatever is left of its processes.

    Kernels run in sessions of their own, so killing the server's process group would orphan
    them: the server is first asked to shut down (which stops its kernels), then told with
    SIGTERM, and any descendant still alive after ``timeout`` seconds is killed.
    """
    process = server.process
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    if process.poll() is None:
        request = urllib.request.Request(  # noqa: S310 - local http
            f"{server.base_url}api/shutdown?token={server.token}", method="POST"
        )
        with suppress(OSError, urllib.error.URLError):
            urllib.request.urlopen(request, timeout=5).close()  # noqa: S310
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
    _, alive = psutil.wait_procs(descendants, timeout=timeout)
    for leftover in alive:
        with suppress(psutil.NoSuchProcess):
            leftover.kill()
    with suppress(ProcessLookupError):  # anything else that stayed in the server's group
        os.killpg(process.pid, signal.SIGKILL)


# ----- the browser ---------------------------------------------------------------------------
@contextmanager
def chromium_page(
    *,
    executable: Path = CHROMIUM,
    viewport: tuple[int, int] = (1400, 1100),
    default_timeout_ms: float = 30_000,
    device_scale_factor: float = 1,
) -> Iterator[Page]:
    """Launch headless Chromium (network-quiet flags, fresh profile) and yield one page.

    Parameters
    ----------
    executable : pathlib.Path
        The Chromium binary; Playwright's own downloads are not used.
    viewport : (width, height)
        CSS pixels.
    device_scale_factor : float
        Device pixels per CSS pixel: 1 by default, so screenshots map 1:1 onto the figure;
        2 for a HiDPI screen.
    default_timeout_ms : float
        Playwright's default timeout for actions and waits.

    Yields
    ------
    playwright.sync_api.Page

    """
    home = Path(tempfile.mkdtemp(prefix="convscope-chromium-"))
    # Chromium keeps crash reports and dconf caches under XDG folders, not in its profile.
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home)}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=list(CHROMIUM_ARGS), env=env
        )
        try:
            context = browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]},
                device_scale_factor=device_scale_factor,
            )
            page = context.new_page()
            page.set_default_timeout(default_timeout_ms)
            yield page
            context.close()
        finally:
            browser.close()
            shutil.rmtree(home, ignore_errors=True)


# ----- the notebook and the Explorer ---------------------------------------------------------
@dataclass
class ExplorerHandles:
    """Locators of one rendered Explorer: its figure and its anywidget controls.

    Attributes
    ----------
    box : Locator
        What a user sees as "the widget": the output holding the controls, whose first part is
        the figure (the default canvas path); with ``figure="ipympl"``, the VBox holding
        ipympl's canvas above the controls.
    figure : Locator
        The figure: the widget's ``canvas.convscope-figure``, or ipympl's canvas area (its
        ``.jupyter-matplotlib-canvas-div``).
    canvas : Locator
        The canvas the figure is painted on (ipympl draws rubber bands on a second one).
    controls : Locator
        The anywidget root, ``.convscope``.
    page_errors : list of str
        Uncaught exceptions in the page since the notebook was opened (kept up to date).

    """

    page: Page
    path: str
    box: Locator
    figure: Locator
    canvas: Locator
    controls: Locator
    page_errors: list[str] = field(default_factory=list)

    @property
    def layer_slider(self) -> Locator:
        """The layer slider."""
        return self.controls.locator("input.convscope-layer")

    @property
    def channel_slider(self) -> Locator:
        """The channel slider."""
        return self.controls.locator("input.convscope-channel")

    @property
    def thumbnails(self) -> Locator:
        """The sample picker's thumbnail buttons of the current page (not the channel panel's)."""
        return self.controls.locator(".convscope-thumbs > button.convscope-thumb")

    @property
    def sample_text(self) -> Locator:
        """The sample description (index, label, prediction)."""
        return self.controls.locator(".convscope-sample-text")

    @property
    def error_banner(self) -> Locator:
        """The error banner; hidden while there is no error."""
        return self.controls.locator(".convscope-error")

    def widget_pixels(self, margin: int = 4) -> np.ndarray:
        """Screenshot figure and controls together, cropped to them (the box is wider)."""
        boxes = [part.bounding_box() for part in (self.figure, self.controls)]
        assert all(boxes), "the Explorer is not visible"
        left = min(box["x"] for box in boxes) - margin
        top = min(box["y"] for box in boxes) - margin
        right = max(box["x"] + box["width"] for box in boxes) + margin
        bottom = max(box["y"] + box["height"] for box in boxes) + margin
        png = self.page.screenshot(
            clip={"x": left, "y": top, "width": right - left, "height": bottom - top},
            animations="disabled",
            caret="hide",
        )
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    def fingerprint(self) -> str:
        """Return a hash of every pixel of the figure canvas."""
        return self.canvas.evaluate("(canvas) => window.__convscope.fingerprint(canvas)")

    def wait_until_settled(
        self, changed_from: str | None = None, quiet_ms: float = 1000, timeout_ms: float = 30_000
    ) -> bool:
        """Wait until the figure stops changing and the kernel is idle.

        Parameters
        ----------
        changed_from : str, optional
            A :meth:`fingerprint` taken before the action; the figure must first differ from it.
        quiet_ms : float
            How long the figure must stay unchanged, with the kernel idle, to count as settled.
        timeout_ms : float
            Give up after this long.

        Returns
        -------
        bool
            Whether it settled (and changed, when ``changed_from`` is given) in time; the caller
            asserts, so that a test failure says what the user would have seen.

        """
        return bool(
            self.canvas.evaluate(
                """async (canvas, [path, before, quietMs, timeoutMs]) => {
                  const { fingerprint, kernelStatus } = window.__convscope;
                  const start = performance.now();
                  let last = fingerprint(canvas);
                  let changed = before === null || last !== before;
                  let quietSince = performance.now();
                  while (performance.now() - start < timeoutMs) {
                    await new Promise((resolve) => requestAnimationFrame(resolve));
                    const now = fingerprint(canvas);
                    if (now !== last || kernelStatus(path) !== "idle") {
                      quietSince = performance.now();
                    }
                    last = now;
                    changed = changed || now !== before;
                    if (changed && performance.now() - quietSince >= quietMs) return true;
                  }
                  return false;
                }""",
                [self.path, changed_from, quiet_ms, timeout_ms],
            )
        )


class LabNotebook:
    """One notebook open in JupyterLab, driven through the app's own command registry.

    ``window.jupyterapp`` (exposed by the server flag ``expose_app_in_browser``) is the app the
    user clicks on; its commands are what the menus and shortcuts run, without depending on
    menu layout or keyboard focus.
    """

    def __init__(self, page: Page, path: str) -> None:
        self.page = page
        self.path = path
        self.page_errors: list[str] = []
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    @classmethod
    def open(
        cls, page: Page, server: JupyterServer, path: str, timeout_ms: float = 60_000
    ) -> LabNotebook:
        """Load JupyterLab on ``path`` and wait until its kernel is ready."""
        notebook = cls(page, path)
        page.goto(server.lab_url(path), wait_until="domcontentloaded", timeout=timeout_ms)
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=timeout_ms)
        page.evaluate("() => window.jupyterapp.restored")
        page.evaluate(_PAGE_HELPERS)
        page.wait_for_function(
            "(path) => window.__convscope.panel(path) !== null", arg=path, timeout=timeout_ms
        )
        page.evaluate(
            """async (path) => {
              const panel = window.__convscope.panel(path);
              await panel.context.ready;
              await panel.sessionContext.ready;
              window.jupyterapp.shell.collapseLeft();
              window.jupyterapp.shell.activateById(panel.id);
            }""",
            path,
        )
        notebook.wait_for_kernel_idle(timeout_ms)
        return notebook

    def wait_for_kernel_idle(self, timeout_ms: float = 60_000) -> None:
        """Wait until the notebook's kernel reports ``idle``."""
        self.page.wait_for_function(
            "(path) => window.__convscope.kernelStatus(path) === 'idle'",
            arg=self.path,
            timeout=timeout_ms,
        )

    def run_all_cells(self, timeout_ms: float = 120_000) -> list[dict[str, object]]:
        """Run every cell (Run ▸ Run All Cells) and wait until all have finished.

        Returns
        -------
        list of dict
            Per code cell: ``execution_count`` and the ``errors`` it raised (``ename: evalue``).

        Raises
        ------
        AssertionError
            If a cell raised; the message names the cell and the error.

        """
        self.page.evaluate(
            """(path) => {
              const panel = window.__convscope.panel(path);
              window.jupyterapp.shell.activateById(panel.id);
              window.__convscopeRun = undefined;
              window.jupyterapp.commands.execute("notebook:run-all-cells").then(
                (ok) => { window.__convscopeRun = { ok: Boolean(ok) }; },
                (error) => { window.__convscopeRun = { ok: false, error: String(error) }; },
              );
            }""",
            self.path,
        )
        self.page.wait_for_function("() => window.__convscopeRun !== undefined", timeout=timeout_ms)
        self.wait_for_kernel_idle(timeout_ms)
        cells = self.code_cells()
        failures = [f"cell {i}: {cell['errors']}" for i, cell in enumerate(cells) if cell["errors"]]
        assert not failures, "notebook cells raised:\n" + "\n".join(failures)
        return cells

    def run_code(self, code: str, timeout_ms: float = 60_000) -> None:
        """Run ``code`` in the notebook's kernel, outside any cell, and wait until it is done.

        Raises
        ------
        AssertionError
            If the code raised; the message gives the error.

        """
        error = self.page.evaluate(
            """async ([path, code]) => {
              const kernel = window.__convscope.panel(path).sessionContext.session.kernel;
              let error = null;
              const future = kernel.requestExecute({ code, store_history: false });
              future.onIOPub = (message) => {
                if (message.header.msg_type === "error") {
                  error = `${message.content.ename}: ${message.content.evalue}`;
                }
              };
              await future.done;
              return error;
            }""",
            [self.path, code],
        )
        assert error is None, f"{code!r} raised {error}"
        self.wait_for_kernel_idle(timeout_ms)

    def code_cells(self) -> list[dict[str, object]]:
        """Return each code cell's execution count and errors, read from the notebook model."""
        return self.page.evaluate(
            """(path) => window.__convscope.panel(path).content.widgets
                 .filter((cell) => cell.model.type === "code")
                 .map((cell) => ({
                   execution_count: cell.model.executionCount,
                   errors: cell.model.outputs.toJSON()
                     .filter((output) => output.output_type === "error")
                     .map((output) => `${output.ename}: ${output.evalue}`),
                 }))""",
            self.path,
        )

    def wait_for_explorer(self, timeout_ms: float = 60_000) -> ExplorerHandles:
        """Wait until an Explorer shows controls and a painted (not blank) figure.

        Returns
        -------
        ExplorerHandles
            Locators of the first Explorer in the notebook, on whichever figure path it is.

        """
        page = self.page
        output = page.locator(".jp-OutputArea-output:has(.convscope)").first
        either = ".jupyter-matplotlib-canvas-div, canvas.convscope-figure:visible"
        output.locator(either).first.wait_for(state="visible", timeout=timeout_ms)
        if output.locator(".jupyter-matplotlib-canvas-div").count():  # figure="ipympl"
            box = output.locator(".widget-vbox:has(.convscope)").first
            figure = box.locator(".jupyter-matplotlib-canvas-div").first
            canvas = figure.locator("canvas").first
        else:  # the default: the figure is a canvas inside the widget
            box = output
            figure = canvas = output.locator("canvas.convscope-figure").first
        controls = box.locator(".convscope").first
        for part in (controls, figure):
            part.wait_for(state="visible", timeout=timeout_ms)
        page.wait_for_function(
            "(canvas) => window.__convscope.inked(canvas) > 0.05",
            arg=canvas.element_handle(),
            timeout=timeout_ms,
        )
        return ExplorerHandles(page, self.path, box, figure, canvas, controls, self.page_errors)


# An input made in the page's own task, and what the figure's canvas held right after it:
# nothing from the kernel can have come in between.
SLIDE_JS = """(canvas, [value, which]) => {
  const slider = canvas.closest('.convscope').querySelector(`input.convscope-${which}`);
  const frame = canvas.dataset.frame;
  slider.value = String(value);
  slider.dispatchEvent(new Event('input', { bubbles: true }));
  return { frame, after: canvas.dataset.frame, preview: canvas.dataset.preview ?? null,
           png: canvas.toDataURL('image/png') };
}"""
CLICK_JS = """(button) => {
  const canvas = button.closest('.convscope').querySelector('canvas.convscope-figure');
  button.click();
  return { preview: canvas.dataset.preview ?? null, png: canvas.toDataURL('image/png') };
}"""


def canvas_rgb(data_url: str) -> np.ndarray:
    """A canvas's own pixels from its ``toDataURL()`` (no screenshot, no resampling), RGB."""
    png = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def write_notebook(path: Path, cells: Iterable[str]) -> Path:
    """Write a notebook of code cells (no outputs) to ``path``; return ``path``."""
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{index}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for index, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    _write_json(path, notebook)
    return path


# ----- interaction ---------------------------------------------------------------------------
def drag_slider(page: Page, slider: Locator, value: int, steps: int = 8) -> int:
    """Drag a range input's thumb with the mouse to ``value``; return the value it ended on.

    The mouse goes down on the thumb, moves in ``steps`` increments to where ``value`` should
    be, then nudges pixel by pixel (button still down) until the input reads ``value``, and goes
    up. Every move fires ``input`` events exactly as a user's drag would.
    """
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    assert box is not None, "the slider is not visible"
    low, high, current = slider.evaluate(
        "(s) => [Number(s.min || 0), Number(s.max || 100), Number(s.value)]"
    )
    thumb = 16.0  # Chromium's default thumb width; the nudging below corrects any difference
    span = box["width"] - thumb

    def x_of(position: float) -> float:
        fraction = (position - low) / (high - low) if high > low else 0.0
        return box["x"] + thumb / 2 + fraction * span

    y = box["y"] + box["height"] / 2
    page.mouse.move(x_of(current), y)
    page.mouse.down()
    x = x_of(value)
    page.mouse.move(x, y, steps=steps)
    reading = int(slider.evaluate("(s) => Number(s.value)"))
    for _ in range(int(span)):
        if reading == value:
            break
        x += 1 if reading < value else -1
        page.mouse.move(x, y)
        reading = int(slider.evaluate("(s) => Number(s.value)"))
    page.mouse.up()
    return reading


def measure_slider_latency(
    slider: Locator, canvas: Locator, value: int, timeout_ms: float = 30_000
) -> dict[str, float | None]:
    """Milliseconds from a slider's ``input`` event to the kernel's answer and to new pixels.

    The input is dispatched in the page, which then checks on every animation frame whether
    the Explorer's ``data-ack`` attribute moved (the kernel applied the change and sent its
    state) and whether the canvas pixels changed (the new frame was painted; three rows and
    three columns of pixels are compared, so the check itself stays cheap). The paint time
    includes the round trip to the kernel, the figure's render, ipympl's image transfer and
    the blit. For a benchmark: alternate between values and let the figure settle in between.

    Returns
    -------
    dict
        ``ack_ms`` and ``paint_ms``; ``None`` for what did not happen within ``timeout_ms``.

    """
    return slider.evaluate(
        """async (slider, [canvas, value, timeoutMs]) => {
          const { probe } = window.__convscope;
          const root = slider.closest(".convscope");
          const before = probe(canvas);
          const ackBefore = root.dataset.ack;
          const start = performance.now();
          let ack = null;
          slider.value = String(value);
          slider.dispatchEvent(new Event("input", { bubbles: true }));
          slider.dispatchEvent(new Event("change", { bubbles: true }));
          while (performance.now() - start < timeoutMs) {
            await new Promise((resolve) => requestAnimationFrame(resolve));
            if (ack === null && root.dataset.ack !== ackBefore) ack = performance.now() - start;
            if (probe(canvas) !== before) {
              return { ack_ms: ack, paint_ms: performance.now() - start };
            }
          }
          return { ack_ms: ack, paint_ms: null };
        }""",
        [canvas.element_handle(), value, timeout_ms],
    )


# ----- pixels --------------------------------------------------------------------------------
def screenshot(locator: Locator, path: Path | None = None) -> np.ndarray:
    """Screenshot an element as an ``(H, W, 3)`` ``uint8`` array, optionally saving the PNG.

    The shot is cropped to the element's size rounded to whole pixels: at a fractional scroll
    offset Playwright rounds outwards, and a 450 px figure would come back 451 px high.
    """
    box = locator.bounding_box()
    png = locator.screenshot(animations="disabled", caret="hide")
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    if box is not None:
        picture = picture.crop((0, 0, round(box["width"]), round(box["height"])))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(path)
    return np.asarray(picture)


def changed_fraction(before: np.ndarray, after: np.ndarray, threshold: int = 24) -> float:
    """Fraction of pixels whose colour moved by more than ``threshold`` in any channel."""
    assert before.shape == after.shape, f"shapes differ: {before.shape} vs {after.shape}"
    delta = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=-1)
    return float((delta > threshold).mean())


def colour_bbox(
    image: np.ndarray, rgb: tuple[int, int, int] = OUTLINE_RGB, tolerance: int = 40
) -> tuple[int, int, int, int] | None:
    """Bounding box ``(x0, y0, x1, y1)`` (inclusive) of the pixels close to ``rgb``.

    Parameters
    ----------
    image : np.ndarray
        ``(H, W, 3)`` or ``(H, W, 4)`` ``uint8`` screenshot.
    rgb : (int, int, int)
        The colour to find; by default the Explorer's channel outline, #ff2d55.
    tolerance : int
        Largest per-channel difference still counted as that colour (anti-aliasing).

    Returns
    -------
    tuple of int or None
        The box, or ``None`` when no pixel matches.

    """
    distance = np.abs(image[..., :3].astype(np.int16) - np.asarray(rgb, np.int16)).max(axis=-1)
    rows, columns = np.nonzero(distance <= tolerance)
    if rows.size == 0:
        return None
    return int(columns.min()), int(rows.min()), int(columns.max()), int(rows.max())


def save_small_png(image: np.ndarray, path: Path, max_width: int = 820, colours: int = 128) -> int:
    """Save ``image`` downscaled to ``max_width`` and palette-quantised; return its byte size."""
    picture = Image.fromarray(image)
    if picture.width > max_width:
        height = round(picture.height * max_width / picture.width)
        picture = picture.resize((max_width, height), Image.Resampling.LANCZOS)
    picture = picture.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path, optimize=True)
    return path.stat().st_size
