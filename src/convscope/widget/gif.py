"""Animated GIFs of a scrub: the Explorer's titled figure, one frame per sample or channel.

:class:`ScrubGif` makes them for an Explorer (``ex.save_gif`` and the page's GIF button); it
reaches the Explorer only through a :class:`GifHost`.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from convscope.errors import ArgumentTypeError, InvalidArgumentError, check_real

if TYPE_CHECKING:
    from convscope.render.explorer_figure import ExplorerFigure
    from convscope.widget.controller import ExplorerController

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


@dataclass(frozen=True)
class GifHost:
    """What a GIF of a scrub needs of its Explorer.

    Attributes
    ----------
    controller : ExplorerController
        The view the GIF scrubs through (its figure, its sample and layer in view).
    in_view : callable
        The Explorer's ``(sample, channel)`` as its traits hold them (``"drawn"`` included).
    show : callable
        ``show(sample, channel)``: put that view back, as ``ex.update`` does.
    say : callable
        Show a status line on the page at once.
    set_traits : callable
        Write the given traits as the kernel's own values.

    """

    controller: ExplorerController
    in_view: Callable[[], tuple[Any, int]]
    show: Callable[[Any, int], None]
    say: Callable[[str], None]
    set_traits: Callable[[dict[str, Any]], None]


class ScrubGif:
    """An Explorer's GIFs: a scrub of samples or channels written to a file or offered the page."""

    def __init__(self, host: GifHost) -> None:
        self.host = host

    def save(
        self,
        path: object,
        samples: Iterable[int] | None,
        fps: object,
        channels: Iterable[int] | None,
    ) -> Path:
        """Write the GIF of a scrub and put the view back; see :meth:`Explorer.save_gif`."""
        target, rate = check_gif(path, fps)
        controller = self.host.controller
        state = controller.state
        if channels is not None:
            count = controller.engine.layer(state.layer).channels
            steps = steps_of(channels, "channels", count)
            show = functools.partial(_apply_channel, controller)
        else:
            chosen = samples if samples is not None else range(state.sample, state.sample + 20)
            steps = steps_of(chosen, "samples", len(controller.images))
            show = functools.partial(_apply_sample, controller)
        sample, channel = self.host.in_view()
        try:
            write_gif(target, frames(controller.view, show, steps), rate)
        finally:  # the view as it was, even if a frame failed
            self.host.show(sample, channel)
        return target

    def offer(self, count: int) -> None:
        """Make a GIF of the next ``count`` samples and hand it to the page as a download."""
        controller = self.host.controller
        count = max(1, min(int(count), 100))
        index = controller.state.sample
        samples = (index + np.arange(count)) % len(controller.images)
        self.host.say(f"making a GIF of {count} samples...")
        with tempfile.TemporaryDirectory() as folder:
            name = f"convscope-{controller.state.layer.replace('/', '-')}-{index}.gif"
            path = self.save(Path(folder) / name, samples.tolist(), 5, None)
            download = path.read_bytes()
        self.host.set_traits(
            {"_download_name": name, "_download": download, "_status": controller.notice}
        )


def _apply_sample(controller: ExplorerController, sample: int) -> None:
    controller.apply(sample=sample)


def _apply_channel(controller: ExplorerController, channel: int) -> None:
    controller.apply(channel=channel)
