"""The Scalars panel: every named scalar a run logs besides its loss (lr, test loss, accuracy), latest and trend."""

from __future__ import annotations

import math

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip

from mmtui.tui.history import RunHistory, ScalarSeries
from mmtui.tui.layer_words import fitted
from mmtui.tui.palette import CYAN
from mmtui.tui.widgets.strips_widget import StripsWidget

BLOCKS = "▁▂▃▄▅▆▇█"  # a reading's height in its series' range, one cell each
NAME_WIDTH = 16  # cells for a scalar's name; a longer one keeps its end
VALUE_WIDTH = 11  # the latest reading, and the range's ends
RANGE_WIDTH = 24  # "  0.000258 … 0.003" after the sparkline
MAX_ROWS = 6  # scalars shown; the run file holds them all
DIM = Style(dim=True)
TREND = Style(color=CYAN)


class ScalarsPanel(StripsWidget):
    """One row per scalar: its name, latest reading, a sparkline of the run, and the sparkline's least and largest
    reading; shown only for a run that logs scalars."""

    DEFAULT_CSS = """
    ScalarsPanel { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Scalars"
        self._run: RunHistory | None = None
        self._rows = 0

    def draw(self, run: RunHistory | None) -> None:
        self._run = run
        rows = min(len(run.scalars) if run else 0, MAX_ROWS)
        if rows != self._rows:  # a layout pass only when a scalar first appears
            self._rows = rows
            self.refresh(layout=True)
        self.rebuild()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._rows

    def lines(self, width: int, height: int) -> list[Strip]:
        scalars = self._run.scalars if self._run else {}
        return [scalar_line(name, series, width) for name, series in list(scalars.items())[:MAX_ROWS]]


def scalar_line(name: str, series: ScalarSeries, width: int) -> Strip:
    latest = series.latest
    reading = "—" if latest is None or latest.value is None else f"{latest.value:.4g}"
    head = f"{fitted(name, NAME_WIDTH):<{NAME_WIDTH}} {reading:>{VALUE_WIDTH}} "
    columns = width - len(head) - RANGE_WIDTH
    shown = [v for v in series.values[-columns:] if math.isfinite(v)] if columns > 0 else []  # NaN has no bar
    if len(shown) < 2:
        return Strip([Segment(head)])
    low, high = min(shown), max(shown)
    span = high / 2 - low / 2 or 1.0  # halves: 1e308 - -1e308 overflows
    bars = "".join(BLOCKS[min(int((v / 2 - low / 2) / span * len(BLOCKS)), len(BLOCKS) - 1)] for v in shown)
    return Strip([Segment(head), Segment(bars, TREND), Segment(f"  {low:.4g} … {high:.4g}", DIM)])
