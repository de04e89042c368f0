"""Growing files read as `tail -f` reads them, for every source that reads files: opened once there, read in
bounded chunks, reopened on truncation or replacement, cut into records by a framing, damage counted."""

from __future__ import annotations

import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from mmtui.records import Arrival, Command, SourceStatus

# what `mmtui view` says of a folder it can show nothing of: it views both kinds
NO_RUNS_IN_FOLDER = ("a folder with no mmtui run files in it, and no TensorBoard event files "
                     "(events.out.tfevents.*) under it")
NAMED = 3  # files or runs the status line names; more are counted


@dataclass(frozen=True)
class Reading:
    """How a source reads its files: the pace of its reading and the bounds on what it holds."""

    batch_s: float = 0.05  # receive() hands back what it read in this long, so a large file draws as it loads
    chunk_bytes: int = 256 * 1024  # one read() of a file
    rescan_s: float = 1.0  # how often followed folders are looked at for new files
    settled_s: float = 2.0  # a folder's mtime this old is trusted to tell that nothing came since (a coarse
    # mtime may not have moved on yet for a file written just after it was read)
    progress_from_bytes: int = 16 * 1024 * 1024  # a backlog this large shows a progress bar while it loads
    max_files: int = 32  # run files per folder, or TensorBoard runs, shown at most, the most recently written
    # first: each keeps a bounded history in the app and an open file while followed


class ViewPathError(ValueError):
    """A path `mmtui view` cannot show: missing, unreadable, binary, not a log it reads, or of a newer
    version."""


def checked_paths(paths: list[str], wait: bool, has_files: Callable[[Path], bool],
                  file_problem: Callable[[Path], str | None]) -> list[Path]:
    """The paths to view, checked: a folder must be readable and hold files (`has_files`), a file must be
    regular and have no `file_problem`. Raises ViewPathError naming the first problem; with `wait`, a path
    that does not exist yet, or a folder with no files yet, is awaited instead."""
    checked = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise ViewPathError(f"{given}: the folder cannot be read")
            if not wait and not has_files(path):
                raise ViewPathError(f"{given}: {NO_RUNS_IN_FOLDER}")
        elif not path.exists():
            if not wait:
                raise ViewPathError(f"{given}: no such file (--wait waits for it)")
        elif not path.is_file():
            raise ViewPathError(f"{given}: not a regular file")
        else:
            problem = file_problem(path)
            if problem is not None:
                raise ViewPathError(f"{given}: {problem}")
        checked.append(path)
    return checked


# ---- framings: a file's bytes into records

@dataclass(frozen=True)
class Damage:
    """Bytes that are no record: `why`, in words; `fatal` where nothing after them can be trusted to start a
    record, so reading the file stops there."""

    why: str
    fatal: bool = False
    at: int = 0  # the byte where fatal damage begins, which the status line names


class Framing(Protocol):
    """Cuts a file's bytes, fed in chunks as they are read, into records."""

    def feed(self, chunk: bytes) -> list[bytes | Damage]:
        """The records (and damage) completed by `chunk`; an incomplete record waits for the next."""

    def reset(self) -> None:
        """Forget what is pending: the file is read again from its start."""

    @property
    def pending(self) -> int:
        """Bytes of a record begun and not complete: a writer amid it, or one that stopped."""


