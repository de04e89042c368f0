"""The Runs table: compared runs side by side, each in its Loss-panel colour, and the selected run named on panels."""

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
from mmtui.tui.palette import code_style, run_color
from mmtui.tui.widgets.strips_widget import StripsWidget

HEADER = Style(bold=True, dim=True)
SELECTED = Style(bold=True)
MARKER = "▶ "  # the selected run; the Loss panel's legend marks it the same way
FIGURES = f"{'step':>9}{'train':>9}{'val':>9}{'final train':>13}{'final val':>11}"
MAX_NAME = 40  # columns; longer names are cut, the figures keep their place


class RunsTable(StripsWidget):
    """A header and one row per stream: latest step, smoothed train loss, val loss, and final losses once done."""

    DEFAULT_CSS = """
    RunsTable { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Runs · c: next run"
        self._history: History | None = None
        self._rows = 0

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
        return runs_table_lines(self._history, width) if self._history is not None else []


def runs_table_lines(history: History, width: int) -> list[Strip]:
    """The header, then each stream in order of arrival; the name column takes what the figures leave."""
    labels = [history.label(name) for name in history.streams]
    room = width - len(MARKER) - len(FIGURES)
    name_width = max(min(max(map(len, labels), default=0), room, MAX_NAME), len("run"))
    lines = [Strip([Segment(" " * len(MARKER) + f"{'run':<{name_width}}{FIGURES}", HEADER)])]
    for index, (label, (name, stream)) in enumerate(zip(labels, history.streams.items())):
        selected = name == history.selected
        colour = code_style(run_color(index)) + SELECTED if selected else code_style(run_color(index))
        lines.append(Strip([Segment(MARKER if selected else " " * len(MARKER), SELECTED),
                            Segment(f"{label[:name_width]:<{name_width}}", colour),
                            Segment(_figures(stream), SELECTED if selected else None)]))
    return lines


def _figures(stream: StreamHistory) -> str:
    run, latest = stream.run, stream.latest
    val = run.evals[-1].val_loss if run.evals else None
    final_train = final_val = None
    if latest.state == DONE and run.evals:  # the run's last evaluation is its final one
        final_train, final_val = run.evals[-1].train_loss, run.evals[-1].val_loss
    return (f"{latest.step:>9,}{_loss(run.losses.latest_smooth):>9}{_loss(val):>9}{_loss(final_train):>13}"
            f"{_loss(final_val):>11}")


def _loss(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def title_selected_run(panels: Iterable[Widget], history: History) -> None:
    """Name the selected run under each panel that shows it alone, when several are compared; nothing otherwise."""
    label = Text(history.label(history.selected)) if history.comparing else None  # Text: a name is not markup
    for panel in panels:
        if panel.border_subtitle != (label.markup if label else None):  # setting it refreshes the panel
            panel.border_subtitle = label
