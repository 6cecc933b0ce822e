"""The Explorer: an anywidget that scrubs layers, channels and samples of a Keras CNN live."""

from __future__ import annotations

import difflib
import functools
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from convscope.engine.activations import ActivationEngine, NextPass
from convscope.engine.cache import DEFAULT_CACHE_BYTES
from convscope.engine.live import DEFAULT_CAP, DEFAULT_EVERY
from convscope.engine.training import TrainingRun
from convscope.errors import ArgumentTypeError, check_index
from convscope.render.explorer_figure import ExplorerFigure
from convscope.widget import protocol
from convscope.widget.explorer_setup import ExplorerInternals, layer_options, open_controller
from convscope.widget.explorer_state import ExplorerTraits, view_argument
from convscope.widget.explorer_training import ExplorerTraining, TrainingHost
from convscope.widget.figure_display import (
    FigureMode,
    check_save,
)
from convscope.widget.figure_input import FigureInput
from convscope.widget.gif import GifHost, ScrubGif
from convscope.widget.inbox import Batch, RequestInbox
from convscope.widget.kernel_loop import KernelLoop, in_marimo
from convscope.widget.live_training import LiveTraining
from convscope.widget.page_requests import PageRequests, RequestHost
from convscope.widget.pattern_news import PatternNews, PatternsHost
from convscope.widget.publisher import Publisher, PublishHost
from convscope.widget.samples import SampleBrowser, SamplePicker
from convscope.widget.weights_follow import WeightsFollower

_LOG = logging.getLogger("convscope")
# The filter's traits, and the argument of Explorer.filter that sets each.
_FILTERS = {"filter_true": "true", "filter_predicted": "predicted"}
_FILTERS |= {"misclassified_only": "misclassified"}


