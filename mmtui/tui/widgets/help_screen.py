"""The help screen: every key, and which lesson of the lecture it re-runs."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from mmtui.engine.config import PRESET_HELP


class HelpScreen(ModalScreen[None]):
    """Lists the app's bindings; any of escape, ? or q closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: auto; max-width: 100; height: auto; border: thick $accent; padding: 1 2;
                            background: $surface; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "close help")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.key_rows = bindings

    def compose(self) -> ComposeResult:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold cyan", no_wrap=True)
        keys.add_column()
        for key, description in self.key_rows:
            keys.add_row(key, description)
        presets = Table.grid(padding=(0, 2))
        presets.add_column(style="bold", no_wrap=True)
        presets.add_column()
        for name, text in PRESET_HELP.items():
            presets.add_row(name, text)
        with Vertical():
            yield Static("[b]mmtui keys[/b]\n")
            yield Static(keys)
            yield Static("\n[b]init presets[/b] (the lecture's experiments, in order)\n")
            yield Static(presets)
            yield Static("\n[dim]escape, ? or q closes this screen[/dim]")
