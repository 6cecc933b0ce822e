"""Open the quickstart in Notebook 7 and in Voilà, in headless Chromium, and check the Explorer.

The test suite drives JupyterLab and marimo; Notebook 7 and Voilà are not among its
dependencies. With them installed (``pip install notebook voila``), this runs each on a copy of
``notebooks/quickstart.ipynb``, waits until the Explorer shows its thumbnails and a painted
figure, checks that the sample line answers a click on a thumbnail, and saves a screenshot of
each in ``test-artifacts/hosts/``. Run from the repository root::

    python scripts/check_hosts.py             # or: ... notebook_7, ... voila

It exits non-zero, naming the host, when one does not show a working Explorer.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the browser tests' harness

from playwright.sync_api import Page  # noqa: E402

from jupyter_harness import chromium_page, free_port  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts" / "hosts"
NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"
# What a painted figure is: a canvas of the Explorer with more than 5 % non-white pixels.
PAINTED = """
() => Array.from(document.querySelectorAll("canvas")).some((canvas) => {
  if (!canvas.width || !canvas.height || canvas.closest(".convscope-pad")) return false;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0 && !(data[i] > 245 && data[i + 1] > 245 && data[i + 2] > 245)) inked += 1;
  }
  return inked / (canvas.width * canvas.height) > 0.05;
})
"""


@contextmanager
def _server(command: list[str], url: str, root: Path) -> Iterator[None]:
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter's tools
            command, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited:\n{log.read_text()}")
            if _answers(url):
                break
            time.sleep(0.5)
        yield
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    """Whether ``url`` answers; a bare ``host:port/`` is only connected to, never requested."""
    parts = urllib.parse.urlsplit(url)
    if parts.path in ("", "/"):
        # Voilà runs the notebook in a new kernel for every request of its page: knock only.
        with (
            suppress(OSError),
            socket.create_connection((parts.hostname, parts.port or 80), timeout=2),
        ):
            return True
        return False
    with suppress(OSError), urllib.request.urlopen(url, timeout=2):  # noqa: S310
        return True
    return False


def _check_explorer(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    thumbs = page.locator(".convscope .convscope-thumbs .convscope-thumb")
    try:
        thumbs.first.wait_for(timeout=300_000)
        page.wait_for_function(PAINTED, timeout=120_000)
    except Exception:
        page.screenshot(path=ARTIFACTS / f"{name}-failed.png", full_page=True)
        raise
    thumbs.nth(5).click()
    page.locator(".convscope-sample-text", has_text=re.compile(r"^sample 5\b")).first.wait_for(
        timeout=60_000
    )
    page.locator(".convscope").first.screenshot(path=ARTIFACTS / f"{name}.png")
    print(f"{name}: the Explorer shows thumbnails and a painted figure, and follows a click")


def notebook_7(root: Path) -> None:
    """Run the quickstart's cells in Notebook 7 with its own Run All command."""
    port, token = free_port(), secrets.token_hex(16)
    command = [
        shutil.which("jupyter-notebook") or "jupyter-notebook",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--allow-root",
    ]
    base = f"http://127.0.0.1:{port}/"
    with _server(command, f"{base}api/status?token={token}", root), chromium_page() as page:
        page.goto(f"{base}notebooks/{NOTEBOOK.name}?token={token}")
        try:
            page.wait_for_function(
                "() => window.jupyterapp !== undefined"
                " && document.querySelector('.jp-Notebook .jp-Cell') !== null",
                timeout=180_000,
            )
        except Exception:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=ARTIFACTS / "notebook-7-failed.png", full_page=True)
            raise
        # Run All before the kernel is ready runs nothing.
        page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
            "?.status === 'idle'",
            timeout=180_000,
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        _check_explorer(page, "notebook-7")


def voila(root: Path) -> None:
    """Render the quickstart with Voilà, which runs it and shows only its outputs."""
    port = free_port()
    command = [
        shutil.which("voila") or "voila",
        NOTEBOOK.name,
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
    ]
    url = f"http://127.0.0.1:{port}/"
    with _server(command, url, root), chromium_page() as page:
        page.goto(url, timeout=300_000)
        _check_explorer(page, "voila")


def main() -> None:
    """Check each host in turn; exit non-zero naming those that failed."""
    hosts = [
        host for host in (notebook_7, voila) if host.__name__ in sys.argv[1:] or len(sys.argv) == 1
    ]
    failed = []
    for host in hosts:
        root = Path(tempfile.mkdtemp(prefix=f"convscope-{host.__name__}-"))
        shutil.copy2(NOTEBOOK, root / NOTEBOOK.name)
        try:
            host(root)
        except Exception as error:  # noqa: BLE001 - report every host, then fail
            failed.append(host.__name__)
            print(f"{host.__name__}: FAILED: {error}\n{(root / 'server.log').read_text()[-3000:]}")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if failed:
        sys.exit(f"no working Explorer in: {', '.join(failed)}")


if __name__ == "__main__":
    main()
