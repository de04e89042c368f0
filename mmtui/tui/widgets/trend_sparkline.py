"""A sparkline of the latest readings, one per column, drawn as strips of block characters."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from mmtui.tui.segments import merged_segments
from mmtui.tui.widgets.strips_widget import StripsWidget

BLOCKS = " ▁▂▃▄▅▆▇█"  # eighths of a cell: columns rise in 1/8-row steps
LABEL = Style(dim=True)
LABEL_WIDTH = 6  # the scale's top value, left of the columns


class TrendSparkline(StripsWidget):
    """Columns from 0 to the largest reading shown, each coloured by its own value.

    Textual's Sparkline re-bucketed its data on every compositor pass: ~7 ms a frame in the Saturation
    panel, the most of any widget. These strips are built once per draw.
    """

    def __init__(self, style_of: Callable[[float], Style], unit: str = "", **kwargs) -> None:
        """`style_of`: a reading's colour; `unit`: appended to the scale's label."""
        super().__init__(**kwargs)
        self.style_of = style_of
        self.unit = unit
        self.values: Sequence[float] = ()

    def draw(self, values: Sequence[float]) -> None:
        self.values = values
        self.rebuild()

    def lines(self, width: int, height: int) -> list[Strip]:
        return sparkline_lines(self.values, width, height, self.style_of, self.unit)


def sparkline_lines(values: Sequence[float], width: int, height: int, style_of: Callable[[float], Style],
                    unit: str = "") -> list[Strip]:
    """`height` rows: the last `width - LABEL_WIDTH` readings, the oldest on the left, 0 at the bottom."""
    shown = list(values)[-max(width - LABEL_WIDTH, 1):]
    if not shown or height < 1:
        return []
    top = max(shown)
    # any reading above 0 shows
    eighths = [max(round(v / top * height * 8), 1) if v > 0 else 0 for v in shown]
    styles = [style_of(v) for v in shown]
    lines = []
    for row in range(height, 0, -1):
        label = f"{top:>{LABEL_WIDTH - 1 - len(unit)}.0f}{unit} " if row == height else " " * LABEL_WIDTH
        columns = merged_segments((BLOCKS[min(max(level - (row - 1) * 8, 0), 8)], style)
                                  for level, style in zip(eighths, styles))
        lines.append(Strip([Segment(label, LABEL), *columns]))
    return lines
