"""What tests of the file-reading sources share: a source's arrivals collected against a deadline, and
snapshots written as a run file's text."""

from __future__ import annotations

import io
import time

from mmtui.records import Snapshot, SourceStatus
from mmtui.runfile import RunFileWriter

TIMEOUT_S = 10.0


def run_file_text(snapshots: list[Snapshot]) -> str:
    stream = io.StringIO()
    writer = RunFileWriter(stream)
    for snapshot in snapshots:
        writer.write(snapshot)
    return stream.getvalue()


class Collected:
    """What a source handed out so far, read with a deadline."""

    def __init__(self, source, timeout: float = TIMEOUT_S):
        self.source = source
        self.timeout = timeout  # how long until() waits unless told
        self.snapshots: list[Snapshot] = []
        self.statuses: list[SourceStatus] = []

    def until(self, condition, what: str, timeout: float | None = None) -> Collected:
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not condition(self):
            assert time.monotonic() < deadline, (f"waited {timeout:g} s for {what}; "
                                                 f"last status {self.status!r}")
            for item in self.source.receive(0.05):
                (self.snapshots if isinstance(item, Snapshot) else self.statuses).append(item)
        return self

    @property
    def status(self) -> SourceStatus | None:
        return self.statuses[-1] if self.statuses else None

    def ended(self) -> bool:
        return self.status is not None and self.status.ended

    def says(self, phrase: str) -> bool:
        return self.status is not None and phrase in self.status.text

    def of(self, stream: str) -> list[Snapshot]:
        return [s for s in self.snapshots if s.run.stream == stream]
