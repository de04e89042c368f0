"""The Activations panel: an ASCII histogram of the hidden tanh values, saturated tails in red."""

from __future__ import annotations

import math

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from mmtui.records import ActivationStats
from mmtui.tui.palette import CYAN, SATURATED_RED
from mmtui.tui.segments import merged_segments
from mmtui.tui.widgets.strips_widget import StripsWidget

BLOCKS = " ▁▂▃▄▅▆▇█"  # eighths of a cell: bars rise in 1/8-row steps
BODY = Style(color=CYAN)
TAIL = Style(color=SATURATED_RED, bold=True)
DIM = Style(dim=True)
AXIS_WIDTH = 7  # the count labels left of the bars


class ActivationHistogram(StripsWidget):
    """Counts of h per bin on [-1, 1], as the lecture's plt.hist(h.view(-1).tolist(), 50).

    Drawn with block characters: a plotext bar chart of 50 bins cost about 28 ms to build and as much again
    for Textual to lay out, every frame.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Activations: hidden tanh h"
        self.stats: ActivationStats | None = None

    def draw(self, stats: ActivationStats | None) -> None:
        self.stats = stats
        self.rebuild()

    def lines(self, width: int, height: int) -> list[Strip]:
        if self.stats is None:
            return [Strip([Segment("waiting for the first step…")])]
        return histogram_lines(self.stats, width, height)


def histogram_lines(stats: ActivationStats, width: int, height: int) -> list[Strip]:
    """A title line, bars `height - 3` rows high, an axis line and the labels -1, 0, 1."""
    lines = [Strip([Segment(f"step {stats.step:,}: mean {stats.mean:+.2f}  std {stats.std:.2f}   "),
                    Segment(f"█ |h| > {stats.saturated_at:g}", TAIL)])]
    rows = max(height - 3, 1)
    counts, centers = merged_bins(stats, max(width - AXIS_WIDTH, 1))
    column = max((width - AXIS_WIDTH) // len(counts), 1)
    top = max(counts) or 1
    eighths = [round(n / top * rows * 8) for n in counts]  # bar heights in eighths of a row
    tails = [abs(center) > stats.saturated_at for center in centers]
    for row in range(rows, 0, -1):
        label = f"{top:>6,} " if row == rows else f"{0:>6} " if row == 1 else " " * AXIS_WIDTH
        bars = merged_segments((BLOCKS[min(max(level - (row - 1) * 8, 0), 8)] * column, TAIL if tail else BODY)
                               for level, tail in zip(eighths, tails))
        lines.append(Strip([Segment(label, DIM), *bars]))
    span = column * len(counts)
    lines.append(Strip([Segment(" " * AXIS_WIDTH + "└" + "─" * (span - 1), DIM)]))
    labels = [" "] * span
    for value, at in (("-1", 0), ("0", span // 2), ("1", span - 1)):
        start = min(max(at - len(value) // 2, 0), span - len(value))
        labels[start:start + len(value)] = value
    lines.append(Strip([Segment(" " * AXIS_WIDTH + "".join(labels), DIM)]))
    return lines


def merged_bins(stats: ActivationStats, columns: int) -> tuple[list[int], list[float]]:
    """The 50 bins, merged in groups when the panel has fewer columns than bins."""
    edges, counts = stats.hist_edges, stats.hist_counts
    group = max(math.ceil(len(counts) / columns), 1)
    merged, centers = [], []
    for start in range(0, len(counts), group):
        merged.append(sum(counts[start:start + group]))
        centers.append((edges[start] + edges[min(start + group, len(counts))]) / 2)
    return merged, centers
