"""The Activations panel: an ASCII histogram of the hidden tanh values, saturated tails in red."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

from mmtui.engine.snapshot import ActivationStats

SATURATED = 0.97  # the lecture's |h| > 0.97; bins beyond it are the tails
BLOCKS = " ▁▂▃▄▅▆▇█"  # eighths of a cell: bars rise in 1/8-row steps
BODY_STYLE = "cyan"
TAIL_STYLE = "bold red"
AXIS_WIDTH = 7  # the count labels left of the bars


class ActivationHistogram(Widget):
    """Counts of h per bin on [-1, 1], as the lecture's plt.hist(h.view(-1).tolist(), 50).

    Drawn with block characters rather than plotext: a plotext bar chart of 50 bins cost about 28 ms a
    frame, this costs well under one.
    """

    DEFAULT_CSS = """
    ActivationHistogram { width: 1fr; height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Activations: hidden tanh h"
        self.stats: ActivationStats | None = None

    def draw(self, stats: ActivationStats | None) -> None:
        self.stats = stats
        self.refresh()

    def render(self) -> Text:
        if self.stats is None:
            return Text("waiting for the first step…")
        return histogram_text(self.stats, self.size.width, self.size.height)


def histogram_text(stats: ActivationStats, width: int, height: int) -> Text:
    """A title line, bars `height - 3` rows high, an axis line and the labels -1, 0, 1."""
    text = Text()
    text.append(f"step {stats.step:,}: mean {stats.mean:+.2f}  std {stats.std:.2f}   ")
    text.append(f"█ |h| > {SATURATED}\n", TAIL_STYLE)
    rows = max(height - 3, 1)
    counts, centers = merged_bins(stats, max(width - AXIS_WIDTH, 1))
    column = max((width - AXIS_WIDTH) // len(counts), 1)
    top = max(counts) or 1
    eighths = [round(n / top * rows * 8) for n in counts]  # bar heights in eighths of a row
    for row in range(rows, 0, -1):
        label = f"{top:>6,} " if row == rows else f"{0:>6} " if row == 1 else " " * AXIS_WIDTH
        text.append(label, "dim")
        for level, center in zip(eighths, centers):
            fill = min(max(level - (row - 1) * 8, 0), 8)
            text.append(BLOCKS[fill] * column, TAIL_STYLE if abs(center) > SATURATED else BODY_STYLE)
        text.append("\n")
    span = column * len(counts)
    text.append(" " * AXIS_WIDTH + "└" + "─" * (span - 1) + "\n", "dim")
    labels = [" "] * span
    for value, at in (("-1", 0), ("0", span // 2), ("1", span - 1)):
        start = min(max(at - len(value) // 2, 0), span - len(value))
        labels[start:start + len(value)] = value
    text.append(" " * AXIS_WIDTH + "".join(labels), "dim")
    return text


def merged_bins(stats: ActivationStats, columns: int) -> tuple[list[int], list[float]]:
    """The 50 bins, merged in groups when the panel has fewer columns than bins."""
    edges, counts = stats.hist_edges, stats.hist_counts
    group = max(math.ceil(len(counts) / columns), 1)
    merged, centers = [], []
    for start in range(0, len(counts), group):
        merged.append(sum(counts[start:start + group]))
        centers.append((edges[start] + edges[min(start + group, len(counts))]) / 2)
    return merged, centers
