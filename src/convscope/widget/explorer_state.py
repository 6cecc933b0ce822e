"""The Explorer's traits: the user's view state (public, synced, validated) and what the page draws.

:class:`ExplorerTraits` declares every synced trait of :class:`~convscope.widget.explorer.Explorer`
and how the kernel writes them: the user's traits through the ``@validate`` hook of the Explorer
(which applies a value as the matching control does), the kernel's own writes through
:meth:`ExplorerTraits._showing`, which lets a value pass as it is. The names, types and tags here
are the page's protocol (see :mod:`convscope.widget.protocol`).
"""

from __future__ import annotations

import contextlib
import typing
from pathlib import Path
from typing import Any, TypeVar

import anywidget
import ipywidgets
import traitlets

from convscope.errors import ArgumentTypeError
from convscope.render.normalise import NORM_MODES
from convscope.widget import protocol
from convscope.widget.view_state import DRAWN, ViewState
from convscope.widget.views import PREDICTED, VIEWS

_PACKAGE = Path(__file__).resolve().parent.parent
_STATIC = _PACKAGE / "static"
_SOURCE = _PACKAGE.parent.parent / "js"  # an editable install reads the sources directly
_ASSETS = _STATIC if (_STATIC / "widget.js").is_file() else _SOURCE
_T = TypeVar("_T")
CMAPS = ["viridis", "magma", "inferno", "cividis", "gray", "RdBu_r"]


class _UserTrait(traitlets.Any):
    """A trait of the user's view state: every value, ``None`` too, goes to the validator.

    (traitlets lets ``None`` past the validators of a trait that allows it.)
    """

    allow_none = False


