"""The wheel carries everything a fresh install needs: the frontend, the weights, the notebooks."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_frontend_weights_and_notebooks(tmp_path: Path) -> None:
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("convscope-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "convscope/static/widget.js",
        "convscope/static/widget.css",
        "convscope/weights/mnist_cnn.keras",
        "convscope/notebooks/quickstart.ipynb",
        "convscope/notebooks/bring_your_own_model.ipynb",
        "convscope/notebooks/looking_deeper.ipynb",
        "convscope/py.typed",
    } <= names
    # No data in the wheel: MNIST and the training replay are fetched or made at run time.
    assert not [n for n in names if "ubyte" in n or n.endswith(".npz")]
    source = (ROOT / "js" / "widget.js").read_text()
    assert zipfile.ZipFile(wheel).read("convscope/static/widget.js").decode() == source
