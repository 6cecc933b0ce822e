"""The Python side (``widget/protocol.py``, the Explorer) and ``js/widget.js`` agree.

The JSDoc typedefs in widget.js mirror protocol.py's TypedDicts field for field; the trait names
the page reads are exactly the Explorer's synced traits; and the page registers one event per
``model.on`` call, the host-neutral form every anywidget host supports.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from pathlib import Path

import anywidget
import ipywidgets
import pytest

from convscope.render.compare import COMPARE_MODES
from convscope.widget import protocol
from convscope.widget.explorer import Explorer
from convscope.widget.view_state import ViewRules, ViewState

ROOT = Path(__file__).resolve().parent.parent
WIDGET_JS = (ROOT / "js" / "widget.js").read_text()
TYPEDEF = re.compile(r"/\*\*((?:(?!\*/).)*?)@typedef \{Object\} (\w+)(.*?)\*/", re.DOTALL)
PROPERTY = re.compile(r"@property \{([^}]*)\} (\[?)(\w+)\]?")
SHARED = [
    "LayerOption",
    "ThumbMeta",
    "ExplorerState",
    "AheadHint",
    *(t.__name__ for t in protocol.REQUESTS.values()),
]


def js_typedefs(source: str = WIDGET_JS) -> dict[str, dict[str, tuple[str, bool]]]:
    """``{typedef: {property: (JS type, optional)}}`` from the JSDoc comments of ``source``."""
    return {
        name: {prop: (kind, bool(optional)) for kind, optional, prop in PROPERTY.findall(body)}
        for _, name, body in TYPEDEF.findall(source)
    }


def js_type(python: object) -> str:
    """The JSDoc spelling of a protocol field's Python type."""
    simple = {
        int: "number",
        float: "number",
        str: "string",
        bool: "boolean",
        bytes: "DataView",
        type(None): "null",
    }
    if python in simple:
        return simple[python]  # type: ignore[index]
    origin, args = typing.get_origin(python), typing.get_args(python)
    if origin in (types.UnionType, typing.Union):
        return " | ".join(js_type(arg) for arg in args)
    if origin is list:
        inner = js_type(args[0])
        return f"({inner})[]" if " | " in inner else f"{inner}[]"
    if origin is dict:
        return f"Record<{js_type(args[0])}, {js_type(args[1])}>"
    return python.__name__  # type: ignore[attr-defined]  # a TypedDict: its typedef's name


def code_of(source: str) -> str:
    """``source`` without its comments, so that only what the code does is checked."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.DOTALL)


@pytest.mark.parametrize("name", SHARED)
def test_each_typedef_matches_its_typeddict(name: str) -> None:
    typeddict = getattr(protocol, name)
    hints = typing.get_type_hints(typeddict)
    expected = {
        field: (js_type(kind), field in typeddict.__optional_keys__)
        for field, kind in hints.items()
    }
    kinds = {schema: kind for kind, schema in protocol.REQUESTS.items()}
    if typeddict in kinds:  # a request's "type" is the literal kind in JS
        expected["type"] = (f'"{kinds[typeddict]}"', False)
    assert js_typedefs().get(name) == expected


def test_the_page_reads_exactly_the_synced_traits() -> None:
    # Private traits: every string literal starting with "_" (model.get("_cmap"), onChange(model,
    # ["_cmap", ...])). The user's state: what model.get() reads and onChange() listens to.
    code = code_of(WIDGET_JS)
    used = set(re.findall(r"[\"'](_[a-z_]+)[\"']", code))
    used |= set(re.findall(r"model\.get\(\"([a-z_]+)\"\)", code))
    for names in re.findall(r"\[\[([^\]]*)\]", code):
        used |= set(re.findall(r"\"([a-z_]+)\"", names))
    # The probe is set by a click (a request) and only the kernel draws it.
    assert used == set(protocol.TRAITS) - {"probe"}


def test_the_explorer_syncs_exactly_the_protocols_traits() -> None:
    base = set(anywidget.AnyWidget.class_trait_names(sync=True))
    synced = set(Explorer.class_trait_names(sync=True)) - base
    assert synced == set(protocol.TRAITS)
    # Public: exactly the user's view state; everything the page only draws is private.
    assert {name for name in synced if not name.startswith("_")} == set(protocol.USER_TRAITS)


def test_no_trait_shadows_an_attribute_of_a_domwidget() -> None:
    # Widget._compare is a method: a trait of that name broke get_state and embedding.
    names = set(Explorer.class_trait_names()) - set(ipywidgets.DOMWidget.class_trait_names())
    assert not names & set(dir(ipywidgets.DOMWidget))
    assert not names & set(dir(anywidget.AnyWidget))


def test_the_request_kinds_are_the_protocols() -> None:
    # The requester keys its queue by kind: queued.view, queued.step, ...
    queued = set(re.findall(r"queued\.(\w+) =", code_of(WIDGET_JS)))
    assert queued == set(protocol.REQUESTS)


def test_every_model_listener_takes_one_event() -> None:
    code = code_of(WIDGET_JS)
    # Backbone accepts "change:a change:b"; marimo and other hosts would register one event
    # literally named so, which never fires.
    assert not re.search(r"[\"'`][^\"'`]*change:[^\"'`]*\s[^\"'`]*change:", code)
    assert not re.search(r"\.(on|off)\(\s*[\"'`][^\"'`]*\s", code)
    # Every listener goes through onModel() (onChange()), whose remover the cleanup calls.
    assert re.findall(r"model\.(on|off)\(", code) == ["on", "off"], "use onChange()"


def test_a_changed_field_is_caught() -> None:
    # The checks above are not vacuous: a typedef that drifts from protocol.py fails them.
    drifted = WIDGET_JS.replace("@property {number} [channel]", "@property {number} [chanel]")
    assert js_typedefs(drifted)["ViewRequest"] != js_typedefs()["ViewRequest"]
    assert "chanel" in js_typedefs(drifted)["ViewRequest"]


def test_the_compare_modes_are_the_kernels() -> None:
    # The compare control offers exactly the modes the controller accepts, each in words.
    names = re.search(r"const COMPARE_MODE_NAMES = \{(.*?)\};", WIDGET_JS, re.DOTALL)
    assert names is not None
    modes = re.findall(r"^\s*\"?([a-z]+)\"?:", names.group(1), re.MULTILINE)
    assert tuple(modes) == COMPARE_MODES


def keyword_names(function: typing.Callable[..., object]) -> tuple[str, ...]:
    parameters = inspect.signature(function).parameters.values()
    return tuple(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)


def test_the_view_fields_drive_update_the_view_state_and_its_rules() -> None:
    # One list of view fields (from UserState): a field added there and missed elsewhere fails.
    assert keyword_names(Explorer.update) == protocol.VIEW_FIELDS
    assert keyword_names(ViewRules.resolve) == protocol.VIEW_FIELDS
    fields = tuple(field.name for field in dataclasses.fields(ViewState))
    assert fields == (*protocol.VIEW_FIELDS, "drawn")  # drawn: whether sample is the drawing
    assert set(protocol.VIEW_REQUEST_FIELDS) == set(protocol.VIEW_FIELDS) - {"probe"}
    assert set(protocol.VIEW_FIELDS) < set(protocol.USER_TRAITS)
