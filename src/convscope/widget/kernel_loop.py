"""The kernel the Explorer runs in: its event loop, and whether it is marimo's.

The loop is kept for news from worker threads (filter patterns, training).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable


class KernelLoop:
    """The event loop the kernel last ran the Explorer's code on; ``None`` in a script."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self.remember()

    def remember(self) -> None:
        """Keep the running event loop, if any: news from threads is handed to it."""
        with contextlib.suppress(RuntimeError):  # a script has no loop: wait() redraws
            self._loop = asyncio.get_running_loop()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop kept last, or ``None`` (a script)."""
        return self._loop

    def now(self) -> asyncio.AbstractEventLoop | None:
        """Keep the running loop, if any, and return the loop kept."""
        self.remember()
        return self._loop

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """From any thread: run ``callback(*args)`` on the kernel's loop, if it has one open.

        In a script there is none, and nothing runs: ``wait()`` redraws there.
        """
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback, *args)

    def call_later(self, delay: float, callback: Callable[[], object]) -> bool:
        """On the kernel's thread: run ``callback()`` after ``delay`` seconds on its loop.

        In a script there is no loop, and nothing runs. Returns whether it was scheduled.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        loop.call_later(delay, callback)
        return True


def in_marimo() -> bool:
    """Whether the kernel runs a marimo notebook or app (``marimo.running_in_notebook()``).

    marimo is not imported to find out: a kernel that runs marimo has loaded it already.
    """
    marimo = sys.modules.get("marimo")
    return marimo is not None and bool(marimo.running_in_notebook())
