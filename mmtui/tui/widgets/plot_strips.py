"""The plumbing every plotext panel shares: one Plot, rebuilt only on new data or a resize, served as strips."""

from __future__ import annotations

import math

from textual.strip import Strip
from textual.widget import Widget
from textual_plotext.plot import Plot

from mmtui.tui.ansi_strips import ansi_to_strips

Y_LABEL_WIDTH = 10  # columns plotext takes for the y axis; the rest holds one point per column


class PlotStrips(Widget):
    """A plotext figure, built only by rebuild() and on a resize, and served line by line as strips.

    textual-plotext's PlotextPlot rebuilt the figure and sent it through Rich text on every render, about
    60 ms a frame; here the figure is built once per data change and parsed in a few ms. Subclasses keep
    their data, call rebuild() when it changes, and fill the figure in plot().
    """

    DEFAULT_CSS = """
    PlotStrips { width: 1fr; height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plt = Plot()
        self._strips: list[Strip] = []
        self._has_data = False  # a resize before the first data has nothing to draw

    def rebuild(self) -> None:
        self._has_data = True
        self._build()
        self.refresh()

    def on_resize(self) -> None:
        if self._has_data:
            self.rebuild()  # with a refresh: a view just shown may have painted its lines before this event

    def render_line(self, y: int) -> Strip:
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width)

    def _build(self) -> None:
        width, height = self.size.width, self.size.height
        if width < 10 or height < 5:  # hidden, or too small for axes: plotext would raise
            self._strips = []
            return
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.theme("clear")  # the panel's own colours behind the plot: fewer codes to parse
        plt.plotsize(width, height)
        self.plot(plt, width, height)
        self._strips = ansi_to_strips(plt.build(), width)

    def plot(self, plt: Plot, width: int, height: int) -> None:
        """Add the data, axes and labels to the cleared figure; colours as 256-colour codes (ansi_strips)."""
        raise NotImplementedError


def step_ticks(last: int, count: int = 5) -> list[int]:
    """About `count` round step numbers from 0 to last."""
    raw = max(last / count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    spacing = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [int(i * spacing) for i in range(int(last // spacing) + 1)]
