"""What an Explorer is made from: its arguments checked, the model opened, the data read.

:func:`open_controller` does everything that can fail before the widget exists, so that a bad
argument raises without leaving a half-made widget open in the kernel. :class:`ExplorerInternals`
names the parts of a made Explorer that convscope's own modules use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from convscope.data.mnist import load_mnist
from convscope.engine.activations import ActivationEngine
from convscope.engine.datasets import collect, is_stream
from convscope.engine.loading import load_model
from convscope.engine.mnist_cnn import mnist_cnn
from convscope.engine.training import TrainingRun
from convscope.errors import ArgumentTypeError, LabelError, check_int, check_layer_name
from convscope.render.words import layer_line
from convscope.widget.controller import ExplorerController
from convscope.widget.figure_display import FigureMode, choose_mode, make_figure

if TYPE_CHECKING:
    from convscope.widget.samples import SampleBrowser


def open_controller(
    model: Any,
    images: Any,
    labels: Any,
    class_names: list[str] | None,
    *,
    layer: str | None,
    figure: FigureMode,
    cache_bytes: int,
    output: int | str | None,
    teaching: object,
) -> tuple[ExplorerController, TrainingRun | None, str]:
    """Return the controller of an Explorer's arguments, its training run if any, its figure mode.

    The cheap checks go first. The engine traces its every-row pass in the background while
    the predictions and the first view are computed; with it ready on return, a first visit
    to any layer is one pass.
    """
    mode = choose_mode(figure)
    if not isinstance(teaching, (bool, np.bool_)):
        raise ArgumentTypeError(f"teaching must be True or False, not {teaching!r}.")
    cache_bytes = check_int("cache_bytes", cache_bytes, minimum=0, example=2**28)
    layer = None if layer is None else check_layer_name(layer)
    if images is None and labels is not None:
        raise LabelError("labels were given without images; pass images=... too.")
    model, run = _open_model(model)
    engine = ActivationEngine(
        model, cache_bytes=cache_bytes, output=output, background_compile=True
    )
    if run is not None:
        engine.weights_tag = run.epochs[-1]
    if images is None:
        images, labels = load_mnist("test")
    elif is_stream(images):
        images, stream_labels = collect(images, engine.input_shape)
        labels = stream_labels if labels is None else labels
    controller = ExplorerController(
        engine, images, labels, class_names, make_figure(mode), layer=layer
    )
    engine.wait_compiled()
    return controller, run, mode


def layer_options(engine: ActivationEngine) -> list[dict[str, Any]]:
    """Return the layer menu's entries: name, kind, shape, channels and the line it shows."""
    return [
        {
            "name": info.name,
            "kind": info.kind,
            "shape": info.shape_text,
            "channels": info.channels,
            "text": layer_line(info.name, info.kind, info.shape_text),
        }
        for info in engine.layers
    ]


def _open_model(model: Any) -> tuple[Any, TrainingRun | None]:
    """Return the Keras model to show (at a run's last epoch), and the training run if any."""
    if isinstance(model, TrainingRun):
        model.use(model.epochs[-1])
        return model.model, model
    if model is None:
        return mnist_cnn(), None
    if isinstance(model, (str, os.PathLike)):
        return load_model(model), None
    return model, None


@dataclass(frozen=True)
class ExplorerInternals:
    """What convscope's own modules (the static export) use of an Explorer beyond its user API.

    Internal API: :attr:`Explorer.internals` hands it out; it may change in any release.

    Attributes
    ----------
    controller : ExplorerController
        Computes and draws the view: its state, weights, statistics and figure.
    samples : SampleBrowser
        The sample picker's filter, order and pages.
    publish : callable
        Send the page the view as the controller holds it now.
    teaching : bool
        Whether the teaching captions and titles show.
    cmap_options, norm_options, view_options : list of str
        The colour scales, scales and views the widget's controls offer.

    """

    controller: ExplorerController
    samples: SampleBrowser
    publish: Callable[[], None]
    teaching: bool
    cmap_options: list[str]
    norm_options: list[str]
    view_options: list[str]
