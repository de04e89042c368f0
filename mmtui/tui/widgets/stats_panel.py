"""A diagnostics panel: a table of per-layer (or per-weight) figures above their overlaid histograms."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from mmtui.tui.diagnostics import Curve
from mmtui.tui.widgets.histogram_overlay import HistogramOverlay


class StatsPanel(Vertical):
    """The table's rows, in their lines' colours, are the plot's legend."""

    DEFAULT_CSS = """
    StatsPanel > Static { height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, title: str, xlabel: str, x_range: tuple[float, float] | None = None,
                 symmetric: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = title
        self.table = Static()
        self.plot = HistogramOverlay(xlabel, x_range, symmetric)
        self._rows = -1

    def compose(self) -> ComposeResult:
        yield self.table
        yield self.plot

    def draw(self, table: Text, curves: list[Curve], empty: str) -> None:
        rows = table.plain.count("\n") + 1
        # A layout pass only when the row count changes (a reinit with another model), not on every snapshot.
        self.table.update(table, layout=rows != self._rows)
        self._rows = rows
        self.plot.draw(curves, empty)
