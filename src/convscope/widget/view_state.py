"""The Explorer's view state, and the rules that check a change of it before anything is drawn.

:class:`ViewState` is what the figure shows; :class:`ViewRules` turns the arguments of
``Explorer.update`` into a new state, or refuses them with a ``ConvscopeError`` that names the
fix, so that a bad value never reaches the engine or the figure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from convscope.engine.activations import ActivationEngine
from convscope.errors import (
    ArgumentTypeError,
    IndexOutOfRangeError,
    InvalidArgumentError,
    ModelNotSupportedError,
    NotSpatialLayerError,
    check_choice,
    check_index,
    check_layer_name,
)
from convscope.render.compare import COMPARE_MODES
from convscope.render.mosaic import check_cmap
from convscope.render.normalise import NORM_MODES
from convscope.widget.views import PREDICTED, VIEWS, DeeperViews

DRAWN = "drawn"
"""``sample`` for the digit drawn on the pad (or given to ``Explorer.draw``)."""
Source = int | str
"""An input of the figure: a sample's index, or :data:`DRAWN`."""


@dataclass(frozen=True)
class ViewState:
    """What the Explorer shows: one layer, channel and sample, how to colour them, which view.

    ``target_class`` is the class Grad-CAM explains; ``PREDICTED`` (-1) follows the model.
    ``probe`` is a position ``(row, col)`` in the layer's maps whose receptive field is
    outlined on the input, or ``None``. ``compare`` is a second sample (B) shown with this one
    (A), or ``None``; ``compare_mode`` says how: ``"side"`` or ``"difference"``. ``drawn`` shows
    the drawing instead of ``sample`` as A, and ``sample`` stays the last sample of the data
    set that was shown.
    """

    layer: str
    channel: int
    sample: int
    cmap: str = "viridis"
    norm: str = "standard"
    view: str = "maps"
    target_class: int = PREDICTED
    probe: tuple[int, int] | None = None
    compare: int | None = None
    compare_mode: str = "side"
    drawn: bool = False


def source_of(state: ViewState) -> Source:
    """Return what ``state`` shows as A: the drawing, or its sample's index."""
    return DRAWN if state.drawn else state.sample


