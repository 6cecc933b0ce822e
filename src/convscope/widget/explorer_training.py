"""The Explorer's training: the epoch slider, ``ex.fit``, ``ex.live()``, and what they show.

:class:`ExplorerTraining` owns the training run the epoch slider replays, the latest
:class:`~convscope.widget.live_training.LiveTraining` and the copy of the model that trains;
the Explorer keeps one-line methods that call it. It reaches the Explorer only through a
:class:`TrainingHost`: the traits it writes and how a snapshot is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from convscope.engine.live import LiveRun, LiveSnapshots, training_copy
from convscope.engine.training import TrainingRun
from convscope.errors import LabelError, TrainingBusyError, check_int
from convscope.widget.controller import ExplorerController
from convscope.widget.explorer_state import not_none
from convscope.widget.live_training import BACKGROUND, BLOCKING, LiveTraining


@dataclass(frozen=True)
class TrainingHost:
    """What the training needs of its Explorer.

    Attributes
    ----------
    controller : ExplorerController
        The model, its weights and what is kept per weights.
    publish : callable
        Sets the Explorer's traits named by the keys (``"epoch"`` as the kernel's own) at once.
    shown_step : callable
        The step in view (the ``epoch`` trait), or ``None``.
    show_weights : callable
        ``show_weights(step, lazy)``: publish the weights in use, labelled ``step``.
    loop : callable
        The kernel's event loop, remembered now (``None`` in a script).
    complete : callable
        Whether the predictions of the weights in view are all known.
    hold : callable
        A context in which the traits set go to the page as one message.

    """

    controller: ExplorerController
    publish: Callable[[dict[str, Any]], None]
    shown_step: Callable[[], int | None]
    show_weights: Callable[[int, bool], None]
    loop: Callable[[], asyncio.AbstractEventLoop | None]
    complete: Callable[[], bool]
    hold: Callable[[], contextlib.AbstractContextManager[Any]]


class ExplorerTraining:
    """One Explorer's trainings: the run it replays, the latest live one, the copy that trains."""

    def __init__(self, host: TrainingHost) -> None:
        self.host = host
        self.replayed: TrainingRun | None = None  # a finished run, opened with the Explorer
        self.live: LiveTraining | None = None
        self.run: TrainingRun | None = None  # the latest live run, for the epoch slider
        self.model: Any = None  # kept: its optimizer goes on from one fit to the next

    # ----- the epoch slider ---------------------------------------------------------------------
    def replay(self, run: TrainingRun) -> None:
        """Put ``run``'s epochs and curves on the slider, its last epoch in view (as the model)."""
        self.replayed = run
        history = {name: json_floats(values) for name, values in run.history.items()}
        self.host.publish(
            {"_epochs": list(run.epochs), "epoch": run.epochs[-1], "_history": history}
        )

    def use_epoch(self, epoch: int | None) -> None:
        """Show the weights of ``epoch``: the slider's choice, or ``ex.epoch = ...``.

        With a live training, its snapshot at that step (or the next kept); else the replayed
        run's epoch.
        """
        if self.live is not None:
            self.show_step(not_none("epoch", epoch))
            return
        run = self.replayed
        if run is None:
            raise LabelError(
                "This Explorer has no training run to replay; open one with "
                "convscope.Explorer(convscope.mnist_training_run()) or a TrainingRun of yours."
            )
        index = run.index(not_none("epoch", epoch))
        self.host.controller.use_weights(run.weights[index], run.epochs[index])
        self.host.show_weights(run.epochs[index], False)

    # ----- starting -----------------------------------------------------------------------------
    def fit(self, x: Any, y: Any, every: int, cap: int, **options: Any) -> TrainingRun:
        """Train a copy of the model in a thread; see :meth:`Explorer.fit`."""
        self._check_not_training()
        every = check_int("every", every, minimum=1, example=10)
        cap = check_int("cap", cap, minimum=3, example=64)
        model = self.host.controller.engine.model
        if self.model is None:
            self.model = training_copy(model)
        copy = self.model
        copy.set_weights(model.get_weights())
        live = self._begin(BACKGROUND, cap)
        snapshots = LiveSnapshots(live.store, copy, every, live.control)
        options = {"verbose": 0} | options
        options["callbacks"] = [*options.get("callbacks", []), snapshots]
        live.start(functools.partial(copy.fit, x, y, **options))
        return live.store.run

    def callback(self, every: int, cap: int) -> Any:
        """Return the callback of a blocking ``fit``; see :meth:`Explorer.live`."""
        self._check_not_training()
        every = check_int("every", every, minimum=1, example=10)
        cap = check_int("cap", cap, minimum=3, example=64)
        live = self._begin(BLOCKING, cap)
        model = self.host.controller.engine.model
        snapshots = LiveSnapshots(live.store, model, every, live.control, on_end=live.end)
        live.end_with_cell(functools.partial(snapshots.on_train_end, None))
        return snapshots

    def _check_not_training(self) -> None:
        live = self.live
        if live is not None and live.training_thread_busy:
            steps = live.store.steps()
            raise TrainingBusyError(
                f"This Explorer is already training (step {steps[-1] if steps else 0}). Wait "
                "for it with ex.wait(), or stop it with ex.stop(), then fit again."
            )

    def _begin(self, form: str, cap: int) -> LiveTraining:
        """Start a new live run: its slider starts empty and follows the newest snapshot."""
        loop = self.host.loop()
        old = self.live
        if old is not None:  # its snapshots leave the slider: what was kept for them goes
            if old.later is not None:
                old.later.cancel()
            steps = old.store.steps() + old.store.take_dropped()
            self.host.controller.forget_weights([old.tag(step) for step in steps])
        store = LiveRun(self.host.controller.engine.model, cap)
        live = LiveTraining(store, form, self.on_news, loop)
        self.live, self.run = live, store.run
        self.host.publish(
            {
                "_epochs": [],
                "_history": {},
                "_error": "",
                "epoch": None,
                "_training": dict(live.as_trait(None)),
            }
        )
        return live

    # ----- controls -----------------------------------------------------------------------------
    def action(self, action: str) -> None:
        """Pause, resume, stop, follow or unfollow; without a live training, say so."""
        live = self.live
        if live is None:
            raise LabelError(
                f"There is no training to {action}: start one with ex.fit(x, y, epochs=...)."
            )
        if action in ("follow", "unfollow"):
            live.follow = action == "follow"
        else:
            getattr(live, action)()
        self.on_news()

    def stop(self) -> None:
        """Stop training after its current batch and show where it ended."""
        self.action("stop")
        self.wait(None)

    def wait(self, timeout: float | None) -> None:
        """Block until training ends (or ``timeout``), then show where it is."""
        if self.live is not None:
            self.live.join(timeout)
            self.on_news()

    def close(self) -> None:
        """Stop a running training and wait for its thread: the widget closes."""
        live = self.live
        if live is not None and live.running:
            live.stop()
            live.join()

    @property
    def following(self) -> bool:
        """Whether the view jumps to each new snapshot."""
        return self.live is not None and self.live.follow

    @property
    def following_a_run(self) -> bool:
        """Whether a training runs, not paused, and the view follows it (a snapshot comes soon)."""
        live = self.live
        return live is not None and live.state in ("running", "stopping") and live.follow

    def show_step(self, step: object) -> None:
        """Show the snapshot at ``step`` (or the next kept): the epoch slider's choice."""
        live = self.live
        assert live is not None  # only called with a live training
        live.follow = False
        step = check_int("epoch", step, minimum=0, example=10)
        self._show_snapshot(*live.store.nearest(step))

    # ----- news from the training ---------------------------------------------------------------
    def on_news(self) -> None:
        """On the kernel's thread: grow the slider and curves; follow, or show the end."""
        live = self.live
        if live is None:
            return
        try:
            self._publish(live)
        except Exception as error:  # noqa: BLE001 - shown in the banner; training goes on
            self.host.publish({"_error": f"{type(error).__name__}: {error}"})

    def trait(self) -> dict[str, Any]:
        """Return the training row: what training does, and whether predictions are pending."""
        if self.live is None:
            return {}
        shown = self.host.shown_step()
        trait = dict(self.live.as_trait(shown))
        if shown is not None and not self.host.complete():
            trait["text"] = f"{trait['text']}; predictions for step {shown:,} pending"
        return trait

    def _publish(self, live: LiveTraining) -> None:
        steps = live.store.steps()
        dropped = live.store.take_dropped()  # what was kept for them goes too: bounded memory
        self.host.controller.forget_weights([live.tag(step) for step in dropped])
        shown = self.host.shown_step()
        history = live.store.history()
        with self.host.hold():
            self._publish_news(live, steps, shown, history)

    def _publish_news(
        self,
        live: LiveTraining,
        steps: list[int],
        shown: int | None,
        history: dict[str, list[float]],
    ) -> None:
        self.host.publish(
            {
                "_epochs": steps,
                "_history": {name: json_floats(values) for name, values in history.items()},
            }
        )
        latest = live.store.latest()
        if not live.running and not live.finalised:
            live.finalised = True  # the end: the model gets the final weights
            if latest is not None:  # the data set's predictions follow between requests
                self._show_snapshot(*latest, lazy=True)
            self.host.publish({"_error": live.store.fault})
        elif shown is not None and shown not in steps:  # thinned away: the next kept one
            self._show_snapshot(*live.store.nearest(shown))
        elif latest is not None and live.follow and latest[0] != shown:
            self._follow_newest(live, latest)
        self.host.publish({"_training": self.trait()})

    def _follow_newest(self, live: LiveTraining, latest: tuple[int, list[np.ndarray]]) -> None:
        """Show the newest snapshot now, or later if showing would take too much of the CPU."""
        model = self.host.controller.engine.model
        if self.host.shown_step() is None and _same_weights(model.get_weights(), latest[1]):
            self.host.publish({"epoch": latest[0]})  # before training: already in view
            return
        delay = live.show_delay()
        if delay == 0.0 or live.form == BLOCKING:
            if delay == 0.0:
                self._show_snapshot(*latest, lazy=True)
            return
        loop = self.host.loop()
        if live.later is None and loop is not None and not loop.is_closed():
            live.later = loop.call_later(delay, self._show_later)

    def _show_later(self) -> None:
        if self.live is not None:
            self.live.later = None
        self.on_news()

    def _show_snapshot(self, step: int, weights: list[np.ndarray], *, lazy: bool = False) -> None:
        """Show a live run's snapshot: its own copy of the weights, never the training's.

        ``lazy`` while following: the data set's predictions wait until something needs them.
        """
        live = self.live
        assert live is not None  # only called with a live training
        start = time.perf_counter()
        self.host.controller.use_weights(weights, live.tag(step))
        self.host.show_weights(step, lazy)
        live.shown(time.perf_counter() - start)


def json_floats(values: list[float]) -> list[float | None]:
    """Floats for JSON: NaN (a value training did not record) becomes ``None``."""
    return [None if value != value else float(value) for value in values]  # noqa: PLR0124


def _same_weights(first: list[np.ndarray], second: list[np.ndarray]) -> bool:
    return len(first) == len(second) and all(
        np.array_equal(a, b) for a, b in zip(first, second, strict=True)
    )
