"""The one contract between the Explorer's kernel side and its page (``js/widget.js``).

State travels from the kernel to the page as synced traits, one per field of
:class:`ExplorerState`. The user's view state (:class:`UserState`) is public: the page's
controls change it by requests, as below, and the kernel publishes the result in those traits;
a change of one of them made in the page's model (``jslink``, say) is applied by the kernel as
if set from Python. The other traits start with ``_``, and the page only reads them, but one:
in marimo (``_echo_acks``) it writes ``_shown``, the last ack it has shown, so that marimo runs
the cells that read the widget again (``js/widget.js``'s ``echoAck``). Requests
travel from the page to the kernel as custom messages, one kind per user action
(:data:`REQUESTS`). ``js/widget.js`` mirrors every
``TypedDict`` here as a JSDoc ``@typedef`` of the same name, and a test checks that the two agree.

The seq/ack rule
----------------
Every request carries ``seq``, a whole number from 0 to ``2**53 - 1`` (JavaScript's safe
integers). The page sends ``max(last seq + 1, Date.now())``, so two views of one widget never
reuse each other's numbers, and keeps at most one batch of requests in flight: one request of
each kind, all with the same ``seq``, each saying in ``batch`` how many the batch holds. The
kernel applies a batch as one update as soon as its last request has come, together with
anything else that came before it (a request without ``batch``, or a batch one of whose requests
was lost, waits for the next turn of the event loop), then sets ``_ack`` to the highest valid
``seq`` it has seen: whether the requests were applied, refused (their problem shown in the
``_error`` banner, the last good view kept) or ignored (a kind it does not know). The page sends
its next batch once ``_ack`` reaches the ``seq`` of the batch in flight, and after
``ACK_TIMEOUT_MS`` in ``widget.js`` even without an ack, so that a lost ack cannot wedge it.

Adding a view field
-------------------
:data:`VIEW_FIELDS` comes from :class:`UserState`; publishing, ``update()``'s list of
arguments, the inbox and the checks of the page's model all follow it. A new field takes:

1. its type in :class:`UserState` (and in :class:`ViewRequest` if a control sends it);
2. a field of ``ViewState`` and its check in ``ViewRules.resolve`` (``widget/view_state.py``);
3. its trait, with a docstring, in ``widget/explorer_state.py``, and its ``update()`` argument
   in ``widget/explorer.py``;
4. the same types in the ``@typedef``s of ``js/widget.js``;
5. its control in ``js/widget.js``: built, shown from the model, sending a request;
6. what it draws: ``render/compose.py`` (and the layer-view cache key in the controller if it
   changes the maps).

``tests/test_widget_protocol.py`` fails until steps 1 to 4 agree.

Hints
-----
One message is a hint, not a request: ``ahead`` (:class:`AheadHint`) says that the user's
pointer or focus is on a sample's thumbnail, which may be clicked next. It carries no ``seq``,
gets no ack and changes no state, so it never holds back the page's requests; the kernel makes
that sample's move preview (``move_previews.py``) once it is free.

Binary data
-----------
One request carries bytes: ``draw`` sends the drawing pad's pixels as the message's one binary
buffer (``width × height`` grey levels, row by row), never as a JSON list.
"""

from __future__ import annotations

import functools
import math
import typing
from typing import Final, TypedDict

VIEW: Final = "view"
"""Show a layer, channel, sample, colormap, scale, view, Grad-CAM class or sample to compare
with (any subset)."""
STEP: Final = "step"
"""Move ``delta`` places through the samples that pass the filters (←, →, play)."""
MOVE: Final = "move"
"""Move ``channels`` channels and ``layers`` layers on from those in view (↑/↓, PageUp/PageDown)."""
FILTER: Final = "filter"
"""Show only one true class, one predicted class, or only the misclassified samples."""
PAGE: Final = "page"
"""Show another page of thumbnails."""
SORT: Final = "sort"
"""Put the sample picker in another order."""
PANEL: Final = "panel"
"""Open or close the channel panel."""
EPOCH: Final = "epoch"
"""Show the weights of another training epoch (an Explorer of a training run)."""
GIF: Final = "gif"
"""Make a GIF of a scrub through the next samples and offer it as a download."""
PROBE: Final = "probe"
"""A click on the PNG figure: probe the unit of the selected channel under it."""
DRAW: Final = "draw"
"""The drawing pad changed: show its pixels (the message's binary buffer) as the sample."""
DRAW_MAX_SIDE: Final = 1024
TRAINING: Final = "training"
"""Pause, resume or stop a live training, or follow its newest snapshot or not."""
TRAINING_ACTIONS: Final = ("pause", "resume", "stop", "follow", "unfollow")
FRAME: Final = "frame"
"""Send the whole figure as a key frame: a view opened, or missed a frame (see frames.py)."""

