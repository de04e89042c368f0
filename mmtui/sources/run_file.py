"""Run files as a source: read whole, then followed as `tail -f` does, through truncation, rotation and deletion."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mmtui.records import (LAYERS, LOSS, RUNS, SAMPLES, SCALARS, WEIGHTS, Arrival, Command, Snapshot,
                           SourceStatus)
from mmtui.runfile import FORMAT, MAX_LINE_BYTES, RunFileError, RunFileReader, check_header, parse_line

BATCH_S = 0.05  # receive() hands back what it parsed in this long, so a large file draws as it loads
CHUNK_BYTES = 256 * 1024  # one read() of a file
PROGRESS_FROM_BYTES = 16 * 1024 * 1024  # a backlog this large shows a progress bar while it loads
RESCAN_S = 1.0  # how often a followed folder is looked at (its mtime; listed only when that changed)
HEADER_PEEK_BYTES = 64 * 1024  # what a check reads of a file's first line
MAX_FILES = 32  # run files shown at most per folder, and given at most, the most recently written first: each
# keeps a bounded history in the app and an open file while followed
MTIME_SETTLED_NS = 2_000_000_000  # a folder's mtime this old is trusted to tell that nothing came since
NAMED = 3  # files the status line names; more are counted
RUN_FILE, NOT_YET, OTHER = "run file", "not yet", "other"  # what a file's first line says it is

# what `mmtui view` says of a folder it can show nothing of: it views both kinds
NO_RUNS_IN_FOLDER = ("a folder with no mmtui run files in it, and no TensorBoard event files (events.out.tfevents.*) "
                     "under it")


class RunFilePathError(ValueError):
    """A path `mmtui view` cannot show: missing, unreadable, binary, not a run file, or of a newer version."""


def run_file_problem(path: Path) -> str | None:
    """Why the file at `path` is no run file this mmtui reads, in one line; None when it is one (or empty, or
    a first line not yet complete: a writer that has just begun)."""
    try:
        with open(path, "rb") as file:
            head = file.read(HEADER_PEEK_BYTES)
    except OSError as error:
        return f"{path}: cannot be read ({error.strerror or error})"
    if b"\0" in head:
        return f"{path}: a binary file, not an mmtui run file"
    line, newline, _ = head.partition(b"\n")
    if not newline:
        if len(head) < HEADER_PEEK_BYTES and (not head or head.lstrip().startswith(b"{")):
            return None  # empty, or a header being written
        return f"{path}: not an mmtui run file (its first line is no JSON header)"
    try:
        check_header(parse_line(line))
    except RunFileError as error:
        return f"{path}: {error}" if "version" in str(error) else f"{path}: not an mmtui run file ({error})"
    return None


def check_paths(paths: list[str], wait: bool) -> list[Path]:
    """The paths to view, checked: files as given, folders as every run file directly inside. Raises
    RunFilePathError naming the first problem; with `wait`, a path that does not exist yet is awaited instead."""
    checked = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise RunFilePathError(f"{given}: the folder cannot be read")
            found, _, _ = newest_run_files(path, 1)
            if not found and not wait:
                raise RunFilePathError(f"{given}: {NO_RUNS_IN_FOLDER}")
            checked.append(path)
            continue
        if not path.exists():
            if not wait:
                raise RunFilePathError(f"{given}: no such file (--wait waits for it)")
            checked.append(path)
            continue
        if not path.is_file():
            raise RunFilePathError(f"{given}: not a regular file")
        problem = run_file_problem(path)
        if problem is not None:
            raise RunFilePathError(problem)
        checked.append(path)
    return checked


def newest_run_files(folder: Path, limit: int,
                     seen: dict[Path, tuple[int, str]] | None = None) -> tuple[list[Path], list[Path], int]:
    """Up to `limit` run files directly in `folder`, the most recently written first, each opened only to read
    its first line; the files among them whose first line is not complete yet (a writer that has just begun); and
    how many older files were left unread. `seen`: what a file was found to be at its mtime then, kept up to date
    here, so a file unchanged since is not opened again."""
    seen = {} if seen is None else seen
    try:
        with os.scandir(folder) as entries:
            files = [(entry.stat().st_mtime_ns, Path(entry.path)) for entry in entries if _regular(entry)]
    except OSError:
        return [], [], 0
    files.sort(key=lambda pair: (-pair[0], pair[1]))
    found: list[Path] = []
    unsure: list[Path] = []
    for index, (mtime, path) in enumerate(files):
        if len(found) >= limit:
            return found, unsure, len(files) - index
        was = seen.get(path)
        state = was[1] if was is not None and was[0] == mtime and was[1] != NOT_YET else _first_line(path)
        seen[path] = (mtime, state)
        if state == RUN_FILE:
            found.append(path)
        elif state == NOT_YET:
            unsure.append(path)
    return found, unsure, 0


def _regular(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _first_line(path: Path) -> str:
    """RUN_FILE where a file's first line is a run file header this mmtui reads, NOT_YET where it is empty or its
    first line not ended yet, else OTHER; one open, one read."""
    try:
        with open(path, "rb") as file:
            head = file.read(HEADER_PEEK_BYTES)
    except OSError:
        return OTHER
    line, newline, _ = head.partition(b"\n")
    if not newline:
        return NOT_YET if len(head) < HEADER_PEEK_BYTES and head[:1] in (b"", b"{") else OTHER
    if FORMAT.encode() not in line:
        return OTHER
    try:
        check_header(parse_line(line))
    except RunFileError:
        return OTHER
    return RUN_FILE


@dataclass
class FollowedFile:
    """One file being read: where it is open, what of its last line is pending, and what happened to it."""

    path: Path
    name: str  # as the legend and the status line name it
    reader: RunFileReader
    handle: object | None = None  # the open binary file; None while it is missing
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file, to notice a replacement
    position: int = 0  # bytes consumed
    pending: bytearray = field(default_factory=bytearray)  # the start of a line not yet complete
    skipping: bool = False  # inside a line over MAX_LINE_BYTES: discarded until its end
    damaged: int = 0  # lines skipped as damaged
    last_damage: str = ""  # why the latest was
    snapshots: int = 0
    event: str = ""  # the latest thing that happened to the file: "deleted", "replaced", "truncated"
    backlog: int = 0  # bytes present when the file was opened: the load the progress bar tracks
    at_end: bool = False  # every complete line read


class RunFileSource:
    """Reads run files into snapshots for the app, each file a stream; takes no commands.

    receive() does the reading, in the app's worker thread: there is no other thread to stop. A followed file stays
    open (what a writer appends to it just before it is rotated away is read), so at most MAX_FILES per folder
    are shown; a file not followed is closed once read.
    """

    commands: frozenset[type] = frozenset()
    produces = frozenset({LOSS, SAMPLES, LAYERS, WEIGHTS, SCALARS, RUNS})  # whatever its writer's runs held
    promised = frozenset({LOSS})  # the rest shows as the files reveal it

    def __init__(self, paths: list[Path], follow: bool = True):
        """`paths` as check_paths returned them; `follow`: keep reading what is appended (else end when read)."""
        self.follow = follow
        self._folders = [p for p in paths if p.is_dir()]
        self._files: list[FollowedFile] = []
        self._known: set[Path] = set()
        self._names = _display_names(paths)
        given = [p for p in paths if not p.is_dir()]
        for path in given[:MAX_FILES]:
            self._add(path)
        self._left_out = {Path(): len(given[MAX_FILES:])}  # files not shown, by folder (Path() for those given)
        self._stamps: dict[Path, int] = {}  # each folder's mtime when last listed
        self._unsure: dict[Path, int] = {}  # files whose first line was not complete yet, by their size then
        self._seen: dict[Path, tuple[int, str]] = {}  # what each file looked at in a folder was, at which mtime
        self._scanned_at = 0.0
        self._rescan()
        self._closed = threading.Event()
        self._said: SourceStatus | None = None

    def _add(self, path: Path) -> None:
        if path in self._known:
            return
        self._known.add(path)
        name = self._names.get(path) or _shortest_name(path, self._folders)
        self._files.append(FollowedFile(path, name, RunFileReader(name)))

    def _rescan(self) -> None:
        """List a folder again only when its mtime changed (a file came or went) or a file not yet whole grew:
        a folder of 10,000 files costs one stat a look while nothing changes."""
        self._scanned_at = time.monotonic()
        for folder in self._folders:
            try:
                stamp = os.stat(folder).st_mtime_ns
            except OSError:
                continue
            grown = [p for p, size in self._unsure.items() if p.parent == folder and _size(p) != size]
            settled = time.time_ns() - stamp > MTIME_SETTLED_NS  # a coarse mtime may not have moved on yet
            if stamp == self._stamps.get(folder) and settled and not grown:
                continue
            self._stamps[folder] = stamp
            found, unsure, self._left_out[folder] = newest_run_files(folder, MAX_FILES, self._seen)
            for path in found:
                self._add(path)
            self._unsure = {p: size for p, size in self._unsure.items() if p.parent != folder}
            self._unsure.update((path, _size(path)) for path in unsure)

    # ---- the Source protocol

    def send(self, command: Command) -> None:
        raise ValueError(f"a run file takes no commands ({type(command).__name__})")

    def cancel(self) -> None:
        self._closed.set()

    def close(self) -> None:
        self._closed.set()
        for file in self._files:
            _close(file)

    def receive(self, timeout: float) -> list[Arrival]:
        """What was read in up to BATCH_S, waiting up to `timeout` for something when nothing is new."""
        deadline = time.monotonic() + timeout
        while True:
            items = self._read_batch()
            status = self._status()
            if status != self._said:
                self._said = status
                items.append(status)
            if items or self._closed.is_set() or time.monotonic() >= deadline:
                return items
            self._closed.wait(min(BATCH_S, max(0.0, deadline - time.monotonic())))

    # ---- reading

    def _read_batch(self) -> list[Arrival]:
        if self._closed.is_set():
            return []
        if self._folders and self.follow and time.monotonic() - self._scanned_at >= RESCAN_S:
            self._rescan()
        items: list[Arrival] = []
        until = time.monotonic() + BATCH_S
        for file in self._files:
            if file.handle is None and (self.follow or file.identity is None):
                self._open_if_there(file)
            while file.handle is not None:  # a chunk at least, then more while the batch has time
                if not self._read_chunk(file, items):
                    self._check_replaced(file)  # only once the open file's lines are all read
                    if file.at_end and not self.follow:
                        _close(file)  # read for good
                    break
                if time.monotonic() >= until:
                    break
        return items

    def _open_if_there(self, file: FollowedFile) -> None:
        try:
            stat = os.stat(file.path)
        except OSError:
            return  # not there (yet, or again)
        self._open(file, (stat.st_dev, stat.st_ino), stat.st_size)

    def _check_replaced(self, file: FollowedFile) -> None:
        """Notice a file truncated, replaced or deleted, after its last line was read; the drawn runs stay."""
        try:
            stat = os.stat(file.path)
        except FileNotFoundError:
            _close(file)
            file.event = "deleted"
            return
        except OSError:
            return
        identity = (stat.st_dev, stat.st_ino)
        if identity != file.identity:  # rotated: a new file under the name
            _close(file)
            file.event = "replaced"
            self._open(file, identity, stat.st_size)
        elif stat.st_size < file.position:
            file.handle.seek(0)
            file.position, file.pending, file.skipping = 0, bytearray(), False
            file.event = "truncated"
            file.backlog = stat.st_size

    def _open(self, file: FollowedFile, identity: tuple[int, int], size: int) -> None:
        try:
            file.handle = open(file.path, "rb")  # noqa: SIM115 - held open between receive() calls
        except OSError as error:
            file.event = f"cannot be read ({error.strerror or error})"
            return
        file.identity, file.position, file.backlog = identity, 0, size
        file.pending, file.skipping, file.at_end = bytearray(), False, False
        if file.event == "deleted":
            file.event = "replaced"  # it came back: a new file under the old name

    def _read_chunk(self, file: FollowedFile, items: list[Arrival]) -> bool:
        """Read and parse one chunk; False at the end of what is there."""
        chunk = file.handle.read(CHUNK_BYTES)
        if not chunk:
            file.at_end = True
            file.backlog = 0
            return False
        file.at_end = False
        file.position += len(chunk)
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if file.skipping:
                file.skipping = False
                self._damage(file, f"a line over {MAX_LINE_BYTES // (1024 * 1024)} MiB")
            else:
                file.pending += chunk[start:end]
                self._parse(file, bytes(file.pending), items)
            file.pending = bytearray()
            start = end + 1
        if not file.skipping:
            file.pending += chunk[start:]
            if len(file.pending) > MAX_LINE_BYTES:
                file.pending, file.skipping = bytearray(), True
        return True

    def _parse(self, file: FollowedFile, line: bytes, items: list[Arrival]) -> None:
        if not line.strip():
            return
        try:
            snapshot = file.reader.read_line(line)
        except RunFileError as error:
            self._damage(file, str(error))
            return
        if snapshot is not None:
            file.snapshots += 1
            items.append(snapshot)

    @staticmethod
    def _damage(file: FollowedFile, why: str) -> None:
        file.damaged += 1
        file.last_damage = why

    # ---- what the status line says

    def _status(self) -> SourceStatus:
        files = self._files
        problems = [said for said in map(_problem, files) if said]
        loading = [f for f in files if f.handle is not None and not f.at_end]
        left_out = sum(self._left_out.values())
        backlog = sum(f.backlog for f in files)
        progress = None
        if loading and backlog >= PROGRESS_FROM_BYTES:
            progress = min(1.0, sum(min(f.position, f.backlog) for f in files if f.backlog) / backlog)
        ended = not self.follow and not loading and all(f.identity is not None or f.event for f in files)
        if not files:
            text = "waiting for run files in " + ", ".join(str(p) for p in self._folders)
        elif any(f.identity is None and not f.event for f in files):
            text = "waiting for " + _names([f for f in files if f.identity is None and not f.event])
        elif loading:
            text = "reading " + _names(loading)
        elif not any(f.snapshots for f in files):
            text = "waiting for the first line of " + _names(files)
        elif self.follow:
            text = "following " + (files[0].name if len(files) == 1 else f"{len(files)} files")
        else:
            text = "read " + (files[0].name if len(files) == 1 else f"{len(files)} files")
        if left_out:  # said, but no warning: the newest are what a folder of many runs is opened for
            text += f" · {left_out:,} older files not shown (the {MAX_FILES} newest run files are): give files to choose"
        if problems:
            text = "; ".join(problems) + " · " + text
        return SourceStatus(text, progress=progress, warning=bool(problems), ended=ended)


def _problem(file: FollowedFile) -> str:
    said = []
    if file.damaged:
        lines = "line" if file.damaged == 1 else "lines"
        said.append(f"{file.name}: {file.damaged} damaged {lines} skipped ({file.last_damage})")
    if file.event == "deleted":
        said.append(f"{file.name} was deleted: showing what was read")
    elif file.event == "replaced":
        said.append(f"{file.name} was replaced: reading the new file")
    elif file.event == "truncated":
        said.append(f"{file.name} was truncated: read again from its start")
    elif file.event:
        said.append(f"{file.name} {file.event}")
    return "; ".join(said)


def _names(files: list[FollowedFile]) -> str:
    return ", ".join(f.name for f in files) if len(files) <= NAMED else f"{len(files)} files"


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def _close(file: FollowedFile) -> None:
    if file.handle is not None:
        file.handle.close()
        file.handle = None


def _display_names(paths: list[Path]) -> dict[Path, str]:
    """Each file as given on the command line, by its name alone where that tells the files apart."""
    files = [p for p in paths if not p.is_dir()]
    names = [p.name for p in files]
    return {p: p.name if names.count(p.name) == 1 else str(p) for p in files}


def _shortest_name(path: Path, folders: list[Path]) -> str:
    """A file found in a followed folder: its name within the folder."""
    for folder in folders:
        if path.parent == folder:
            return path.name if len(folders) == 1 else str(Path(folder.name) / path.name)
    return str(path)
