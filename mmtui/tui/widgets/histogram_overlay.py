"""Overlaid histograms for the diagnostics panels: one coloured line per layer or weight, as
the lecture draws."""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip

from mmtui.tui.braille_plot import Axis, PlotLine, line_plot
from mmtui.tui.diagnostics import Curve
from mmtui.tui.palette import code_style
from mmtui.tui.widgets.strips_widget import StripsWidget

HEADROOM = 1.05  # the tallest curve's peak stays below the top edge


class HistogramOverlay(StripsWidget):
    """Density against value for every curve on one pair of axes; a fixed x range, or the data's."""

    def __init__(self, xlabel: str, x_range: tuple[float, float] | None = None, symmetric: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.xlabel = xlabel
        self.x_range = x_range  # None: from the data
        self.symmetric = symmetric  # a range from the data is symmetric about 0, as gradients centre on 0
        self._curves: list[Curve] = []
        self._empty = ""

    def draw(self, curves: list[Curve], empty: str) -> None:
        """`empty`: the title shown when there is no curve to draw."""
        self._curves = curves
        self._empty = empty
        self.rebuild()

    def lines(self, width: int, height: int) -> list[Strip]:
        if not self._curves:
            return [Strip([Segment(self._empty)])]
        return line_plot([PlotLine(c.x, c.y, code_style(c.color)) for c in self._curves], width, height,
                         self._x_axis(), self._y_axis())

    def _x_axis(self) -> Axis:
        if self.x_range is not None:
            low, high = self.x_range
            ticks = [low + (high - low) * i / 4 for i in range(5)]
            return Axis(low, high, [(t, f"{t:g}") for t in ticks], self.xlabel)
        if self.symmetric:
            limit = max(abs(x) for curve in self._curves for x in curve.x) or 1.0
            ticks = [-limit, -limit / 2, 0.0, limit / 2, limit]
            return Axis(-limit, limit, [(t, f"{t:.1e}" if t else "0") for t in ticks], self.xlabel)
        low = min(min(curve.x) for curve in self._curves)
        high = max(max(curve.x) for curve in self._curves)
        high = high if high > low else low + 1.0
        ticks = [low + (high - low) * i / 4 for i in range(5)]
        # a tick a rounding error from 0 (a range of -0.98 to 0.979) is labelled 0, not -0.000465
        return Axis(low, high, [(t, "0" if abs(t) < (high - low) * 1e-3 else f"{t:.3g}") for t in ticks],
                    self.xlabel)

    def _y_axis(self) -> Axis:
        top = max(max(curve.y) for curve in self._curves) * HEADROOM or 1.0
        return Axis(0.0, top, [(0.0, "0"), (top / 2, f"{top / 2:.3g}"), (top, f"{top:.3g}")], "density")