class Lines:
    """Records that end at a newline, as JSON lines do; a line longer than `max_bytes` is damage, skipped to
    its end without being held."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._line = bytearray()  # the start of a line not yet complete
        self._skipping = False  # inside a line over max_bytes: discarded until its end

    def feed(self, chunk: bytes) -> list[bytes | Damage]:
        records: list[bytes | Damage] = []
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if not self._skipping:
                self._line += chunk[start:end]
            if self._skipping or len(self._line) > self.max_bytes:
                self._skipping = False
                records.append(Damage(f"a line over {_bytes_said(self.max_bytes)}"))
            elif self._line.strip():
                records.append(bytes(self._line))
            self._line = bytearray()
            start = end + 1
        if not self._skipping:
            self._line += chunk[start:]
            if len(self._line) > self.max_bytes:
                self._line, self._skipping = bytearray(), True
        return records

    def reset(self) -> None:
        self._line, self._skipping = bytearray(), False

    @property
    def pending(self) -> int:
        return len(self._line)


def _bytes_said(count: int) -> str:
    mib = 1024 * 1024
    return f"{count // mib} MiB" if count % mib == 0 else f"{count:,} bytes"


TF_RECORD_OVERHEAD = 16  # a TFRecord's framing: length (8 bytes), its CRC (4), then the data and its CRC (4)


class TFRecords:
    """TensorBoard's event files: each record its length (8 bytes, little-endian), the length's masked CRC-32C
    (4), the data and its masked CRC-32C (4). A record that fails a check is fatal damage: past a wrong length
    no record boundary can be found."""

    def __init__(self, max_bytes: int, masked_crc32c: Callable[[bytes], int]):
        """`max_bytes`: a longer record is damage (a length gone wrong), not one being written;
        `masked_crc32c`: the checksum, as tensorboard computes it (passed in: tensorboard is an extra)."""
        self.max_bytes = max_bytes
        self._crc = masked_crc32c
        self._buffer = bytearray()  # bytes of records not yet complete
        self._offset = 0  # where the buffer begins in the file
        self._stopped = False  # damage was found: nothing more is a record

    def feed(self, chunk: bytes) -> list[bytes | Damage]:
        if self._stopped:
            return []
        self._buffer += chunk
        records: list[bytes | Damage] = []
        start = 0
        while len(self._buffer) - start >= 12:
            header = bytes(self._buffer[start:start + 12])
            (length,), (crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
            why = ("has a bad length checksum" if self._crc(header[:8]) != crc
                   else f"claims {length:,} bytes" if length > self.max_bytes else None)
            if why is None and len(self._buffer) - start < length + TF_RECORD_OVERHEAD:
                break  # cut short: a writer amid it
            if why is None:
                data = bytes(self._buffer[start + 12:start + 12 + length])
                (data_crc,) = struct.unpack("<I", self._buffer[start + 12 + length:start + 16 + length])
                why = "has a bad data checksum" if self._crc(data) != data_crc else None
            if why is not None:
                records.append(Damage(why, at=self._offset + start, fatal=True))
                self._stopped = True
                break
            records.append(data)
            start += length + TF_RECORD_OVERHEAD
        del self._buffer[:start]
        self._offset += start
        return records

    def reset(self) -> None:
        self._buffer, self._offset, self._stopped = bytearray(), 0, False

    @property
    def pending(self) -> int:
        return len(self._buffer)


# ---- one followed file

class FollowedFile:
    """One file read as it grows: opened when it is there, read in chunks, its records cut by its framing; a
    truncated file is read again from its start, a replaced one (another file under the name) from the new
    file's, a deleted one keeps what was read. With `follow` off, it is closed once read to its end."""

    def __init__(self, path: Path, framing: Framing, follow: bool = True):
        self.path = path
        self.framing = framing
        self.follow = follow  # keep reading what is appended; else close once read to the end
        self.position = 0  # bytes read
        self.backlog = 0  # bytes present when the file was opened: the load the progress bar tracks
        self.at_end = False  # every byte there read
        # the latest thing that happened to the file: "deleted", "replaced", "truncated", or why it cannot be
        # read
        self.event = ""
        self.damaged = 0  # damaged records skipped
        self.last_damage = ""  # why the latest was
        self.stopped = ""  # fatal damage that ended the reading, in words: the records before it stand
        self._handle = None  # the open binary file; None while it is missing or read for good
        # (st_dev, st_ino) of the open file, to notice a replacement
        self._identity: tuple[int, int] | None = None

    @property
    def found(self) -> bool:
        """It was opened at least once, or could not be: the source stops waiting for it."""
        return self._identity is not None or bool(self.event)

    @property
    def loading(self) -> bool:
        """Open with bytes not read yet."""
        return self._handle is not None and not self.at_end

    @property
    def unread(self) -> bool:
        """Not read to its end yet, nor ended by an event or damage: a file awaited counts."""
        return not (self.at_end or self.stopped) and (self._handle is not None or not self.found)

    @property
    def cut_short(self) -> bool:
        """Read to its end, which is a record begun and not completed."""
        return self.at_end and self.framing.pending > 0

    def read(self, chunk_bytes: int, until: float) -> list[bytes]:
        """The records in chunks of `chunk_bytes` read until the file's end or until `until`
        (time.monotonic()), a chunk at least; damage is counted, not returned."""
        records: list[bytes] = []
        if self.stopped:
            return records
        if self._handle is None and (self.follow or self._identity is None):
            self._open_if_there()
        while self._handle is not None:
            try:
                chunk = self._handle.read(chunk_bytes)
            except OSError as error:
                self.close()
                self.event = f"cannot be read past byte {self.position:,} ({error.strerror or error})"
                break
            if not chunk:
                self.at_end, self.backlog = True, 0
                self._check_replaced()  # only once the open file's records are all read
                if self.at_end and not self.follow:
                    self.close()  # read for good
                break
            self.at_end = False
            self.position += len(chunk)
            for item in self.framing.feed(chunk):
                if isinstance(item, Damage):
                    self._damage(item)
                else:
                    records.append(item)
            if self.stopped or time.monotonic() >= until:
                break
        return records

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def count_damage(self, why: str) -> None:
        """A record skipped as damaged, by the framing or by the source that decodes it; `why`, in words."""
        self.damaged += 1
        self.last_damage = why

    def _damage(self, damage: Damage) -> None:
        if not damage.fatal:
            self.count_damage(damage.why)
            return
        size = file_size(self.path)
        self.stopped = f"the record at byte {damage.at:,} of {size:,} {damage.why}"
        self.close()

    def _open_if_there(self) -> None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return  # not there (yet, or again)
        self._open((stat.st_dev, stat.st_ino), stat.st_size)

    def _open(self, identity: tuple[int, int], size: int) -> None:
        try:
            self._handle = open(self.path, "rb")  # noqa: SIM115 - held open between reads
        except OSError as error:
            self.event = f"cannot be read ({error.strerror or error})"
            return
        self._identity, self.position, self.backlog, self.at_end = identity, 0, size, False
        self.framing.reset()
        if self.event == "deleted":
            self.event = "replaced"  # it came back: a new file under the old name

    def _check_replaced(self) -> None:
        """Notice the file truncated, replaced or deleted; what was read of it stays drawn."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self.close()
            self.event = "deleted"
            return
        except OSError:
            return
        identity = (stat.st_dev, stat.st_ino)
        if identity != self._identity:  # rotated: a new file under the name
            self.close()
            self.event = "replaced"
            self._open(identity, stat.st_size)
        elif stat.st_size < self.position:
            self._handle.seek(0)
            self.position, self.backlog, self.at_end = 0, stat.st_size, False
            self.framing.reset()
            self.event = "truncated"


def event_said(name: str, file: FollowedFile) -> str:
    """What happened to a file, for the status line; "" when nothing did."""
    if file.event == "deleted":
        return f"{name} was deleted: showing what was read"
    if file.event == "replaced":
        return f"{name} was replaced: reading the new file"
    if file.event == "truncated":
        return f"{name} was truncated: read again from its start"
    return f"{name} {file.event}" if file.event else ""


def progress(files: list[FollowedFile], from_bytes: int) -> float | None:
    """How much of the files' backlog is read, while one is loading and the backlog is `from_bytes` or
    more."""
    backlog = sum(f.backlog for f in files)
    if backlog < from_bytes or not any(f.loading for f in files):
        return None
    return min(1.0, sum(min(f.position, f.backlog) for f in files if f.backlog) / backlog)


def names(named: list[str]) -> str:
    """Files or runs as the status line names them: by name while few, else counted."""
    return ", ".join(named) if len(named) <= NAMED else f"{len(named)} files"


def file_size(path: Path) -> int:
    """The file's size; -1 where it cannot be told (gone, unreadable)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


