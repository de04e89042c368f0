"""Overlaid histograms for the diagnostics panels: one coloured line per layer or weight, as the lecture draws."""

from __future__ import annotations

from textual_plotext.plot import Plot

from mmtui.tui.diagnostics import Curve
from mmtui.tui.widgets.plot_strips import PlotStrips


class HistogramOverlay(PlotStrips):
    """Density against value for every curve on one pair of axes; a fixed x range, or one symmetric about 0."""

    def __init__(self, xlabel: str, x_range: tuple[float, float] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.xlabel = xlabel
        self.x_range = x_range  # None: from the data, symmetric, since gradients centre on 0
        self._curves: list[Curve] = []
        self._empty = ""

    def draw(self, curves: list[Curve], empty: str) -> None:
        """`empty`: the title shown when there is no curve to draw."""
        self._curves = curves
        self._empty = empty
        self.rebuild()

    def plot(self, plt: Plot, width: int, height: int) -> None:
        for curve in self._curves:
            plt.plot(curve.x, curve.y, color=curve.color, marker="braille")
        if self.x_range is not None:
            plt.xlim(*self.x_range)
        elif self._curves:
            limit = max(abs(x) for curve in self._curves for x in curve.x)
            if limit > 0:
                ticks = [-limit, -limit / 2, 0.0, limit / 2, limit]
                plt.xlim(-limit, limit)
                plt.xticks(ticks, [f"{t:.1e}" if t else "0" for t in ticks])
        if not self._curves:
            plt.title(self._empty)
        plt.xlabel(self.xlabel)
        plt.ylabel("density")
