"""Import TensorFlow once, without its C++ start-up logs in the user's first notebook output.

TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` only after it has loaded: what its libraries log while
loading (CUDA probing on a machine with no GPU, CPU features, absl's "All log messages before
absl::InitializeLog()") goes to standard error whatever the level says. So the import runs with
file descriptor 2 caught, and the caught lines are replayed if the level lets them through.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
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
