"""What the Pilot tests run the app on: the lecture's trainer as the CLI starts it, or a scripted source; and the
screen as text, read through Textual's public screenshot export."""

from __future__ import annotations

import html
import re
import time
from dataclasses import replace

from mmtui.engine.config import RunFiles, TrainConfig
from mmtui.records import Snapshot
from mmtui.sources.trainer import UI_PACING, TrainerSource
from mmtui.tui.app import MmtuiApp

SVG_TEXT = re.compile(r'<text[^>]* x="([\d.]+)"[^>]*clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>([^<]*)</text>')
SVG_CELL_WIDTH = 12.2  # Rich's screenshot SVG: 0.61 of its 20 px font per cell


def trainer_app(words: list[str], process: bool = False, files: RunFiles = RunFiles(), sample_interval_s=None,
                lesson=None, **config) -> MmtuiApp:
    """The real app on the real trainer, at the UI's pace (names sampled every `sample_interval_s` if given)."""
    pacing = UI_PACING if sample_interval_s is None else replace(UI_PACING, sample_interval_s=sample_interval_s)
    # compile off unless asked: a background build would take a core from every test for ~20 s
    source = TrainerSource(TrainConfig(**{"steps": 100_000, "eval_every": 0, "compile": "off", **config}), words,
                           process=process,
                           files=files, pacing=pacing)
    source.start()
    return MmtuiApp(source, lesson=lesson)


class ScriptedSource:
    """A source that hands out the given snapshots once (more may be appended to `outbox`) and records commands."""

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


def screen_text(app: MmtuiApp) -> str:
    """What the terminal shows, as plain text, one line per row."""
    return svg_text(app.export_screenshot())


def shows(app: MmtuiApp, *texts: str) -> bool:
    """Whether the screen shows every one of texts: a condition to wait for, as drawing follows a frame later."""
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