# ---- what sources of followed files share

class FollowingSource:
    """A source that reads files into snapshots, in the app's worker thread (receive() does the reading: there
    is no thread of its own to stop); takes no commands. A subclass reads (`_read`), says its state
    (`_status`), and may add last snapshots once everything is read (`_ended`)."""

    commands: frozenset[type] = frozenset()
    what = "a log"  # what it reads, as its refusal of a command names it

    def __init__(self, follow: bool, reading: Reading):
        self.follow = follow  # keep reading what is written; else end once everything is read
        self.reading = reading
        self._closed = threading.Event()
        self._said: SourceStatus | None = None
        self._ended_said = False
        self._scanned_at = 0.0

    def send(self, command: Command) -> None:
        raise ValueError(f"{self.what} takes no commands ({type(command).__name__})")

    def cancel(self) -> None:
        self._closed.set()

    def close(self) -> None:
        self._closed.set()
        for file in self._files():
            file.close()

    def stop_following(self) -> None:
        """Nothing more will be written (a script has ended): end once every file is read to its end."""
        self.follow = False
        for file in self._files():
            file.follow = False

    @property
    def status(self) -> SourceStatus | None:
        """What the source said of itself last."""
        return self._said

    def receive(self, timeout: float) -> list[Arrival]:
        """What was read in up to `reading.batch_s`, waiting up to `timeout` for something when nothing is
        new."""
        deadline = time.monotonic() + timeout
        while True:
            items: list[Arrival] = []
            if not self._closed.is_set():
                if self.follow and time.monotonic() - self._scanned_at >= self.reading.rescan_s:
                    self.rescan()
                items = self._read(time.monotonic() + self.reading.batch_s)
            status = self._status()
            if status.ended and not self._ended_said:
                self._ended_said = True
                items += self._ended()
            if status != self._said:
                self._said = status
                items.append(status)
            if items or self._closed.is_set() or time.monotonic() >= deadline:
                return items
            self._closed.wait(min(self.reading.batch_s, max(0.0, deadline - time.monotonic())))

    def rescan(self) -> None:
        """Look for new files in the folders given: once at the start, then every `reading.rescan_s` while
        followed."""
        self._scanned_at = time.monotonic()
        self._find_files()

    # ---- what a subclass gives

    def _files(self) -> list[FollowedFile]:
        raise NotImplementedError

    def _find_files(self) -> None:
        """Add the files that appeared in followed folders."""

    def _read(self, until: float) -> list[Arrival]:
        raise NotImplementedError

    def _status(self) -> SourceStatus:
        raise NotImplementedError

    def _ended(self) -> list[Arrival]:
        return []
