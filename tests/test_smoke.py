"""The smoke subset: what must work on every version pyproject.toml allows.

``.ci/run`` runs this file a second time in a separate virtual environment that holds the lowest
versions of every dependency (``uv pip install --resolution lowest-direct``), so the floors stay
true. It needs only convscope's own dependencies plus pytest, nbclient, nbformat and ipykernel:
the Explorer in a real kernel, the static API checked against plain Keras, and ``save_gif``.
"""

from __future__ import annotations

import itertools
import platform
import sys
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
import traitlets
from nbclient import NotebookClient
from PIL import Image

import convscope

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = convscope.load_mnist("test")  # the offline digits where MNIST is absent
    return images[:32], labels[:32]


def test_versions_in_use_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    import anywidget
    import ipywidgets
    import matplotlib as mpl
    import PIL
    import tensorflow as tf

    versions = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "matplotlib": mpl.__version__,
        "pillow": PIL.__version__,
        "ipywidgets": ipywidgets.__version__,
        "anywidget": anywidget.__version__,
    }
    with capsys.disabled():  # the CI log says which versions the smoke run proved
        print("\nsmoke versions:", ", ".join(f"{k} {v}" for k, v in versions.items()))
    assert keras.backend.backend() == "tensorflow"


def test_the_bundled_model_reads_digits_and_matches_plain_keras(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    images, labels = digits
    model = convscope.mnist_cnn()
    found = convscope.get_activations(model, images, ["conv2", "predictions"])
    # The independent reference: a plain Keras model up to conv2, on the same raw pixels.
    reference = keras.Model(model.inputs[0], model.get_layer("conv2").output)
    expected = np.asarray(reference(images[..., np.newaxis].astype("float32")))
    np.testing.assert_allclose(found["conv2"], expected, rtol=1e-5, atol=1e-5)
    assert np.mean(found["predictions"].argmax(axis=1) == labels) >= 0.9


def test_static_figures_draw(digits: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    model = convscope.mnist_cnn()
    convscope.plot_feature_maps(model, digits[0][0], "conv1").savefig(tmp_path / "maps.png")
    pixels = np.asarray(Image.open(tmp_path / "maps.png").convert("L"))
    assert pixels.std() > 20  # maps were drawn, not a blank canvas
    heat = convscope.grad_cam(model, digits[0][0])
    assert heat.shape == (28, 28)
    assert np.isfinite(heat).all()
    assert heat.max() > 0


def test_save_gif_writes_one_titled_frame_per_sample(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    explorer = convscope.Explorer(convscope.mnist_cnn(), *digits, figure="png")
    path = explorer.save_gif(tmp_path / "scrub.gif", range(3), fps=4)
    with Image.open(path) as gif:
        assert gif.n_frames == 3
        assert gif.info["duration"] == 250
        frames = []
        for index in range(3):
            gif.seek(index)
            frames.append(np.asarray(gif.convert("RGB")))
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(frames))
    explorer.close()


def test_no_synced_trait_shadows_a_widget_base_attribute() -> None:
    # ipywidgets calls its own methods (Widget._compare, say) while displaying a widget: a
    # trait of the same name breaks the display on some ipywidgets/anywidget versions.
    for name in convscope.Explorer.class_trait_names(sync=True):
        for base in convscope.Explorer.__mro__[1:]:
            inherited = vars(base).get(name)
            assert inherited is None or isinstance(inherited, traitlets.TraitType), (
                f"trait {name!r} shadows {base.__name__}.{name}"
            )


@pytest.mark.slow
def test_the_explorer_displays_and_answers_in_a_real_kernel(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import convscope\nexplorer = convscope.Explorer()\nexplorer"),
        nbformat.v4.new_code_cell(
            'import sys\nexplorer.update(layer="conv2", channel=3)\nexplorer.sample = 5\n'
            "print(sys.prefix)\n"
            "print(explorer.layer, explorer.channel, explorer.sample, repr(explorer.error))"
        ),
    ]
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    shown, answered = (cell.outputs for cell in notebook.cells)
    errors = [o for o in (*shown, *answered) if o.output_type == "error"]
    assert not errors, errors[0].get("evalue") if errors else ""
    assert [o for o in shown if WIDGET_VIEW in o.get("data", {})], shown
    text = "".join(o.text for o in answered if o.output_type == "stream" and o.name == "stdout")
    prefix, state = text.strip().splitlines()[-2:]
    assert prefix == sys.prefix  # the kernel runs in this environment, on the same versions
    assert state == "conv2 3 5 ''"
