"""The ``convscope`` command line: the quickstart picture and the demo's notebooks."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convscope.cli import copy_notebooks, main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.usefixtures("real_mnist")
def test_quickstart_writes_a_feature_map_png(tmp_path: Path) -> None:
    out = tmp_path / "maps.png"
    assert main(["quickstart", "--out", str(out), "--layer", "conv2", "--dpi", "60"]) == 0
    image = np.asarray(Image.open(out).convert("L"))
    assert image.shape[1] == 600  # 10 inches at 60 dpi
    assert image.std() > 20


def test_demo_copies_the_notebooks_without_overwriting(tmp_path: Path) -> None:
    copied = copy_notebooks(tmp_path)
    assert {path.name for path in copied} >= {"quickstart.ipynb", "bring_your_own_model.ipynb"}
    (tmp_path / "quickstart.ipynb").write_text("mine")
    assert copy_notebooks(tmp_path) == []
    assert (tmp_path / "quickstart.ipynb").read_text() == "mine"


def test_demo_run_in_the_repository_leaves_git_status_clean() -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(  # noqa: S603
        [git, "check-ignore", "-q", "convscope-notebooks/quickstart.ipynb"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, "convscope-notebooks/ (the demo's default --dir) is not ignored"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _open_when_listening(
    url: str, server: subprocess.Popen[bytes], log: Path, *, deadline: float
) -> str:
    # jupyter_server 2.x prints its address before its event loop binds the port, so the first
    # connections may be refused; anything else (an HTTP error, the server exiting) fails at once.
    while True:
        try:
            with urllib.request.urlopen(url, timeout=20) as response:  # noqa: S310
                assert response.status == 200
                return str(response.read().decode())
        except urllib.error.URLError as error:  # noqa: PERF203 - a retry loop
            refused = isinstance(error.reason, ConnectionRefusedError)
            if not refused or server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{url}: {error}\n{log.read_text()}") from error
            time.sleep(0.2)


@pytest.mark.slow
def test_demo_prints_an_address_that_opens_the_quickstart(tmp_path: Path) -> None:
    # A machine with no browser: the user copies the printed address, which must open the
    # quickstart notebook itself, not the Launcher.
    log = tmp_path / "demo.log"
    code = "import sys; from convscope.cli import main; sys.exit(main(sys.argv[1:]))"
    args = [
        "demo",
        "--no-browser",
        "--dir",
        str(tmp_path / "notebooks"),
        "--port",
        str(_free_port()),
    ]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    with log.open("w") as out:
        demo = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", code, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # so that JupyterLab, its child, stops with it
        )
    try:
        deadline = time.monotonic() + 60
        while not (url := re.search(r"http://127\.0\.0\.1:\d+/\S+", log.read_text())):
            assert demo.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert "/lab/tree/quickstart.ipynb?token=" in url.group(), url.group()
        page = _open_when_listening(url.group(), demo, log, deadline=time.monotonic() + 60)
        assert '"treePath": "quickstart.ipynb"' in page  # JupyterLab opens this notebook
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=20)


def test_version_is_printed_by_the_command_and_by_python_m(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import convscope

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"convscope {convscope.__version__}"
    # python -m convscope is the same command line, in a fresh interpreter.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "convscope", "--version"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout.strip()) == (0, f"convscope {convscope.__version__}")
    usage = subprocess.run(
        [sys.executable, "-m", "convscope"], capture_output=True, text=True, env=env, check=False
    )
    assert usage.returncode == 2
    assert "usage: convscope" in usage.stderr
    assert "{demo,quickstart,export}" in usage.stderr


@pytest.mark.parametrize("absent", ["jupyterlab", "skimage"])
def test_demo_without_the_extra_names_the_install_command(
    absent: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, absent, None)  # as if it were not installed
    folder = tmp_path / "notebooks"
    assert main(["demo", "--no-browser", "--dir", str(folder)]) == 1
    message = capsys.readouterr().err
    assert 'pip install "convscope[demo]"' in message
    assert f"({absent} missing)" in message
    assert not folder.exists()  # nothing copied, nothing started
