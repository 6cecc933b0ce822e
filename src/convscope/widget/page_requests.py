"""What a batch of the page's requests does to an Explorer, field by field (see protocol.py).

:class:`PageRequests` applies one merged request: the filter, then the view's fields, ←/→ and
the layer and channel steps, then a drawing, the order, the channel panel, the epoch, the
training's buttons, a GIF, a probe and the page of thumbnails. It works through the
Explorer's public API, and through a :class:`RequestHost` for what the page alone asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from convscope.widget import protocol

_VIEW_MOVES = frozenset({*protocol.VIEW_REQUEST_FIELDS, "step", "layer_steps", "channel_steps"})
"""What a request that only moves the view holds."""


class Explorer(Protocol):
    """The Explorer's public API that the requests use (no import of it: no cycle)."""

    sort: Any
    channel_panel: Any
    epoch: Any
    layer: Any
    channel: Any

    @property
    def figure(self) -> Any:
        """The live figure."""

    @property
    def page_count(self) -> int:
        """Pages of thumbnails of the samples that pass the filter."""

    @property
    def layers(self) -> list[str]:
        """The layers, in order."""

    @property
    def engine(self) -> Any:
        """The activation engine."""

    def filter(self, true: Any, predicted: Any, misclassified: Any) -> None:
        """Filter the samples."""

    def update(self, **changes: Any) -> None:
        """Change several fields of the view at once."""

    def draw(self, image: object) -> None:
        """Show a drawing."""


@dataclass(frozen=True)
class RequestHost:
    """What the page's requests need of an Explorer beyond its public API.

    Attributes
    ----------
    explorer : Explorer
        Its public API: ``update``, ``filter``, ``draw``, ``sort``, ``channel_panel``, ...
    sample : callable
        The sample of the data set in view (or last in view, while the drawing is shown).
    step : callable
        ``step(start, delta)``: the sample ``delta`` places on through those that pass.
    training : callable
        Presses a button of the training row (pause, resume, stop, follow, unfollow).
    gif : callable
        Offers a GIF of ``count`` frames for download.
    probe_at : callable
        Probes the unit drawn at a canvas pixel ``(x, y)`` from the bottom-left.
    show_page : callable
        Publishes a page of thumbnails.

    """

    explorer: Explorer
    sample: Callable[[], int]
    step: Callable[[int, int], int]
    training: Callable[[str], None]
    gif: Callable[[int], None]
    probe_at: Callable[[float, float], None]
    show_page: Callable[[int], None]


class PageRequests:
    """Apply the page's merged requests to an Explorer (see :class:`RequestHost`)."""

    def __init__(self, host: RequestHost) -> None:
        self.host = host

    def apply(self, pending: dict[str, Any]) -> None:
        """Apply every field of ``pending``; the first failure raises (the caller shows it)."""
        ex = self.host.explorer
        self.apply_moves(pending)
        if "sort" in pending:
            ex.sort = pending["sort"]
        if "panel" in pending:
            ex.channel_panel = pending["panel"]
        if "epoch" in pending:
            ex.epoch = pending["epoch"]
        for action in pending.get("training", []):
            self.host.training(action)
        if "gif" in pending:
            self.host.gif(pending["gif"])
        if "probe" in pending:  # a click on the PNG figure, in fractions of it from top-left
            width, height = ex.figure.canvas.get_width_height()
            click = pending["probe"]
            self.host.probe_at(click["x"] * width, (1.0 - click["y"]) * height)
        if "page" in pending:
            self.host.show_page(min(max(pending["page"], 0), ex.page_count - 1))

    def view_changes(self, pending: dict[str, Any]) -> dict[str, Any] | None:
        """Return what ``pending`` asks of ``update``, if that is all it asks; else ``None``.

        The view's fields, ←/→ and the layer and channel steps. Then nothing runs before that
        update (no filter, no drawing), so the pass it needs can run with the request's check
        of the weights.
        """
        if not pending or not pending.keys() <= _VIEW_MOVES:
            return None
        return self._update_changes(pending) or None

    def apply_moves(self, pending: dict[str, Any]) -> None:
        """Apply the filter, then the view's fields and ←/→ steps, then a new drawing."""
        ex = self.host.explorer
        if "filter" in pending:
            request = pending["filter"]
            ex.filter(request["true"], request["predicted"], request["misclassified"])
        changes = self._update_changes(pending)
        if changes:
            ex.update(**changes)
        if "draw" in pending:
            ex.draw(pending["draw"])

    def _update_changes(self, pending: dict[str, Any]) -> dict[str, Any]:
        """Return what ``pending`` asks of ``update``: its view's fields, ←/→ and steps."""
        changes = _view_fields(pending)
        if "step" in pending:
            start = changes.get("sample", self.host.sample())
            changes["sample"] = self.host.step(start, pending["step"])
        return changes | self.moved(
            changes, pending.get("layer_steps", 0), pending.get("channel_steps", 0)
        )

    def moved(self, changes: dict[str, Any], layers: int, channels: int) -> dict[str, Any]:
        """Return the layer and channel ``layers`` and ``channels`` steps on from ``changes``.

        Steps start from the layer and channel ``changes`` asks for, else those in view, and
        stop at the first and the last; an unknown layer is left for ``update`` to refuse.
        """
        ex = self.host.explorer
        moved: dict[str, Any] = {}
        names = ex.layers
        layer = changes.get("layer", ex.layer)
        if layers and layer in names:
            layer = names[min(max(names.index(layer) + layers, 0), len(names) - 1)]
            moved["layer"] = layer
        if channels and layer in names:
            count = ex.engine.layer(layer).channels
            start = changes.get("channel", min(ex.channel, count - 1))
            moved["channel"] = min(max(start + channels, 0), count - 1)
        return moved


def _view_fields(pending: dict[str, Any]) -> dict[str, Any]:
    """Return the fields of ``pending`` that :meth:`Explorer.update` takes as they are."""
    return {key: pending[key] for key in protocol.VIEW_REQUEST_FIELDS if key in pending}