AHEAD: Final = "ahead"
"""A hint: the thumbnail of ``sample`` may be clicked next (see :class:`AheadHint`)."""

SEQ_MAX: Final = 2**53 - 1  # Number.MAX_SAFE_INTEGER


class _Numbered(TypedDict):
    type: str
    seq: int


class Request(_Numbered, total=False):
    """Fields every request has; ``batch`` is how many requests the page sent with this ``seq``.

    The kernel applies a batch as soon as its last request has come (see the seq/ack rule).
    """

    batch: int


class ViewRequest(Request, total=False):
    """``type: "view"``: the fields to change; the rest stay as they are.

    ``compare`` is the sample B to compare with, ``-1`` to stop comparing; ``compare_mode``
    is ``"side"`` or ``"difference"``.
    """

    layer: str
    channel: int
    sample: int
    cmap: str
    norm: str
    view: str
    target_class: int
    compare: int
    compare_mode: str


class StepRequest(Request):
    """``type: "step"``: ``delta`` places on (negative: back), wrapping round."""

    delta: int


class MoveRequest(Request, total=False):
    """``type: "move"``: steps through the channels and the layers (negative: back).

    The page sums the presses it merges, and the kernel adds a move to whatever is pending, so
    that every press counts; the kernel stops at the first and the last channel and layer.
    """

    channels: int
    layers: int


class FilterRequest(Request):
    """``type: "filter"``: the whole filter; ``-1`` is any class."""

    true: int
    predicted: int
    misclassified: bool


class PageRequest(Request):
    """``type: "page"``: the thumbnail page to show (clipped to the pages there are)."""

    page: int


class SortRequest(Request):
    """``type: "sort"``: the picker's order, one of ``_sort_options``."""

    sort: str


class PanelRequest(Request):
    """``type: "panel"``: open (``true``) or close the channel panel."""

    open: bool


class EpochRequest(Request):
    """``type: "epoch"``: the training epoch to show, one of ``_epochs``."""

    epoch: int


class ProbeRequest(Request):
    """``type: "probe"``: where the figure was clicked, in fractions from its top-left."""

    x: float
    y: float


class GifRequest(Request):
    """``type: "gif"``: a GIF of ``frames`` samples from the one in view (1 to 100)."""

    frames: int


class DrawRequest(Request):
    """``type: "draw"``: the pad's size; its pixels are the message's one buffer.

    ``width * height`` bytes, grey levels 0–255 row by row, ink bright on black; all zeros
    for a cleared pad.
    """

    width: int
    height: int


class TrainingRequest(Request):
    """``type: "training"``: one of :data:`TRAINING_ACTIONS`; each one pressed counts."""

    action: str


class FrameRequest(Request, total=False):
    """``type: "frame"``: the next ``_figure_frame`` is a key frame, the whole figure.

    ``dpr`` is the page's device pixel ratio: the canvas path draws that many pixels per CSS
    pixel (1 to 3), so that the figure is sharp on HiDPI screens.
    """

    dpr: float


class AheadHint(TypedDict):
    """``type: "ahead"``: the pointer or the focus is on the thumbnail of ``sample``.

    Not a request: no ``seq``, no ack, no change of state (see "Hints" above).
    """

    type: str
    sample: int


REQUESTS: Final[dict[str, type[Request]]] = {
    VIEW: ViewRequest,
    STEP: StepRequest,
    MOVE: MoveRequest,
    FILTER: FilterRequest,
    PAGE: PageRequest,
    SORT: SortRequest,
    PANEL: PanelRequest,
    EPOCH: EpochRequest,
    PROBE: ProbeRequest,
    GIF: GifRequest,
    DRAW: DrawRequest,
    TRAINING: TrainingRequest,
    FRAME: FrameRequest,
}


class LayerOption(TypedDict):
    """One entry of ``_layer_options``: a layer the layer slider can show."""

    name: str
    kind: str
    shape: str
    channels: int
    text: str  # how the layer slider names it


class ThumbMeta(TypedDict):
    """One entry of ``_thumb_meta``: a thumbnail's sample and its classes (``-1``: unknown)."""

    index: int
    label: int
    predicted: int
    caption: str  # "label→prediction", as the thumbnail shows it


class PanelThumb(TypedDict):
    """One entry of ``_panel_meta``: a sample of the channel panel and its peak there."""

    index: int
    peak: float


