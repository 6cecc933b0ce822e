"""Which passes run eagerly, which are traced and where (``engine/compiled.py``).

The traces are real ``tf.function`` traces. Their extractors double the batch; one is held at
a gate while the worker traces it, so that what queues behind it is known, not timed.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from convscope.engine.compiled import CompiledPasses, Forward

WORKER = "convscope-trace"


class GatedGraph:
    """Extractors that double the batch; tracing ``("slow",)`` in the worker waits at a gate.

    Tracing ``("bad",)`` in the worker raises. Records each row set it traces, per thread.
    """

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.traced: list[tuple[tuple[str, ...], str]] = []

    def extractor(self, rows: tuple[str, ...], output: int) -> Forward:
        def forward(batch: np.ndarray) -> list[object]:
            thread = threading.current_thread().name
            if thread.startswith(WORKER):
                self.traced.append((rows, thread))
                if rows == ("slow",):
                    assert self.gate.wait(30)
                if rows == ("bad",):
                    raise RuntimeError("this layer cannot be traced")
            return [batch * (2.0 + output) for _ in rows]  # the selected output: 0 here

        return forward


def test_the_newest_wish_is_traced_in_the_background_and_older_queued_ones_are_dropped() -> None:
    graph = GatedGraph()
    asked_on: list[str] = []

    def check() -> None:
        asked_on.append(threading.current_thread().name)

    passes = CompiledPasses(graph, (2,), 0, check, background=True)  # type: ignore[arg-type]
    passes.trace_soon(("slow",))
    passes.trace_soon(("every",))  # queued, as a first look's every-row pass: never dropped
    for rows in (("x",), ("y",)):
        for _ in range(2):  # asked again: its trace is wanted
            forward, compiled = passes.forward(rows)
            assert not compiled
            np.testing.assert_array_equal(forward(np.ones((1, 2), np.float32))[0], [[2.0, 2.0]])
    graph.gate.set()
    passes.wait(timeout=30)
    assert passes.rows == [("slow",), ("every",), ("y",)]  # x queued, then y replaced it
    assert [rows for rows, _ in graph.traced] == [("slow",), ("every",), ("y",)]
    assert passes.trace_count == 3
    assert set(asked_on) == {threading.current_thread().name}  # the check: never the worker's
    forward, compiled = passes.forward(("y",))
    assert compiled
    np.testing.assert_array_equal(forward(np.full((3, 2), 1.5, np.float32))[0], np.full((3, 2), 3))
    _, compiled = passes.forward(("x",))  # dropped, so counted afresh: a first request
    assert not compiled
    _, compiled = passes.forward(("x",), calls=4)  # batched work traces on the caller's thread
    assert compiled
    assert passes.rows == [("slow",), ("every",), ("y",), ("x",)]


def test_a_trace_that_fails_in_the_background_leaves_its_rows_eager(
    caplog: pytest.LogCaptureFixture,
) -> None:
    graph = GatedGraph()
    passes = CompiledPasses(graph, (2,), 0, lambda: None, background=True)
    passes.forward(("bad",))
    passes.forward(("bad",))
    with caplog.at_level(logging.WARNING, logger="convscope"):
        passes.wait(timeout=30)
        forward, compiled = passes.forward(("bad",))
    assert not compiled
    assert "stays eager" in caplog.text
    assert passes.rows == []
    np.testing.assert_array_equal(forward(np.ones((1, 2), np.float32))[0], [[2.0, 2.0]])
    for _ in range(3):  # asked again and again: never traced again
        passes.forward(("bad",))
    passes.wait(timeout=30)
    assert [rows for rows, _ in graph.traced] == [("bad",)]
