"""Animated GIFs of a scrub: the Explorer's titled figure, one frame per sample or channel."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from convscope.errors import ArgumentTypeError, InvalidArgumentError, check_real

if TYPE_CHECKING:
    from convscope.render.explorer_figure import ExplorerFigure

MAX_FRAMES = 1000


def check_gif(path: object, fps: object) -> tuple[Path, float]:
    """Return where the GIF goes and its frame rate, or raise before anything is written."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"path must be a file name such as 'scrub.gif', got {path!r}.")
    target = Path(path).expanduser()
    if target.suffix.lower() != ".gif":
        raise InvalidArgumentError(
            f"save_gif writes GIF files: {target.name!r} should end in .gif (for one image, "
            "use save())."
        )
    if not target.parent.is_dir():
        raise InvalidArgumentError(
            f"The folder {str(target.parent)!r} does not exist; create it or save elsewhere."
        )
    rate = check_real("fps", fps, 5)
    if not 0.5 <= rate <= 50:  # noqa: PLR2004 - what GIF viewers honour
        raise InvalidArgumentError(f"fps must be between 0.5 and 50, got {rate!r}; e.g. 5.")
    return target, rate


def steps_of(values: object, name: str, count: int) -> list[int]:
    """Return the sample or channel indices of a scrub, checked, as a list."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ArgumentTypeError(f"{name} must be a range or list of indices, got {values!r}.")
    steps = [int(value) for value in values]
    if not steps:
        raise InvalidArgumentError(f"{name} is empty: a GIF needs at least one frame.")
    if len(steps) > MAX_FRAMES:
        raise InvalidArgumentError(f"{len(steps)} frames; a GIF here has at most {MAX_FRAMES}.")
    bad = [step for step in steps if not 0 <= step < count]
    if bad:
        raise InvalidArgumentError(f"{name} has {bad[:3]} outside 0..{count - 1}.")
    return steps


def frames(
    view: ExplorerFigure, show: Callable[[int], object], steps: list[int]
) -> Iterator[np.ndarray]:
    """Yield ``view``'s titled figure as ``(H, W, 3)`` pixels after ``show(step)`` of each step.

    ``show`` moves the figure on to a sample or a channel; the caller puts its view back.
    """
    canvas: Any = view.figure.canvas  # Agg, or ipympl's Agg-based canvas (untyped in matplotlib)
    with view.titled():
        for step in steps:
            show(step)
            canvas.draw()
            yield np.array(np.asarray(canvas.buffer_rgba())[..., :3])


def write_gif(target: Path, pictures: Iterable[np.ndarray], fps: float) -> int:
    """Write ``pictures`` as an endlessly looping GIF; return how many frames were written."""
    images = [
        Image.fromarray(picture).quantize(colors=255, method=Image.Quantize.MEDIANCUT)
        for picture in pictures
    ]
    images[0].save(
        target,
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
    )
    return len(images)
