"""Import TensorFlow once, quietly, and make sure Keras runs on it.

convscope's engine is written against TensorFlow (compiled ``tf.function`` calls, gradient
tapes), so Keras's JAX and PyTorch backends are refused by name at first use, before they fail
deep inside with Keras's own errors. How the import stays quiet: :mod:`convscope.tensorflow_logs`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from convscope.errors import BackendNotSupportedError
from convscope.tensorflow_logs import (
    LOG_LEVEL_ENV,
    QUIET_LEVEL,
    keep_log_lines,
    min_level,
    stderr_filtered,
    uninstall_quiet_import,
)

__all__ = [
    "BACKEND_ENV",
    "LOG_LEVEL_ENV",
    "QUIET_LEVEL",
    "import_tensorflow",
    "keep_log_lines",
    "refuse_other_backend_by_name",
    "require_tensorflow_backend",
]

BACKEND_ENV = "KERAS_BACKEND"


def import_tensorflow() -> None:
    """Import TensorFlow, keeping its load-time C++ logs below ``TF_CPP_MIN_LOG_LEVEL`` quiet.

    A level the user has set is kept; otherwise it becomes 3 (only fatal messages).
    """
    level = min_level()
    if "tensorflow" in sys.modules:
        return
    uninstall_quiet_import()  # this import filters itself
    with stderr_filtered(level):
        import tensorflow as tf  # noqa: F401, PLC0415


def refuse_other_backend_by_name() -> None:
    """Raise if ``KERAS_BACKEND`` names a backend other than TensorFlow.

    Checked before TensorFlow's seconds of loading, and before Keras is imported: Keras cannot
    even import on a backend whose package is missing.

    Raises
    ------
    BackendNotSupportedError
        Naming the backend and what to set instead.

    """
    named = os.environ.get(BACKEND_ENV, "").strip()
    if named and named != "tensorflow":
        raise BackendNotSupportedError(_backend_message(named, f"{BACKEND_ENV}={named}"))


def require_tensorflow_backend() -> None:
    """Raise unless Keras runs (or will run) on TensorFlow.

    After :func:`refuse_other_backend_by_name`, Keras itself is asked, which also covers a
    backend chosen in ``keras.json`` or a Keras imported earlier with another backend.

    Raises
    ------
    BackendNotSupportedError
        Naming the backend found and what to set instead.

    """
    refuse_other_backend_by_name()
    try:
        import keras  # noqa: PLC0415
    except ImportError:
        configured = _configured_backend()
        if configured not in {None, "tensorflow"}:
            raise BackendNotSupportedError(
                _backend_message(str(configured), "the backend in keras.json")
            ) from None
        raise
    found = str(keras.backend.backend())
    if found != "tensorflow":
        raise BackendNotSupportedError(_backend_message(found, "Keras's configuration"))


def _configured_backend() -> str | None:
    """Return the backend named in Keras's ``keras.json``; ``None`` if it names none."""
    home = Path(os.environ.get("KERAS_HOME", Path("~/.keras").expanduser()))
    try:
        config = json.loads((home / "keras.json").read_text())
    except (OSError, ValueError):
        return None
    backend = config.get("backend") if isinstance(config, dict) else None
    return backend if isinstance(backend, str) else None


def _backend_message(backend: str, where: str) -> str:
    return (
        f"convscope needs Keras's TensorFlow backend, but Keras is set to {backend!r} "
        f"({where}). Set the environment variable {BACKEND_ENV}=tensorflow before Keras is "
        f"first imported: in a notebook, run `%env {BACKEND_ENV}=tensorflow` in the first "
        "cell after restarting the kernel; in a shell, `export KERAS_BACKEND=tensorflow`."
    )
