"""Take the lesson home: one HTML file that is the Explorer, with no kernel behind it.

The page runs the widget's own ``widget.js`` with a stand-in for anywidget's ``model``
(``js/static_model.js``) that answers each request from a table of figures drawn here, through
the live Explorer's own drawing path, so every exported state shows the very pixels the kernel
would send. The figures are stored as the canvas path's rectangles (see ``frames.py``): each
group of states that differ only by channel (same view, layer, sample and colours) keeps the
rectangles of its first channel's figure, and each other channel its own rectangles over that
one (the outline in the grid, the channel's own map); ``export_table.py`` draws them, all of a
group's channels at once in numpy, checked against Agg. Equal rectangles are stored once. The
page shows a state as one key frame: white, the group's rectangles, the state's own. The tables
are deflated and inlined as base64; the page inflates them on opening.
"""

from __future__ import annotations

import base64
import html
import json
import sys
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convscope.engine.insight import best_first
from convscope.errors import (
    ArgumentTypeError,
    ConvscopeError,
    ExportTooLargeError,
    InvalidArgumentError,
    check_layer_name,
)
from convscope.render.words import layer_line, panel_line, thumb_caption
from convscope.widget.export_table import ExportTable, draw_states
from convscope.widget.views import VIEWS

# The Explorer, whose module imports this one: named, not imported, so there is no cycle.
Explorer = Any

DEFAULT_VIEWS = ("maps", "grad-cam", "heatmap")
DEFAULT_MAX_BYTES = 25_000_000
DEFAULT_PER_CLASS = 2  # samples of each true class exported by default
DEFAULT_SAMPLES = 20  # without labels: the first 20
_IMPORT = 'import widget from "./widget.js";'
_ASSETS = Path(__file__).resolve().parent.parent.parent.parent / "js"
_STATIC_ASSETS = Path(__file__).resolve().parent.parent / "static"
_COMPRESSION = 6  # zlib level: near level 9's size at a fraction of its time


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
        choices = (plan.views, plan.layers, plan.samples, plan.cmaps)
        table = draw_states(explorer, choices, plan.channels, bar.step)
        table.panels = panels
    finally:
        kept.restore()
    bar.done()
    document = _page(explorer, plan, table, title).encode("utf-8")
    _check_size(len(document), max_bytes, plan, estimated=False)
    target.write_bytes(document)
    return target


def _channel_panels(explorer: Explorer, plan: ExportPlan) -> dict[str, dict[str, list[Any]]]:
    """Return the channel panel of every exported channel: its words and strongest samples."""
    controller = explorer.internals.controller
    panels = {}
    controller.stats.gather_peaks(plan.layers)  # one pass over the data set for every layer
    for layer in plan.layers:
        peaks = controller.stats.channel_peaks(layer)  # (N, C): the live panel's one pass
        count = min(9, len(peaks))
        # As channel_summary's stable sort, highest first, ties to the lower index; without
        # sorting all of a channel's samples (a full sort of flatten's 576 took a second).
        top = np.stack([best_first(peaks[:, c], count) for c in range(peaks.shape[1])], axis=1)
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


def _page(explorer: Explorer, plan: ExportPlan, table: ExportTable, title: str) -> str:
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


def _start(explorer: Explorer, plan: ExportPlan, table: ExportTable) -> dict[str, object]:
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
