"""The Output panel: what a script run by `mmtui run` prints, newest at the bottom, and how it ended."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import re

from rich.cells import cell_len, chop_cells
from rich.text import Text
from textual import events
from textual.containers import Vertical
from textual.widgets import Log, Static

from mmtui.records import ScriptExited, ScriptOutput
from mmtui.tui.palette import ALARM

SCROLLBACK_LINES = 2_000  # the script's lines held, before wrapping: as many as its source keeps
NOTE = "mmtui: "  # begins the lines mmtui adds among the script's own
WORD = re.compile(r"[^ ]* *")  # a word and the spaces after it: where a long line may break


class OutputPanel(Vertical):
    """A scrolling log of the script's lines, wrapped to the panel (a traceback reads whole at any width),
    with the line being written (a tqdm bar) below it; the lower border says how the script ended.

    It follows the newest line until the user scrolls up, and again once they scroll back to the end.
    Textual's Log follows only while it is scrolled to its end, and a panel made shorter (another panel laid
    out beside it, the Scalars a script's first run.log(lr=...) brings) leaves it above its end: it
    stopped following for good.
    """

    DEFAULT_CSS = """
    OutputPanel > Log { height: 1fr; overflow-x: hidden; overflow-y: scroll; scrollbar-size-vertical: 1;
                        background: transparent; }
    OutputPanel > #output-partial { height: auto; max-height: 3; display: none; }
    OutputPanel.writing > #output-partial { display: block; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Output"
        # unwrapped, to wrap again when the width changes
        self.lines: deque[str] = deque(maxlen=SCROLLBACK_LINES)
        # a wrapped line takes more than one
        self.log_view = Log(max_lines=SCROLLBACK_LINES * 2, auto_scroll=False)
        self.partial = Static("", id="output-partial", markup=False)
        self._wrapped_at = 0  # the width the log's lines are wrapped to
        self.following = True  # the newest lines are kept in view: the user has not scrolled up from them

    def compose(self):
        yield self.log_view
        yield self.partial

    def on_mount(self) -> None:
        self.watch(self.log_view, "scroll_y", self._scrolled, init=False)

    def _scrolled(self) -> None:
        """Only a scroll moves the log (a shorter panel keeps its offset): it follows when that
        leaves it at the end."""
        self.following = self.log_view.is_vertical_scroll_end

    def _follow(self) -> None:
        if self.following:
            self.log_view.scroll_end(animate=False, immediate=True, x_axis=False)

    @property
    def laid_out(self) -> bool:
        """Whether its lines are wrapped to a width yet: until the first layout they wait, undrawn."""
        return self._wrapped_at > 0

    def show(self, output: ScriptOutput) -> None:
        skipped = ([f"{NOTE}{output.dropped:,} lines skipped: printed faster than drawn"]
                   if output.dropped else [])
        self._add(skipped + list(output.lines) + [NOTE + note for note in output.notes])
        self.partial.update(Text(output.partial))
        self.set_class(bool(output.partial), "writing")

    def show_exit(self, exited: ScriptExited) -> None:
        self._add([NOTE + exited.summary])
        self.set_class(False, "writing")
        self.border_subtitle = Text(exited.summary, style=ALARM if exited.failed else "bold")

    def _add(self, lines: list[str]) -> None:
        self.lines.extend(lines)
        self.log_view.write_lines(self._wrap(lines))
        self._follow()

    def _wrap(self, lines: Iterable[str]) -> list[str]:
        # The log drops an empty line (its write_lines splits each line): a space keeps a blank line blank.
        return [piece or " " for line in lines for piece in wrap(line, self._wrapped_at)]

    def on_resize(self, event: events.Resize) -> None:
        width = self.log_view.scrollable_content_region.width
        if width != self._wrapped_at:
            self._wrapped_at = width
            self.log_view.clear()
            self.log_view.write_lines(self._wrap(self.lines))
        self.call_after_refresh(self._follow)  # once the log has its new height


def wrap(line: str, width: int) -> list[str]:
    """The line in pieces of at most `width` cells, broken after a space where there is one; whole while the
    panel has no width yet."""
    if width <= 0 or cell_len(line) <= width:
        return [line]
    pieces, current = [], ""
    for word in WORD.findall(line):
        while cell_len(current + word) > width:
            if current:
                pieces.append(current)
                current = ""
            else:  # a word longer than the line: cut it
                *cut, word = chop_cells(word, width)
                pieces += cut
        current += word
    return pieces + [current]
