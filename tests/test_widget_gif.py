"""GIF export of a scrub: one titled frame per sample or channel, the view left as it was."""

from __future__ import annotations

import itertools
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import convscope
from convscope.errors import ArgumentTypeError, InvalidArgumentError


@pytest.fixture(scope="module")
def explorer(model: keras.Model, mnist_test: tuple[np.ndarray, np.ndarray]) -> convscope.Explorer:
    return convscope.Explorer(model, mnist_test[0][:200], mnist_test[1][:200], figure="png")


def _frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as gif:
        return [np.asarray(frame.convert("RGB")) for frame in _each(gif)]


def _each(gif: Image.Image) -> list[Image.Image]:
    pictures = []
    for index in range(gif.n_frames):
        gif.seek(index)
        pictures.append(gif.copy())
    return pictures


def test_a_scrub_of_samples_becomes_a_titled_gif(
    explorer: convscope.Explorer, tmp_path: Path
) -> None:
    explorer.update(layer="conv2", channel=5, sample=42)
    before = (explorer.sample, explorer.channel, explorer._figure_frame)
    path = explorer.save_gif(tmp_path / "scrub.gif", range(10, 16), fps=4)
    frames = _frames(path)
    assert len(frames) == 6
    assert frames[0].shape == (450, 900, 3)
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(frames))
    with Image.open(path) as gif:
        assert gif.info["duration"] == 250
        assert gif.info["loop"] == 0
    # Titles on every frame (the live view has none): dark text pixels above the input panel.
    assert all((frame[5:30, 10:190] < 100).any() for frame in frames)
    assert (explorer.sample, explorer.channel, explorer._figure_frame) == before


def test_a_scrub_of_channels(explorer: convscope.Explorer, tmp_path: Path) -> None:
    explorer.update(layer="conv1", channel=0, sample=3)
    frames = _frames(explorer.save_gif(tmp_path / "channels.gif", channels=[0, 5, 10]))
    assert len(frames) == 3
    assert not np.array_equal(frames[0], frames[2])
    assert explorer.channel == 0


@pytest.mark.parametrize(
    ("path", "kwargs", "error", "message"),
    [
        ("missing/scrub.gif", {}, InvalidArgumentError, "does not exist"),
        ("scrub.png", {}, InvalidArgumentError, r"should end in \.gif"),
        ("scrub.gif", {"samples": []}, InvalidArgumentError, "samples is empty"),
        ("scrub.gif", {"samples": [0, 500]}, InvalidArgumentError, r"\[500\] outside 0\.\.199"),
        ("scrub.gif", {"fps": 0}, InvalidArgumentError, "between 0.5 and 50"),
        ("scrub.gif", {"samples": "0-9"}, ArgumentTypeError, "range or list"),
        ("scrub.gif", {"channels": [99]}, InvalidArgumentError, r"\[99\] outside 0\.\.23"),
    ],
)
def test_bad_requests_write_nothing(  # noqa: PLR0917 - the parametrised cases
    explorer: convscope.Explorer,
    tmp_path: Path,
    path: str,
    kwargs: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    explorer.update(layer="conv1", channel=2, sample=7)
    with pytest.raises(error, match=message):
        explorer.save_gif(tmp_path / path, **kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.rglob("*")) == []
    assert (explorer.layer, explorer.channel, explorer.sample) == ("conv1", 2, 7)
