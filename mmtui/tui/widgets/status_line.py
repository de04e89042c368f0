"""The status line: the run's state and experiment first, then step, the source, speed, learning rate, settings."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mmtui.experiments import gain_label
from mmtui.records import DIVERGED, DONE, PAUSED, RUNNING, Snapshot, SourceStatus
from mmtui.tui.plain import plain
from mmtui.tui.palette import ALARM, CYAN, OK_GREEN, SATURATED_RED, WARN_YELLOW, WHITE_PIXEL

STATE_STYLES = {RUNNING: f"bold {OK_GREEN}", PAUSED: f"bold {WARN_YELLOW}", DONE: f"bold {CYAN}",
                DIVERGED: f"bold {WHITE_PIXEL} on {SATURATED_RED}"}
SEPARATOR = "  ·  "
NUMBERS = ("gain", "w1_scale")  # settings shown as numbers: a run file's of another type is not shown


class StatusLine(Static):
    """One line, always visible above the footer; what matters most comes first, so a narrow terminal cuts the
    least telling figures off its end."""

    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $boost; }
    """

    def draw(self, snapshot: Snapshot | None, steps_per_s: float, pending: str | None = None,
             status: SourceStatus | None = None, reinit_hint: bool = False, selected: str | None = None,
             note: str | None = None, looking_back: str | None = None) -> None:
        """`status`: what the source says of itself; `reinit_hint`: a diverged run may be reinit with a key;
        `selected`: which of several compared runs the snapshot is of; `note`: the newest thing the run's writer
        said of it ("no loss seen ..."); `looking_back`: which older statistics the panels show."""
        # One line, never resized: layout=False spares the whole screen a layout pass on every update.
        if snapshot is None:
            waiting = status.text if status and status.text else "waiting for the first snapshot…"
            self.update(plain(pending or waiting), layout=False)
            return
        self.update(describe(snapshot, steps_per_s, pending, status, reinit_hint, selected, note, looking_back),
                    layout=False)


def describe(snapshot: Snapshot, steps_per_s: float, pending: str | None = None,
             status: SourceStatus | None = None, reinit_hint: bool = False, selected: str | None = None,
             note: str | None = None, looking_back: str | None = None) -> Text:
    info = snapshot.run
    settings = {k: v for k, v in info.settings.items() if k not in NUMBERS or _is_number(v)}  # a file's own
    deep = info.model.startswith("deep")
    text = Text()
    text.append(snapshot.state, STATE_STYLES.get(snapshot.state, "bold"))
    if snapshot.state == DIVERGED:
        hint = ": press 1-4 or r to reinit" if reinit_hint else ""
        loss = f"  loss {snapshot.diverged_loss:.3g}" if snapshot.diverged_loss is not None else ""
        text.append(f"{loss}{hint}", ALARM)
    if status is not None and status.text and status.warning:  # a damaged line, a file deleted: before the rest
        text.append(f"{SEPARATOR}{status.text}", "bold yellow")
    if selected:
        text.append(f"{SEPARATOR}{selected}", "bold")
    if pending:
        text.append(f"{SEPARATOR}{pending}", "italic")
    if looking_back:
        text.append(f"{SEPARATOR}{looking_back}", f"bold {CYAN}")
    # The experiment: the init preset for the MLPs, the gain for the deep nets, which ignore the preset.
    if deep and "gain" in settings:
        text.append(f"{SEPARATOR}gain {gain_label(settings['gain'])}", "bold")
    elif "init" in settings:
        text.append(f"{SEPARATOR}init {settings['init']}", "bold")
    total = f" / {info.total_steps:,}" if info.total_steps else ""
    text.append(f"{SEPARATOR}step {snapshot.step:,}{total}", "bold")
    if status is not None and status.text and not status.warning:  # "following a.jsonl": is the run live
        text.append(f"{SEPARATOR}{status.text}", "dim")
    ended = snapshot.state not in (RUNNING, PAUSED)
    if steps_per_s > 0:  # none yet, or a log written faster than its clock ticks: no speed to tell
        text.append(f"{SEPARATOR}{steps_per_s:,.0f} steps/s{' over the run' if ended else ''}")
    if note:  # after the step and the speed, which a narrow terminal must keep: "compiled step in use from step
        # 2,128", "no loss seen: ...", what explains the speed or an empty panel, before the settings
        text.append(f"{SEPARATOR}{note}", f"bold {WARN_YELLOW}")
    if snapshot.lr is not None:
        text.append(f"{SEPARATOR}lr {snapshot.lr:.4g}")
    text.append(f"{SEPARATOR}{what_ran(info.model, settings)}", "bold")
    if "w1_scale" in settings and not deep:
        text.append(f"{SEPARATOR}W1 x{settings['w1_scale']:g}")
    if "gain" in settings and not deep:
        text.append(f"{SEPARATOR}gain {gain_label(settings['gain'])}", "dim")  # the MLPs ignore it
    if "init" in settings and deep:
        text.append(f"{SEPARATOR}init {settings['init']}", "dim")
    if "seed" in settings:
        text.append(f"{SEPARATOR}seed {settings['seed']}")
    return text


def what_ran(model: str, settings: dict) -> str:
    """What the run knows of what wrote it: the framework, the script, a log's kind, the model's class; "model mlp"
    for the lecture's nets."""
    words = [str(settings[key]) for key in ("framework", "script") if settings.get(key)]
    if settings.get("log"):
        words.append(f"{settings['log']} log")
    if model:
        words.append(f"model {model}")
    return " · ".join(words)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
