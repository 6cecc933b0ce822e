"""The request inbox: the page's requests merged until the page's batch is complete.

It owns the queue, the highest ``seq`` seen and the flush; what a batch does is its owner's
business (the Explorer applies it, then acks ``seen_seq``). See :mod:`protocol` for the rule.
"""

from __future__ import annotations

import asyncio
import logging
import typing
from collections.abc import Callable
from typing import Any

import numpy as np

from convscope.widget import protocol

_LOG = logging.getLogger("convscope")
# Request kinds whose newest request wins: (key in the pending batch, field, or None: all).
_LATEST = {
    protocol.FILTER: ("filter", None),
    protocol.PAGE: ("page", "page"),
    protocol.SORT: ("sort", "sort"),
    protocol.PANEL: ("panel", "open"),
    protocol.EPOCH: ("epoch", "epoch"),
    protocol.PROBE: ("probe", None),
    protocol.GIF: ("gif", "frames"),
    protocol.FRAME: ("frame", None),
}
# ↑/↓ and PageUp/PageDown: the pending steps of each, summed so that every press counts.
_MOVES = {"channel": ("channels", "channel_steps"), "layer": ("layers", "layer_steps")}

Batch = dict[str, Any]
"""What arrived since the last flush: view fields, ``step``, ``channel_steps``, ``draw``..."""


class RequestInbox:
    """Merge the page's requests until their batch is complete, then hand them over.

    A request that says how many requests its batch holds (``batch``) is applied as soon as
    the last of them has come, inside the handler of that message: the answer then leaves
    before the kernel's own "idle" status, which the page would otherwise handle first (it
    redraws JupyterLab's toolbar). Without ``batch``, or if a request of the batch is lost,
    what came is applied at the next turn of the event loop.

    Parameters
    ----------
    apply : callable
        Called once per flush with the batch and the problems (malformed requests) since the
        last one; it answers the page (the ack).

    """

    def __init__(self, apply: Callable[[Batch, list[str]], None]) -> None:
        self._apply = apply
        self.pending: Batch = {}
        self.problems: list[str] = []  # malformed requests since the last flush
        self.seen_seq = 0  # the highest valid seq of any message so far
        self._turn: asyncio.Handle | None = None  # the flush waiting for the loop's next turn
        self._batch_seq: int | None = None  # the batch being received, and its requests so far
        self._batch_seen = 0

    def take(self, content: object, buffers: object) -> None:
        """Take one message from the page. Never raises: the page gets an ack, whatever came."""
        complete = False
        try:
            complete = self._completes_batch(content)
            self.receive(content, buffers)
        except Exception:  # noqa: BLE001 - a bug here must not break the widget's comm
            _LOG.exception("convscope: failed to take a message from the page")
        if not complete:
            self.schedule_flush()
            return
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - as an event-loop callback would be: logged
            _LOG.exception("convscope: failed to apply the page's requests")

    def _completes_batch(self, content: object) -> bool:
        """Count ``content`` into its batch; whether it is the batch's last request."""
        seq, size = protocol.seq_of(content), protocol.batch_of(content)
        if seq is None or size is None:
            return False
        if seq != self._batch_seq:
            self._batch_seq, self._batch_seen = seq, 0
        self._batch_seen += 1
        return self._batch_seen >= size

    def receive(self, content: object, buffers: object = ()) -> None:
        """Merge one message into the pending batch (the newest value of each field wins)."""
        seq = protocol.seq_of(content)
        if seq is not None:
            self.seen_seq = max(self.seen_seq, seq)
        try:
            request = protocol.parse_request(content)
        except protocol.UnknownRequestError as unknown:
            _LOG.warning("convscope: ignored a message from the page: %s", unknown)
            return
        except protocol.MalformedRequestError as problem:
            self.problems.append(f"Ignored a malformed message from the page: {problem}.")
            return
        fields: dict[str, Any] = dict(request)
        kind, pending = fields["type"], self.pending
        if kind == protocol.VIEW:
            self._receive_view(fields)
        elif kind == protocol.MOVE:
            for count, steps in _MOVES.values():  # steps add up: every press counts
                pending[steps] = pending.get(steps, 0) + fields.get(count, 0)
        elif kind == protocol.STEP:
            pending["step"] = pending.get("step", 0) + fields["delta"]
            pending.pop("draw", None)
        elif kind == protocol.DRAW:
            self._receive_drawing(typing.cast("protocol.DrawRequest", request), buffers)
        elif kind == protocol.TRAINING:  # every press counts, in order
            self._receive_training(fields["action"])
        else:  # the newest request of the other kinds replaces the pending one
            name, field = _LATEST[kind]
            pending[name] = fields if field is None else fields[field]

    def _receive_view(self, fields: dict[str, Any]) -> None:
        """Merge a view request: its fields replace the pending ones, and the pending steps."""
        pending = self.pending
        pending.update({key: fields[key] for key in protocol.VIEW_REQUEST_FIELDS if key in fields})
        if "sample" in fields:  # an absolute sample replaces any pending steps
            pending.pop("step", None)
            pending.pop("draw", None)
        for field, (_, steps) in _MOVES.items():  # ...as an absolute channel or layer does
            if field in fields:
                pending.pop(steps, None)

    def _receive_training(self, action: str) -> None:
        if action not in protocol.TRAINING_ACTIONS:
            self.problems.append(
                f"Ignored a malformed message from the page: 'training' request: action "
                f"{action!r} is not one of {', '.join(protocol.TRAINING_ACTIONS)}."
            )
            return
        self.pending.setdefault("training", []).append(action)

    def _receive_drawing(self, request: protocol.DrawRequest, buffers: object) -> None:
        """Keep the pad's pixels as the pending drawing; the newest stroke replaces older ones."""
        try:
            data = protocol.drawing_bytes(request, buffers)
        except protocol.MalformedRequestError as problem:
            self.problems.append(f"Ignored a malformed message from the page: {problem}.")
            return
        pixels = np.frombuffer(data, np.uint8).reshape(request["height"], request["width"])
        self.pending["draw"] = pixels
        for moved in ("sample", "step"):  # the drawing is now the sample in view
            self.pending.pop(moved, None)

    @property
    def scheduled(self) -> bool:
        """Whether a flush waits for the next turn of the event loop."""
        return self._turn is not None

    def schedule_flush(self) -> None:
        """Flush at the next turn of the event loop (now, where there is none)."""
        if self.scheduled:
            return
        try:
            self._turn = asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # no event loop (scripts, tests): apply now
            self.flush()

    def flush(self) -> None:
        """Hand everything that arrived since the last flush over as one batch."""
        if self._turn is not None:  # flushed before its turn: nothing is left for it
            self._turn.cancel()
            self._turn = None
        pending, self.pending = self.pending, {}
        problems, self.problems = self.problems, []
        self._apply(pending, problems)