class TrainingState(TypedDict):
    """``_training``: what a live training does (``state`` is empty before any).

    ``state`` is ``running``, ``paused``, ``stopping``, ``finished``, ``stopped`` or
    ``failed``; ``controls`` says whether the page's pause and stop can reach it (not while the
    kernel itself runs ``fit``); ``steps_per_epoch`` is 0 until known.
    """

    state: str
    follow: bool
    text: str
    steps_per_epoch: int
    controls: bool


class UserState(TypedDict):
    """The user's view state: public, validated traits, the Explorer's Python API.

    Setting one from Python (``ex.channel = 5``), from ``ipywidgets.link``/``jslink`` or from
    the page's model does what the matching control does; a bad value raises (or, from the
    page, shows in the ``_error`` banner) and changes nothing. ``None`` means: no target class
    (each sample's prediction), no probe, no sample to compare with, no training run.
    """

    layer: str
    channel: int
    sample: int | str
    cmap: str
    norm: str
    view: str
    target_class: int | None
    probe: list[int] | None
    compare: int | None
    compare_mode: str
    page: int
    epoch: int | None
    filter_true: int
    filter_predicted: int
    misclassified_only: bool


class ExplorerState(UserState):
    """Every synced trait of the Explorer: the user's state, and what the page only draws.

    The names of the second kind start with ``_``: they are not the Python API, and only the
    kernel sets them.
    """

    _layer_options: list[LayerOption]
    _channel_count: int
    _unit_name: str
    _sample_text: str
    _pad: list[int]
    _cmap_options: list[str]
    _norm_options: list[str]
    _view_options: list[str]
    _class_names: list[str]
    _has_labels: bool
    _has_predictions: bool
    _figure_mode: str
    _figure_frame: bytes
    _thumbs: bytes
    _thumb_meta: list[ThumbMeta]
    _thumb_shape: list[int]
    _page_count: int
    _filtered_count: int
    _confusion: list[list[int]]
    _epochs: list[int]
    _history: dict[str, list[float | None]]
    _training: TrainingState
    _teaching: bool
    _captions: list[str]
    _download: bytes
    _download_name: str
    _panel_open: bool
    _panel_text: str
    _panel_thumbs: bytes
    _panel_meta: list[PanelThumb]
    _sort: str
    _sort_options: list[str]
    _compare_text: str
    _error: str
    _status: str
    _ack: int
    _echo_acks: bool
    _shown: int


USER_TRAITS: Final = tuple(UserState.__annotations__)
TRAITS: Final = tuple(ExplorerState.__annotations__)
# The user's fields that are not the view's: each has its own setter (a page of thumbnails, a
# training epoch, the sample filter), and none changes what the figure draws of a sample.
_NOT_VIEW = ("page", "epoch", "filter_true", "filter_predicted", "misclassified_only")
VIEW_FIELDS: Final = tuple(name for name in USER_TRAITS if name not in _NOT_VIEW)
"""The view's fields, in order: ``Explorer.update``'s arguments, ``ViewState``'s fields and
``ViewRules.resolve``'s, each a public trait published from the state (tests check all four)."""
VIEW_REQUEST_FIELDS: Final = tuple(
    name for name in ViewRequest.__annotations__ if name not in Request.__annotations__
)
"""The view's fields that a view request carries: all but ``probe``, which a click sets."""


class MalformedRequestError(ValueError):
    """A message from the page that does not match the protocol; the text says how."""


class UnknownRequestError(ValueError):
    """A well-formed message of a kind this kernel does not know (say, a newer page)."""


_EXPECTED = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def seq_of(content: object) -> int | None:
    """Return the valid ``seq`` of ``content``, or ``None``, however malformed the rest is."""
    if not isinstance(content, dict):
        return None
    seq = content.get("seq")
    return seq if _is_int(seq) and 0 <= seq <= SEQ_MAX else None  # type: ignore[operator]


def batch_of(content: object) -> int | None:
    """Return the valid ``batch`` of ``content`` (1 to one per kind of request), or ``None``."""
    if not isinstance(content, dict):
        return None
    size = content.get("batch")
    return size if _is_int(size) and 1 <= size <= len(REQUESTS) else None  # type: ignore[operator]


def drawing_bytes(request: DrawRequest, buffers: object) -> bytes:
    """Return the pixels of a well-formed ``draw`` request, checked against its size.

    Raises
    ------
    MalformedRequestError
        A size outside 1..``DRAW_MAX_SIDE``, not exactly one buffer, or a buffer whose length
        is not ``width * height``.

    """
    width, height = request["width"], request["height"]
    if not (1 <= width <= DRAW_MAX_SIDE and 1 <= height <= DRAW_MAX_SIDE):
        raise MalformedRequestError(
            f"'draw' request: the pad must be 1 to {DRAW_MAX_SIDE} pixels a side, got "
            f"{width}×{height}"
        )
    found = list(buffers) if isinstance(buffers, (list, tuple)) else []
    if len(found) != 1 or not isinstance(found[0], (bytes, bytearray, memoryview)):
        raise MalformedRequestError(
            f"'draw' request: its pixels must come as one binary buffer, got {len(found)}"
        )
    data = bytes(found[0])
    if len(data) != width * height:
        raise MalformedRequestError(
            f"'draw' request: a {width}×{height} pad has {width * height} bytes, got {len(data)}"
        )
    return data


