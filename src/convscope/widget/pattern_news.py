"""The filter patterns' news, from the worker thread that computes them to the view.

Filter patterns take seconds, so :class:`~convscope.widget.views.DeeperViews` computes them on
a worker thread. :class:`PatternNews` takes its news there and hands it to the kernel's event
loop, where the view shows the progress, then the patterns, or what failed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convscope.widget.controller import ExplorerController

_LOG = logging.getLogger("convscope")


@dataclass(frozen=True)
class PatternsHost:
    """What the patterns' news needs of its Explorer.

    Attributes
    ----------
    controller : ExplorerController
        The view, and the deeper views that compute the patterns.
    call_soon : callable
        ``call_soon(callback, *args)`` on the kernel's event loop (nothing without one).
    set_traits : callable
        Write the given traits as the kernel's own values.
    hold : callable
        A context in which trait changes go to the page as one message.
    publish : callable
        Publish the view.
    follow : callable
        Follow the model's weights if they changed (and show everything that follows them).

    """

    controller: ExplorerController
    call_soon: Callable[..., None]
    set_traits: Callable[[dict[str, Any]], None]
    hold: Callable[[], contextlib.AbstractContextManager[Any]]
    publish: Callable[[], None]
    follow: Callable[[], bool]


class PatternNews:
    """Show the filter patterns of the layer in view as the worker thread makes them."""

    def __init__(self, host: PatternsHost) -> None:
        self.host = host
        host.controller.on_patterns = self.on_worker

    def on_worker(self, layer: str, finished: bool) -> None:
        """On the worker thread: hand the news to the kernel's event loop, if there is one."""
        if finished:
            self.host.call_soon(self.ready)
        else:
            self.host.call_soon(self.progress, layer)

    def ready(self) -> None:
        """Redraw the pattern view once its layer's patterns are there, or show what failed."""
        controller = self.host.controller
        if controller.state.view != "pattern":
            return
        with self.host.hold():
            try:
                # Weights a cell changed since the last update are followed as a request
                # follows them (predictions, thumbnails, sorts too): that redraws the view.
                followed = self.host.follow()
            except Exception:  # noqa: BLE001 - logged; the next request follows them again
                _LOG.exception("convscope: could not follow the model's new weights")
                followed = False
            try:
                if not followed:
                    controller.apply(follow=False)
                self.host.set_traits({"_error": ""})
            except Exception as error:  # noqa: BLE001 - shown in the banner, with the maps
                message = f"Filter patterns failed: {type(error).__name__}: {error}"
                self.host.set_traits({"_error": message})
                controller.apply(view="maps", follow=False)
            self.host.publish()

    def progress(self, layer: str) -> None:
        """Show how far the patterns of ``layer`` are, if they are in view."""
        controller = self.host.controller
        state = controller.state
        if state.view == "pattern" and state.layer == layer:
            self.host.set_traits({"_status": controller.views.progress(layer)})
