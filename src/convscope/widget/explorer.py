"""The Explorer: an anywidget that scrubs layers, channels and samples of a Keras CNN live."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import numpy as np
import traitlets

from convscope.data.mnist import load_mnist
from convscope.engine.activations import ActivationEngine
from convscope.engine.cache import DEFAULT_CACHE_BYTES
from convscope.engine.datasets import collect, is_stream
from convscope.engine.loading import load_model
from convscope.engine.mnist_cnn import mnist_cnn
from convscope.errors import LabelError, check_int, check_layer_name
from convscope.render.explorer_figure import ExplorerFigure
from convscope.render.normalise import NORM_MODES
from convscope.widget.controller import ExplorerController
from convscope.widget.figure_display import (
    FigureMode,
    check_save,
    choose_mode,
    make_figure,
    png_bytes,
)
from convscope.widget.samples import SamplePicker

_PACKAGE = Path(__file__).resolve().parent.parent
_STATIC = _PACKAGE / "static"
_SOURCE = _PACKAGE.parent.parent / "js"  # an editable install reads the sources directly
_ASSETS = _STATIC if (_STATIC / "widget.js").is_file() else _SOURCE
_VIEW_FIELDS = ("layer", "channel", "sample", "cmap", "norm")
CMAPS = ["viridis", "magma", "inferno", "cividis", "gray", "RdBu_r"]


class Explorer(anywidget.AnyWidget):
    """Scrub through the layers, channels and samples of a CNN and watch its feature maps.

    With no arguments it shows the bundled MNIST CNN on the 10,000 MNIST test digits.

    Parameters
    ----------
    model : keras.Model or path-like, optional
        A built Keras 3 model with one image input, or a ``.keras`` file.
    images : array-like or tf.data.Dataset, optional
        Samples in the units the model takes: ``(N, H, W, C)``, or ``(N, H, W)`` for grey.
        A ``tf.data.Dataset`` (or another iterable) of image batches or of ``(images, labels)``
        batches is read whole, labels included: the Explorer keeps every sample to scrub.
    labels : array-like, optional
        True class per sample; enables the "true class" and "misclassified" filters. Class
        indices ``(N,)``; one-hot rows ``(N, classes)``, of which the argmax is taken; or class
        names ``(N,)`` when ``class_names`` is given.
    class_names : list of str, optional
        Names of the output classes, as strings, one per output unit when the model's output
        is a class vector (default: their indices).
    layer : str, optional
        Layer to open on; by default the first convolution.
    figure : {"auto", "ipympl", "png", "none"}
        How the figure reaches the page: an ipympl canvas updated in place (JupyterLab,
        Notebook 7), PNG images inside the widget (Colab, VS Code, anywhere), or not at all
        (``"none"``: scripts and benchmarks draw ``ex.figure`` themselves).
    cache_bytes : int
        Bound on the activation cache, >= 0.

    Raises
    ------
    ConvscopeError
        A subclass that names the problem and the fix, before the widget opens.

    Examples
    --------
    >>> ex = convscope.Explorer()
    >>> ex.layer = "conv2"; ex.channel = 5; ex.sample = 42
    >>> ex.save("conv2.png", dpi=150)

    """

    _esm = _ASSETS / "widget.js"
    _css = _ASSETS / "widget.css"

    layer_options = traitlets.List(traitlets.Dict()).tag(sync=True)
    layer_index = traitlets.Int(0).tag(sync=True)
    channel_index = traitlets.Int(0).tag(sync=True)
    channel_count = traitlets.Int(1).tag(sync=True)
    unit_name = traitlets.Unicode("channel").tag(sync=True)
    sample_index = traitlets.Int(0).tag(sync=True)
    sample_count = traitlets.Int(1).tag(sync=True)
    sample_text = traitlets.Unicode("").tag(sync=True)
    cmap = traitlets.Unicode("viridis").tag(sync=True)
    cmap_options = traitlets.List(traitlets.Unicode(), CMAPS).tag(sync=True)
    norm = traitlets.Unicode("standard").tag(sync=True)
    norm_options = traitlets.List(traitlets.Unicode(), list(NORM_MODES)).tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    has_labels = traitlets.Bool(False).tag(sync=True)
    has_predictions = traitlets.Bool(False).tag(sync=True)

    figure_mode = traitlets.Unicode("png").tag(sync=True)
    figure_png = traitlets.Bytes(b"").tag(sync=True)

    thumbs = traitlets.Bytes(b"").tag(sync=True)
    thumb_meta = traitlets.List(traitlets.Dict()).tag(sync=True)
    thumb_shape = traitlets.List(traitlets.Int(), [28, 28, 1]).tag(sync=True)
    page = traitlets.Int(0).tag(sync=True)
    page_count = traitlets.Int(1).tag(sync=True)
    filter_true = traitlets.Int(-1).tag(sync=True)
    filter_predicted = traitlets.Int(-1).tag(sync=True)
    misclassified_only = traitlets.Bool(False).tag(sync=True)
    filtered_count = traitlets.Int(0).tag(sync=True)

    error = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    ack = traitlets.Int(0).tag(sync=True)

    def __init__(
        self,
        model: Any = None,
        images: Any = None,
        labels: Any = None,
        class_names: list[str] | None = None,
        *,
        layer: str | None = None,
        figure: FigureMode = "auto",
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        # Everything that can fail runs before the widget exists: a bad argument raises
        # without leaving a half-made widget open in the kernel. The cheap checks go first.
        mode = choose_mode(figure)
        cache_bytes = check_int("cache_bytes", cache_bytes, minimum=0, example=2**28)
        layer = None if layer is None else check_layer_name(layer)
        if images is None and labels is not None:
            raise LabelError("labels were given without images; pass images=... too.")
        if model is None:
            model = mnist_cnn()
        elif isinstance(model, (str, os.PathLike)):
            model = load_model(model)
        engine = ActivationEngine(model, cache_bytes=cache_bytes)
        if images is None:
            images, labels = load_mnist("test")
        elif is_stream(images):
            images, stream_labels = collect(images, engine.input_shape)
            labels = stream_labels if labels is None else labels
        controller = ExplorerController(
            engine, images, labels, class_names, make_figure(mode), layer=layer
        )
        super().__init__()
        self.figure_mode = mode
        self._controller = controller
        self._picker = SamplePicker(
            controller.display_images, controller.labels, controller.predictions
        )
        self._filtered = self._picker.filtered()
        self._pending: dict[str, Any] = {}
        self._box: ipywidgets.VBox | None = None
        self._flush_scheduled = False

        self.layer_options = [
            {
                "name": info.name,
                "kind": info.kind,
                "shape": info.shape_text,
                "channels": info.channels,
            }
            for info in engine.layers
        ]
        self.class_names = controller.class_names
        self.sample_count = len(controller.images)
        self.has_labels = controller.labels is not None
        self.has_predictions = controller.predictions is not None
        self.thumb_shape = self._picker.thumb_shape
        self.on_msg(self._on_frontend_message)
        self._publish()
        self._publish_page(0)

    # ----- state from Python ---------------------------------------------------------------
    @property
    def layers(self) -> list[str]:
        """Names of the layers that can be shown, in model order."""
        return self._controller.engine.layer_names

    @property
    def layer(self) -> str:
        """Name of the layer in view. Setting it redraws."""
        return self._controller.state.layer

    @layer.setter
    def layer(self, name: str) -> None:
        self.update(layer=name)

    @property
    def channel(self) -> int:
        """Index of the selected channel (unit, for dense layers). Setting it redraws."""
        return self._controller.state.channel

    @channel.setter
    def channel(self, index: int) -> None:
        self.update(channel=index)

    @property
    def sample(self) -> int:
        """Index of the sample in view. Setting it redraws."""
        return self._controller.state.sample

    @sample.setter
    def sample(self, index: int) -> None:
        self.update(sample=index)

    @property
    def figure(self) -> Any:
        """The matplotlib Figure that every change updates in place."""
        return self._controller.view.figure

    @property
    def panels(self) -> ExplorerFigure:
        """The figure's panels (input, grid, channel, classes) and what each shows now."""
        return self._controller.view

    @property
    def engine(self) -> ActivationEngine:
        """The activation engine (model, layers, cache) behind this Explorer."""
        return self._controller.engine

    def update(self, **changes: Any) -> None:
        """Change several of ``layer``, ``channel``, ``sample``, ``cmap``, ``norm`` at once.

        Raises
        ------
        UnknownLayerError, IndexOutOfRangeError, ValueError
            For a bad value; the view and the state stay as they were.

        """
        self._controller.apply(on_progress=self._show_progress, **changes)
        self.error = ""
        self._publish()

    def save(self, path: str | os.PathLike[str], dpi: float = 100) -> None:
        """Write the current view, with panel titles, to an image file (format from the name).

        Parameters
        ----------
        path : path-like
            A file name ending in an image format (``.png``, ``.jpg``, ``.pdf``, ``.svg``,
            ...), in a folder that exists.
        dpi : float
            Dots per inch, from 10 up to what keeps the image within 50 megapixels (1111 for
            the 9×4.5-inch view).

        Raises
        ------
        ArgumentTypeError, InvalidArgumentError
            For a bad path or dpi; nothing is written.

        """
        target, extension, dpi = check_save(self.figure, path, dpi)
        with self._controller.view.titled():
            self.figure.savefig(target, dpi=dpi, format=extension)

    @property
    def display_widget(self) -> ipywidgets.DOMWidget:
        """What a notebook shows: the ipympl canvas above these controls, or just the controls.

        Use it to place the Explorer in your own layout, e.g. ``HBox([ex.display_widget, ...])``.
        """
        if self.figure_mode != "ipympl":
            return self
        if self._box is None:
            self._box = ipywidgets.VBox([self.figure.canvas, self])
        return self._box

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Show :attr:`display_widget`: the ipympl canvas is a sibling widget of the controls."""
        if self.figure_mode == "ipympl":
            return self.display_widget._repr_mimebundle_(**kwargs)
        return super()._repr_mimebundle_(**kwargs)

    # ----- messages from the frontend ------------------------------------------------------
    def _on_frontend_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        """Merge a request into the pending one; the newest value of each field wins."""
        kind = content.get("type")
        pending = self._pending
        if kind == "view":
            pending.update({key: content[key] for key in _VIEW_FIELDS if key in content})
            if "sample" in content:  # an absolute sample replaces any pending steps
                pending.pop("step", None)
        elif kind == "step":
            pending["step"] = pending.get("step", 0) + int(content.get("delta", 0))
        elif kind == "filter":
            pending["filter"] = content
        elif kind == "page":
            pending["page"] = int(content.get("page", 0))
        pending["seq"] = max(int(content.get("seq", 0)), pending.get("seq", 0))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self._flush)
            except RuntimeError:  # no event loop (scripts, tests): apply now
                self._flush()

    def _flush(self) -> None:
        """Apply everything that arrived since the last flush as one update."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, {}
        if not pending:
            return
        # One state message for the whole request, ack included, sent after the new frame:
        # fewer round trips for a remote kernel.
        with self.hold_sync():
            try:
                if "filter" in pending:
                    self._apply_filter(pending["filter"])
                changes = {key: pending[key] for key in _VIEW_FIELDS if key in pending}
                if "step" in pending:
                    changes["sample"] = self._stepped(
                        changes.get("sample", self.sample), pending["step"]
                    )
                if changes:
                    self.update(**changes)
                if "page" in pending:
                    self._publish_page(pending["page"])
                elif "filter" in pending or self._page_of_sample() != self.page:
                    self._publish_page(self._page_of_sample())
            except Exception as error:  # noqa: BLE001 - the widget shows every failure, lives on
                self.error = f"{type(error).__name__}: {error}"
                self.status = ""
                self._publish()
            finally:
                self.ack = pending.get("seq", self.ack)

    def _apply_filter(self, content: dict[str, Any]) -> None:
        true = int(content.get("true", -1))
        predicted = int(content.get("predicted", -1))
        misclassified = bool(content.get("misclassified", False))
        filtered = self._picker.filtered(true, predicted, misclassified)
        self._filtered = filtered
        self.filter_true, self.filter_predicted = true, predicted
        self.misclassified_only = misclassified
        if len(filtered) and self.sample not in set(filtered.tolist()):
            self.update(sample=int(filtered[0]))

    def _stepped(self, start: int, delta: int) -> int:
        """Move ``delta`` places from ``start`` through the filtered samples, wrapping round."""
        filtered = self._filtered if len(self._filtered) else np.arange(self.sample_count)
        position = int(np.searchsorted(filtered, start))
        if position < len(filtered) and filtered[position] == start:
            return int(filtered[(position + delta) % len(filtered)])
        return int(filtered[position % len(filtered)] if delta > 0 else filtered[position - 1])

    def _page_of_sample(self) -> int:
        position = int(np.searchsorted(self._filtered, self.sample))
        return min(position // self._picker.page_size, self._picker.page_count(self._filtered) - 1)

    # ----- publishing state to the frontend ------------------------------------------------
    def _publish(self) -> None:
        controller = self._controller
        state = controller.state
        info = controller.engine.layer(state.layer)
        with self.hold_sync():
            self.layer_index = self.layers.index(state.layer)
            self.channel_count = info.channels
            self.unit_name = "channel" if info.spatial else "unit"
            self.channel_index = state.channel
            self.sample_index = state.sample
            self.cmap, self.norm = state.cmap, state.norm
            self.sample_text = self._describe_sample(state.sample)
            self.status = ""
            if self.figure_mode == "png":
                self.figure_png = png_bytes(self.figure)
        if self.figure_mode == "ipympl":
            # draw(), not draw_idle(): draw_idle asks the page to ask back for a frame, a
            # second round trip; draw() renders and pushes the changed pixels at once.
            self.figure.canvas.draw()

    def _publish_page(self, page: int) -> None:
        page = int(np.clip(page, 0, self._picker.page_count(self._filtered) - 1))
        data, meta = self._picker.page(self._filtered, page)
        with self.hold_sync():
            self.page = page
            self.page_count = self._picker.page_count(self._filtered)
            self.filtered_count = len(self._filtered)
            self.thumb_meta = meta
            self.thumbs = data

    def _describe_sample(self, sample: int) -> str:
        controller = self._controller
        parts = [f"sample {sample}"]
        if controller.labels is not None:
            parts.append(f"label {controller.class_name(int(controller.labels[sample]))}")
        if controller.probabilities is not None:
            probabilities = controller.probabilities[sample]
            best = int(probabilities.argmax())
            parts.append(f"predicted {controller.class_name(best)} ({probabilities[best]:.1%})")
        return "  ·  ".join(parts)

    def _show_progress(self, done: int, total: int) -> None:
        self.status = f"data-set colour scale: {done:,}/{total:,} images"
        self.send_state("status")  # now, even while a request's state is held back
