"""The app's keys: one table, from which its bindings, its help screen and the README's key table are made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.binding import Binding

from mmtui.experiments import PRESETS
from mmtui.records import LAYERS, LOSS, TIME, WEIGHTS, Reinit, Save, TogglePause
from mmtui.tui.history import STATS_KEPT

# One footer entry for 1-4 and one for [ ]: room for the model and view keys at 160 columns. The status line
# names the preset in use; ? lists every key.
PRESET_KEYS = Binding.Group("presets")
W1_KEYS = Binding.Group("W1 ÷2 ×2")


@dataclass(frozen=True)
class KeyRow:
    """Keys that do one thing: their bindings (key, action, footer label) and what the help screen and the
    README say of them."""

    bindings: tuple[Binding, ...]
    text: str | None  # `code` in backticks, which the help screen drops; None: listed by neither (a lesson's)
    command: type | None = None  # the command the actions send: bound, shown and listed only where the source
    # takes it
    data: tuple[str | None, ...] = ()  # per binding, the data its panels draw: offered once a source sends it
    writes: bool = False  # the actions write files on the machine: offered only where the app may

    @property
    def keys(self) -> list[str]:
        """The keys as people write them: "[" for left_square_bracket."""
        return [binding.key_display or binding.key for binding in self.bindings]


KEY_ROWS: tuple[KeyRow, ...] = (
    KeyRow(tuple(Binding(str(number), f"preset('{name}')", name, group=PRESET_KEYS)
                 for number, name in enumerate(PRESETS, 1)),
           f"reinit with the presets {' / '.join(PRESETS)}", Reinit),
    KeyRow((Binding("left_square_bracket", "scale(0.5)", "W1 ÷2", key_display="[", group=W1_KEYS),
            Binding("right_square_bracket", "scale(2)", "W1 ×2", key_display="]", group=W1_KEYS)),
           "halve / double the hidden weight scale W1 and reinit", Reinit),
    KeyRow((Binding("r", "reseed", "new seed"),), "reinit with the current setting and the next seed",
           Reinit),
    KeyRow((Binding("b", "batchnorm", "BatchNorm"),),
           "toggle BatchNorm and reinit: mlp <-> mlp-bn, deep <-> deep-bn", Reinit),
    KeyRow((Binding("g", "gain", "gain"),), "next tanh gain of the deep nets (5/3, 1, 0.5, 3) and reinit",
           Reinit),
    KeyRow((Binding("m", "model", "model"),), "next model (mlp, mlp-bn, deep, deep-bn, rnn, gru) and reinit",
           Reinit),
    KeyRow((Binding("o", "view('overview')", "overview"),),  # offered where another view is
           "overview: the panels the run fills"),
    KeyRow((Binding("y", "view('layers')", "layers"),), "layers view: activations, gradients, dead neurons",
           data=(LAYERS,)),
    KeyRow((Binding("p", "view('parameters')", "params"),),
           "parameters view: every 2-D weight's gradient, grad:data and update:data, or a log's weight "
           "histograms", data=(WEIGHTS,)),
    KeyRow((Binding("t", "view('time')", "through time"),),  # offered only where the run shown has the data
           "through-time view (a recurrent layer's): the gradient reaching its hidden state by time step, "
           "now and over the run, and its saturation by time step; offered only where the run shown has "
           "figures by time step", data=(TIME,)),
    KeyRow((Binding("n", "next_map_layer", "map layer"),),
           "layers view: the dead-neuron map's next layer; through-time view: the next recurrent layer",
           data=(LAYERS,)),
    KeyRow((Binding("comma", "step_through(-1)", "older stats", key_display=",", show=False),
            Binding("full_stop", "step_through(1)", "newer stats", key_display=".", show=False)),
           f"older / newer statistics of the run: the histograms, saturation and dead map of an earlier "
           f"snapshot ({STATS_KEPT} kept per run, spread over it); the status line says which step is shown, "
           f"and `.` past the newest follows the latest again", data=(LAYERS, LAYERS)),
    KeyRow((Binding("c", "next_run", "next run"),),  # bound and shown only while runs are compared
           "with several runs (`mmtui view a.jsonl b.jsonl`): the next run for every panel but Loss, which "
           "overlays them all; the status line and the panels' lower borders name it. Offered only while "
           "there are two or more"),
    KeyRow((Binding("space", "toggle_pause", "pause"),), "pause / resume", TogglePause),
    KeyRow((Binding("l", "toggle_log", "log/lin"),), "log10 or linear loss axis", data=(LOSS,)),
    # The footer is full at 160 columns; ? lists these.
    KeyRow((Binding("s", "screenshot", "screenshot", show=False),),
           "save an SVG screenshot (the path is shown)", writes=True),
    KeyRow((Binding("w", "save_checkpoint", "save", show=False),),
           "save a checkpoint to the `--save` file", Save, writes=True),
    KeyRow((Binding("e", "export_csv", "export CSV", show=False),),
           "export the current run's losses, val losses and update:data ratios as CSV (the path is shown)",
           writes=True),
    # A lesson's: bound only in one, with priority so that a focused panel's scrolling does not take them; the
    # lesson card says them.
    KeyRow((Binding("left", "lesson_card(-1)", "back", key_display="←", priority=True),
            Binding("right", "lesson_card(1)", "next", key_display="→", priority=True)), None),
    KeyRow((Binding("question_mark", "help", "help", key_display="?"),),
           "help: the keys offered here, and the presets and models where they are"),
    KeyRow((Binding("q", "quit", "quit"), Binding("ctrl+q", "quit", "quit", show=False)),
           "quit (SIGTERM too: the terminal is restored and a `--save` checkpoint written)"),
)

BINDINGS: list[Binding] = [binding for row in KEY_ROWS for binding in row.bindings]
# The command each action sends, by the action's name without its arguments.
ACTION_COMMANDS: dict[str, type] = {binding.action.partition("(")[0]: row.command
                                    for row in KEY_ROWS if row.command for binding in row.bindings}


def _data_key(action: str) -> str:
    """An action's key in ACTION_DATA: a view's name for view('NAME'), else the action's name."""
    name, _, argument = action.partition("(")
    return argument.strip("')") if name == "view" else name


# The data an action's panels draw, by _data_key: its key is offered once the source sends that data.
ACTION_DATA: dict[str, str] = {_data_key(binding.action): kind for row in KEY_ROWS
                               for binding, kind in zip(row.bindings, row.data) if kind is not None}


# The actions that write files on the machine (not offered to a browser tab served without --allow-writes).
WRITING_ACTIONS: frozenset[str] = frozenset(binding.action for row in KEY_ROWS if row.writes
                                            for binding in row.bindings)


def help_rows(offered: Callable[[Binding], bool]) -> list[tuple[str, str]]:
    """The help screen's rows, keys and text: of each row, the keys `offered` says the app offers, by the rule
    its bindings follow (the commands the source takes, the data it sends, whether the app may write files);
    a row with none is left out."""
    rows = []
    for row in KEY_ROWS:
        keys = [key for key, binding in zip(row.keys, row.bindings) if offered(binding)]
        if row.text is not None and keys:
            rows.append((" ".join(keys), row.text.replace("`", "")))
    return rows

