"""The status line: step, speed, learning rate, model, gain, init preset and scale, and the trainer's state."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static

from mmtui.engine.snapshot import DIVERGED, DONE, PAUSED, RUNNING, Snapshot

STATE_STYLES = {RUNNING: "bold green", PAUSED: "bold yellow", DONE: "bold cyan", DIVERGED: "bold white on red"}


class StatusLine(Static):
    """One line, always visible above the footer."""

    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $boost; }
    """

    def draw(self, snapshot: Snapshot | None, steps_per_s: float, pending: str | None = None) -> None:
        # One line, never resized: layout=False spares the whole screen a layout pass on every update.
        if snapshot is None:
            self.update(pending or "starting the trainer: loading torch…", layout=False)
            return
        self.update(describe(snapshot, steps_per_s, pending), layout=False)


def describe(snapshot: Snapshot, steps_per_s: float, pending: str | None = None) -> Text:
    info = snapshot.run
    text = Text()
    text.append(f"step {snapshot.step:,} / {info.total_steps:,}", "bold")
    text.append(f"  ·  {steps_per_s:,.0f} steps/s  ·  lr {snapshot.lr:g}  ·  ")
    text.append(f"model {info.model}", "bold")
    text.append("  ·  ")
    text.append(f"gain {gain_label(info.gain)}", None if info.model.startswith("deep") else "dim")  # the MLPs ignore it
    text.append("  ·  ")
    text.append(f"init {info.init}", "bold")
    text.append(f"  ·  W1 scale x{info.w1_scale:g}  ·  seed {info.seed}  ·  ")
    text.append(snapshot.state, STATE_STYLES.get(snapshot.state, "bold"))
    if snapshot.state == DIVERGED:
        text.append(f"  loss {snapshot.diverged_loss:.3g}: press 1-4 or r to reinit", "bold red")
    if pending:
        text.append(f"  ·  {pending}", "italic")
    return text


def gain_label(gain: float) -> str:
    """5/3 as the lecture writes it, other gains as numbers."""
    return "5/3" if math.isclose(gain, 5 / 3) else f"{gain:g}"
