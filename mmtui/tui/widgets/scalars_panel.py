"""The Scalars panel: every named scalar a run logs besides its loss (lr, test loss, accuracy),
latest and trend."""

from __future__ import annotations

import math

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip

from mmtui.tui.history import RunHistory, ScalarSeries
from mmtui.tui.layer_words import cut_middle
from mmtui.tui.palette import CYAN
from mmtui.tui.widgets.strips_widget import StripsWidget

BLOCKS = "▁▂▃▄▅▆▇█"  # a reading's height in its series' range, one cell each
MAX_NAME = 40  # cells for a scalar's name; a longer one is cut in the middle
VALUE_WIDTH = 10  # the latest reading
MIN_TREND = 8  # sparkline cells a column keeps at least
RANGE_WIDTH = 25  # "  -0.0002581 … 0.003" after the sparkline
COLUMN_GAP = 3
DIM = Style(dim=True)
TREND = Style(color=CYAN)


class ScalarsPanel(StripsWidget):
    """One entry per scalar, in as many columns as the width holds: its name whole, latest reading, a
    sparkline of the run, and the sparkline's least and largest reading; shown only for a run that logs
    scalars. What a short panel cannot hold it counts on its last line."""

    DEFAULT_CSS = """
    ScalarsPanel { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Scalars"
        self._run: RunHistory | None = None
        self._count = 0

    def draw(self, run: RunHistory | None) -> None:
        self._run = run
        count = len(run.scalars) if run else 0
        if count != self._count:  # a layout pass only when a scalar first appears
            self._count = count
            self.refresh(layout=True)
        self.rebuild()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return math.ceil(self._count / _columns(self._name_width(), self._count, width)) if self._count else 0

    def _name_width(self) -> int:
        return min(max((len(name) for name in self._run.scalars), default=1), MAX_NAME) if self._run else 1

    def lines(self, width: int, height: int) -> list[Strip]:
        scalars = list(self._run.scalars.items()) if self._run else []
        if not scalars or height < 1:
            return []
        name_width = self._name_width()
        columns = _columns(name_width, len(scalars), width)
        rows = math.ceil(len(scalars) / columns)
        column_width = (width - COLUMN_GAP * (columns - 1)) // columns
        shown = len(scalars)
        if rows > height:  # a short terminal: the last place says how many more there are
            rows = height
            shown = max(rows * columns - 1, 0)
        cells = [scalar_line(name, series, column_width, name_width) for name, series in scalars[:shown]]
        if shown < len(scalars):
            cells.append(Strip([Segment(f"+{len(scalars) - shown} more: "
                                        "a taller terminal shows them all", DIM)]))
        lines = []
        for row in range(rows):
            segments: list[Segment] = []
            for place in range(row, len(cells), rows):  # down the first column, then the next
                if segments:
                    segments.append(Segment(" " * COLUMN_GAP))
                segments += list(cells[place].adjust_cell_length(column_width))
            lines.append(Strip(segments))
        return lines


def _columns(name_width: int, count: int, width: int) -> int:
    """As many columns as the width holds entries of their least width, and no more than the scalars need."""
    least = name_width + 1 + VALUE_WIDTH + 1 + MIN_TREND + RANGE_WIDTH
    return max(1, min(count, (width + COLUMN_GAP) // (least + COLUMN_GAP)))


def scalar_line(name: str, series: ScalarSeries, width: int, name_width: int) -> Strip:
    latest = series.latest
    reading = "—" if latest is None or latest.value is None else f"{latest.value:.4g}"
    head = f"{cut_middle(name, name_width):<{name_width}} {reading:>{VALUE_WIDTH}} "
    if len(series.values) < 2:
        return Strip([Segment(head)])
    columns = width - len(head) - RANGE_WIDTH
    shown = [v for v in series.values[-columns:] if math.isfinite(v)] if columns > 0 else []  # NaN has no bar
    if len(shown) < 2:
        return Strip([Segment(head)])
    # a short range gives the trend its room
    spare = RANGE_WIDTH - len(f"  {min(shown):.4g} … {max(shown):.4g}")
    shown = series.values[-(columns + spare):]
    low, high = min(shown), max(shown)
    span = high / 2 - low / 2 or 1.0  # halves: 1e308 - -1e308 overflows
    bars = "".join(BLOCKS[min(int((v / 2 - low / 2) / span * len(BLOCKS)), len(BLOCKS) - 1)] for v in shown)
    return Strip([Segment(head), Segment(bars, TREND), Segment(f"  {low:.4g} … {high:.4g}", DIM)])
