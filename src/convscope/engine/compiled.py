"""The compiled passes of one model's graph: which rows run eagerly, which are traced, and when.

:class:`CompiledPasses` hands out the best pass for a set of rows now. A first single request
runs eagerly; a repeated one, or batched work, gets a ``tf.function`` traced for a fixed input
signature, on the caller's thread or in a worker thread (``background``), and every compiled
pass may carry the weights' check (:class:`~convscope.engine.weights.InlineCheck`).
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np
import tensorflow as tf

from convscope.engine.graph import ModelGraph
from convscope.engine.weights import InlineCheck

_LOG = logging.getLogger("convscope")

Forward = Callable[[np.ndarray], list[object]]
Rows = tuple[str, ...]


class CompiledPasses:
    """Forward passes of a model's rows, compiled once asked for again (or batched).

    Parameters
    ----------
    graph : ModelGraph
        The model's graph; each set of rows gets its extractor from it.
    input_shape : tuple
        One image's shape, without the batch axis: the compiled passes' fixed signature.
    output_index : int
        The model's selected output, the row named ``""``.
    inline_check : callable
        The weights' check for a pass to carry, or ``None`` (asked on the caller's thread:
        the watch is not shared with the worker).
    background : bool
        Trace in a worker thread; the eager pass serves until the trace is ready.

    """

    def __init__(
        self,
        graph: ModelGraph,
        input_shape: tuple[int | None, ...],
        output_index: int,
        inline_check: Callable[[], InlineCheck | None],
        *,
        background: bool,
    ) -> None:
        self._graph = graph
        self._input_shape = input_shape
        self._output_index = output_index
        self._inline_check = inline_check
        self._signature = tf.TensorSpec((None, *input_shape), tf.float32)
        self._extractors: dict[Rows, Forward] = {}
        self._compiled: dict[Rows, CompiledPass] = {}
        self._tracing: dict[Rows, Future[CompiledPass]] = {}
        self._kept: set[Rows] = set()  # traces asked for by trace_soon: never dropped
        self._requests: Counter[Rows] = Counter()
        self._failed: set[Rows] = set()  # background traces that raised
        self._worker = ThreadPoolExecutor(1, "convscope-trace") if background else None

    @property
    def rows(self) -> list[Rows]:
        """Each set of rows compiled so far, in the order its pass was taken in."""
        self._collect_traced()
        return list(self._compiled)

    @property
    def trace_count(self) -> int:
        """How many times TensorFlow has traced these passes, all together."""
        self._collect_traced()
        return sum(compiled.tracing_count() for compiled in self._compiled.values())

    def wait(self, timeout: float | None = None) -> None:
        """Block until every background trace has finished."""
        wait(list(self._tracing.values()), timeout)
        self._collect_traced()

    def get(self, rows: Rows) -> CompiledPass | None:
        """Return the compiled pass of ``rows`` if there is one now; nothing is traced."""
        self._collect_traced()
        return self._compiled.get(rows)

    def eager(self, rows: Rows) -> Forward:
        """Return the eager pass of ``rows``."""
        return functools.partial(_eager, self._extractor(rows))

    def trace_soon(self, rows: Rows) -> None:
        """Trace ``rows`` in the worker now, if there is one; a later wish never drops it."""
        if self._worker is None or rows in self._tracing or rows in self._compiled:
            return
        self._kept.add(rows)
        self._tracing[rows] = self._worker.submit(
            self._trace, self._extractor(rows), self._inline_check(), warm=True
        )

    def forward(self, rows: Rows, calls: int = 1) -> tuple[Forward, bool]:
        """Return the best forward pass for ``rows`` now, and whether it is compiled.

        Batched work (several calls) and repeated requests get a compiled pass. A first
        single request runs eagerly; in the background, a repeated one also runs eagerly
        while its trace runs in the worker thread.
        """
        compiled = self.get(rows)
        if compiled is not None:
            return compiled, True
        self._requests[rows] += 1
        if calls > 1 or (self._worker is None and self._requests[rows] > 1):
            pending = self._tracing.pop(rows, None)
            if pending is not None and pending.exception() is None:  # waits for it to finish
                compiled = pending.result()
            else:
                compiled = self._trace(self._extractor(rows), self._inline_check(), warm=False)
            self._compiled[rows] = compiled
            return compiled, True
        wanted = self._requests[rows] > 1 and rows not in self._tracing and rows not in self._failed
        if self._worker is not None and wanted:
            # Only the newest wish is worth a trace: drop queued ones that have not started.
            queued = [key for key in self._tracing if key not in self._kept]
            for waiting in [key for key in queued if self._tracing[key].cancel()]:
                del self._tracing[waiting]
                self._requests[waiting] = 1
            self._tracing[rows] = self._worker.submit(
                self._trace, self._extractor(rows), self._inline_check(), warm=True
            )
        return self.eager(rows), False

    def _extractor(self, rows: Rows) -> Forward:
        extractor = self._extractors.get(rows)
        if extractor is None:
            extractor = self._graph.extractor(rows, output=self._output_index)
            self._extractors[rows] = extractor
        return extractor

    def _trace(self, extractor: Forward, check: InlineCheck | None, *, warm: bool) -> CompiledPass:
        """Compile ``extractor`` (traced now), carrying ``check``; with ``warm``, run it once."""
        # A partial of one module-level function, not a closure per extractor: TensorFlow
        # counts traces per code object and would warn of "frequent retracing".
        function = (
            functools.partial(_apply, extractor)
            if check is None
            else functools.partial(_apply_checked, extractor, check.checksum)
        )
        compiled = CompiledPass(
            tf.function(function, input_signature=[self._signature], autograph=False), check
        )
        if warm:  # the first call also optimises the graph: do it before a user waits on it
            shape = [dim or 1 for dim in self._input_shape]
            compiled(np.zeros((1, *shape), np.float32))
        return compiled

    def _collect_traced(self) -> None:
        """Take in finished background traces; a failed one leaves its rows on the eager path."""
        for rows, future in list(self._tracing.items()):
            if not future.done():
                continue
            del self._tracing[rows]
            if future.cancelled():
                continue
            if future.exception() is not None:
                self._failed.add(rows)
                _LOG.warning("Tracing %s failed (%s); it stays eager.", rows, future.exception())
                continue
            self._compiled[rows] = future.result()


class CompiledPass:
    """A compiled pass, called through its one concrete function.

    Its input signature is fixed, so it has exactly one; calling that directly skips
    ``tf.function``'s dispatch (binding and checking the arguments): a single-digit pass of
    the MNIST CNN's ``conv2`` through the Explorer's controller took 0.47–0.52 ms against
    0.60–0.75 (medians of 1,000 digits, 3 runs each). Unlike the dispatch, the concrete
    function does not check the batch's shape: every caller passes a batch from
    :meth:`ActivationEngine.prepare`, which checks it against the model's input.
    """

    def __init__(self, function: Any, check: InlineCheck | None) -> None:
        self._function = function
        self._concrete = function.get_concrete_function()
        self.check = check
        """The weights' check it carries (:meth:`checked`), or ``None``."""

    def __call__(self, batch: np.ndarray) -> list[object]:
        """Its outputs for ``batch``."""
        return self.checked(batch)[0]

    def checked(self, batch: np.ndarray) -> tuple[list[object], Any, Any]:
        """Its outputs, then the carried check's fingerprints and step counter (or ``None``)."""
        found = self._concrete(tf.convert_to_tensor(batch, tf.float32))
        if self.check is None:
            return found, None, None
        outputs, sums, steps = found
        return outputs, sums, steps

    def tracing_count(self) -> int:
        """How many times TensorFlow traced it (one, for its one signature)."""
        return int(self._function.experimental_get_tracing_count())


def _apply(extractor: Forward, batch: tf.Tensor) -> list[object]:
    return extractor(batch)


def _apply_checked(
    extractor: Forward, checksum: Callable[[], tuple[tf.Tensor, tf.Tensor]], batch: tf.Tensor
) -> tuple[list[object], tf.Tensor, tf.Tensor]:
    sums, steps = checksum()
    return extractor(batch), sums, steps


def _eager(extractor: Forward, batch: np.ndarray) -> list[object]:
    return extractor(tf.convert_to_tensor(batch))
