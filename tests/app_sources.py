"""What the Pilot tests run the app on: the lecture's trainer as the CLI starts it, a scripted source or a
stand-in trainer; and the screen as text, read through Textual's public screenshot export."""

from __future__ import annotations

import html
import math
import re
import threading
import time
from dataclasses import replace

from mmtui.engine.config import RunFiles, TrainConfig
from mmtui.experiments import LECTURE_SEED, run_name
from mmtui.records import PAUSED, RUNNING, Reinit, RunInfo, Save, Snapshot, TogglePause
from mmtui.sources.trainer import UI_PACING, TrainerSource
from mmtui.tui.app import DrawPace, MmtuiApp

SVG_TEXT = re.compile(r'<text[^>]* x="([\d.]+)"[^>]*clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>'
                      r'([^<]*)</text>')
SVG_CELL_WIDTH = 12.2  # Rich's screenshot SVG: 0.61 of its 20 px font per cell
QUICK_DRAWING = DrawPace(tick_s=0.02, view_s=0.02)  # a test that waits for the next frame need not wait long


def trainer_app(words: list[str], process: bool = False, files: RunFiles = RunFiles(), sample_interval_s=None,
                lesson=None, **config) -> MmtuiApp:
    """The real app on the real trainer, at the UI's pace (names sampled every `sample_interval_s`, if
    given)."""
    pacing = UI_PACING if sample_interval_s is None else replace(UI_PACING,
                                                                 sample_interval_s=sample_interval_s)
    # compile off unless asked: a background build would take a core from every test for ~20 s
    config = TrainConfig(**{"steps": 100_000, "eval_every": 0, "compile": "off", **config})
    source = TrainerSource(config, words,
                           process=process,
                           files=files, pacing=pacing)
    source.start()
    return MmtuiApp(source, lesson=lesson)


class ScriptedSource:
    """A source that hands out the given snapshots once (more may be appended to `outbox`), recording
    commands."""

    def __init__(self, snapshots: list[Snapshot], commands: frozenset[type] = TrainerSource.commands,
                 produces: frozenset[str] = TrainerSource.produces, promised: frozenset[str] | None = None):
        self.outbox = list(snapshots)
        self.commands = commands
        self.produces = produces  # the lecture trainer's unless told
        self.promised = produces if promised is None else promised
        self.sent: list = []
        self.closed = False

    def send(self, command) -> None:
        self.sent.append(command)

    def receive(self, timeout: float) -> list:
        items, self.outbox = self.outbox, []
        if not items:
            time.sleep(timeout)
        return items

    def cancel(self) -> None: ...

    def close(self) -> None:
        self.closed = True


class StandInTrainer:
    """A source that answers the trainer's commands as the trainer does, without training: a Reinit starts the
    next run with the settings it asks for, TogglePause pauses and resumes, Save says it saved; while running,
    every receive() brings the next step. For the app's own handling of keys: the trainer's answers to them
    are tested on the trainer itself."""

    commands = frozenset({Reinit, TogglePause, Save})
    produces = promised = TrainerSource.produces

    def __init__(self, model: str = "mlp", init: str = "lecture") -> None:
        self._lock = threading.Lock()  # send() runs on the app's event loop, receive() in its worker thread
        self.settings = {"init": init, "w1_scale": 1.0, "seed": LECTURE_SEED, "gain": 5 / 3}
        self.info = self._run(0, model)
        self.state = RUNNING
        self.step = 0
        self._outbox: list[Snapshot] = []  # answers to commands, handed out with the next receive()
        self.sent: list = []  # every command, in order

    def _run(self, run_id: int, model: str) -> RunInfo:
        s = self.settings
        return RunInfo(run_id=run_id, name=run_name(model, s["init"], s["w1_scale"], s["gain"]), model=model,
                       settings={**s, "model": model}, total_steps=1_000_000, vocab_size=27,
                       expected_init_loss=math.log(27))

    def send(self, command) -> None:
        with self._lock:
            self.sent.append(command)
            if isinstance(command, Reinit):
                s = self.settings
                s["init"] = command.init or s["init"]
                s["w1_scale"] = (command.w1_scale or s["w1_scale"]) * command.w1_factor
                s["seed"] += 1 if command.new_seed else 0
                s["gain"] = command.gain if command.gain is not None else s["gain"]
                self.info = self._run(self.info.run_id + 1, command.model or self.info.model)
                self.state, self.step = RUNNING, 0
            elif isinstance(command, TogglePause):
                self.state = PAUSED if self.state == RUNNING else RUNNING
            self._outbox.append(self._snapshot(saved="stand-in.pt" if isinstance(command, Save) else None))

    def _snapshot(self, saved: str | None = None) -> Snapshot:
        return Snapshot(run=self.info, state=self.state, step=self.step, first_loss_step=self.step, losses=(),
                        lr=0.1, steps_per_s=1000.0, init_loss=3.3, layers=(), params=(), evals=(), samples=(),
                        last_finite_loss=3.3, diverged_loss=None, saved=saved)

    def receive(self, timeout: float) -> list:
        time.sleep(timeout / 5)  # a step's time, so that the app's worker does not spin
        with self._lock:
            if self.state == RUNNING:
                self.step += 1
                self._outbox.append(replace(self._snapshot(), first_loss_step=self.step - 1, losses=(3.3,)))
            answers, self._outbox = self._outbox, []
        return answers

    def cancel(self) -> None: ...

    def close(self) -> None: ...


def past_step(app: MmtuiApp, step: int) -> bool:
    """Whether the app has a snapshot of the selected stream beyond `step`."""
    return app.history.latest is not None and app.history.latest.step > step


def screen_text(app: MmtuiApp) -> str:
    """What the terminal shows, as plain text, one line per row."""
    return svg_text(app.export_screenshot())


def shows(app: MmtuiApp, *texts: str) -> bool:
    """Whether the screen shows every one of texts: a condition to wait for, drawing following a frame on."""
    screen = screen_text(app)
    return all(text in screen for text in texts)


def svg_text(svg: str) -> str:
    """The text of a screenshot SVG (Textual's export, the s key's file, --screenshot's), one line per row."""
    rows: dict[int, dict[int, str]] = {}
    for x, row, text in SVG_TEXT.findall(svg):
        text = html.unescape(text).replace("\xa0", " ").replace("\n", "")  # each row ends in a "\n" element
        if text:
            rows.setdefault(int(row), {})[round(float(x) / SVG_CELL_WIDTH)] = text
    lines = []
    for row in sorted(rows):
        line = ""
        for column, text in sorted(rows[row].items()):
            line = line.ljust(column) + text
        lines.append(line)
    return "\n".join(lines)
