"""Commands a UI or a script sends to a running trainer; plain dataclasses that cross thread and process boundaries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reinit:
    """Draw a fresh net and restart the step counter; unset fields keep the current run's value."""

    init: str | None = None  # a preset name from config.PRESETS
    model: str | None = None  # a model name from config.MODELS
    gain: float | None = None  # the deep nets' tanh gain
    w1_scale: float | None = None  # the hidden weight scale to use
    w1_factor: float = 1.0  # multiplies the (new or current) hidden weight scale: the TUI's [ and ] keys
    new_seed: bool = False  # draw with the next seed instead of the current one


@dataclass(frozen=True)
class Pause:
    """Stop stepping until Resume, TogglePause or Reinit."""


@dataclass(frozen=True)
class Resume:
    """Continue stepping after Pause."""


@dataclass(frozen=True)
class TogglePause:
    """Pause when running, resume when paused: one key, no race with a stale UI state."""


@dataclass(frozen=True)
class Stop:
    """End the run loop after the current step."""


@dataclass(frozen=True)
class Save:
    """Write a checkpoint of the current run to the --save file, between two steps; the run goes on."""


Command = Reinit | Pause | Resume | TogglePause | Stop | Save
