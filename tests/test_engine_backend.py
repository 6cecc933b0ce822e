"""Keras on JAX or PyTorch is refused at first use, by name, with what to set instead.

JAX and PyTorch are not installed here, and Keras cannot even import on a backend whose package
is missing, so these tests cover a backend chosen before Keras loads (``KERAS_BACKEND`` or
``keras.json``). The check that asks an already imported Keras (``keras.backend.backend()``)
runs in every other test, on TensorFlow, where it must let everything through.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Three first uses, each caught, so one Python process shows that every entry point refuses
# (a failed import of the engine must not leave a half-made module that fails differently).
FIRST_USES = """
import convscope
for use in ("mnist_cnn()", "Explorer()", "get_activations(None, None)"):
    try:
        eval("convscope." + use)
    except convscope.ConvscopeError as error:
        print(type(error).__name__, "|", error)
import sys
print("tensorflow loaded |", "tensorflow" in sys.modules)
"""


def _first_uses(env: dict[str, str]) -> list[str]:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", FIRST_USES], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines()


def _env(**changes: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    return {**env, **changes}


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_keras_backend_variable_other_than_tensorflow_is_refused_at_first_use(
    backend: str,
) -> None:
    *lines, loaded = _first_uses(_env(KERAS_BACKEND=backend))
    assert loaded == "tensorflow loaded | False"  # refused at once, not after seconds of loading
    assert len(lines) == 3, lines
    for line in lines:
        name, message = line.split(" | ")
        assert name == "BackendNotSupportedError"
        assert f"Keras is set to {backend!r}" in message
        assert "KERAS_BACKEND=tensorflow" in message


def test_a_backend_chosen_in_keras_json_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "torch"}))
    *lines, _ = _first_uses(_env(KERAS_HOME=str(tmp_path)))
    assert len(lines) == 3, lines
    assert all(line.startswith("BackendNotSupportedError | ") for line in lines)
    assert "'torch' (the backend in keras.json)" in lines[0]


def test_the_tensorflow_backend_named_explicitly_works(tmp_path: Path) -> None:
    code = "import convscope; print(convscope.mnist_cnn().name)"
    env = _env(KERAS_BACKEND="tensorflow", CONVSCOPE_CACHE_DIR=str(tmp_path))
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "mnist_cnn"