class ViewRules:
    """What a view state may be for one model and data set: checks a change, then applies it.

    Parameters
    ----------
    engine : ActivationEngine
        The model's layers, their channels and shapes.
    samples : int
        How many samples there are.
    class_names : list of str
        Names of the model's classes (for ``target_class`` given by name).
    views : DeeperViews
        The deeper views, which say what each needs (a class output, maps...).
    drawable : bool
        Whether the model takes drawings (one grey input channel of a fixed size).

    """

    def __init__(
        self,
        engine: ActivationEngine,
        samples: int,
        class_names: list[str],
        views: DeeperViews,
        *,
        drawable: bool,
    ) -> None:
        self.engine = engine
        self.samples = samples
        self.class_names = class_names
        self.views = views
        self.drawable = drawable

    def resolve(
        self,
        state: ViewState,
        *,
        layer: str | None = None,
        channel: int | None = None,
        sample: int | str | None = None,
        cmap: str | None = None,
        norm: str | None = None,
        view: str | None = None,
        target_class: int | None = None,
        probe: tuple[int, int] | tuple[()] | None = None,
        compare: int | None = None,
        compare_mode: str | None = None,
    ) -> ViewState:
        """Return ``state`` after the changes given, or raise a clear error; nothing is modified.

        ``None`` keeps a value. Switching layer keeps the channel when the new layer has it,
        else the last channel, and forgets the probe; ``probe=()`` forgets it too, and
        ``compare=-1`` stops comparing. Comparing needs the maps view. An unknown
        argument name raises ``TypeError``. ``sample="drawn"`` shows the drawing (an empty
        one, "draw a digit", before anything was drawn). A deeper view
        (see :data:`~convscope.widget.views.VIEWS`) is checked against the layer it would
        show, so a layer without maps, or a model without classes, is refused before drawing.
        """
        if layer is not None:
            info = self.engine.layer(check_layer_name(layer))
            kept = min(state.channel, info.channels - 1)
            held = state.probe if info.name == state.layer else None
            state = replace(state, layer=info.name, channel=kept, probe=held)
        if channel is not None:
            channels = self.engine.layer(state.layer).channels
            state = replace(state, channel=check_index("channel", channel, channels))
        if isinstance(sample, str) and sample == DRAWN:
            self.check_pad()
            state = replace(state, drawn=True)
        elif sample is not None:
            index = check_index("sample", sample, self.samples)
            state = replace(state, sample=index, drawn=False)
        if cmap is not None:
            state = replace(state, cmap=check_cmap(cmap))
        if norm is not None:
            norm = check_choice("norm", norm, NORM_MODES, "normalisation mode")
            state = replace(state, norm=norm)
        if probe is not None:
            state = replace(state, probe=self.check_probe(state.layer, probe))
        if view is not None:
            state = replace(state, view=check_choice("view", view, VIEWS, "view"))
        if target_class is not None:
            state = replace(state, target_class=self.check_class(target_class))
        state = self._resolve_compare(state, compare, compare_mode)
        self.views.check(state.view, self.engine.layer(state.layer), state.target_class)
        return state

    def _resolve_compare(
        self, state: ViewState, compare: int | None, compare_mode: str | None
    ) -> ViewState:
        """Apply a change of sample B or of how the two show; only the maps view compares."""
        if compare is not None:
            state = replace(state, compare=self.check_compare(compare))
        if compare_mode is not None:
            mode = check_choice("compare_mode", compare_mode, COMPARE_MODES, "comparison mode")
            state = replace(state, compare_mode=mode)
        if state.compare is not None and state.view != "maps":
            raise InvalidArgumentError(
                f"Comparing two samples shows their feature maps, not the {state.view!r} view; "
                "set ex.view = 'maps', or ex.compare = None to stop comparing."
            )
        return state

    def check_compare(self, value: object) -> int | None:
        """Return the sample to compare with, or ``None`` for ``-1`` (stop comparing)."""
        count = self.samples
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise ArgumentTypeError(
                f"compare must be a sample index (an integer 0..{count - 1}), or None to stop "
                f"comparing; got {value!r}."
            )
        if value == -1:
            return None
        if not 0 <= value < count:
            raise IndexOutOfRangeError(
                f"compare {value} is out of range: there are {count} samples, so use "
                f"0..{count - 1}, or None to stop comparing."
            )
        return int(value)

    def check_probe(self, layer: str, probe: object) -> tuple[int, int] | None:
        """Return a position in ``layer``'s maps as ``(row, col)``; ``()`` gives ``None``."""
        if probe == ():
            return None
        info = self.engine.layer(layer)
        if not info.spatial:
            raise NotSpatialLayerError(
                f"{info.name!r} ({info.kind}, {info.shape_text}) has no maps to probe; pick a "
                "convolutional or pooling layer."
            )
        if not isinstance(probe, (tuple, list)) or len(probe) != 2:  # noqa: PLR2004
            raise ArgumentTypeError(f"probe must be (row, col) in the maps, got {probe!r}.")
        height, width = info.channels_last(np.empty(info.output_shape, bool)).shape[:2]
        return check_index("row", probe[0], height), check_index("col", probe[1], width)

    def check_class(self, value: object) -> int:
        """Return a class to explain as an index: an index, a class name, or -1 (predicted)."""
        if isinstance(value, str):
            if value not in self.class_names:
                raise IndexOutOfRangeError(
                    f"Unknown class {value!r}; the classes are {list(self.class_names)}, or use "
                    "None for the predicted class."
                )
            return self.class_names.index(value)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value == -1:
            return PREDICTED
        return int(self.views.gradients.classes(value, 1)[0])

    def check_pad(self) -> None:
        """Refuse a drawing for a model that takes none, naming what it takes."""
        if not self.drawable:
            raise ModelNotSupportedError(
                f"Drawing needs a model with one grey input channel, (H, W, 1); this one takes "
                f"{self.engine.input_shape}. Show your images with Explorer(model, images=...)."
            )
