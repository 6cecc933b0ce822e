"""Take the lesson home: one HTML file that is the Explorer, with no kernel behind it.

The page runs the widget's own ``widget.js`` with a stand-in for anywidget's ``model``
(``js/static_model.js``) that answers each request from a table of figures drawn here, through
the live Explorer's own drawing path, so every exported state shows the very pixels the kernel
would send. The figures are stored as the canvas path's rectangles (see ``frames.py``): each
group of states that differ only by channel (same view, layer, sample and colours) keeps the
rectangles of its first channel's figure, and each other channel keeps the rectangles where it
differs from that one (the outline in the grid, the channel's own map). Equal rectangles are
stored once. The page shows a state as one key frame: white, the group's rectangles, the
state's own. The tables are deflated and inlined as base64; the page inflates them on opening.

Drawing is fast where it can be: the figure's panels are blitted in numpy exactly as their
artist draws them into Agg, and each group's first figure is drawn by Agg as well and compared
pixel for pixel; a figure with anything else on it (teaching titles) is drawn by Agg throughout.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convscope.errors import (
    ArgumentTypeError,
    ConvscopeError,
    ExportTooLargeError,
    InvalidArgumentError,
    check_layer_name,
)
from convscope.render.pixel_panel import PixelPanel
from convscope.render.words import layer_line, panel_line, thumb_caption
from convscope.widget.descriptions import describe_panels, describe_sample
from convscope.widget.frames import changed_boxes, fold, paletted
from convscope.widget.views import VIEWS

# The Explorer, whose module imports this one: named, not imported, so there is no cycle.
Explorer = Any

DEFAULT_VIEWS = ("maps", "grad-cam", "heatmap")
DEFAULT_MAX_BYTES = 25_000_000
DEFAULT_PER_CLASS = 2  # samples of each true class exported by default
DEFAULT_SAMPLES = 20  # without labels: the first 20
_PIECE_FIELDS = 11  # x, y, w, h, rows, cols, colours, index_bytes, offset, length, runs
_WHITE = np.uint32(0xFFFFFFFF)
_SPLIT_MAX = 12  # a changed box splits into at most this many solid-row bands of runs
_IMPORT = 'import widget from "./widget.js";'
_ASSETS = Path(__file__).resolve().parent.parent.parent.parent / "js"
_STATIC_ASSETS = Path(__file__).resolve().parent.parent / "static"
_COMPRESSION = 6  # zlib level: near level 9's size at a fraction of its time


@dataclass
class _Pieces:
    """Rectangles of figure pixels, each stored once however many states show it."""

    ids: dict[bytes, int] = field(default_factory=dict)
    seen: dict[bytes, int] = field(default_factory=dict)
    meta: list[int] = field(default_factory=list)
    runs: list[np.ndarray] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    run_count: int = 0
    data_bytes: int = 0

    def add(self, words: np.ndarray, x: int, y: int) -> int:
        """Store the ``(h, w)`` block of pixel words at ``(x, y)``; return its id."""
        height, width = words.shape
        # A block seen before (an outline's strip, a sample's input) is not folded again.
        seen = hashlib.blake2b(
            struct.pack("<4I", x, y, width, height) + np.ascontiguousarray(words).tobytes(),
            digest_size=16,
        ).digest()
        known = self.seen.get(seen)
        if known is not None:
            return known
        self.seen[seen] = index = self._fold(words, x, y)
        return index

    def _fold(self, words: np.ndarray, x: int, y: int) -> int:
        height, width = words.shape
        rows, cols, folded = fold(words)
        palette, indices = paletted(folded)
        data = palette.tobytes() + indices.tobytes()
        runs = np.asarray(rows + cols, "<u2")
        if max(rows + cols) > np.iinfo(np.uint16).max:
            raise InvalidArgumentError("a figure over 65,535 pixels a side cannot be exported")
        key = hashlib.blake2b(
            struct.pack("<4I", x, y, width, height) + runs.tobytes() + data, digest_size=16
        ).digest()
        found = self.ids.get(key)
        if found is not None:
            return found
        index = len(self.ids)
        self.ids[key] = index
        self.meta += [
            x, y, width, height, len(rows), len(cols), len(palette), indices.itemsize,
            self.data_bytes, len(data), self.run_count,
        ]  # fmt: skip
        self.runs.append(runs)
        self.data.append(data)
        self.run_count += len(runs)
        self.data_bytes += len(data)
        return index

    def add_changes(
        self, new: np.ndarray, old: np.ndarray | None, at: tuple[int, int] = (0, 0)
    ) -> list[int]:
        """Store the rectangles where ``new`` differs from ``old`` (``None``: from white).

        ``new`` and ``old`` are a region of the figure whose top-left corner is ``at``.
        """
        changed = new != (_WHITE if old is None else old)
        ids = []
        left, top = at
        for x, y, w, h in changed_boxes(changed):
            for bx, by, bw, bh in _split(changed[y : y + h, x : x + w]):
                block = new[y + by : y + by + bh, x + bx : x + bx + bw]
                ids.append(self.add(block, left + x + bx, top + y + by))
        return ids


def _split(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Cut a box's mask of changes into bands of equal rows and their runs, if that is few.

    An outline that moved is a hollow rectangle: four solid strips, not the map inside it.
    """
    height, width = mask.shape
    new_band = np.ones(height, bool)
    new_band[1:] = (mask[1:] != mask[:-1]).any(axis=1)
    starts = np.flatnonzero(new_band)
    if len(starts) > _SPLIT_MAX:
        return [(0, 0, width, height)]
    stops = np.append(starts[1:], height)
    boxes = []
    for top, bottom in zip(starts.tolist(), stops.tolist(), strict=True):
        row = np.concatenate([[False], mask[top], [False]])
        edges = np.flatnonzero(row[1:] != row[:-1])
        boxes += [(int(a), top, int(b - a), bottom - top) for a, b in edges.reshape(-1, 2)]
        if len(boxes) > _SPLIT_MAX:
            return [(0, 0, width, height)]
    return boxes