class ExplorerTraits(anywidget.AnyWidget):
    """The synced state of an Explorer: the user's view state and what the page only draws.

    The user's traits are documented here, and validated by the Explorer's ``@validate`` hook;
    the private ones are named in :class:`convscope.widget.protocol.ExplorerState`.
    """

    # The text, not the path: given a path, anywidget connects every instance to the file's
    # change signal for hot reload, with a strong reference, so no Explorer (nor its model and
    # data) could ever be freed.
    _esm = (_ASSETS / "widget.js").read_text(encoding="utf-8")
    _css = (_ASSETS / "widget.css").read_text(encoding="utf-8")

    # The user's view state: public, synced, validated (see _validate_user_state); setting one
    # goes through the controller, as the widget's controls do. Their types are checked there,
    # with the same errors whichever way a value comes, so the traits themselves take Any.
    layer = _UserTrait("").tag(sync=True)
    """Name of the layer in view. Setting it redraws."""
    channel = _UserTrait(0).tag(sync=True)
    """Index of the selected channel (unit, for dense layers). Setting it redraws."""
    sample = _UserTrait(0).tag(sync=True)
    """Index of the sample in view, or ``"drawn"`` while the drawing is shown.

    Setting an index redraws and turns to its thumbnail page; setting ``"drawn"`` shows the
    drawing again (see :meth:`draw`), or the empty pad, "draw a digit" with no prediction,
    before anything was drawn.
    """
    cmap = _UserTrait("viridis").tag(sync=True)
    """Matplotlib colormap of the feature maps. Setting it redraws."""
    norm = _UserTrait("standard").tag(sync=True)
    """Colour scale: ``standard``, ``minmax``, ``layer`` or ``fixed``. Setting it redraws."""
    view = _UserTrait("maps").tag(sync=True)
    """What the big panel shows: ``maps``, ``heatmap``, ``grad-cam`` or ``pattern``.

    ``heatmap`` and ``grad-cam`` draw over the input, per sample, for the layer in view;
    ``pattern`` tiles the image that most excites each of its channels, computed on first use
    in the background (the feature maps show meanwhile, with progress in :attr:`status`;
    :meth:`wait` blocks until it is there). Setting it redraws.
    """
    target_class = _UserTrait(None).tag(sync=True)
    """The class Grad-CAM explains: an index, or ``None`` for each sample's prediction.

    Set it to an index, a class name, or ``None``. Setting it redraws.
    """
    probe = _UserTrait(None).tag(sync=True)
    """A position ``(row, col)`` in the layer's maps whose receptive field is outlined.

    The input pixels that can influence that unit are boxed on the input, and the unit on the
    selected channel; a click on the channel's large map sets it. ``None`` for none; moving to
    another layer clears it. Where the layers on the way cannot be traced (a merge of
    branches), the status line says why and no box is drawn.
    """
    compare = _UserTrait(None).tag(sync=True)
    """A second sample (B) shown with the one in view (A), or ``None``.

    In the ``"side"`` :attr:`compare_mode`, B's input, feature maps, selected channel and
    classes form a row under A's, on one colour scale for both: each scale of :attr:`norm` is
    measured over the two samples together (``fixed`` is the data set's), so equal activations
    get equal colours. Layer, channel and probe moves apply to both; scrubbing moves A, and B
    stays. A sample may be compared with itself (its difference is 0 everywhere). Only the
    ``maps`` view compares. Setting it redraws; ``None`` stops.
    """
    compare_mode = _UserTrait("side").tag(sync=True)
    """How two samples are compared: ``"side"`` (by side) or ``"difference"``.

    ``"difference"`` shows one grid and channel of ``A - B`` in a diverging colormap (the
    colormap in use if it is diverging, else ``RdBu_r``) on a scale symmetric about 0, so 0 is
    white, A stronger red, B stronger blue; a legend under the channel says so. Its bound is
    each channel's largest ``|A - B|`` for the ``standard`` and ``minmax`` scales, the layer's
    for ``layer``, the data set's range for ``fixed``. Setting it redraws (while comparing) or
    sets how the next comparison shows.
    """
    page = _UserTrait(0).tag(sync=True)
    """Index of the page of thumbnails in view. Setting it shows that page."""
    epoch = _UserTrait(None).tag(sync=True)
    """The training epoch whose weights are shown (``None`` without a training run).

    Setting it swaps the weights in place: nothing is rebuilt or retraced, and the maps, the
    predictions, the thumbnails' captions and the confusion matrix follow. The first visit to
    an epoch computes its predictions over the data set, once.
    """
    filter_true = _UserTrait(-1).tag(sync=True)
    """The true class the samples are filtered by (an index; ``-1``: any). See :meth:`filter`."""
    filter_predicted = _UserTrait(-1).tag(sync=True)
    """The predicted class the samples are filtered by (``-1``: any). See :meth:`filter`."""
    misclassified_only = _UserTrait(False).tag(sync=True)
    """Whether only the misclassified samples pass the filter. See :meth:`filter`."""

    # What the page only draws: private, synced, named in protocol.ExplorerState.
    _layer_options = traitlets.List(traitlets.Dict()).tag(sync=True)
    _channel_count = traitlets.Int(1).tag(sync=True)
    _unit_name = traitlets.Unicode("channel").tag(sync=True)
    _sample_text = traitlets.Unicode("").tag(sync=True)
    _pad = traitlets.List(traitlets.Int()).tag(sync=True)
    _cmap_options = traitlets.List(traitlets.Unicode(), CMAPS).tag(sync=True)
    _norm_options = traitlets.List(traitlets.Unicode(), list(NORM_MODES)).tag(sync=True)
    _view_options = traitlets.List(traitlets.Unicode(), list(VIEWS)).tag(sync=True)
    _class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    _has_labels = traitlets.Bool(False).tag(sync=True)
    _has_predictions = traitlets.Bool(False).tag(sync=True)

    _figure_mode = traitlets.Unicode("png").tag(sync=True)
    _figure_frame = traitlets.Bytes(b"").tag(sync=True)  # see frames.py

    _thumbs = traitlets.Bytes(b"").tag(sync=True)
    _thumb_meta = traitlets.List(traitlets.Dict()).tag(sync=True)
    _thumb_shape = traitlets.List(traitlets.Int(), [28, 28, 1]).tag(sync=True)
    _page_count = traitlets.Int(1).tag(sync=True)
    _filtered_count = traitlets.Int(0).tag(sync=True)
    _confusion = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    _epochs = traitlets.List(traitlets.Int()).tag(sync=True)
    _history = traitlets.Dict().tag(sync=True)
    _training = traitlets.Dict().tag(sync=True)  # protocol.TrainingState; empty before any
    _teaching = traitlets.Bool(False).tag(sync=True)
    _captions = traitlets.List(traitlets.Unicode()).tag(sync=True)
    _download = traitlets.Bytes(b"").tag(sync=True)
    _download_name = traitlets.Unicode("").tag(sync=True)
    _panel_open = traitlets.Bool(False).tag(sync=True)
    _panel_text = traitlets.Unicode("").tag(sync=True)
    _panel_thumbs = traitlets.Bytes(b"").tag(sync=True)
    _panel_meta = traitlets.List(traitlets.Dict()).tag(sync=True)
    _sort = traitlets.Unicode("index").tag(sync=True)
    _sort_options = traitlets.List(traitlets.Unicode(), ["index"]).tag(sync=True)
    _compare_text = traitlets.Unicode("").tag(sync=True)

    _error = traitlets.Unicode("").tag(sync=True)
    _status = traitlets.Unicode("").tag(sync=True)
    _ack = traitlets.Int(0).tag(sync=True)
    # marimo runs again the cells that read ``mo.ui.anywidget(explorer).value`` only for a
    # change the page makes, never for one the kernel makes (the Explorer's answers). In
    # marimo the page therefore writes back each ack it has shown, once no request is in
    # flight: a private trait, so no user state can be undone by an echo arriving late.
    _echo_acks = traitlets.Bool(False).tag(sync=True)
    _shown = traitlets.Int(0).tag(sync=True)

    _ready = False  # the user's traits are validated once the Explorer is made
    _publishing = 0  # >0: the kernel is writing the user's traits itself

    # ----- the user's view state: public traits ---------------------------------------------
    @contextlib.contextmanager
    def _showing(self) -> typing.Iterator[None]:
        """Let the kernel write the user's traits as they are, with no validation: its own."""
        self._publishing += 1
        try:
            yield
        finally:
            self._publishing -= 1

    def _set_traits(self, values: dict[str, Any]) -> None:
        with self.hold_sync(), self._showing():
            for name, value in values.items():
                setattr(self, name, value)

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Take state from the page's model; the user's state is applied as if set in Python.

        A refused value shows in the error banner, and the page gets the kept one back.
        """
        chosen = {name: sync_data[name] for name in protocol.USER_TRAITS if name in sync_data}
        rest = {name: value for name, value in sync_data.items() if name not in chosen}
        if rest:
            super().set_state(rest)
        if not chosen:
            return
        if ipywidgets.widgets.widget.JUPYTER_WIDGETS_ECHO:  # as the base class does
            self._send({"method": "echo_update", "state": chosen, "buffer_paths": []})
        with self._lock_property(**chosen):
            try:
                for name, value in chosen.items():
                    setattr(self, name, value)
            except Exception as error:  # noqa: BLE001 - shown in the banner, as for the controls
                self._error = f"{type(error).__name__}: {error}"
                self.send_state(list(chosen))


def trait_values(state: ViewState) -> dict[str, object]:
    """Return the value of each view trait that shows ``state``."""
    values = {name: getattr(state, name) for name in protocol.VIEW_FIELDS}
    values["sample"] = DRAWN if state.drawn else state.sample
    values["target_class"] = None if state.target_class == PREDICTED else state.target_class
    return values


def view_argument(name: str, value: object) -> Any:
    """Return the argument of ``Explorer.update`` that sets the user's trait ``name``."""
    if name == "target_class":
        return PREDICTED if value is None else value
    if name == "probe":
        return () if value is None else value
    if name == "compare":
        return -1 if value is None else value
    return not_none(name, value)


def not_none(name: str, value: _T | None) -> _T:
    """Refuse ``ex.layer = None``, which would otherwise silently keep the old value."""
    if value is None:
        raise ArgumentTypeError(f"{name} cannot be None; give a value, e.g. ex.{name} = ....")
    return value
