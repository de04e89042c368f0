"""The help screen: every key, the init presets and the models, and which lesson of the
lecture each re-runs."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mmtui.experiments import MODEL_HELP, PRESET_HELP


class HelpScreen(ModalScreen[None]):
    """Lists the app's bindings; any of escape, ? or q closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 100; max-width: 100%; height: auto; max-height: 100%;
                                  border: thick $accent; padding: 1 2; background: $surface; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "close help")]

    def __init__(self, bindings: list[tuple[str, str]], experiments: bool) -> None:
        """`experiments`: the source reinits, so the presets and models are listed too."""
        super().__init__()
        self.key_rows = bindings
        self.experiments = experiments

    def compose(self) -> ComposeResult:
        # A fixed width: with width auto, the 1fr texts inside had none and the box collapsed to a dot.
        with VerticalScroll():
            yield Static("[b]mmtui keys[/b]\n")
            yield Static(_grid(self.key_rows, "bold cyan"))
            if self.experiments:
                yield Static("\n[b]init presets[/b] (the lecture's experiments, in order)\n")
                yield Static(_grid(list(PRESET_HELP.items()), "bold"))
                yield Static("\n[b]models[/b] (m cycles them, b toggles BatchNorm, g the deep nets' gain)\n")
                yield Static(_grid(list(MODEL_HELP.items()), "bold"))
            yield Static("\n[dim]escape, ? or q closes this screen[/dim]")


def _grid(rows: list[tuple[str, str]], key_style: str) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style=key_style, no_wrap=True)
    table.add_column()
    for key, text in rows:
        table.add_row(key, text)
    return table
