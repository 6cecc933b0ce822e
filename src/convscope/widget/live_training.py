"""One live training of an Explorer's model: its thread, its controls, what it says.

Two forms. ``Explorer.fit`` trains a copy of the model in a background thread, so the kernel
stays free to answer the page; ``Explorer.live`` is a callback for the user's own blocking
``model.fit`` in a cell. Either way the snapshots land in a
:class:`~convscope.engine.live.LiveRun`, and news of them reaches the Explorer on the kernel's
thread: scheduled on its event loop from a training thread, called directly from the kernel's
own ``fit`` (which cannot wait for the loop, but can send).

Showing a snapshot while following costs the predictions of the samples on screen and a
frame (the data set's other predictions wait until something needs them; see
:class:`~convscope.widget.class_output.ClassOutput`). While training runs, the newest
snapshot is shown at most :data:`SHOW_SHARE` of the time, so that following takes little CPU
from training, but at least every :data:`LONGEST_WAIT` seconds plus a show; the slider and
the curves grow with every snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Final

from convscope.engine.live import LiveRun, TrainingControl
from convscope.widget.protocol import TrainingState

SHOW_SHARE: Final = 0.05
"""Share of wall time the kernel may spend showing new snapshots while training runs."""
LONGEST_WAIT: Final = 20.0
"""Seconds following waits at most between two shows, however long the last one took."""
BACKGROUND: Final = "background"
BLOCKING: Final = "blocking"
_SAYS = {
    "running": "training",
    "paused": "training paused",
    "stopping": "stopping training",
    "finished": "training finished",
    "stopped": "training stopped",
    "failed": "training failed",
    "interrupted": "training interrupted",
}


class LiveTraining:
    """The state of one training that an Explorer shows as it runs.

    Parameters
    ----------
    store : LiveRun
        Where the snapshots go.
    form : {"background", "blocking"}
        ``Explorer.fit``'s thread, or the kernel's own ``fit`` with ``Explorer.live``.
    on_news : callable
        Called on the kernel's thread when there is something new to show.
    loop : asyncio.AbstractEventLoop, optional
        The kernel's event loop; without one (a script), news waits for ``Explorer.wait``.

    """

    serial = 0  # one per training in this process: the weights tags never repeat

    def __init__(
        self,
        store: LiveRun,
        form: str,
        on_news: Callable[[], None],
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        LiveTraining.serial += 1
        self.serial = LiveTraining.serial
        self.store = store
        self.form = form
        self.control = TrainingControl()
        self.follow = True
        self.state = "running"
        self._state_lock = threading.Lock()  # the training thread's end() has the last word
        self.finalised = False  # the end has been shown
        self.thread: threading.Thread | None = None
        # Set when the thread's work is done. Thread.is_alive() is not to be trusted after a
        # join that a KeyboardInterrupt broke (CPython 3.11 then reports the thread stopped).
        self.done = threading.Event()
        self._on_news = on_news
        self._loop = loop
        self._kernel_thread = threading.get_ident()
        self._news_pending = False
        self._next_show = 0.0
        self.later: asyncio.TimerHandle | None = None  # a follow show put off by SHOW_SHARE
        store.on_snapshot = self.news

    @property
    def running(self) -> bool:
        """Whether training has not ended yet (paused counts as running)."""
        return self.state in ("running", "paused", "stopping")

    def tag(self, step: int) -> tuple[str, int, int]:
        """Return the weights tag of a snapshot: unique to this training, never an epoch's."""
        return ("live", self.serial, step)

    # ----- the training thread ------------------------------------------------------------
    def start(self, fit: Callable[[], object]) -> None:
        """Run ``fit`` in a background thread."""
        self.thread = threading.Thread(
            target=self._train, args=(fit,), name="convscope-training", daemon=True
        )
        self.thread.start()

    def _train(self, fit: Callable[[], object]) -> None:
        try:
            fit()
        except Exception as error:  # noqa: BLE001 - shown in the banner; the snapshots stay
            self.store.fault = f"Training failed: {type(error).__name__}: {error}"
        finally:
            self.end()
            self.done.set()

    @property
    def training_thread_busy(self) -> bool:
        """Whether a background thread has been started and has not finished its work."""
        return self.thread is not None and not self.done.is_set()

    def end(self) -> None:
        """Training is over (finished, stopped or broken); say so on the kernel's thread."""
        with self._state_lock:
            if self.store.fault:
                self.state = "failed"
            elif self.state == "interrupted":
                pass
            elif self.control.stop_asked:
                self.state = "stopped"
            else:
                self.state = "finished"
        self.news()

    def news(self) -> None:
        """Hand news to the kernel's thread: now from its own ``fit``, else by its loop."""
        if threading.get_ident() == self._kernel_thread:
            self._on_news()
            return
        loop = self._loop
        if loop is None or loop.is_closed() or self._news_pending:
            return  # a script: wait() shows; or news already on its way
        self._news_pending = True
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        self._news_pending = False
        self._on_news()

    def end_with_cell(self, finish: Callable[[], None]) -> None:
        """In IPython, notice a blocking ``fit`` that a ``KeyboardInterrupt`` ended.

        Keras calls no callback then. When the cell that ran ``fit`` ends with training still
        "running", ``finish`` (the callback's own end: the last completed batch becomes the
        last snapshot) runs, and the state says "interrupted".
        """
        try:
            from IPython import get_ipython  # noqa: PLC0415 - only where IPython runs
        except ImportError:
            return
        shell = get_ipython()
        if shell is None:
            return

        def after_cell(*_: object) -> None:
            if self.store.latest() is None:
                return  # the callback was made in this cell; fit runs in a later one
            shell.events.unregister("post_run_cell", after_cell)
            if self.running:
                self.state = "interrupted"
                finish()

        shell.events.register("post_run_cell", after_cell)

    def join(self, timeout: float | None = None) -> None:
        """Block until the background thread ends; ``KeyboardInterrupt`` stops training first."""
        if self.thread is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            # In short waits: an interrupt (Ctrl-C, a kernel's interrupt) is seen at once.
            while not self.done.is_set():
                left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if left <= 0:
                    return
                self.done.wait(left)
        except KeyboardInterrupt:
            self.stop()
            self.done.wait()
            raise

    # ----- controls -------------------------------------------------------------------------
    def pause(self) -> None:
        """Hold training before its next batch (background form only).

        A blocking ``fit`` runs on the kernel's own thread: held, nothing could resume it.
        """
        with self._state_lock:
            if self.state == "running" and self.form == BACKGROUND:
                self.state = "paused"
                self.control.pause()

    def resume(self) -> None:
        """Go on after a pause."""
        with self._state_lock:
            if self.state == "paused":
                self.state = "running"
                self.control.resume()

    def stop(self) -> None:
        """End training after its current batch; the snapshots stay."""
        with self._state_lock:
            if self.running:
                self.state = "stopping"
                self.control.stop()

    # ----- following ------------------------------------------------------------------------
    def show_delay(self) -> float:
        """Seconds until following may show a new snapshot (0: now)."""
        return max(0.0, self._next_show - time.monotonic())

    def shown(self, seconds: float) -> None:
        """Note that a snapshot took ``seconds`` to show: the next waits, to keep the share."""
        wait = min(seconds * (1.0 / SHOW_SHARE - 1.0), LONGEST_WAIT)
        self._next_show = time.monotonic() + wait

    # ----- words ------------------------------------------------------------------------------
    def text(self, shown: int | None) -> str:
        """Return the status line: what training does, the step shown, and a fault."""
        steps = self.store.steps()
        says = _SAYS[self.state]
        if steps:
            says += f": step {steps[-1]:,}{self.epoch_text(steps[-1])}, {len(steps)} snapshots"
            if shown is not None and shown != steps[-1]:
                says += f", showing step {shown:,}"
        if self.follow and self.running:
            says += ", following the newest"
        return says

    def epoch_text(self, step: int) -> str:
        """`` (epoch 2.4)`` once the steps per epoch are known; else empty."""
        per_epoch = self.store.run.steps_per_epoch
        return f" (epoch {step / per_epoch:.1f})" if per_epoch else ""

    def as_trait(self, shown: int | None) -> TrainingState:
        """Return what the page's training row shows."""
        return {
            "state": self.state,
            "follow": self.follow,
            "text": self.text(shown),
            "steps_per_epoch": self.store.run.steps_per_epoch or 0,
            "controls": self.form == BACKGROUND,
        }
