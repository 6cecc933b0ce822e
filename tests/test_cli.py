"""The ``convscope`` command line: the quickstart picture and the demo's notebooks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convscope.cli import copy_notebooks, main


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
