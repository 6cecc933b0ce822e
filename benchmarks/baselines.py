"""The ways people drew feature maps before convscope, timed the way they are used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import matplotlib as mpl
import numpy as np

mpl.use("Agg")
import matplotlib.pyplot as plt


def tutorial_feature_maps(
    activation_model: keras.Model, image: np.ndarray, images_per_row: int = 16
) -> None:
    # The tutorial's own code, kept as written there: a Python loop over channels.
    """Draw one layer the way the Keras tutorial (Deep Learning with Python, 5.4) does.

    ``predict`` on the image, a Python loop that standardises and tiles every channel, a new
    pyplot figure, and a full Agg draw.
    """
    batch = image[np.newaxis] if image.ndim == 3 else image[np.newaxis, ..., np.newaxis]
    activation = activation_model.predict(batch, verbose=0)
    size, channels = activation.shape[1], activation.shape[-1]
    columns = -(-channels // images_per_row)
    display_grid = np.zeros((size * columns, images_per_row * size))
    for col in range(columns):
        for row in range(images_per_row):
            index = col * images_per_row + row
            if index >= channels:
                break
            channel_image = activation[0, :, :, index].copy()
            channel_image -= channel_image.mean()
            channel_image /= channel_image.std() + 1e-5
            channel_image *= 64
            channel_image += 128
            channel_image = np.clip(channel_image, 0, 255).astype("uint8")
            display_grid[col * size : (col + 1) * size, row * size : (row + 1) * size] = (
                channel_image
            )
    scale = 1.0 / size
    figure = plt.figure(figsize=(scale * display_grid.shape[1], scale * display_grid.shape[0]))
    plt.title(activation_model.name)
    plt.grid(visible=False)
    plt.imshow(display_grid, aspect="auto", cmap="viridis")
    figure.canvas.draw()
    plt.close(figure)


KERACT_SCRIPT = r"""
import json, os, sys, time
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import tf_keras as keras
import keract

data = np.load(sys.argv[1])
weights = [data[f"w{i}"] for i in range(len(data.files) - 1)]
images = data["images"]
conv = dict(kernel_size=3, padding="same", activation="relu")
model = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Rescaling(1 / 255, name="rescale"),
    keras.layers.Conv2D(24, name="conv1", **conv), keras.layers.MaxPooling2D(name="pool1"),
    keras.layers.Conv2D(48, name="conv2", **conv), keras.layers.MaxPooling2D(name="pool2"),
    keras.layers.Conv2D(64, name="conv3", **conv), keras.layers.MaxPooling2D(name="pool3"),
    keras.layers.Flatten(name="flatten"), keras.layers.Dense(128, activation="relu", name="dense"),
    keras.layers.Dropout(0.25, name="dropout"),
    keras.layers.Dense(10, activation="softmax", name="predictions"),
])
model.set_weights(weights)
# keract shows its figures with plt.show(); under Agg that draws nothing, so draw instead,
# once, as a notebook's inline backend would.
plt.show = lambda *a, **k: plt.gcf().canvas.draw()
import contextlib, io
times = []
for image in images:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        acts = keract.get_activations(model, image[None, ..., None].astype("float32"),
                                      layer_names="conv1")
        keract.display_activations(acts, cmap="viridis", save=False)
    times.append(time.perf_counter() - start)
print(json.dumps({"times": times, "keract": getattr(keract, "__version__", "?")}))
"""


def keract_times(model: keras.Model, images: np.ndarray) -> dict[str, object]:
    """Time keract's get_activations + display_activations on conv1, in a tf-keras process.

    keract does not run on Keras 3, so it runs in a subprocess with ``TF_USE_LEGACY_KERAS=1``
    on a tf-keras copy of the same model with the same weights.
    """
    try:
        import keract  # noqa: F401, PLC0415
        import tf_keras  # noqa: F401, PLC0415
    except ImportError as error:
        return {"error": f"not installed ({error.name}): pip install keract tf-keras"}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "weights.npz"
        arrays = {f"w{i}": w for i, w in enumerate(model.get_weights())}
        np.savez(data, images=images, **arrays)
        script = Path(folder) / "keract_run.py"
        script.write_text(KERACT_SCRIPT)
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        result = subprocess.run(  # noqa: S603
            [sys.executable, str(script), str(data)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=900,
        )
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def timed(action, repeats: int) -> list[float]:
    """Call ``action(i)`` for ``i`` in ``range(repeats)`` and return the seconds of each."""
    times = []
    for index in range(repeats):
        start = time.perf_counter()
        action(index)
        times.append(time.perf_counter() - start)
    return times