class Explorer(ExplorerTraits):
    """Scrub through the layers, channels and samples of a CNN and watch its feature maps.

    With no arguments it shows the bundled MNIST CNN on the 10,000 MNIST test digits.

    Parameters
    ----------
    model : keras.Model, TrainingRun or path-like, optional
        A built Keras 3 model with one image input, or a ``.keras`` file. A
        :class:`~convscope.engine.training.TrainingRun` (``convscope.mnist_training_run()``,
        say) adds an epoch slider that swaps its weights in place, from before training to
        the end.
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
        How the figure reaches the page: a canvas inside the widget that receives only the
        changed pixels (``"png"``, which ``"auto"`` picks in every host: JupyterLab,
        Notebook 7, Voilà, Colab, VS Code, marimo), matplotlib's own ipympl canvas widget
        above the controls (``"ipympl"``), or not at all (``"none"``: scripts and benchmarks
        draw ``ex.figure`` themselves). ``ex.figure`` is updated in place on every path.
    cache_bytes : int
        Bound on the activation cache, >= 0.
    output : int or str, optional
        For a model with several outputs, the one shown as class probabilities: its index or
        its name. By default the first; the widget says which one it shows.
    teaching : bool
        For a projector and for students: larger type and controls, panel titles on the live
        figure, and under it a plain-language caption of each panel that follows the layer
        ("conv1 · 24 filters, each 3×3, looking for edges and strokes").

    Raises
    ------
    ConvscopeError
        A subclass that names the problem and the fix, before the widget opens.

    Examples
    --------
    >>> ex = convscope.Explorer()
    >>> ex.layer = "conv2"; ex.channel = 5; ex.sample = 42
    >>> ex.save("conv2.png", dpi=150)
    >>> ex.draw(canvas)   # your own digit, any grey 2-D array; ex.sample is then "drawn"

    """

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
        output: int | str | None = None,
        teaching: bool = False,
    ) -> None:
        # Everything that can fail runs before the widget exists: a bad argument raises
        # without leaving a half-made widget open in the kernel. The cheap checks go first.
        controller, run, mode = open_controller(
            model,
            images,
            labels,
            class_names,
            layer=layer,
            figure=figure,
            cache_bytes=cache_bytes,
            output=output,
            teaching=teaching,
        )
        super().__init__()
        self._kernel = KernelLoop()
        self._figure_mode = mode
        self._controller = controller
        self._trainer = ExplorerTraining(self._training_host())
        self._weights = WeightsFollower(
            controller,
            show=self._show_followed_weights,
            refresh=self._show_filled_predictions,
            loop=lambda: self._kernel.loop,
            busy=lambda: self._trainer.following_a_run,
        )
        self._input = FigureInput(self, self._move, self._report_error)
        self._gif = ScrubGif(
            GifHost(
                controller,
                in_view=lambda: (self.sample, self.channel),
                show=lambda sample, channel: self.update(sample=sample, channel=channel),
                say=self._say,
                set_traits=self._set_traits,
            )
        )
        self._requests = PageRequests(
            RequestHost(
                self,
                sample=lambda: self._index,
                step=self._samples_step,
                training=self._trainer.action,
                gif=self._gif.offer,
                probe_at=self._input.probe_at,
                show_page=self._publish_page,
            )
        )
        picker = SamplePicker(
            controller.display_images, controller.labels, None, classes=controller.classes
        )
        self._samples = SampleBrowser(picker, controller.class_names, self._peaks_in_view)
        self._publisher = Publisher(
            controller,
            self._samples,
            mode,
            PublishHost(
                set_traits=self._set_traits,
                hold=self.hold_sync,
                panel_open=lambda: self._panel_open,
                teaching=lambda: self._teaching,
                training=lambda: None if self._live is None else self._trainer.trait(),
                say_progress=self._say_progress,
                send=lambda kind, buffers: self.send({"type": kind}, buffers),
                later=self._kernel.call_later,
                following=lambda: self._trainer.following_a_run,
            ),
        )
        self._inbox = RequestInbox(self._apply_requests)
        self._box: ipywidgets.VBox | None = None

        self._layer_options = layer_options(controller.engine)
        self._class_names = list(controller.class_names)
        self._has_labels = self._samples.has_labels
        self._has_predictions = self._samples.has_predictions
        self._thumb_shape = picker.thumb_shape
        self._pad = [] if controller.pad.size is None else list(controller.pad.size)
        if run is not None:  # the epoch slider replays it
            self._trainer.replay(run)
        self._teaching = bool(teaching)
        self._echo_acks = in_marimo()  # cells reading mo.ui.anywidget(explorer) follow its moves
        controller.view.set_live_titles(bool(teaching))
        self._sort_options = picker.sorts
        self._patterns = PatternNews(
            PatternsHost(
                controller,
                self._kernel.call_soon,
                self._set_traits,
                self.hold_sync,
                self._publish,
                self._weights.follow,
            )
        )
        self.on_msg(self._on_frontend_message)
        if mode == "ipympl":  # a click on the canvas focuses it: its arrow keys come here
            self._input.connect(self.figure.canvas)
        self._publish()
        self._publish_page(0)
        self._ready = True

    @traitlets.validate(*protocol.USER_TRAITS)
    def _validate_user_state(self, proposal: traitlets.Bunch) -> object:
        """Apply a new value of the user's state, as the matching control does.

        A value the Explorer refuses raises its ``ConvscopeError``, before the trait changes;
        a value it takes is shown, and the trait gets its resolved form (a class name becomes
        its index, a list probe a tuple).
        """
        name, value = proposal.trait.name, proposal.value
        if self._publishing or not self._ready:
            return value
        if name == "page":
            self._weights.follow()  # the thumbnails' classes (and the filter): the model now
            self._publish_page(check_index("page", value, self.page_count))
        elif name == "epoch":
            self._trainer.use_epoch(value)
        elif name in _FILTERS:
            current = {argument: getattr(self, trait) for trait, argument in _FILTERS.items()}
            self.filter(**(current | {_FILTERS[name]: value}))
        else:
            self.update(**{name: view_argument(name, value)})
        return getattr(self, name)

    @property
    def layers(self) -> list[str]:
        """Names of the layers that can be shown, in model order."""
        return self._controller.engine.layer_names

    @property
    def drawn(self) -> np.ndarray | None:
        """The drawing as the model sees it: ``uint8`` ``(H, W)``, MNIST-preprocessed.

        ``None`` before anything was drawn; all zeros for a cleared pad. Read-only: change it
        with :meth:`draw` or the drawing pad.
        """
        drawn = self._controller.pad.drawn
        if drawn is None:
            return None
        view: np.ndarray = drawn.view()
        view.flags.writeable = False
        return view

    def draw(self, image: object) -> None:
        """Show a drawing of yours as the sample, as the widget's drawing pad does.

        The drawing is preprocessed as MNIST's digits were
        (:func:`convscope.data.drawing.mnist_digit`: cropped to its ink, scaled to fit 20×20
        keeping its aspect ratio, centred by its centre of mass in 28×28) and scaled to the
        data set's range of values; :attr:`drawn` holds it and :attr:`sample` becomes
        ``"drawn"``. Every view works on it. Picking a sample (a thumbnail, ←/→) leaves it;
        ``ex.sample = "drawn"`` comes back to it.

        Only models with one grey input channel ``(H, W, 1)`` take drawings; a grey model of
        another size gets the drawing painted at its input size, in the same proportions. For
        colour models the widget shows no pad.

        Parameters
        ----------
        image : array-like
            One grey image ``(H, W)`` or ``(H, W, 1)``, any size up to 8192 a side: a
            280×280 canvas, a 28×28 digit... Ink bright on black (dark ink on white is
            inverted); ``uint8`` 0–255, floats 0–1 or 0–255, or booleans. All black gives the
            empty state, "draw a digit", with no prediction.

        Raises
        ------
        ArgumentTypeError, InvalidArgumentError, ModelNotSupportedError
            For something that is not one grey image, or a colour model; nothing changes.

        """
        self._kernel.remember()
        self._weights.follow()
        self._controller.draw(image, follow=False)
        self._error = ""
        self._publish()

    def wait(self, timeout: float | None = None) -> None:
        """Block until background work (filter patterns) is done, then show its result.

        In a notebook the view updates by itself; scripts call this before saving. While
        :meth:`fit` trains, it also blocks until training ends and shows where it ended
        (``KeyboardInterrupt`` stops training first; the snapshots stay), with every sample's
        prediction for the weights it ended on.
        """
        self._trainer.wait(timeout)
        self._weights.follow()  # the predictions below are kept per weights
        if not self._controller.classes.complete and not self._trainer.following_a_run:
            self._controller.classes.fill()
            self._show_filled_predictions()
        # Patterns dropped for weights that moved under them start again: wait for those too.
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._controller.views.wait(left)
            self._patterns.ready()
            if not self._controller.views.busy() or left == 0.0:
                return

    @property
    def page_count(self) -> int:
        """Pages of thumbnails of the samples that pass the filter."""
        return self._samples.page_count

    @property
    def filtered_samples(self) -> np.ndarray:
        """Indices of the samples that pass the filter (all of them when there is none)."""
        return np.array(self._samples.passing)

    @property
    def sort(self) -> str:
        """The order of the sample picker, of ←/→ and of play: one of :attr:`sorts`.

        ``index`` (the data set's order), ``confidence`` (the least sure predictions first),
        ``loss`` (the worst mistakes first: the lowest probability of the true class) or
        ``activation`` (the samples that excite the selected channel most first; it follows
        the layer and the channel, and costs one pass over the data set per layer, once).
        Setting it shows the first page of the new order; the sample in view stays.
        """
        return self._sort

    @sort.setter
    def sort(self, order: str) -> None:
        order = self._samples.check_sort(order)
        self._weights.follow()  # an order by the model's predictions: the model as it is now
        self._reorder(order)

    @property
    def epochs(self) -> list[int]:
        """The training epochs the epoch slider can show; empty without a training run."""
        return list(self._epochs)

    @property
    def probabilities(self) -> np.ndarray | None:
        """What the class chart shows for the input in view; ``None`` when it shows nothing.

        The model's own values when it ends in a softmax or a sigmoid, whatever form it
        takes (a multi-label sigmoid's do not sum to 1; a one-unit sigmoid's ``p`` shows as
        ``(1 - p, p)``); a softmax of the scores when it ends in scores. The chart's caption
        says which. Read-only.
        """
        shown = self._controller.probabilities_in_view()
        return None if shown is None else shown.copy()

    def _show_followed_weights(self) -> None:
        with self.hold_sync():
            self._show_new_weights()

    def _show_filled_predictions(self) -> None:
        """Publish the filter, order, captions and confusion once all predictions are known."""
        self._publisher.predictions(self.page)

    def _show_new_weights(self, *, lazy: bool = False) -> None:
        """Publish what follows the weights (see :meth:`Publisher.new_weights`)."""
        self._publisher.new_weights(lazy=lazy)
        if not self._controller.classes.complete:  # filled between requests
            self._weights.fill_later()

    @property
    def channel_panel(self) -> bool:
        """Whether the channel panel is open: the selected channel's 9 strongest samples.

        It also says whether the channel is dead (off or constant on the data set) and on what
        share of the samples it fires. Opening it costs one pass over the data set for the
        layer in view, once (progress in :attr:`status`); dead channels are then crossed out
        in the grid. A click on one of the 9 shows that sample.
        """
        return self._panel_open

    @channel_panel.setter
    def channel_panel(self, show: bool) -> None:
        if not isinstance(show, (bool, np.bool_)):
            raise ArgumentTypeError(f"channel_panel must be True or False, not {show!r}.")
        self._weights.follow()  # its statistics are kept per weights: the model as it is now
        self._publisher.forget_panel()
        self._panel_open = bool(show)
        self._publish()

    @property
    def channel_top(self) -> np.ndarray:
        """The samples of the channel panel, strongest first (empty while it is closed)."""
        return np.array([meta["index"] for meta in self._panel_meta], dtype=np.int64)

    @property
    def sorts(self) -> list[str]:
        """The orders these samples can be sorted in (loss needs labels, say)."""
        return list(self._samples.picker.sorts)

    @property
    def class_names(self) -> list[str]:
        """Names of the model's output classes."""
        return list(self._class_names)

    @property
    def figure_mode(self) -> str:
        """How the figure reaches the page: ``"ipympl"``, ``"png"`` or ``"none"``."""
        return self._figure_mode

    @property
    def status(self) -> str:
        """What the widget's status lines say: training, progress, NaN/Inf in the view, or ``""``.

        While a live training runs (or after it), its line comes first: "training: step 142
        (epoch 2.0), 17 snapshots, following the newest".
        """
        return "  ·  ".join(filter(None, [self._training.get("text", ""), self._status]))

    @property
    def error(self) -> str:
        """The message in the widget's error banner; empty while there is none."""
        return self._error

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

    def update(
        self,
        *,
        layer: str | None = None,
        channel: int | None = None,
        sample: int | str | None = None,
        cmap: str | None = None,
        norm: str | None = None,
        view: str | None = None,
        target_class: int | str | None = None,
        probe: tuple[int, int] | tuple[()] | None = None,
        compare: int | None = None,
        compare_mode: str | None = None,
        **unknown: object,
    ) -> None:
        """Change several of the layer, channel, sample, colormap, scale and view at once.

        Arguments left at ``None`` keep their value; ``target_class=-1`` explains each
        sample's predicted class again, ``probe=()`` clears the probe, ``compare=-1`` stops
        comparing (see :attr:`compare` and :attr:`compare_mode`) and ``sample="drawn"`` shows
        the drawing (see :meth:`draw`).

        Raises
        ------
        ConvscopeError
            For a bad value (``UnknownLayerError``, ``IndexOutOfRangeError``...) or a name
            that is not one of the arguments (``ArgumentTypeError``, also a ``TypeError``);
            the view and the state stay as they were.

        """
        if unknown:
            names = ", ".join(map(repr, sorted(unknown)))
            close = difflib.get_close_matches(next(iter(unknown)), protocol.VIEW_FIELDS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ArgumentTypeError(
                f"update() got unknown argument(s) {names}.{hint} It takes "
                f"{', '.join(protocol.VIEW_FIELDS)}."
            )
        self._kernel.remember()
        changes = {
            "layer": layer,
            "channel": channel,
            "sample": sample,
            "cmap": cmap,
            "norm": norm,
            "view": view,
            "target_class": target_class,
            "probe": probe,
            "compare": compare,
            "compare_mode": compare_mode,
        }
        self._weights.follow(ahead=functools.partial(self._controller.next_pass, **changes))
        self._controller.apply(on_progress=self._show_progress, follow=False, **changes)
        self._error = ""
        self._publish()
        self._weights.check_when_idle()
        if self._sort == "activation" and (layer is not None or channel is not None):
            self._reorder("activation")  # the order of another channel
        elif sample is not None and self._page_of_sample() != self.page:
            self._publish_page(self._page_of_sample())

    def filter(
        self,
        true: int | str | None = None,
        predicted: int | str | None = None,
        misclassified: bool = False,
    ) -> None:
        """Show only the samples of one true class, one predicted class, or only the mistakes.

        The filter replaces the previous one; ``ex.filter()`` shows every sample again. When the
        sample in view does not pass, the first one that does is shown. ←, → and play move
        through the samples that pass.

        Parameters
        ----------
        true, predicted : int or str, optional
            A class index or class name; ``None`` for any class.
        misclassified : bool
            Only the samples whose prediction differs from their label.

        Raises
        ------
        LabelError, IndexOutOfRangeError
            For an unknown class, or a filter that needs labels the Explorer was not given;
            nothing changes.

        """
        criteria = self._samples.check_filter(true, predicted, misclassified)
        self._weights.follow()  # the predicted classes of the model as it is now
        with self._samples.filtering(criteria) as passing, self.hold_sync():
            drawn = self._controller.state.drawn  # the drawing stays in view
            if len(passing) and not drawn and not self._samples.passes(self._index):
                self.update(sample=int(passing[0]))
            with self._showing():
                self.filter_true, self.filter_predicted = criteria.true, criteria.predicted
                self.misclassified_only = criteria.misclassified
            self._publish_page(self._page_of_sample())

    def _peaks_in_view(self) -> np.ndarray:
        """Each sample's peak of the channel in view: the activation order's key."""
        state = self._controller.state
        peaks = self._controller.stats.channel_peaks(
            state.layer,
            functools.partial(self._say_progress, f"each sample's peak in {state.layer}"),
        )
        return peaks[:, state.channel]

    def _reorder(self, order: str) -> None:
        """Put the samples that pass the filter in ``order`` and show its first page.

        The sample in view stays; ←/→ go on from its place in the new order.
        """
        with self.hold_sync():
            self._samples.reorder(order)
            self._sort = order
            self._status = self._controller.notice
            self._publish_page(0)

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
        self._weights.follow()  # the model as it is now
        with self._controller.view.titled():
            self.figure.savefig(target, dpi=dpi, format=extension)

    def export_html(
        self,
        path: str | os.PathLike[str],
        samples: Iterable[int] | None = None,
        layers: Iterable[str] | None = None,
        views: Iterable[str] = ("maps", "grad-cam", "heatmap"),
        **options: Any,
    ) -> Path:
        """Write this Explorer as one HTML file that works with no kernel, offline, anywhere.

        The page is the widget itself, answered from figures drawn now (pixel for pixel what
        this Explorer draws): the layer and channel sliders, the thumbnails, ←/→, the filters,
        the exported views and colour scales work; the rest is shown disabled, saying why. See
        :func:`convscope.widget.export.export_html` for ``cmaps``, ``max_bytes`` (25 MB by
        default: a larger export stops before writing, saying what to reduce), ``progress``
        and ``title``.

        Parameters
        ----------
        path : path-like
            A ``.html`` file in a folder that exists.
        samples : iterable of int, optional
            The samples in the file; by default two of each true class (else the first 20).
        layers : iterable of str, optional
            The layers in the file; by default all of them.
        views : iterable of str
            The views in the file (a layer a view cannot show is left out of it).

        Raises
        ------
        ExportTooLargeError
            The file would pass ``max_bytes``; nothing is written.

        """
        from convscope.widget.export import export_html  # noqa: PLC0415 - only when exporting

        self._weights.follow()  # the model as it is now
        return export_html(self, Path(path), samples, layers, views, **options)

    def save_gif(
        self,
        path: str | os.PathLike[str],
        samples: Iterable[int] | None = None,
        fps: float = 5,
        *,
        channels: Iterable[int] | None = None,
    ) -> Path:
        """Write an animated GIF of a scrub, with panel titles, for slides; return its path.

        Parameters
        ----------
        path : path-like
            A ``.gif`` file in a folder that exists.
        samples : iterable of int, optional
            The samples to scrub through, one frame each (``range(20)``, say); by default the
            next 20 from the one in view.
        fps : float
            Frames per second, 0.5 to 50.
        channels : iterable of int, optional
            Scrub through these channels of the layer in view instead, on the sample in view.

        Raises
        ------
        ArgumentTypeError, InvalidArgumentError
            A bad path, folder, frame rate or index; nothing is written. The Explorer's view is
            the same afterwards.

        """
        self._weights.follow()  # the model as it is now
        return self._gif.save(path, samples, fps, channels)

    @property
    def internals(self) -> ExplorerInternals:
        """The parts of this Explorer that convscope itself uses (internal API; see the class)."""
        return ExplorerInternals(
            controller=self._controller,
            samples=self._samples,
            publish=self._publish,
            teaching=bool(self._teaching),
            cmap_options=list(self._cmap_options),
            norm_options=list(self._norm_options),
            view_options=list(self._view_options),
        )

    @property
    def display_widget(self) -> ipywidgets.DOMWidget:
        """What a notebook shows: the ipympl canvas above these controls, or just the controls.

        Use it to place the Explorer in your own layout, e.g. ``HBox([ex.display_widget, ...])``.
        """
        if self._figure_mode != "ipympl":
            return self
        if self._box is None:
            self._box = ipywidgets.VBox([self.figure.canvas, self])
        return self._box

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Show :attr:`display_widget`: the ipympl canvas is a sibling widget of the controls."""
        if self._figure_mode == "ipympl":
            return self.display_widget._repr_mimebundle_(**kwargs)
        return super()._repr_mimebundle_(**kwargs)

    # ----- live training (see explorer_training.py) -----------------------------------------
    def fit(
        self,
        x: Any,
        y: Any = None,
        *,
        epochs: int = 1,
        batch_size: int | None = None,
        validation_data: Any = None,
        every: int = DEFAULT_EVERY,
        cap: int = DEFAULT_CAP,
        **fit_options: Any,
    ) -> TrainingRun:
        """Train the model in a background thread and watch it learn; return the run it fills.

        A copy of the model, compiled as it is and holding the weights in view, trains with
        plain ``model.fit`` (arrays, a ``tf.data.Dataset`` or a ``PyDataset``, as Keras takes
        them), while the widget stays free. Every ``every`` batches, at each epoch's end and at
        the end, a copy of the weights joins the epoch slider, which then counts training
        steps; the curves grow with it, and "follow" keeps the view on the newest snapshot.
        When training ends the model holds the final weights (after a NaN or Inf loss, the
        last finite ones). :meth:`pause`, :meth:`resume`, :meth:`stop` and :meth:`wait` do
        what the widget's buttons do.

        Parameters
        ----------
        x, y, epochs, batch_size, validation_data, **fit_options
            As for ``keras.Model.fit`` (``verbose`` defaults to 0; ``callbacks`` are added).
        every : int
            Batches between two snapshots.
        cap : int
            Snapshots kept at most (at least 3): later ones are thinned out, the first and
            the newest always stay (see :mod:`convscope.engine.live`).

        Returns
        -------
        TrainingRun
            Filled as training runs; ``epochs`` counts steps (batches), ``steps_per_epoch``
            says how many make an epoch. Save it with ``run.save(path)``.

        Raises
        ------
        TrainingBusyError
            While another training of this Explorer runs.
        ModelNotSupportedError
            For a model that is not compiled, or that Keras cannot copy.

        """
        options = {"epochs": epochs, "batch_size": batch_size, "validation_data": validation_data}
        return self._trainer.fit(x, y, every, cap, **options, **fit_options)

    def live(self, every: int = DEFAULT_EVERY, cap: int = DEFAULT_CAP) -> Any:
        """Return a Keras callback that shows the model learn as your own ``fit`` trains it.

        ``model.fit(x, y, epochs=3, callbacks=[ex.live()])`` in a cell: the figure, the epoch
        slider and the curves update while the cell runs. The kernel is busy meanwhile, so
        the widget's controls answer only once the cell ends (interrupt the kernel to stop:
        the snapshots stay). ``every`` and ``cap`` are as for :meth:`fit`; the callback's
        ``store.run`` is the :class:`TrainingRun`.
        """
        return self._trainer.callback(every, cap)

    def pause(self) -> None:
        """Hold the training of :meth:`fit` before its next batch (the widget's pause)."""
        self._trainer.action("pause")

    def resume(self) -> None:
        """Go on training after :meth:`pause`."""
        self._trainer.action("resume")

    def stop(self) -> None:
        """Stop the training of :meth:`fit` after its current batch; the snapshots stay."""
        self._trainer.stop()

    @property
    def follow(self) -> bool:
        """Whether the view jumps to each new snapshot of a live training (the follow toggle).

        Choosing a snapshot on the epoch slider turns it off.
        """
        return self._trainer.following

    @follow.setter
    def follow(self, on: bool) -> None:
        if not isinstance(on, (bool, np.bool_)):
            raise ArgumentTypeError(f"follow must be True or False, not {on!r}.")
        self._trainer.action("follow" if on else "unfollow")

    def close(self) -> None:
        """Close the widget; a training of :meth:`fit` stops first (its snapshots stay)."""
        if hasattr(self, "_trainer"):  # a widget whose making failed has none
            self._trainer.close()
        super().close()

    @property
    def _live(self) -> LiveTraining | None:
        """The latest live training, if any (see :class:`ExplorerTraining`)."""
        return self._trainer.live

    def _training_host(self) -> TrainingHost:
        """Return what the live training may do to this Explorer: its traits and its view."""
        return TrainingHost(
            controller=self._controller,
            publish=self._set_traits,
            shown_step=lambda: self.epoch if _is_int(self.epoch) else None,
            show_weights=self._show_weights,
            loop=self._kernel.now,
            complete=lambda: self._controller.classes.complete,
            hold=self.hold_sync,
        )

    def _show_weights(self, step: int, lazy: bool) -> None:
        """Publish the weights in use (already set), labelled ``step`` on the slider."""
        with self.hold_sync():
            with self._showing():
                self.epoch = step
            self._show_new_weights(lazy=lazy)

    # ----- messages from the frontend ------------------------------------------------------
    def _on_frontend_message(self, _widget: Any, content: object, buffers: Any) -> None:
        """Take one request from the page. Never raises: whatever arrives, the page gets an ack.

        A valid request is merged into the pending one (the newest value of each field wins)
        and applied at the next turn of the event loop; a malformed one is reported in the
        error banner; an unknown kind is logged and ignored. A hint (``ahead``) goes to the
        publisher, outside the requests: it gets no ack. See :mod:`protocol`.
        """
        try:
            hint = protocol.parse_hint(content)
        except protocol.MalformedRequestError as error:
            self._report_error(f"MalformedRequestError: {error}")
            return
        if hint is not None:
            self._publisher.sample_ahead(hint["sample"])
            return
        self._inbox.take(content, buffers)

    def _receive(self, content: object, buffers: object = ()) -> None:
        self._inbox.receive(content, buffers)

    def _flush(self) -> None:
        self._inbox.flush()

    def _apply_requests(self, pending: Batch, problems: list[str]) -> None:
        """Apply everything that arrived since the last flush as one update, then ack it."""
        self._weights.request_begins(functools.partial(self._request_pass, pending))
        # One state message for the whole request, ack included, sent after the new frame:
        # fewer round trips for a remote kernel.
        with self.hold_sync():
            try:
                self._requests.apply(pending)
            except Exception as error:  # noqa: BLE001 - the widget shows every failure, lives on
                problems.insert(0, f"{type(error).__name__}: {error}")
                self._status = ""
                self._republish()
            if "frame" in pending and self._figure_mode == "png":
                self._publisher.key_frame(pending["frame"].get("dpr"))
            if problems:
                self._error = "\n".join(problems)
            self._ack = max(self._ack, self._inbox.seen_seq)
        self._weights.request_ends()

    def _request_pass(self, pending: Batch) -> NextPass | None:
        """Return the pass that the update ``pending`` asks for needs first, if that is all."""
        changes = self._requests.view_changes(pending)
        return None if changes is None else self._controller.next_pass(**changes)

    def _samples_step(self, start: int, delta: int) -> int:
        return self._samples.step(start, delta)

    def _republish(self) -> None:
        """Show the last good view again after a failure; log if even that fails."""
        try:
            self._publish()
        except Exception:  # noqa: BLE001 - logged; the banner already says what failed
            _LOG.exception("convscope: could not redraw the last good view")

    def _move(self, changes: dict[str, int]) -> None:
        """Apply moves as the page's requests do: a key pressed on the ipympl canvas."""
        self._requests.apply_moves(dict(changes))

    def _report_error(self, message: str) -> None:
        """Show ``message`` in the error banner."""
        self._error = message

    @property
    def sample_count(self) -> int:
        """How many samples the Explorer holds."""
        return len(self._controller.images)

    @property
    def _index(self) -> int:
        """The sample of the data set in view, or last in view while the drawing is shown."""
        return self._controller.state.sample

    def _page_of_sample(self) -> int:
        return self._samples.page_of(self._index)

    # ----- publishing state to the frontend ------------------------------------------------
    def _publish(self) -> None:
        """Publish the view: its traits and text lines, the channel panel and the frame."""
        self._publisher.view()

    def _publish_page(self, page: int) -> None:
        """Publish a page of thumbnails, and the confusion matrix if its predictions are known."""
        self._publisher.page(page)

    def _show_progress(self, done: int, total: int) -> None:
        self._say_progress("data-set colour scale", done, total)

    def _say_progress(self, what: str, done: int, total: int) -> None:
        self._say(f"{what}: {done:,}/{total:,} images")

    def _say(self, text: str) -> None:
        """Show ``text`` in the status line now, even while a request's state is held back."""
        self._status = text
        self.send_state("_status")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
