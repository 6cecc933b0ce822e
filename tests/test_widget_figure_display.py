"""Where the figure goes: ipympl in JupyterLab, PNG in VS Code however it runs the kernel."""

from __future__ import annotations

import pytest

from convscope.widget import figure_display
from convscope.widget.figure_display import choose_mode, in_vscode

SIGNALS = [
    {"VSCODE_PID": "4242"},  # desktop VS Code
    {"VSCODE_CWD": "/home/me"},  # desktop, and WSL kernels that lack VSCODE_PID
    {"VSCODE_IPC_HOOK": "/run/user/1000/vscode.sock"},
    {"VSCODE_IPC_HOOK_CLI": "/run/user/1000/vscode-ipc.sock"},  # Remote-SSH, WSL, dev containers
    {"VSCODE_AGENT_FOLDER": "/home/me/.vscode-server"},  # the VS Code server
    {"TERM_PROGRAM": "vscode"},  # started from VS Code's terminal
]


@pytest.fixture
def jupyter_kernel(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A kernel with no frontend hint at all: its environment and namespace are ours to set."""
    for name in ("CONVSCOPE_FIGURE", "JPY_SESSION_NAME", "TERM_PROGRAM"):
        monkeypatch.delenv(name, raising=False)
    for name in figure_display._VSCODE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    namespace: dict[str, object] = {}
    monkeypatch.setattr(figure_display, "_in_kernel", lambda: True)
    monkeypatch.setattr(figure_display, "_user_namespace", lambda: namespace)
    return namespace


def test_a_plain_jupyter_kernel_gets_ipympl(jupyter_kernel: dict[str, object]) -> None:
    assert choose_mode("auto") == "ipympl"


@pytest.mark.parametrize("environ", SIGNALS, ids=lambda environ: next(iter(environ)))
def test_vscode_is_recognised_by_its_environment(
    jupyter_kernel: dict[str, object], monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert choose_mode("auto") == "png"


def test_vscode_is_recognised_by_the_notebook_path_it_defines(
    jupyter_kernel: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kernel VS Code started on a remote Jupyter server: no VSCODE_ variables, but the
    # extension's startup code defines the notebook's path.
    monkeypatch.setenv("JPY_SESSION_NAME", "/srv/notebooks/explore.ipynb")
    jupyter_kernel["__vsc_ipynb_file__"] = "/srv/notebooks/explore.ipynb"
    assert choose_mode("auto") == "png"


def test_jupyterlab_started_from_vscodes_terminal_keeps_ipympl(
    jupyter_kernel: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits VS Code's variables, but JupyterLab's page shows it.
    for environ in SIGNALS:
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/quickstart.ipynb")
    assert choose_mode("auto") == "ipympl"


def test_in_vscode_reads_what_it_is_given() -> None:
    assert not in_vscode({}, {})
    assert in_vscode({"VSCODE_CWD": "/"}, {})
    assert in_vscode({}, {"__vsc_ipynb_file__": "a.ipynb"})
    assert not in_vscode({"TERM_PROGRAM": "iTerm.app"}, {})