@functools.cache
def _fields(kind: str) -> dict[str, typing.Any]:
    """Return the fields of request ``kind`` and their types, resolved once (not per message)."""
    return typing.get_type_hints(REQUESTS[kind])


def parse_request(content: object) -> Request:
    """Check one message from the page against the request ``TypedDict`` of its kind.

    Returns
    -------
    Request
        ``content`` itself, now known to be a :class:`ViewRequest`, :class:`StepRequest`,
        :class:`MoveRequest`, :class:`FilterRequest`, :class:`PageRequest`, :class:`SortRequest`,
        :class:`PanelRequest`, :class:`EpochRequest`, :class:`ProbeRequest`,
        :class:`GifRequest`, :class:`DrawRequest`, :class:`TrainingRequest` or
        :class:`FrameRequest`.

    Raises
    ------
    MalformedRequestError
        Not a JSON object, no ``type``, a missing or unknown field, or a field of the wrong
        type; the message names the field and what was expected.
    UnknownRequestError
        A ``type`` that is a string but not one of :data:`REQUESTS`.

    """
    if not isinstance(content, dict):
        raise MalformedRequestError(
            f"a message from the page must be a JSON object, got {_describe(content)}"
        )
    kind = content.get("type")
    if not isinstance(kind, str):
        raise MalformedRequestError(
            f"a message from the page needs a 'type', one of {_names(REQUESTS)}; "
            f"got {_describe(kind) if 'type' in content else 'none'}"
        )
    schema = REQUESTS.get(kind)
    if schema is None:
        raise UnknownRequestError(f"unknown request type {kind!r}")
    fields = _fields(kind)
    required: frozenset[str] = typing.cast("typing.Any", schema).__required_keys__
    _check_field_names(kind, content, fields, required)
    for name, value in content.items():
        if name != "type":
            _check_field_value(kind, name, value, fields[name])
    return typing.cast("Request", content)


def parse_hint(content: object) -> AheadHint | None:
    """Return ``content`` if it is a hint (:class:`AheadHint`); ``None`` for anything else.

    Raises
    ------
    MalformedRequestError
        A hint whose fields are not exactly ``type`` and a whole-number ``sample``.

    """
    if not isinstance(content, dict) or content.get("type") != AHEAD:
        return None
    if set(content) != {"type", "sample"} or not _is_int(content["sample"]):
        raise MalformedRequestError(
            f"an {AHEAD!r} hint has exactly the fields 'type' and 'sample' (a whole number); "
            f"got {_names(content)}"
        )
    return typing.cast("AheadHint", content)


def _check_field_names(
    kind: str, content: dict[object, object], fields: dict[str, type], required: frozenset[str]
) -> None:
    for name in content:
        if name not in fields:
            raise MalformedRequestError(
                f"{kind!r} request: unknown field {_describe_key(name)}; "
                f"its fields are {_names(fields)}"
            )
    for name in sorted(required):
        if name not in content:
            expected = _EXPECTED[fields[name]]
            raise MalformedRequestError(f"{kind!r} request: {name!r} is missing ({expected})")


def _check_field_value(kind: str, name: str, value: object, expected_type: type) -> None:
    if name == "seq":
        valid, expected = seq_of({"seq": value}) is not None, "an integer from 0 to 2**53 - 1"
    elif name == "batch":
        valid = batch_of({"batch": value}) is not None
        expected = f"an integer from 1 to {len(REQUESTS)}"
    else:
        if expected_type is int:
            valid = _is_int(value)
        elif expected_type is float:  # JSON has one number type: 1 and 0.5 are both numbers
            valid = _is_int(value) or (isinstance(value, float) and math.isfinite(value))
        else:
            valid = isinstance(value, expected_type)
        expected = _EXPECTED[expected_type]
    if not valid:
        raise MalformedRequestError(
            f"{kind!r} request: {name!r} must be {expected}, got {_describe(value)}"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _names(names: typing.Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _describe_key(key: object) -> str:
    return _shorten(repr(key))


def _describe(value: object) -> str:
    """``'abc'`` for a string, ``None``, ``3.5``; a type and a short repr for the rest."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return _shorten(repr(value))
    return f"{type(value).__name__} {_shorten(repr(value))}"


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
