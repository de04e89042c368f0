"""Line plots on a braille canvas, as strips: the diagnostics views' figures without plotext's layout cost.

A plotext figure of five or six braille lines took 17-22 ms to lay out, and the layers and parameters views
hold two each; this canvas draws the same lines, axes and ticks in ~2 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from mmtui.tui.segments import merged_segments

BRAILLE = 0x2800  # the empty braille cell; each of its 2 x 4 dots is one bit
DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [dot row][dot column], top row first
AXIS = Style(dim=True)


@dataclass(frozen=True)
class PlotLine:
    """Points joined by straight lines; points outside the axes' ranges are clipped."""

    xs: Sequence[float]
    ys: Sequence[float]
    style: Style


@dataclass(frozen=True)
class Axis:
    """A value range and its labelled ticks."""

    low: float
    high: float
    ticks: Sequence[tuple[float, str]] = ()
    label: str = ""


@dataclass
class _Canvas:
    """Braille cells: a dot bit mask and the style of the line drawn last in each."""

    columns: int
    rows: int
    bits: list[list[int]] = field(init=False)
    styles: list[list[Style | None]] = field(init=False)

    def __post_init__(self) -> None:
        self.bits = [[0] * self.columns for _ in range(self.rows)]
        self.styles = [[None] * self.columns for _ in range(self.rows)]

    def dot(self, x: int, y: int, style: Style) -> None:
        """Dot (x, y) in dot units, y from the top."""
        if 0 <= x < self.columns * 2 and 0 <= y < self.rows * 4:
            row, column = y // 4, x // 2
            self.bits[row][column] |= DOT_BITS[y % 4][x % 2]
            self.styles[row][column] = style

    def segment(self, x0: float, y0: float, x1: float, y1: float, style: Style) -> None:
        steps = max(int(max(abs(x1 - x0), abs(y1 - y0))), 1)
        for i in range(steps + 1):
            self.dot(round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps), style)

    def strip(self, row: int) -> list[Segment]:
        return merged_segments((chr(BRAILLE + bits), style) if bits else (" ", None)
                               for bits, style in zip(self.bits[row], self.styles[row]))


def _dots(value: float, axis: Axis, last: int) -> float:
    """Where `value` falls on an axis `last` dots long; a point far off it is kept near it (a segment to
    10^300 dots away would take as many steps), one of NaN at its start. Halves: 1e308 - -1e308 overflows."""
    if not axis.high > axis.low:
        return 0.0
    at = (value / 2 - axis.low / 2) / (axis.high / 2 - axis.low / 2) * last
    return min(max(at, -last), 2 * last) if at == at else 0.0


def line_plot(lines: Sequence[PlotLine], width: int, height: int, x: Axis, y: Axis, title: str = "",
              guides: Sequence[tuple[float, Style]] = ()) -> list[Strip]:
    """A title row (the y label, then `title`), the canvas with y ticks on its left, the x
    axis and its labels.

    `guides`: horizontal lines (y value, style) drawn under the data lines.
    """
    label_width = max([len(text) for _, text in y.ticks] + [1]) + 1
    columns, rows = width - label_width - 1, height - 3
    if columns < 2 or rows < 1:
        return []
    canvas = _Canvas(columns, rows)

    def to_dots(vx: float, vy: float) -> tuple[float, float]:
        dy = _dots(vy, y, rows * 4 - 1)
        return _dots(vx, x, columns * 2 - 1), rows * 4 - 1 - dy

    for value, style in guides:
        _, gy = to_dots(x.low, value)
        canvas.segment(0, gy, columns * 2 - 1, gy, style)
    for line in lines:
        points = [to_dots(vx, vy) for vx, vy in zip(line.xs, line.ys)]
        if len(points) == 1:
            canvas.dot(round(points[0][0]), round(points[0][1]), line.style)
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            canvas.segment(x0, y0, x1, y1, line.style)

    tick_rows = {}
    for value, text in y.ticks:
        _, dy = to_dots(x.low, value)
        if 0 <= dy < rows * 4:
            tick_rows[int(dy) // 4] = text
    strips = [Strip([Segment(y.label, AXIS), Segment("  " + title if title else "")])]
    for row in range(rows):
        label = tick_rows.get(row, "")
        axis = "┤" if row in tick_rows else "│"
        strips.append(Strip([Segment(f"{label:>{label_width - 1}} {axis}", AXIS), *canvas.strip(row)]))
    axis_line, label_line = ["─"] * columns, [" "] * columns
    for value, text in x.ticks:
        column = round(to_dots(value, y.low)[0]) // 2
        if 0 <= column < columns:
            axis_line[column] = "┬"
            start = min(max(column - len(text) // 2, 0), max(columns - len(text), 0))
            if all(c == " " for c in label_line[max(start - 1, 0):start + len(text) + 1]):  # no overlap
                label_line[start:start + len(text)] = text
    if x.label and label_line[-len(x.label) - 1:] == [" "] * (len(x.label) + 1):
        label_line[-len(x.label):] = x.label
    elif x.label:  # no room beside the tick labels: the title row names it
        strips[0] = Strip([*strips[0], Segment(f"  (x: {x.label})", AXIS)])
    strips.append(Strip([Segment(" " * label_width + "└" + "".join(axis_line), AXIS)]))
    strips.append(Strip([Segment(" " * (label_width + 1) + "".join(label_line), AXIS)]))
    return strips
