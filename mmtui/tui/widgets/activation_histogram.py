"""The Activations panel: an ASCII histogram of the first activation layer's outputs, the tails
in trouble in red."""

from __future__ import annotations

import math

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from mmtui.records import FLAT, ActivationStats
from mmtui.tui.layer_words import bin_in_trouble, cut_middle, layer_label, trouble_rule
from mmtui.tui.palette import CYAN, SATURATED_RED
from mmtui.tui.plain import plain
from mmtui.tui.segments import merged_segments
from mmtui.tui.widgets.strips_widget import StripsWidget

BLOCKS = " ▁▂▃▄▅▆▇█"  # eighths of a cell: bars rise in 1/8-row steps
BODY = Style(color=CYAN)
TAIL = Style(color=SATURATED_RED, bold=True)
DIM = Style(dim=True)
AXIS_WIDTH = 7  # the count labels left of the bars
TANH_TITLE = "Activations: hidden tanh h"  # the lecture's nets, whose layers have no module names


class ActivationHistogram(StripsWidget):
    """Counts of h per bin on [-1, 1], as the lecture's plt.hist(h.view(-1).tolist(), 50); of any other layer
    on its function's range, or the data's.

    Drawn with block characters: a plotext bar chart of 50 bins cost about 28 ms to build and as much again
    for Textual to lay out, every frame.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = TANH_TITLE
        self.stats: ActivationStats | None = None

    def draw(self, stats: ActivationStats | None) -> None:
        self.stats = stats
        self.rebuild()

    def lines(self, width: int, height: int) -> list[Strip]:
        stats = self.stats
        # the layer's name whole where the border has room, else its middle cut
        if stats is not None and stats.name:
            room = max(width - len("Activations: ") - 4, 8)
            title = plain(f"Activations: {cut_middle(layer_label(stats), room)}")
        else:
            title = TANH_TITLE
        if self.border_title != title:
            self.border_title = title
        if self.stats is None:
            return [Strip([Segment("waiting for the first step…")])]
        return histogram_lines(self.stats, width, height)


def histogram_lines(stats: ActivationStats, width: int, height: int) -> list[Strip]:
    """A title line, bars `height - 3` rows high, an axis line and the labels of the range's ends (and 0)."""
    rule = trouble_rule(stats)
    figures = f"step {stats.step:,}: mean {stats.mean:+.2f}  std {stats.std:.2f}   "
    # a FLAT function's near-flat outputs are not a range of values: no red bars, so no red key; its share
    # instead, where it fits (the Flat units panel gives it too)
    share = f"{stats.saturation:.1f}% near-flat"
    said = ([Segment(share, DIM)] if len(figures + share) <= width else []) if stats.kind == FLAT else \
        [Segment(f"█ {rule}", TAIL)] if rule else []
    lines = [Strip([Segment(figures), *said])]
    if len(stats.hist_counts) == 0 or len(stats.hist_edges) != len(stats.hist_counts) + 1:
        return lines + [Strip([Segment("no finite outputs to draw in this snapshot", DIM)])]
    rows = max(height - 3, 1)
    counts, spans = merged_bins(stats, max(width - AXIS_WIDTH, 1))
    column = max((width - AXIS_WIDTH) // len(counts), 1)
    top = max(counts) or 1
    eighths = [round(n / top * rows * 8) for n in counts]  # bar heights in eighths of a row
    tails = [bin_in_trouble(stats, low, high) for low, high in spans]
    for row in range(rows, 0, -1):
        label = f"{top:>6,} " if row == rows else f"{0:>6} " if row == 1 else " " * AXIS_WIDTH
        bars = merged_segments((BLOCKS[min(max(level - (row - 1) * 8, 0), 8)] * column,
                                TAIL if tail else BODY)
                               for level, tail in zip(eighths, tails))
        lines.append(Strip([Segment(label, DIM), *bars]))
    span = column * len(counts)
    lines.append(Strip([Segment(" " * AXIS_WIDTH + "└" + "─" * (span - 1), DIM)]))
    labels = [" "] * span
    for value, at in axis_labels(stats.hist_edges[0], stats.hist_edges[-1], span):
        start = min(max(at - len(value) // 2, 0), span - len(value))
        if all(cell == " " for cell in labels[max(start - 1, 0):start + len(value) + 1]):  # "0" near an end
            labels[start:start + len(value)] = value
    lines.append(Strip([Segment(" " * AXIS_WIDTH + "".join(labels), DIM)]))
    return lines


def axis_labels(low: float, high: float, span: int) -> list[tuple[str, int]]:
    """The range's ends, and 0 where it lies inside, with the column each is centred on."""
    labels = [(f"{low:.3g}", 0), (f"{high:.3g}", span - 1)]
    if low < 0 < high:
        labels.append(("0", min(round(-low / (high - low) * span), span - 1)))  # last: an end's label wins
    return labels


FILLED = 0.7  # the least share of the panel's columns the bars span: bins merge in larger groups below it


def merged_bins(stats: ActivationStats, columns: int) -> tuple[list[int], list[tuple[float, float]]]:
    """The 50 bins, merged in the smallest groups whose bars, each a whole number of columns, fill the panel:
    counts, and each one's edges. 39 columns take 17 bars of 2, not 25 of 1 that leave a third empty."""
    edges, counts = stats.hist_edges, stats.hist_counts
    group = max(math.ceil(len(counts) / columns), 1)
    while group < len(counts):
        bars = math.ceil(len(counts) / group)
        if bars * (columns // bars) >= FILLED * columns:
            break
        group += 1
    merged, spans = [], []
    for start in range(0, len(counts), group):
        merged.append(sum(counts[start:start + group]))
        spans.append((edges[start], edges[min(start + group, len(counts))]))
    return merged, spans
