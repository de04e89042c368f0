"""Messages from the source's worker thread to the app: small dataclasses, posted, never awaited."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from mmtui.records import EngineFailure, ScriptExited, ScriptOutput, Snapshot, SourceStatus


@dataclass
class SnapshotsArrived(Message):
    """Snapshots emitted since the previous message, oldest first."""

    snapshots: list[Snapshot]


@dataclass
class SourceStatusChanged(Message):
    """The source said something of itself: the status line shows the latest."""

    status: SourceStatus


@dataclass
class EngineFailed(Message):
    """The source broke for good (the trainer raised); the app shows it and exits."""

    failure: EngineFailure


@dataclass
class ScriptReported(Message):
    """The script run by `mmtui run` printed lines, or ended: the Output panel shows it."""

    report: ScriptOutput | ScriptExited
