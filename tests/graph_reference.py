"""An independent reference for every row: each nested model run on the tensor that reached it.

The tensor that reaches a nested model is recorded while the outer model really runs
(``model(x, training=False)``), by wrapping the nested model's ``call``. Each model's own
layers are then computed with Keras's own sub-models (``keras.Model(m.inputs, layer.output)``)
on that exact tensor, at every depth. Nothing here shares code with ``convscope.engine``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras
import numpy as np


def is_model_with_graph(layer: object) -> bool:
    return isinstance(layer, keras.Model) and (
        isinstance(layer, keras.Sequential)
        or any(cls.__name__ == "Functional" for cls in type(layer).__mro__)
    )


@contextmanager
def recorded_inputs(models: list[keras.Model]) -> Iterator[dict[int, list[np.ndarray]]]:
    """Record, per model, the input of each of its calls while the block runs."""
    seen: dict[int, list[np.ndarray]] = {id(model): [] for model in models}

    def spy(model: keras.Model):
        original = model.call

        def call(inputs, *args, **kwargs):
            seen[id(model)].append(np.asarray(inputs))
            return original(inputs, *args, **kwargs)

        return call

    for model in models:
        model.call = spy(model)
    try:
        yield seen
    finally:
        for model in models:
            del model.call


def reference_rows(model: keras.Model, x: np.ndarray, prefix: str = "") -> dict[str, np.ndarray]:
    """Every layer's row of ``model`` on input ``x``, named as convscope names them.

    Operations that are not layers (``x + y`` in a functional model) have no ``layer.output``
    to build a sub-model from; they are left out here, and every row after them depends on
    them.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    nested = [layer for layer in layers if is_model_with_graph(layer)]
    with recorded_inputs(nested) as seen:
        model(x, training=False)
    rows: dict[str, np.ndarray] = {}
    leaves = [layer for layer in layers if layer not in nested]
    if leaves:
        extractor = keras.Model(model.inputs[0], [layer.output for layer in leaves])
        outputs = extractor(x, training=False)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        rows.update(
            {
                f"{prefix}{layer.name}": np.asarray(out)
                for layer, out in zip(leaves, outputs, strict=True)
            }
        )
    for layer in nested:
        for call, fed in enumerate(seen[id(layer)]):
            name = f"{prefix}{layer.name}" + (f"#{call + 1}" if call else "")
            rows.update(reference_rows(layer, fed, prefix=f"{name}/"))
            rows[name] = np.asarray(layer(fed, training=False))
    return rows
