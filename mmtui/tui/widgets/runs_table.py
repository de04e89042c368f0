"""The Runs table: compared runs side by side, each in its Loss-panel colour, and the selected
run named on panels."""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from mmtui.records import DONE
from mmtui.tui.history import History, StreamHistory
from mmtui.tui.layer_words import cut_middle
from mmtui.tui.palette import code_style, run_color
from mmtui.tui.smoothing import SmoothedCurves
from mmtui.tui.widgets.strips_widget import StripsWidget

HEADER = Style(bold=True, dim=True)
SELECTED = Style(bold=True)
DIM = Style(dim=True)
MARKER = "▶ "  # the selected run; the Loss panel's legend marks it the same way
COLUMNS = ("step", "train", "val", "final train", "final val")  # each right-aligned, a gap before it
GAP = 2
MAX_NAME = 40  # columns; longer names are cut in the middle, the figures keep their place


class RunsTable(StripsWidget):
    """A header and one row per stream: latest step, smoothed train loss, val loss, and final
    losses once done."""

    DEFAULT_CSS = """
    RunsTable { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Runs · c: next run"
        self._history: History | None = None
        self._rows = 0
        self._smoothed = SmoothedCurves()

    def draw(self, history: History) -> None:
        self._history = history
        rows = len(history.streams)
        if rows != self._rows:  # a new stream: one more line, so a layout pass; not on every snapshot
            self._rows = rows
            self.refresh(layout=True)
        self.rebuild()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1 + self._rows

    def lines(self, width: int, height: int) -> list[Strip]:
        return (runs_table_lines(self._history, width, height, self._smoothed)
                if self._history is not None else [])


def runs_table_lines(history: History, width: int, height: int | None = None,
                     smoothed: SmoothedCurves | None = None) -> list[Strip]:
    """The header, then each stream in order of arrival (at most `height` lines: the rest counted on the last,
    the selected run kept); every column as wide as its widest figure, so a name never runs into a step."""
    labels = [history.label(name) for name in history.streams]
    smoothed = smoothed or SmoothedCurves()
    figures = [_figures(stream, smoothed) for stream in history.streams.values()]
    widths = [max(len(heading), *(len(row[i]) for row in figures)) + GAP for i, heading in enumerate(COLUMNS)]
    room = width - len(MARKER) - sum(widths)
    name_width = max(min(max(map(len, labels), default=0), room, MAX_NAME), len("run"))
    header = "".join(f"{heading:>{w}}" for heading, w in zip(COLUMNS, widths))
    lines = [Strip([Segment(" " * len(MARKER) + f"{'run':<{name_width}}{header}", HEADER)])]
    shown = list(range(len(labels)))
    if height is not None and len(shown) + 1 > height:  # more runs than rows: the selected one stays in view
        selected = list(history.streams).index(history.selected)
        shown = shown[:max(height - 2, 1)]  # the header and a "+N more" line take the other two
        if selected not in shown:
            shown[-1] = selected
    for index in shown:
        name = list(history.streams)[index]
        selected = name == history.selected
        colour = code_style(run_color(index)) + SELECTED if selected else code_style(run_color(index))
        row = "".join(f"{figure:>{w}}" for figure, w in zip(figures[index], widths))
        lines.append(Strip([Segment(MARKER if selected else " " * len(MARKER), SELECTED),
                            Segment(f"{cut_middle(labels[index], name_width):<{name_width}}", colour),
                            Segment(row, SELECTED if selected else None)]))
    if len(shown) < len(labels):
        lines.append(Strip([Segment(f"{' ' * len(MARKER)}+{len(labels) - len(shown)} more runs · c: next run",
                                    DIM)]))
    return lines


def _figures(stream: StreamHistory, smoothed: SmoothedCurves) -> tuple[str, ...]:
    """Step, smoothed train loss (as the Loss panel's curve ends), latest val loss, final losses once done."""
    run, latest = stream.run, stream.latest
    val = run.evals[-1].val_loss if run.evals else None
    final_train = final_val = None
    if latest.state == DONE and run.evals:  # the run's last evaluation is its final one
        final_train, final_val = run.evals[-1].train_loss, run.evals[-1].val_loss
    train = smoothed.of(run.losses)[-1] if run.losses.raw else None
    return f"{latest.step:,}", _loss(train), _loss(val), _loss(final_train), _loss(final_val)


def _loss(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def title_selected_run(panels: Iterable[Widget], history: History) -> None:
    """Name the selected run under each panel that shows it alone, when several are compared;
    nothing otherwise."""
    label = Text(history.label(history.selected)) if history.comparing else None  # Text: a name is not markup
    for panel in panels:
        if panel.border_subtitle != (label.markup if label else None):  # setting it refreshes the panel
            panel.border_subtitle = label
