"""The request inbox merges the page's requests as protocol.py says, and hands them over once."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from convscope.widget.inbox import RequestInbox
from convscope.widget.protocol import (
    VIEW_FIELDS,
    VIEW_REQUEST_FIELDS,
    MalformedRequestError,
    parse_request,
)


def inbox() -> tuple[RequestInbox, list[tuple[dict[str, Any], list[str]]]]:
    batches: list[tuple[dict[str, Any], list[str]]] = []
    return RequestInbox(lambda pending, problems: batches.append((pending, problems))), batches


def test_steps_add_up_and_a_position_replaces_them() -> None:
    box, _ = inbox()
    for seq in (5, 6, 7):
        box.receive({"type": "step", "seq": seq, "delta": 1})
    box.receive({"type": "move", "seq": 8, "channels": 2})
    box.receive({"type": "move", "seq": 9, "channels": -1, "layers": 1})
    assert box.pending == {"step": 3, "channel_steps": 1, "layer_steps": 1}
    box.receive({"type": "view", "seq": 10, "sample": 4, "channel": 0})
    assert box.pending == {"sample": 4, "channel": 0, "layer_steps": 1}
    assert box.seen_seq == 10


def test_one_flush_hands_over_one_batch_with_its_problems() -> None:
    box, batches = inbox()
    box.receive({"type": "page", "seq": 3, "page": 1})
    box.receive({"type": "page", "seq": 2, "page": 2})  # the newest request wins, not the seq
    box.receive({"type": "view", "seq": 4, "channel": "x"})
    box.receive({"type": "nonsense", "seq": 9})  # unknown: ignored, but its seq is acked
    box.flush()
    problem = "'view' request: 'channel' must be an integer, got 'x'"
    assert batches == [({"page": 2}, [f"Ignored a malformed message from the page: {problem}."])]
    assert (box.pending, box.problems, box.seen_seq) == ({}, [], 9)


def test_a_drawing_replaces_the_sample_and_keeps_its_pixels() -> None:
    box, batches = inbox()
    box.receive({"type": "step", "seq": 1, "delta": 1})
    pixels = np.arange(12, dtype=np.uint8)
    box.take({"type": "draw", "seq": 2, "width": 4, "height": 3}, [pixels.tobytes()])
    ((pending, problems),) = batches  # no event loop here: take() flushed at once
    assert problems == []
    assert list(pending) == ["draw"]
    np.testing.assert_array_equal(pending["draw"], pixels.reshape(3, 4))


def test_a_view_request_carries_every_view_field_but_the_probe() -> None:
    assert set(VIEW_REQUEST_FIELDS) == set(VIEW_FIELDS) - {"probe"}


def test_a_batch_is_applied_as_soon_as_its_last_request_has_come() -> None:
    async def main() -> list[tuple[dict[str, Any], list[str]]]:
        box, batches = inbox()
        box.take({"type": "page", "seq": 5, "batch": 2, "page": 1}, [])
        assert batches == []  # the rest of its batch is still to come
        box.take({"type": "move", "seq": 5, "batch": 2, "channels": 1}, [])
        assert batches == [({"page": 1, "channel_steps": 1, "layer_steps": 0}, [])]
        await asyncio.sleep(0)  # the turn it had been waiting for hands over nothing more
        assert len(batches) == 1
        box.take({"type": "page", "seq": 6, "page": 2}, [])  # no batch size: the next turn
        assert len(batches) == 1
        await asyncio.sleep(0)
        return batches

    assert asyncio.run(main())[1:] == [({"page": 2}, [])]


@pytest.mark.parametrize("size", [0, 14, 1.5, True])
def test_a_batch_size_outside_one_to_one_per_kind_is_malformed(size: object) -> None:
    with pytest.raises(MalformedRequestError, match="'batch' must be an integer from 1 to 13"):
        parse_request({"type": "page", "seq": 1, "batch": size, "page": 0})