class _Painter:
    """The figure's pixels as words, blitted in numpy as its panels draw themselves in Agg."""

    def __init__(self, figure: Any) -> None:
        self.figure = figure
        self.canvas = figure.canvas
        self.renderer = self.canvas.get_renderer()
        # Anything visible but the panels (the teaching titles): only Agg draws it.
        self.fast = all(
            isinstance(artist, PixelPanel) or not artist.get_visible()
            for artist in [*figure.artists, *figure.texts, *figure.patches, *figure.lines]
        )

    def agg(self) -> np.ndarray:
        self.canvas.draw()
        rgba: np.ndarray = np.ascontiguousarray(self.canvas.buffer_rgba())
        words: np.ndarray = rgba.view(np.uint32)[..., 0].copy()
        return words

    def numpy(self) -> np.ndarray:
        """Return the whole figure, blitted in numpy."""
        width, height = self.canvas.get_width_height()
        return self.region((0, 0, width, height))

    def region(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """Return the pixels of ``(x0, y0, x1, y1)`` of the figure, blitted in numpy."""
        x0, y0, x1, y1 = box
        words = np.full((y1 - y0, x1 - x0), _WHITE, np.uint32)
        for panel, (left, top, w, h) in self.placements():
            # Agg clips an image at the canvas's edges; here also at the region's.
            a0, b0 = max(top, y0), max(left, x0)
            a1, b1 = min(top + h, y1), min(left + w, x1)
            if a1 <= a0 or b1 <= b0:
                continue
            rgba = panel._scaled_to(h, w)  # noqa: SLF001 - the panel's own blit
            if panel.outline is not None:
                rgba = rgba.copy()
                panel._paint_outline(rgba, self.renderer)  # noqa: SLF001
            block = np.ascontiguousarray(rgba).view(np.uint32)[..., 0]
            words[a0 - y0 : a1 - y0, b0 - x0 : b1 - x0] = block[
                a0 - top : a1 - top, b0 - left : b1 - left
            ]
        return words

    def placements(self) -> list[tuple[PixelPanel, tuple[int, int, int, int]]]:
        """Each visible panel and where it lands: ``(left, top, w, h)`` from the top-left."""
        height = self.canvas.get_width_height()[1]
        found = []
        for panel in self.figure.artists:
            if isinstance(panel, PixelPanel) and panel.get_visible():
                left, bottom, w, h = panel._target(self.renderer)  # noqa: SLF001
                if w >= 1 and h >= 1:
                    found.append((panel, (left, height - bottom - h, w, h)))
        return found

    def looks(self) -> dict[PixelPanel, tuple[object, ...]]:
        """Return what each panel shows: its pixels (compared by identity), outline and place."""
        # The pixels themselves, not their id(): a freed array's id is soon reused.
        return {
            panel: (panel._pixels, panel.outline, place)  # noqa: SLF001
            for panel, place in self.placements()
        }


def _changed_regions(
    before: dict[PixelPanel, tuple[object, ...]],
    after: dict[PixelPanel, tuple[object, ...]],
    size: tuple[int, int],
) -> list[tuple[int, int, int, int]]:
    """Return a box ``(x0, y0, x1, y1)`` per panel that changed: where it was and where it is."""
    width, height = size
    regions = []
    for panel in before.keys() | after.keys():
        old, new = before.get(panel), after.get(panel)
        if old is not None and new is not None and old[0] is new[0] and old[1:] == new[1:]:
            continue
        places = [look[2] for look in (before.get(panel), after.get(panel)) if look is not None]
        x0 = max(0, min(place[0] for place in places))  # type: ignore[index]
        y0 = max(0, min(place[1] for place in places))  # type: ignore[index]
        x1 = min(width, max(place[0] + place[2] for place in places))  # type: ignore[index]
        y1 = min(height, max(place[1] + place[3] for place in places))  # type: ignore[index]
        if x1 > x0 and y1 > y0:
            regions.append((x0, y0, x1, y1))
    return regions


@dataclass(frozen=True)
class ExportPlan:
    """What an export holds: the samples, layers, views and colour scales, and its size."""

    samples: list[int]
    layers: list[str]
    views: list[str]
    cmaps: list[str]
    channels: list[int]
    estimate: int

    @property
    def states(self) -> int:
        """How many figures the file holds, at most (views a layer cannot show are left out)."""
        return len(self.views) * len(self.samples) * len(self.cmaps) * sum(self.channels)


def plan_export(
    explorer: Explorer,
    samples: Iterable[int] | None,
    layers: Iterable[str] | None,
    views: Iterable[str],
    cmaps: Iterable[str] | None,
) -> ExportPlan:
    """Check what to export and estimate the file's size; nothing is drawn.

    Raises
    ------
    ConvscopeError
        An unknown layer, view or colour scale, or a sample out of range.

    """
    chosen = _default_samples(explorer) if samples is None else _checked_samples(explorer, samples)
    names = list(explorer.layers) if layers is None else _checked_layers(explorer, layers)
    view_list = _checked_choices("views", views, [v for v in VIEWS if v != "pattern"])
    cmap_list = (
        [explorer.cmap]
        if cmaps is None
        else _checked_choices("cmaps", cmaps, explorer.internals.cmap_options)
    )
    infos = [explorer.engine.layer(name) for name in names]
    channels = [info.channels for info in infos]
    # A group of states (one view, layer, sample, colour scale) keeps its grid, about a byte
    # per value of the layer's output after folding, and each channel its map and a palette.
    per_sample = 0
    for info in infos:
        values = int(np.prod(_shape(info.shape_text)))
        spatial = max(1, values // max(1, info.channels))
        per_sample += values + 2_000 + info.channels * (spatial + 4 * min(256, spatial) + 40)
    raw = per_sample * len(chosen) * len(view_list) * len(cmap_list)
    # Measured on the bundled CNN: deflate and the shared rectangles leave about a sixth of
    # this, and base64 adds a third; kept above it. The real size is checked before writing.
    estimate = int(raw * 0.3) + 200_000
    return ExportPlan(chosen, names, view_list, cmap_list, channels, estimate)


def export_html(
    explorer: Explorer,
    path: str | Path,
    samples: Iterable[int] | None = None,
    layers: Iterable[str] | None = None,
    views: Iterable[str] = DEFAULT_VIEWS,
    *,
    cmaps: Iterable[str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: bool = True,
    title: str = "convscope Explorer",
    channel_panel: bool = True,
) -> Path:
    """Write ``explorer`` as one HTML file that works with no kernel (``Explorer.export_html``).

    ``cmaps`` are the colour scales in the file (by default the one in view), ``max_bytes``
    the size above which nothing is written, ``progress`` whether a bar shows on stderr,
    ``channel_panel`` whether the channel panel works in the file: each channel's strongest
    samples over the whole data set (one pass per layer, as the live panel; the grid then
    crosses out dead channels, as it does live once the panel was opened).
    """
    target = _checked_path(path)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ArgumentTypeError(f"max_bytes must be a positive whole number, not {max_bytes!r}.")
    plan = plan_export(explorer, samples, layers, views, cmaps)
    _check_size(plan.estimate, max_bytes, plan, estimated=True)
    bar = _Progress(plan.states, enabled=progress)
    kept = _ViewKeeper(explorer)
    try:
        panels = _channel_panels(explorer, plan) if channel_panel else {}
        table = _draw_states(explorer, plan, bar.step)
        table.panels = panels
    finally:
        kept.restore()
    bar.done()
    document = _page(explorer, plan, table, title).encode("utf-8")
    _check_size(len(document), max_bytes, plan, estimated=False)
    target.write_bytes(document)
    return target


@dataclass
class _Table:
    """The states' figures: rectangles, and which of them each group and state shows."""

    pieces: _Pieces
    width: int
    height: int
    group_of: np.ndarray  # (views, layers, samples, cmaps) -> group, -1 where refused
    group_offsets: list[int]
    group_pieces: list[int]
    group_first: list[int]  # the state of each group's channel 0
    state_offsets: list[int]
    state_pieces: list[int]
    refusals: dict[str, str]
    captions: dict[str, list[str]]
    texts: dict[str, str]
    checked: int
    panels: dict[str, dict[str, list[Any]]] = field(default_factory=dict)


def _draw_states(explorer: Explorer, plan: ExportPlan, step: Callable[[], None]) -> _Table:
    """Draw every exported state through the Explorer's controller; return the table."""
    controller = explorer.internals.controller  # the export is the Explorer's own drawing
    controller.follow_weights(full=True)  # the model as it is now, once
    controller.apply(follow=False, compare=-1, probe=())
    painter = _Painter(explorer.figure)
    width, height = painter.canvas.get_width_height()
    pieces = _Pieces()
    shape = (len(plan.views), len(plan.layers), len(plan.samples), len(plan.cmaps))
    group_of = np.full(shape, -1, np.int32)
    table = _Table(pieces, width, height, group_of, [0], [], [], [0], [], {}, {}, {}, 0)
    for v, view in enumerate(plan.views):
        for li, layer in enumerate(plan.layers):
            channels = plan.channels[li]
            for s, sample in enumerate(plan.samples):
                for m, cmap in enumerate(plan.cmaps):
                    try:
                        controller.apply(
                            follow=False, view=view, layer=layer, sample=sample, cmap=cmap,
                            channel=0,
                        )  # fmt: skip
                    except ConvscopeError as error:
                        table.refusals[f"{view}|{layer}"] = f"{type(error).__name__}: {error}"
                        for _ in range(channels * (len(plan.samples) - s) * len(plan.cmaps)):
                            step()
                        break
                    group_of[v, li, s, m] = len(table.group_first)
                    _draw_group(explorer, painter, table, channels, step)
                else:
                    continue
                break
    return table


def _draw_group(
    explorer: Explorer, painter: _Painter, table: _Table, channels: int, step: Callable[[], None]
) -> None:
    """Draw one group's channels: its first figure whole, the others where they differ.

    The numpy blit is checked against Agg on the group's first and last figures; where it
    differs, the whole group is drawn by Agg instead.
    """
    controller = explorer.internals.controller
    first = painter.agg()
    fast = painter.fast and np.array_equal(painter.numpy(), first)
    table.group_first.append(len(table.state_offsets) - 1)
    table.group_pieces += table.pieces.add_changes(first, None)
    table.group_offsets.append(len(table.group_pieces))
    state = controller.state
    if str(state.sample) not in table.texts:
        table.texts[str(state.sample)] = describe_sample(controller, state.sample)
    kept = len(table.state_pieces), len(table.state_offsets)
    if fast and _draw_channels(explorer, painter, table, first, channels, fast=True):
        table.checked += 1
    else:
        del table.state_pieces[kept[0] :], table.state_offsets[kept[1] :]
        controller.apply(follow=False, channel=0)
        _draw_channels(explorer, painter, table, first, channels, fast=False)
    for _ in range(channels):
        step()


def _draw_channels(
    explorer: Explorer,
    painter: _Painter,
    table: _Table,
    first: np.ndarray,
    channels: int,
    *,
    fast: bool,
) -> bool:
    """Draw each channel of the group in view; ``False`` if the numpy blit was not Agg's."""
    controller = explorer.internals.controller
    looks = painter.looks()
    width, height = painter.canvas.get_width_height()
    layer = controller.state.layer
    for channel in range(channels):
        if channel:
            controller.apply(follow=False, channel=channel)
            if not fast:
                table.state_pieces += table.pieces.add_changes(painter.agg(), first)
            else:  # only the panels that changed: the grid's outline, the channel's map
                figure = first.copy() if channel == channels - 1 else None
                for x0, y0, x1, y1 in _changed_regions(looks, painter.looks(), (width, height)):
                    region = painter.region((x0, y0, x1, y1))
                    table.state_pieces += table.pieces.add_changes(
                        region, first[y0:y1, x0:x1], (x0, y0)
                    )
                    if figure is not None:
                        figure[y0:y1, x0:x1] = region
                if figure is not None and not np.array_equal(figure, painter.agg()):
                    return False
        table.state_offsets.append(len(table.state_pieces))
        if explorer.internals.teaching:
            key = f"{layer}|{channel}"
            if key not in table.captions:
                table.captions[key] = describe_panels(controller)
    return True


def _channel_panels(explorer: Explorer, plan: ExportPlan) -> dict[str, dict[str, list[Any]]]:
    """Return the channel panel of every exported channel: its words and strongest samples."""
    controller = explorer.internals.controller
    panels = {}
    for layer in plan.layers:
        peaks = controller.stats.channel_peaks(layer)  # (N, C): the live panel's one pass
        count = min(9, len(peaks))
        top = np.argsort(-peaks, axis=0, kind="stable")[:count]  # as channel_summary, at once
        active = (peaks > 0).mean(axis=0)
        dead = controller.stats.dead_channels(layer)
        unit = "channel" if explorer.engine.layer(layer).spatial else "unit"
        texts = [
            panel_line(
                unit, channel, layer, dead=bool(dead is not None and dead[channel]),
                active=float(active[channel]), samples=explorer.sample_count, shown=count,
            )
            for channel in range(peaks.shape[1])
        ]  # fmt: skip
        panels[layer] = {
            "texts": texts,
            "top": top.T.tolist(),
            "peaks": [
                [float(v) if np.isfinite(v) else None for v in row]  # JSON has no -Infinity
                for row in np.take_along_axis(peaks, top, axis=0).T
            ],
        }
    return panels


class _ViewKeeper:
    """The Explorer's view before the export, put back afterwards."""

    def __init__(self, explorer: Explorer) -> None:
        self.explorer = explorer
        state = explorer.internals.controller.state
        self.state = state

    def restore(self) -> None:
        state = self.state
        controller = self.explorer.internals.controller
        controller.apply(
            follow=False, layer=state.layer, channel=state.channel, view=state.view,
            cmap=state.cmap, norm=state.norm,
            sample="drawn" if state.drawn else state.sample,
            probe=state.probe or (), compare=-1 if state.compare is None else state.compare,
        )  # fmt: skip
        self.explorer.internals.publish()


def _page(explorer: Explorer, plan: ExportPlan, table: _Table, title: str) -> str:
    """Return the HTML: the widget's CSS and JS, the static model, and the tables, inline."""
    controller = explorer.internals.controller
    picker = explorer.internals.samples.picker
    chosen = np.asarray(plan.samples)
    labels = None if controller.labels is None else controller.labels[chosen]
    predicted = controller.classes.predictions
    predictions = None if predicted is None else predicted[chosen]
    infos = [explorer.engine.layer(name) for name in plan.layers]
    meta = {
        "width": table.width,
        "height": table.height,
        "views": plan.views,
        "layers": [
            {
                "name": i.name,
                "kind": i.kind,
                "shape": i.shape_text,
                "channels": i.channels,
                "text": layer_line(i.name, i.kind, i.shape_text),
                "unit": "channel" if i.spatial else "unit",
            }
            for i in infos
        ],
        "samples": plan.samples,
        "cmaps": plan.cmaps,
        "all_cmaps": explorer.internals.cmap_options,
        "all_views": explorer.internals.view_options,
        "norm": controller.state.norm,
        "all_norms": explorer.internals.norm_options,
        "labels": None if labels is None else labels.astype(int).tolist(),
        "thumb_captions": [
            thumb_caption(
                -1 if labels is None else int(labels[i]),
                -1 if predictions is None else int(predictions[i]),
                list(explorer.class_names),
            )
            for i in range(len(chosen))
        ],
        "predictions": None if predictions is None else predictions.astype(int).tolist(),
        "class_names": list(explorer.class_names),
        "texts": table.texts,
        "refusals": table.refusals,
        "captions": table.captions,
        "panels": table.panels,
        "teaching": explorer.internals.teaching,
        "thumb_shape": picker.thumb_shape,
        "page_size": picker.page_size,
        "start": _start(explorer, plan, table),
        "group_shape": list(table.group_of.shape),
    }
    sections = {
        "pieces": np.asarray(table.pieces.meta, "<u4"),
        "runs": np.concatenate(table.pieces.runs or [np.zeros(0, "<u2")]).astype("<u2"),
        "data": np.frombuffer(b"".join(table.pieces.data), np.uint8),
        "group_of": table.group_of.astype("<i4").ravel(),
        "group_offsets": np.asarray(table.group_offsets, "<u4"),
        "group_pieces": np.asarray(table.group_pieces, "<u4"),
        "group_first": np.asarray(table.group_first, "<u4"),
        "state_offsets": np.asarray(table.state_offsets, "<u4"),
        "state_pieces": np.asarray(table.state_pieces, "<u4"),
        "thumbs": np.ascontiguousarray(picker.thumbnails[chosen]).view(np.uint8).ravel(),
    }
    packed = {
        name: base64.b64encode(zlib.compress(array.tobytes(), _COMPRESSION)).decode("ascii")
        for name, array in sections.items()
    }
    data = json.dumps({"meta": meta, "sections": packed}, separators=(",", ":"))
    # Inside a <script>, "</" would end it: JSON may write it as "<\/".
    data = data.replace("</", "<\\/")
    widget_js = _asset("widget.js")
    ending = "export default { render };"
    if ending not in widget_js:
        raise ConvscopeError("widget.js no longer ends with its render export; cannot inline it")
    boot = _asset("static_model.js")
    if _IMPORT not in boot:
        raise ConvscopeError("static_model.js no longer imports widget.js; cannot inline it")
    module = widget_js.replace(ending, "const widget = { render };") + "\n"
    module += boot.replace(_IMPORT, "")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
        'connect-src data: blob:">\n'
        f"<style>{_asset('widget.css')}\n{_PAGE_CSS}</style>\n</head><body>\n"
        f'<h1 class="convscope-export-title">{html.escape(title)}</h1>\n'
        '<p class="convscope-export-note">A static export: everything below was computed '
        "ahead and runs in this file, with no Python and no network.</p>\n"
        '<div id="convscope-root"></div>\n'
        f'<script type="application/json" id="convscope-data">{data}</script>\n'
        f'<script type="module">\n{module}\n</script>\n</body></html>\n'
    )


def _start(explorer: Explorer, plan: ExportPlan, table: _Table) -> dict[str, object]:
    """Return the page's first state: the Explorer's where the file holds it, else the first."""
    view = "maps" if "maps" in plan.views else plan.views[0]
    v = plan.views.index(view)
    layers = [name for li, name in enumerate(plan.layers) if table.group_of[v, li].max() >= 0]
    return {
        "view": view,
        "layer": explorer.layer if explorer.layer in layers else (layers or plan.layers)[0],
        "cmap": explorer.cmap if explorer.cmap in plan.cmaps else plan.cmaps[0],
        "sample": plan.samples[0],
    }


_PAGE_CSS = """
body { margin: 8px; font-family: system-ui, sans-serif; }
.convscope-export-title { font-size: 1.1rem; margin: 4px 0; }
.convscope-export-note { font-size: 0.85rem; color: #57606a; margin: 0 0 6px; }
.convscope [disabled], .convscope option[disabled] { opacity: 0.45; cursor: not-allowed; }
.convscope input[type=range] { touch-action: none; min-width: 0; flex: 1 1 160px; }
"""


def _asset(name: str) -> str:
    for folder in (_STATIC_ASSETS, _ASSETS):
        if (folder / name).is_file():
            return (folder / name).read_text(encoding="utf-8")
    raise ConvscopeError(f"the widget's {name} is missing from this install of convscope")


def _check_size(size: int, limit: int, plan: ExportPlan, *, estimated: bool) -> None:
    if size <= limit:
        return
    what = "would be about" if estimated else "would be"
    raise ExportTooLargeError(
        f"This export {what} {size / 1e6:.1f} MB, over the limit of {limit / 1e6:.1f} MB "
        f"({plan.states:,} figures: {len(plan.samples)} samples × {len(plan.layers)} layers "
        f"× {len(plan.views)} views × {len(plan.cmaps)} colour scales). Nothing was written. "
        "Export fewer samples (samples=range(20)), fewer layers (layers=['conv1', ...]), "
        "fewer views (views=('maps',)) or colour scales, or raise max_bytes."
    )


def _default_samples(explorer: Explorer) -> list[int]:
    labels = explorer.internals.controller.labels
    count = explorer.sample_count
    if labels is None:
        return list(range(min(DEFAULT_SAMPLES, count)))
    chosen: list[int] = []
    for label in np.unique(labels)[: DEFAULT_SAMPLES // DEFAULT_PER_CLASS]:
        chosen += np.flatnonzero(labels == label)[:DEFAULT_PER_CLASS].tolist()
    return sorted(chosen)


def _checked_samples(explorer: Explorer, samples: Iterable[int]) -> list[int]:
    if isinstance(samples, (str, bytes)) or not isinstance(samples, Iterable):
        raise ArgumentTypeError(f"samples must be sample indices, e.g. range(20), not {samples!r}.")
    chosen = list(samples)
    count = explorer.sample_count
    for sample in chosen:
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)):
            raise ArgumentTypeError(f"samples must be whole numbers, not {sample!r}.")
        if not 0 <= sample < count:
            raise InvalidArgumentError(
                f"sample {sample} is out of range: this Explorer holds samples 0..{count - 1}."
            )
    if not chosen:
        raise InvalidArgumentError("samples is empty: give at least one, e.g. samples=range(20).")
    return sorted({int(sample) for sample in chosen})


def _checked_layers(explorer: Explorer, layers: Iterable[str]) -> list[str]:
    if isinstance(layers, str):
        layers = [layers]
    names = [check_layer_name(name) for name in layers]
    for name in names:
        explorer.engine.layer(name)  # raises UnknownLayerError with the close names
    if not names:
        raise InvalidArgumentError("layers is empty: give at least one, or None for all.")
    order = explorer.layers
    return sorted(set(names), key=order.index)


def _checked_choices(what: str, given: Iterable[str], known: Sequence[str]) -> list[str]:
    if isinstance(given, str):
        given = [given]
    chosen = list(dict.fromkeys(given))
    for name in chosen:
        if name not in known:
            raise InvalidArgumentError(
                f"{what}: {name!r} cannot be exported; choose from {', '.join(map(repr, known))}."
            )
    if not chosen:
        raise InvalidArgumentError(f"{what} is empty: give at least one of {list(known)}.")
    return chosen


def _checked_path(path: str | Path) -> Path:
    if not isinstance(path, (str, Path)):
        raise ArgumentTypeError(f"path must be a file name such as 'lesson.html', not {path!r}.")
    target = Path(path)
    if target.suffix.lower() not in {".html", ".htm"}:
        raise InvalidArgumentError(f"{target.name!r}: the export is a web page; end it in .html.")
    if not target.parent.is_dir():
        raise InvalidArgumentError(f"the folder {str(target.parent)!r} does not exist.")
    return target


def _shape(text: str) -> list[int]:
    return [
        int(part) for part in text.replace("×", " ").replace("x", " ").split() if part.isdigit()
    ]


class _Progress:
    """A one-line progress bar on stderr: figures drawn, of how many, and the time so far."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.enabled = max(1, total), enabled
        self.count = 0
        self.start = self.shown = time.perf_counter()

    def step(self) -> None:
        self.count += 1
        now = time.perf_counter()
        if self.enabled and now - self.shown > 0.25:  # noqa: PLR2004
            self.shown = now
            self._show(now)

    def _show(self, now: float) -> None:
        done = min(self.count, self.total) / self.total
        filled = int(30 * done)
        sys.stderr.write(
            f"\rexporting [{'=' * filled}{'.' * (30 - filled)}] {self.count:,}/{self.total:,} "
            f"figures  {now - self.start:.0f} s"
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            self._show(time.perf_counter())
            sys.stderr.write("\n")
