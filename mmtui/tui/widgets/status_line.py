"""The status line: the run's state and experiment first, then step, the source, speed, learning rate,
settings."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from mmtui.experiments import RECURRENT, gain_label, lecture_run
from mmtui.records import DIVERGED, DONE, PAUSED, RUNNING, RunInfo, Snapshot, SourceStatus
from mmtui.tui.plain import plain
from mmtui.tui.palette import ALARM, CYAN, OK_GREEN, SATURATED_RED, WARN_YELLOW, WHITE_PIXEL

STATE_STYLES = {RUNNING: f"bold {OK_GREEN}", PAUSED: f"bold {WARN_YELLOW}", DONE: f"bold {CYAN}",
                DIVERGED: f"bold {WHITE_PIXEL} on {SATURATED_RED}"}
SEPARATOR = "  ·  "
WAITING = "waiting for the first snapshot…"


@dataclass(frozen=True)
class StatusShown:
    """What the status line shows: the run shown's latest snapshot and what the app knows around it."""

    snapshot: Snapshot | None  # the latest of the run shown; None before the first
    steps_per_s: float = 0.0  # its training speed (over the whole run once it has ended)
    source: SourceStatus | None = None  # what the source last said of itself
    pending: str | None = None  # a command sent and not yet seen answered: "reinit: fix-tanh…"
    reinit_hint: bool = False  # the source reinits: a diverged run names the keys that do
    selected: str | None = None  # which of several compared runs is shown: "run 2/3: b.jsonl"
    note: str | None = None  # the newest thing the run's writer said of it: "no loss seen ..."
    looking_back: str | None = None  # which older statistics the panels show: "statistics of step 300"


class StatusLine(Static):
    """One line, always visible above the footer; what matters most comes first, so a narrow terminal cuts the
    least telling figures off its end."""

    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $boost; }
    """

    def draw(self, shown: StatusShown) -> None:
        # One line, never resized: layout=False spares the whole screen a layout pass on every update.
        self.update(describe(shown), layout=False)


def describe(shown: StatusShown) -> Text:
    snapshot, status = shown.snapshot, shown.source
    if snapshot is None:
        waiting = status.text if status is not None and status.text else WAITING
        return plain(shown.pending or waiting)
    info = snapshot.run
    experiment, settings = lecture_settings(info) if lecture_run(info.model, info.settings) else ("", [])
    text = Text()
    text.append(snapshot.state, STATE_STYLES.get(snapshot.state, "bold"))
    if snapshot.state == DIVERGED:
        hint = ": press 1-4 or r to reinit" if shown.reinit_hint else ""
        loss = f"  loss {snapshot.diverged_loss:.3g}" if snapshot.diverged_loss is not None else ""
        text.append(f"{loss}{hint}", ALARM)
    if status is not None and status.text and status.warning:  # a damaged line, a file deleted: first
        text.append(f"{SEPARATOR}{status.text}", "bold yellow")
    if shown.selected:
        text.append(f"{SEPARATOR}{shown.selected}", "bold")
    if shown.pending:
        text.append(f"{SEPARATOR}{shown.pending}", "italic")
    if shown.looking_back:
        text.append(f"{SEPARATOR}{shown.looking_back}", f"bold {CYAN}")
    if experiment:
        text.append(f"{SEPARATOR}{experiment}", "bold")
    total = f" / {info.total_steps:,}" if info.total_steps else ""
    text.append(f"{SEPARATOR}step {snapshot.step:,}{total}", "bold")
    if status is not None and status.text and not status.warning:  # "following a.jsonl": is the run live
        text.append(f"{SEPARATOR}{status.text}", "dim")
    ended = snapshot.state not in (RUNNING, PAUSED)
    if shown.steps_per_s > 0:  # none yet, or a log written faster than its clock ticks: no speed to tell
        text.append(f"{SEPARATOR}{shown.steps_per_s:,.0f} steps/s{' over the run' if ended else ''}")
    # The note after the step and the speed, which a narrow terminal must keep: "compiled step in use from
    # step 2,128", "no loss seen: ...", what explains the speed or an empty panel, before the settings
    if shown.note:
        text.append(f"{SEPARATOR}{shown.note}", f"bold {WARN_YELLOW}")
    if snapshot.lr is not None:
        text.append(f"{SEPARATOR}lr {snapshot.lr:.4g}")
    text.append(f"{SEPARATOR}{what_ran(info.model, info.settings)}", "bold")
    for setting in settings:
        text.append(f"{SEPARATOR}{setting}")
    return text


def lecture_settings(info: RunInfo) -> tuple[str, list[str]]:
    """A lecture run's experiment, and its other settings, each as the status line says it, where the model
    uses it: the deep nets take the gain, not the init preset; the MLPs and the recurrent nets take the
    preset, no gain; every model scales its hidden weights (a recurrent net, its cell's) by w1_scale. A
    setting of the wrong type (a run file's own) is not said."""
    settings, model = info.settings, info.model
    deep = model.startswith("deep")
    gain, scale, init, seed = (settings.get(key) for key in ("gain", "w1_scale", "init", "seed"))
    if deep:
        experiment = f"gain {gain_label(gain)}" if _is_number(gain) else ""
    else:
        experiment = f"init {init}" if isinstance(init, str) else ""
    said = []
    if _is_number(scale):
        said.append(f"{'cell weights' if model in RECURRENT else 'W1'} x{scale:g}")
    if _is_number(seed):
        said.append(f"seed {seed}")
    return experiment, said


def what_ran(model: str, settings: dict) -> str:
    """What the run knows of what wrote it: the framework, the script, a log's kind, the model's class; "model
    mlp" for the lecture's nets."""
    words = [str(settings[key]) for key in ("framework", "script") if settings.get(key)]
    if settings.get("log"):
        words.append(f"{settings['log']} log")
    if model:
        words.append(f"model {model}")
    return " · ".join(words)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
