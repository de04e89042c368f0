"""The Samples panel: names sampled from the current model, newest first."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from mmtui.tui.plain import plain


class SamplesPanel(VerticalScroll):
    """A scrolling list; each batch of names under a line with its step and preset."""

    # No scrollbar: its two-cell thumb, drawn with block glyphs, read as the saturation sparkline spilling
    # into this panel at 80x24. The newest names are at the top; the wheel still scrolls to older ones.
    DEFAULT_CSS = """
    SamplesPanel { scrollbar-size-vertical: 0; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(Static(id="samples-text"), **kwargs)
        self.border_title = "Samples"

    def draw(self, lines: Iterable[str]) -> None:
        text = Text("\n").join(map(plain, lines))  # names from a word list or a file: never markup
        self.query_one("#samples-text", Static).update(text or "names appear here as the run samples them")
