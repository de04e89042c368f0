"""The Samples panel: names sampled from the current model, newest first."""

from __future__ import annotations

from collections.abc import Iterable

from textual.containers import VerticalScroll
from textual.widgets import Static


class SamplesPanel(VerticalScroll):
    """A scrolling list; each batch of names under a line with its step and preset."""

    def __init__(self, **kwargs) -> None:
        super().__init__(Static(id="samples-text"), **kwargs)
        self.border_title = "Samples"

    def draw(self, lines: Iterable[str]) -> None:
        self.query_one("#samples-text", Static).update("\n".join(lines) or "sampling every few seconds…")
