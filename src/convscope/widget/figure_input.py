"""The figure's own input: keys and clicks on the ipympl canvas, and clicks that probe a unit.

A key moves as the widget's keys do; a click on the selected channel's large map probes the
unit drawn there. A failure shows in the error banner, as for the controls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

# Keys of the ipympl canvas, and the move of the page's requests each makes.
_KEYS = {"left": ("step", -1), "right": ("step", 1), "up": ("channel_steps", 1)}
_KEYS |= {"down": ("channel_steps", -1), "pageup": ("layer_steps", -1)}
_KEYS |= {"pagedown": ("layer_steps", 1)}


class Explorer(Protocol):
    """The Explorer's public API that a probe uses (no import of it: no cycle)."""

    layer: Any

    @property
    def figure(self) -> Any:
        """The live figure."""

    @property
    def panels(self) -> Any:
        """The figure's panels."""

    @property
    def engine(self) -> Any:
        """The activation engine."""

    def update(self, **changes: Any) -> None:
        """Change several fields of the view at once."""


class FigureInput:
    """Turn keys and clicks on the figure into moves and probes of ``explorer``.

    ``moves`` applies moves as the page's requests do (``{"step": -1}``, say); ``report``
    shows a failure's message in the error banner.
    """

    def __init__(
        self,
        explorer: Explorer,
        moves: Callable[[dict[str, int]], None],
        report: Callable[[str], None],
    ) -> None:
        self._explorer = explorer
        self._moves = moves
        self._report = report

    def connect(self, canvas: Any) -> None:
        """Listen to the ipympl canvas: a click on it focuses it, so its arrow keys come here."""
        canvas.mpl_connect("key_press_event", self.on_key)
        canvas.mpl_connect("button_press_event", self.on_click)

    def on_key(self, event: Any) -> None:
        """Move as the widget's keys do: ←/→ samples, ↑/↓ channels, PageUp/PageDown layers.

        For keys pressed on the ipympl canvas; at either end nothing moves.
        """
        if event.key not in _KEYS:
            return
        what, delta = _KEYS[event.key]
        try:
            self._moves({what: delta})
        except Exception as error:  # noqa: BLE001 - shown in the banner, as for the controls
            self._report(f"{type(error).__name__}: {error}")

    def on_click(self, event: Any) -> None:
        """Probe the unit under a click on the ipympl canvas, as a click on the PNG does."""
        self.probe_at(float(event.x), float(event.y))

    def probe_at(self, x: float, y: float) -> None:
        """Probe the selected channel's unit drawn at canvas pixel ``(x, y)`` (from bottom-left).

        A click elsewhere does nothing; a failure shows in the banner, as for the controls.
        """
        ex = self._explorer
        size = tuple(float(v) for v in ex.figure.canvas.get_width_height())
        unit = ex.panels.channel_panel.pixel_at(x, y, size)
        if unit is None or not ex.engine.layer(ex.layer).spatial:
            return
        try:
            ex.update(probe=unit)
        except Exception as error:  # noqa: BLE001 - shown in the banner
            self._report(f"{type(error).__name__}: {error}")
