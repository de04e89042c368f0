"""The plumbing every plotext panel shares: one Plot, rebuilt only on new data or a resize,
served as strips."""

from __future__ import annotations

import math

from textual.strip import Strip
from textual_plotext.plot import Plot

from mmtui.tui.plotext_strips import figure_strips
from mmtui.tui.widgets.strips_widget import StripsWidget

Y_LABEL_WIDTH = 10  # columns plotext takes for the y axis; the rest holds one point per column


class PlotStrips(StripsWidget):
    """A plotext figure, built only on new data or a resize, its colour codes parsed straight into strips.

    textual-plotext's PlotextPlot rebuilt the figure and sent it through Rich text on every render, about
    60 ms a frame; this builds it once per change and reads its matrices (plotext_strips). Subclasses keep
    their data, call rebuild() when it changes, and fill the figure in plot().
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plt = Plot()
        self._has_data = False  # a resize before the first data has nothing to draw

    def rebuild(self) -> None:
        self._has_data = True
        super().rebuild()

    def on_resize(self) -> None:
        if self._has_data:
            super().on_resize()

    def lines(self, width: int, height: int) -> list[Strip]:
        if width < 10 or height < 5:  # hidden, or too small for axes: plotext would raise
            return []
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt._limit_size(False, False)  # plotext caps a figure at its own terminal's size: 80x24 without one
        plt.theme("clear")  # the panel's own colours behind the plot: fewer codes to parse
        plt.plotsize(width, height)
        self.plot(plt, width, height)
        return figure_strips(plt, width)

    def plot(self, plt: Plot, width: int, height: int) -> None:
        """Add the data, axes and labels to the cleared figure; colours as 256-colour codes
        (plotext_strips)."""
        raise NotImplementedError


def step_ticks(last: int, count: int = 5) -> list[int]:
    """About `count` round step numbers from 0 to last."""
    raw = max(last / count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    spacing = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [int(i * spacing) for i in range(int(last // spacing) + 1)]
