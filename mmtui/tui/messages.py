"""Messages from the trainer's worker thread to the app: small dataclasses, posted, never awaited."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from mmtui.engine.host import EngineFailure
from mmtui.engine.snapshot import Snapshot


@dataclass
class SnapshotsArrived(Message):
    """Snapshots emitted since the previous message, oldest first."""

    snapshots: list[Snapshot]


@dataclass
class EngineFailed(Message):
    """The trainer raised; the app shows it and exits."""

    failure: EngineFailure
