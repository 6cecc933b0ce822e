"""Import TensorFlow once, quietly, and make sure Keras runs on it.

convscope's engine is written against TensorFlow (compiled ``tf.function`` calls, gradient
tapes), so Keras's JAX and PyTorch backends are refused by name at first use, before they fail
deep inside with Keras's own errors.

Without its C++ start-up logs in the user's first notebook output:

TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` only after it has loaded: what its libraries log while
loading (CUDA probing on a machine with no GPU, CPU features, absl's "All log messages before
absl::InitializeLog()") goes to standard error whatever the level says. So the import runs with
file descriptor 2 caught, and the caught lines are replayed if the level lets them through.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from convscope.errors import BackendNotSupportedError

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
BACKEND_ENV = "KERAS_BACKEND"
QUIET_LEVEL = "3"  # errors too: "failed call to cuInit" is logged as an error on every CPU machine

# C++ log lines: absl's "I0000 00:00:1795468586.618725 1647 file.cc:31] ..." and the older
# TSL form "2025-09-17 14:44:05.157831: I external/file.cc:32] ...".
_LOG_LINE = re.compile(r"^(?:[\d-]+ [\d:.]+: (?P<tsl>[IWEF]) |(?P<absl>[IWEF])\d{4} \d\d:\d\d:)")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}


def import_tensorflow() -> None:
    """Import TensorFlow, keeping its load-time C++ logs below ``TF_CPP_MIN_LOG_LEVEL`` quiet.

    A level the user has set is kept; otherwise it becomes 3 (only fatal messages).
    """
    os.environ.setdefault(LOG_LEVEL_ENV, QUIET_LEVEL)
    if "tensorflow" in sys.modules:
        return
    with _stderr_filtered(_min_level()):
        import tensorflow as tf  # noqa: F401, PLC0415


def require_tensorflow_backend() -> None:
    """Raise unless Keras runs (or will run) on TensorFlow.

    ``KERAS_BACKEND`` is read before Keras is imported, because Keras cannot even import on a
    backend whose package is missing; then Keras itself is asked, which also covers a backend
    chosen in ``keras.json`` or a Keras imported earlier with another backend.

    Raises
    ------
    BackendNotSupportedError
        Naming the backend found and what to set instead.

    """
    named = os.environ.get(BACKEND_ENV, "").strip()
    if named and named != "tensorflow":
        raise BackendNotSupportedError(_backend_message(named, f"{BACKEND_ENV}={named}"))
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


def _min_level() -> int:
    try:
        return int(os.environ[LOG_LEVEL_ENV])
    except ValueError:
        return 0


def keep_log_lines(text: str, min_level: int) -> str:
    """Drop the C++ log messages below ``min_level`` from ``text``; keep everything else.

    Parameters
    ----------
    text : str
        What was written to standard error.
    min_level : int
        As in ``TF_CPP_MIN_LOG_LEVEL``: 1 drops infos, 2 warnings too, 3 errors too.

    Returns
    -------
    str
        The lines that stay, in order. A line that continues a dropped message goes with it.

    """
    kept = []
    dropping = False
    for line in text.splitlines(keepends=True):
        match = _LOG_LINE.match(line)
        if match:
            dropping = _SEVERITY[match["tsl"] or match["absl"]] < min_level
        elif line.startswith(_ABSL_PREAMBLE):
            dropping = _SEVERITY["W"] < min_level
        if not dropping:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def _stderr_filtered(min_level: int) -> Iterator[None]:
    """Catch what C++ code writes to file descriptor 2 and pass on what the level lets through."""
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all (pythonw): nothing to keep quiet
        yield
        return
    with tempfile.TemporaryFile() as caught:
        sys.stderr.flush()
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = keep_log_lines(caught.read().decode(errors="replace"), min_level)
            if text:
                sys.stderr.write(text)
                sys.stderr.flush()
