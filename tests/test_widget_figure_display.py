"""Where the figure goes: the canvas inside the widget in every host; ipympl when asked for."""

from __future__ import annotations

import io
import sys

import keras
import numpy as np
import pytest
from PIL import Image

import convscope
from convscope.widget.figure_display import choose_mode

HOSTS = {
    "jupyterlab": {"JPY_SESSION_NAME": "/home/me/quickstart.ipynb"},
    "vscode-desktop": {"VSCODE_PID": "4242", "VSCODE_CWD": "/home/me"},
    "vscode-remote": {"VSCODE_IPC_HOOK_CLI": "/run/user/1000/vscode-ipc.sock"},
    "vscode-terminal": {"TERM_PROGRAM": "vscode"},
    "none": {},
}


@pytest.mark.parametrize("environ", HOSTS.values(), ids=HOSTS.keys())
def test_every_host_gets_the_canvas_path(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    monkeypatch.delenv("CONVSCOPE_FIGURE", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert choose_mode("auto") == "png"
    assert choose_mode() == "png"


def test_colab_gets_the_canvas_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVSCOPE_FIGURE", raising=False)
    monkeypatch.setitem(sys.modules, "google.colab", sys.modules[__name__])
    assert choose_mode("auto") == "png"


def test_ipympl_and_the_environment_still_choose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVSCOPE_FIGURE", raising=False)
    assert choose_mode("ipympl") == "ipympl"
    monkeypatch.setenv("CONVSCOPE_FIGURE", "ipympl")
    assert choose_mode("auto") == "ipympl"


def _decoded(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_each_ipympl_frame_is_the_whole_figure(
    model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    """ipympl's page drops a frame that arrives before the previous one has loaded; a diff
    painted over the frame before the lost one leaves stale pixels. Whole frames cannot."""
    images, labels = mnist_test
    explorer = convscope.Explorer(model, images[:50], labels[:50], figure="ipympl")
    canvas = explorer.figure.canvas
    sent: list[bytes] = []
    canvas.send_binary = sent.append  # what would go to the page, in order
    canvas.syncing_data_url = False  # as once ipympl's page has said "initialized"
    for change in ({"sample": 7}, {"channel": 5}, {"layer": "conv2"}, {"sample": 8}):
        explorer.update(**change)
        assert sent, f"{change}: no frame was sent"
        frame = _decoded(sent[-1])
        # Not one pixel left transparent, as a diff's unchanged ones are: the last frame alone
        # is the figure, whatever happened to the frames before it.
        np.testing.assert_array_equal(frame, np.asarray(canvas.buffer_rgba()), str(change))
    assert len(sent) == 4
