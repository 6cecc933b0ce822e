"""The Explorer's glue between the model's weights and the kernel's event loop.

:class:`WeightsFollower` shows the model as it is now when its weights change (training,
``set_weights``, an ``assign``): checked cheaply once per request, fully once no request has
come for :data:`IDLE_SECONDS`. It also computes the data set's pending predictions (see
:class:`~convscope.widget.class_output.ClassOutput`) in chunks between requests, so that a
request waits for one chunk at most, never for a whole pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from convscope.engine.activations import NextPass
from convscope.widget.controller import ExplorerController

IDLE_SECONDS: Final = 1.0
"""After the last request, every weight is checked (see engine/weights.py)."""
FILL_CHUNK: Final = 1024
"""Pending predictions computed per turn of the event loop (about 0.1 s of MNIST digits)."""
_LOG = logging.getLogger("convscope")


class WeightsFollower:
    """Follow the model's weights for an Explorer, and fill pending predictions when idle.

    Parameters
    ----------
    controller : ExplorerController
        The model and what is kept per version of its weights.
    show : callable
        Publishes what follows new weights (the controller has redrawn already).
    refresh : callable
        Publishes what waited for the data set's predictions, once all are known.
    loop : callable
        The kernel's event loop, or ``None`` (a script: nothing is scheduled).
    busy : callable
        Whether filling now would be wasted (a training runs and the view follows it).

    """

    def __init__(
        self,
        controller: ExplorerController,
        show: Callable[[], None],
        refresh: Callable[[], None],
        loop: Callable[[], asyncio.AbstractEventLoop | None],
        busy: Callable[[], bool],
    ) -> None:
        self.controller = controller
        self._show = show
        self._refresh = refresh
        self._loop = loop
        self._busy = busy
        self._followed = False  # within a request: checked once, at its start
        self._idle_check: asyncio.TimerHandle | None = None
        self._fill_pending: asyncio.TimerHandle | None = None

    def follow(
        self, *, full: bool = False, ahead: Callable[[], NextPass | None] | None = None
    ) -> bool:
        """Show the model as it is now if its weights changed; return whether they had.

        Asked before anything is shown; ``full`` checks every weight (when idle). The maps,
        predictions, thumbnails, sorts, statistics, colour scales, Grad-CAM and patterns all
        follow. ``ahead`` names the pass the update to come needs, which may run with the
        check (:meth:`ExplorerController.next_pass`); it is asked only when the check runs.
        """
        if self._followed:
            return False
        next_pass = None
        # A training that runs: no pass ahead, as its look would see new weights at almost
        # every update.
        if ahead is not None and not self._busy():
            try:
                next_pass = ahead()
            except Exception:  # noqa: BLE001 - a hint only: the check below runs without it
                _LOG.debug("No pass ahead: naming it failed.", exc_info=True)
        if not self.controller.follow_weights(full=full, ahead=next_pass):
            return False
        self.controller.apply(follow=False)
        self._show()
        return True

    def request_begins(self, ahead: Callable[[], NextPass | None] | None = None) -> None:
        """Follow changed weights at the start of a request, and not again within it."""
        try:
            self.follow(ahead=ahead)
        except Exception:  # noqa: BLE001 - logged; the request itself goes on
            _LOG.exception("convscope: could not follow the model's new weights")
        self._followed = True

    def request_ends(self) -> None:
        """Check again at the next request, and fully once none has come for a while."""
        self._followed = False
        self.check_when_idle()

    def check_when_idle(self) -> None:
        """Check every weight once no request has come for a while (the cheap tier's gaps)."""
        loop = self._running_loop()
        if loop is None:
            return
        if self._idle_check is not None:
            self._idle_check.cancel()
        self._idle_check = loop.call_later(IDLE_SECONDS, self._idle)

    def fill_later(self) -> None:
        """Compute the pending predictions in chunks on the event loop, between requests.

        Not while following a training that runs (its next snapshot would make them stale):
        then it looks again every :data:`IDLE_SECONDS`, and goes on once paused or unfollowed.
        A request waits at most one chunk (a pass over :data:`FILL_CHUNK` samples).
        """
        loop = self._running_loop()
        if loop is None or self._fill_pending is not None:
            return
        self._fill_pending = loop.call_later(IDLE_SECONDS, self._fill)

    def _idle(self) -> None:
        self._idle_check = None
        try:
            self.follow(full=True)
        except Exception:  # noqa: BLE001 - logged; the next request tries again
            _LOG.exception("convscope: could not follow the model's new weights")

    def _fill(self) -> None:
        self._fill_pending = None
        classes = self.controller.classes
        if classes.complete:
            return
        if self._busy():  # look again later: pausing or unfollowing lets the chunks go on
            self.fill_later()
            return
        try:
            if not self.controller.engine.weights_as_tagged() and self.follow(full=True):
                # Changed since the last update (a cell ran set_weights): the chunk would
                # have been kept as the old weights' rows. Shown now, predictions with them.
                return
            classes.fill(FILL_CHUNK)
            loop = self._running_loop()
            if not classes.complete and loop is not None:
                self._fill_pending = loop.call_later(0.0, self._fill)
            elif classes.complete:
                self._refresh()
        except Exception:  # noqa: BLE001 - logged; the next request computes what it needs
            _LOG.exception("convscope: could not compute the data set's predictions")

    def _running_loop(self) -> asyncio.AbstractEventLoop | None:
        loop = self._loop()
        return None if loop is None or loop.is_closed() else loop
