"""Compose the Explorer's figure: a resolved view state plus its arrays in, panels and titles out.

The widget computes (maps, the data set's dead channels, a receptive field, a heatmap...) and
calls :func:`compose_view` once per update; everything drawn and every title is decided here,
with the words of :mod:`convscope.render.words`. Pure numpy: no model, no state.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from convscope.render.compare import difference_cmap
from convscope.render.explorer_figure import ExplorerView
from convscope.render.mosaic import MosaicLayout, colourise, mark_pixels
from convscope.render.normalise import NON_FINITE_RGB
from convscope.render.overlays import image_grid, overlay
from convscope.render.words import (
    channel_title,
    difference_titles,
    field_notice,
    field_title,
    grad_cam_title,
    grid_title,
    heatmap_title,
    input_title,
    joined_notices,
    non_finite_notice,
    output_notice,
    patterns_titles,
    source_name,
)

_GRID_ASPECT = 1.04  # width / height of the grid panel, so cells fill it


class ResolvedView(Protocol):
    """The fields of a resolved view state that the picture depends on (``ViewState``'s)."""

    @property
    def channel(self) -> int:
        """The selected channel."""

    @property
    def cmap(self) -> str:
        """The colormap of the maps."""

    @property
    def norm(self) -> str:
        """The colour scale."""

    @property
    def view(self) -> str:
        """``maps``, ``heatmap``, ``grad-cam`` or ``pattern``."""

    @property
    def probe(self) -> tuple[int, int] | None:
        """The probed unit ``(row, col)``, or ``None``."""

    @property
    def compare(self) -> int | None:
        """Sample B, or ``None`` while one sample is shown."""

    @property
    def compare_mode(self) -> str:
        """``side`` or ``difference``."""


@dataclass(frozen=True)
class LayerFacts:
    """What the titles say of the layer in view."""

    name: str
    kind: str
    shape_text: str
    channels: int
    spatial: bool


@dataclass(frozen=True)
class MapArrays:
    """One input's layer view: raw maps ``(H, W, C)``, pixels ``(C, H, W)``, coloured mosaic.

    ``bad`` is the NaN/Inf mask ``(C, H, W)``, or ``None`` when every value is finite.
    """

    maps: np.ndarray
    pixels: np.ndarray
    grid: np.ndarray
    layout: MosaicLayout
    bad: np.ndarray | None


@dataclass(frozen=True)
class InputArrays:
    """One input (sample A or B): its pixels, true class, the model's classes, its maps.

    ``sample`` is the index in the data set (``-1`` for the drawing); ``probabilities`` is
    ``None`` for a model without a class output, or an empty drawing; ``maps`` is ``None`` for
    B when the difference is shown (A's maps hold ``A - B``).
    """

    sample: int
    drawing: bool
    empty_drawing: bool
    image: np.ndarray
    label: int | None
    probabilities: np.ndarray | None
    maps: MapArrays | None


@dataclass(frozen=True)
class ReceptiveField:
    """The probed unit's receptive field ``(top, left, bottom, right)``, or why there is none."""

    box: tuple[int, int, int, int] | None
    problem: str = ""


@dataclass(frozen=True)
class DeeperArrays:
    """What a deeper view computed: a heatmap ``(H, W)`` in 0..1, its class, or the patterns.

    ``chosen`` is Grad-CAM's class (``-1``: an empty drawing, nothing explained), ``predicted``
    whether it is the model's prediction rather than one the user chose; ``patterns`` is
    ``(C, h, w, channels)`` in 0..1, or ``None`` while computing (``progress`` says so).
    """

    heat: np.ndarray | None = None
    chosen: int = -1
    predicted: bool = True
    patterns: np.ndarray | None = None
    progress: str = ""


def compose_view(
    state: ResolvedView,
    layer: LayerFacts,
    inputs: tuple[InputArrays, InputArrays | None],
    *,
    class_names: list[str],
    dead: np.ndarray | None = None,
    field: ReceptiveField | None = None,
    deeper: DeeperArrays | None = None,
) -> ExplorerView:
    """Return the figure's panels and titles for ``state``.

    ``inputs`` are A and, while comparing, B; ``dead`` marks the channels dead on the data set
    (``None``: not known); ``field`` is the probed unit's receptive field, ``deeper`` what the
    heatmap, Grad-CAM or pattern view computed.
    """
    a, b = inputs
    difference = state.compare is not None and state.compare_mode == "difference"
    view = _input_view(state, layer, a, dead, class_names)
    if difference and a.maps is not None:
        values = np.abs(a.maps.maps[..., state.channel])
        grid_text, channel_text = difference_titles(
            layer.name, state.norm, _unit(layer), state.channel, _largest(values)
        )
        view = replace(
            view,
            grid_title=grid_text,
            channel_title=channel_text,
            legend_cmap=difference_cmap(state.cmap),
        )
    if state.probe is not None and field is not None:
        view = _with_field(view, layer.name, state.probe, field)
    if b is not None:
        b_view = _input_view(state, layer, b, dead, class_names)
        b_view = replace(
            b_view, image_outline=view.image_outline, channel_outline=view.channel_outline
        )
        notice = joined_notices(view.notice, b_view.notice)
        return replace(view, compare=b_view, mode=state.compare_mode, notice=notice)
    if deeper is None or state.view == "maps":
        return view
    return _deeper_view(state, layer, (a.image, view), deeper, class_names)


@functools.lru_cache(maxsize=128)
def grid_columns(channels: int, aspect: float = _GRID_ASPECT) -> int:
    """Columns that give the largest square cells in a panel of ``aspect`` (width / height).

    Ties go to the layout with fewer empty cells: 16 channels make a 4×4 grid, not 5×4.
    Kept per layer size and aspect: every update of a layer view asks again.
    """
    candidates = np.arange(1, channels + 1)
    rows = -(-channels // candidates)
    cell = np.minimum(aspect / candidates, 1.0 / rows)
    empty = candidates * rows - channels
    best = np.lexsort((empty, -np.round(cell, 9)))[0]
    return int(candidates[best])


def _input_view(
    state: ResolvedView,
    layer: LayerFacts,
    source: InputArrays,
    dead: np.ndarray | None,
    class_names: list[str],
) -> ExplorerView:
    """Return one input's view: its pixels and classes, and its maps when it has them."""
    name = source_name(source.drawing, source.sample)
    label = None if source.label is None else _class_name(class_names, source.label)
    probabilities = source.probabilities
    notice = ""
    if probabilities is not None and not np.isfinite(probabilities).all():
        notice, probabilities = output_notice(name), None
    header = ExplorerView(
        image=source.image,
        grid=source.image,
        outline=None,
        channel=source.image,
        probabilities=probabilities,
        label=source.label,
        image_title=input_title(name, label, empty_drawing=source.drawing and source.empty_drawing),
        grid_title="",
        channel_title="",
        notice=notice,
    )
    parts = source.maps
    if parts is None:
        return header
    difference = state.compare is not None and state.compare_mode == "difference"
    cmap = difference_cmap(state.cmap) if difference else state.cmap
    channel = _coloured(parts, state.channel, cmap)
    notices = []
    if parts.bad is not None:
        which = "A − B" if difference else name
        notices.append(non_finite_notice(layer.name, int(parts.bad.sum()), which))
    dead_count = 0 if dead is None else int(dead.sum())
    return replace(
        header,
        grid=parts.grid,
        outline=parts.layout.cell_box(state.channel),
        channel=channel,
        grid_title=grid_title(layer.name, layer.kind, layer.shape_text, dead_count),
        channel_title=channel_title(
            _unit(layer), state.channel, _largest(parts.maps[..., state.channel])
        ),
        notice=joined_notices(*notices, header.notice),
    )


def _coloured(parts: MapArrays, channels: int | slice, cmap: str) -> np.ndarray:
    """Return the channel panel's pixels of ``channels`` (one, or a slice of them), RGBA."""
    # Contiguous, so that the colours come out one RGBA word per pixel in the same order.
    channel = colourise(np.ascontiguousarray(parts.pixels[channels]), cmap)
    if parts.bad is not None:
        mark_pixels(channel, parts.bad[channels], None, NON_FINITE_RGB)
    return channel


@dataclass(frozen=True)
class ChannelSweep:
    """What changes in the figure when only the channel changes, for every channel at once.

    ``channels`` are the channel panel's pixels of each channel ``(C, h, w, 4)`` RGBA;
    ``outlines`` the grid's outline box of each channel ``(C, 4)`` (as
    :attr:`ExplorerView.outline`), or ``None`` where the grid has no outline (the heatmap and
    Grad-CAM views). Everything else in the figure is the same for every channel.
    """

    channels: np.ndarray
    outlines: np.ndarray | None


def channel_sweep(state: ResolvedView, parts: MapArrays) -> ChannelSweep | None:
    """Return what :func:`compose_view` changes across the channels of ``state``, at once.

    ``parts`` are the maps ``state`` shows. ``None`` where more than the channel panel and the
    grid's outline follows the channel: comparing two samples, a probed unit, the pattern view.
    """
    if state.compare is not None or state.probe is not None or state.view == "pattern":
        return None
    count = parts.pixels.shape[0]
    outlines = None
    if state.view == "maps":
        outlines = np.asarray([parts.layout.cell_box(c) for c in range(count)], float)
    return ChannelSweep(_coloured(parts, slice(None), state.cmap), outlines)


def _with_field(
    view: ExplorerView, layer: str, probe: tuple[int, int], field: ReceptiveField
) -> ExplorerView:
    """Outline the probed unit on its channel, and its receptive field on the input."""
    row, col = probe
    unit = (col, row, 1, 1)
    if field.box is None:  # say why, draw no box on the input
        notice = joined_notices(view.notice, field_notice(field.problem))
        return replace(view, channel_outline=unit, notice=notice)
    top, left, bottom, right = field.box
    return replace(
        view,
        image_outline=(left, top, right - left, bottom - top),
        channel_outline=unit,
        grid_title=field_title(layer, probe, field.box),
    )


def _deeper_view(
    state: ResolvedView,
    layer: LayerFacts,
    shown: tuple[np.ndarray, ExplorerView],
    deeper: DeeperArrays,
    class_names: list[str],
) -> ExplorerView:
    """Replace the feature-map mosaic of ``shown``'s view with the picture of a deeper view."""
    image, view = shown
    if state.view in ("heatmap", "grad-cam") and deeper.heat is not None:
        if state.view == "heatmap":
            title = heatmap_title(layer.name, layer.channels)
        else:
            chosen = None if deeper.chosen < 0 else _class_name(class_names, deeper.chosen)
            title = grad_cam_title(layer.name, chosen, predicted=deeper.predicted)
        grid = overlay(image, deeper.heat, state.cmap)
        return replace(view, grid=grid, outline=None, grid_title=title)
    patterns = deeper.patterns
    if patterns is None:  # computing in the background: the maps meanwhile, and progress
        return replace(view, notice=joined_notices(deeper.progress, view.notice))
    gap = max(1, patterns.shape[1] // 14)
    grid, layout = image_grid(patterns, grid_columns(len(patterns)), gap)
    pattern = np.round(np.clip(patterns[state.channel], 0.0, 1.0) * 255).astype(np.uint8)
    grid_text, channel_text = patterns_titles(layer.name, state.channel)
    return replace(
        view,
        grid=grid,
        outline=layout.cell_box(state.channel),
        channel=pattern[..., 0] if pattern.shape[-1] == 1 else pattern,
        grid_title=grid_text,
        channel_title=channel_text,
    )


def _unit(layer: LayerFacts) -> str:
    return "channel" if layer.spatial else "unit"


def _largest(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else None


def _class_name(class_names: list[str], index: int) -> str:
    return class_names[index] if 0 <= index < len(class_names) else str(index)
