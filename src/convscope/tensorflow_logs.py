"""Keep TensorFlow's C++ start-up logs out of the user's output, whoever imports TensorFlow.

TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` only after it has loaded: what its libraries log while
loading (CUDA probing on a machine with no GPU, CPU features, absl's "All log messages before
absl::InitializeLog()") goes to standard error whatever the level says. So the import runs with
file descriptor 2 caught, and the caught lines are replayed if the level lets them through.

The engine imports TensorFlow this way. ``import convscope`` also installs a one-shot import
hook, so that a notebook that imports convscope and then Keras (which loads
TensorFlow) stays quiet too. This module never imports TensorFlow itself.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LEVEL = "3"  # errors too: "failed call to cuInit" is logged as an error on every CPU machine

# C++ log lines: absl's "I0000 00:00:1795468586.618725 1647 file.cc:31] ..." and the older
# TSL form "2025-09-17 14:44:05.157831: I external/file.cc:32] ...".
_LOG_LINE = re.compile(r"^(?:[\d-]+ [\d:.]+: (?P<tsl>[IWEF]) |(?P<absl>[IWEF])\d{4} \d\d:\d\d:)")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}


def min_level() -> int:
    """Return ``TF_CPP_MIN_LOG_LEVEL`` after setting it to 3 if the user has not set it."""
    os.environ.setdefault(LOG_LEVEL_ENV, QUIET_LEVEL)
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
def stderr_filtered(min_level: int) -> Iterator[None]:
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


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with its C++ load-time logs filtered."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def __getattr__(self, name: str) -> Any:
        """Everything else (resource readers, source) is the real loader's."""
        return getattr(self.loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        try:
            with stderr_filtered(min_level()):
                self.loader.exec_module(module)
        finally:
            uninstall_quiet_import()  # the import system is done iterating its finders now


class _QuietTensorflowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, the normal way, and hands back a quiet loader for it."""

    def __init__(self) -> None:
        self.used = False

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,  # noqa: ARG002 - the finder protocol's signature
        target: ModuleType | None = None,  # noqa: ARG002
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow" or self.used:
            return None
        self.used = True  # one shot: the real finders answer from now on
        spec = importlib.machinery.PathFinder.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


_FINDER = _QuietTensorflowFinder()


def install_quiet_import() -> None:
    """Make the first import of TensorFlow, by anyone, keep its load-time logs quiet."""
    if "tensorflow" not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall_quiet_import() -> None:
    """Remove the hook (once TensorFlow is found, or when convscope imports it itself)."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
