"""The Dead-neuron map: the lecture's |t| > 0.99 (white_at) image of one layer, examples down, units across; a
ReLU's white pixels are its outputs on the flat side."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from mmtui.records import FLAT, ActivationStats
from mmtui.tui.layer_words import layer_label, trouble_rule
from mmtui.tui.palette import ALARM, BLACK, SATURATED_RED, WHITE_PIXEL
from mmtui.tui.segments import merged_segments
from mmtui.tui.widgets.strips_widget import StripsWidget

HALVES = " ▄▀█"  # index (top << 1) | bottom: two examples per text row, one unit per column
# index tl << 3 | tr << 2 | bl << 1 | br: two units per column where one unit per column would not fit
QUADRANTS = " ▗▖▄▝▐▞▟▘▚▌▙▀▜▛█"
WHITE = Style(color=WHITE_PIXEL, bgcolor=BLACK)
DEAD = Style(color=SATURATED_RED, bgcolor=BLACK)
DIM = Style(dim=True)


class DeadNeuronMap(StripsWidget):
    """The image of the chosen layer; a Rich Text with a style per cell cost tens of ms a frame."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Dead neurons"
        self.stats: ActivationStats | None = None

    def draw(self, stats: ActivationStats | None) -> None:
        self.stats = stats
        rule = trouble_rule(stats, white=True) if stats else None
        title = "Flat units" if stats is not None and stats.kind == FLAT else "Dead neurons"
        self.border_title = f"{title}: {rule}" if rule else title
        self.rebuild()

    def lines(self, width: int, height: int) -> list[Strip]:
        if self.stats is None:
            return [Strip([Segment("waiting for the first step…")])]
        if not self.stats.white_rows:
            why = ("in this snapshot" if trouble_rule(self.stats)
                   else "for this function (it has no flat or saturated side)")
            return [Strip([Segment(f"{layer_label(self.stats)}: no saturation image {why} · n: next layer")])]
        return dead_map_lines(self.stats, width)


def dead_columns(white_rows: tuple[int, ...]) -> int:
    """Bit u set when unit u is white for every example: a dead neuron, its gradient zero
    through the function."""
    mask = -1 if white_rows else 0
    for row in white_rows:
        mask &= row
    return mask


def dead_map_lines(stats: ActivationStats, width: int) -> list[Strip]:
    """A title line, the image (two examples per row; two units per column when one per column would not fit
    `width`), and an axis line. Dead columns are red."""
    rows, units = stats.white_rows, max(stats.units, 0)
    dead = dead_columns(rows)
    per_column = 1 if units <= width else 2
    shown = min(units, width * per_column)  # the units the panel's width holds: a file may claim 10^12
    columns = -(-shown // per_column)
    column_dead = [any(_bit(dead, u) for u in range(c * per_column, min((c + 1) * per_column, shown)))
                   for c in range(columns)]
    dead_count = bin(dead & ((1 << min(units, dead.bit_length())) - 1)).count("1")
    lines = [Strip([Segment(f"{layer_label(stats)} · step {stats.step:,}: "),
                    Segment(f"{dead_count} dead unit{'' if dead_count == 1 else 's'}",
                            ALARM if dead_count else None),
                    Segment(f" of {units} (red: white for all {len(rows)} examples) · "
                            f"{stats.share_99:.1f}% white · n: next layer", DIM)])]
    for top in range(0, len(rows), 2):
        upper = rows[top]
        lower = rows[top + 1] if top + 1 < len(rows) else 0
        cells = [_cell(upper, lower, c * per_column, per_column) for c in range(columns)]
        lines.append(Strip(merged_segments((cell, DEAD if dead else WHITE)
                                           for cell, dead in zip(cells, column_dead))))
    of_all = f" of {units:,}" if shown < units else ""
    span = f"units 0 → {shown - 1}{of_all} across, examples 0 → {len(rows) - 1} down, 2 per row"
    lines.append(Strip([Segment(span + (", 2 units per column" if per_column == 2 else ""), DIM)]))
    return lines


def _cell(upper: int, lower: int, unit: int, per_column: int) -> str:
    """Bits past the last unit are 0, so an odd unit count leaves the last column's right half black."""
    if per_column == 1:
        return HALVES[_bit(upper, unit) << 1 | _bit(lower, unit)]
    return QUADRANTS[_bit(upper, unit) << 3 | _bit(upper, unit + 1) << 2 | _bit(lower, unit) << 1
                     | _bit(lower, unit + 1)]


def _bit(row: int, unit: int) -> int:
    return row >> unit & 1

