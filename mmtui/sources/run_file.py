"""Run files as a source: their lines decoded into snapshots, each file a stream, a folder as its newest run
files; the following itself is sources.follow's."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mmtui.records import LAYERS, LOSS, RUNS, SAMPLES, SCALARS, TIME, WEIGHTS, Arrival, SourceStatus
from mmtui.runfile import FORMAT, MAX_LINE_BYTES, RunFileError, RunFileReader, check_header, parse_line
from mmtui.sources.follow import (FollowedFile, FollowingSource, Lines, Reading, checked_paths, event_said,
                                  file_size, names, progress)

HEADER_PEEK_BYTES = 64 * 1024  # what a check reads of a file's first line
RUN_FILE, NOT_YET, OTHER = "run file", "not yet", "other"  # what a file's first line says it is


def first_line(path: Path) -> tuple[str, str]:
    """What a file's first line says it is: RUN_FILE where it is a run file header this mmtui reads, NOT_YET
    where the file is empty or its first line not ended yet (a writer that has just begun), else OTHER with
    why, in words; one open, one read."""
    try:
        with open(path, "rb") as file:
            head = file.read(HEADER_PEEK_BYTES)
    except OSError as error:
        return OTHER, f"cannot be read ({error.strerror or error})"
    if b"\0" in head:
        return OTHER, "a binary file, not an mmtui run file"
    line, newline, _ = head.partition(b"\n")
    if not newline:
        if len(head) < HEADER_PEEK_BYTES and head.lstrip()[:1] in (b"", b"{"):
            return NOT_YET, ""
        return OTHER, "not an mmtui run file (its first line is no JSON header)"
    if FORMAT.encode() not in line:  # a folder of 10,000 other files is told apart without parsing them
        return OTHER, "not an mmtui run file (its first line is no run file header)"
    try:
        check_header(parse_line(line))
    except RunFileError as error:
        return OTHER, str(error) if "version" in str(error) else f"not an mmtui run file ({error})"
    return RUN_FILE, ""


def check_paths(paths: list[str], wait: bool) -> list[Path]:
    """The paths to view, checked: files as given, folders as every run file directly inside. Raises
    ViewPathError naming the first problem; with `wait`, a path that does not exist yet is awaited instead."""
    return checked_paths(paths, wait, has_files=lambda folder: bool(newest_run_files(folder, 1)[0]),
                         file_problem=lambda path: first_line(path)[1] or None)


def newest_run_files(folder: Path, limit: int,
                     seen: dict[Path, tuple[int, str]] | None = None) -> tuple[list[Path], list[Path], int]:
    """Up to `limit` run files directly in `folder`, the most recently written first, each opened only to read
    its first line; the files among them whose first line is not complete yet (a writer that has just begun);
    and how many older files were left unread. `seen`: what a file was found to be at its mtime then, kept up
    to date here, so a file unchanged since is not opened again."""
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
        state = was[1] if was is not None and was[0] == mtime and was[1] != NOT_YET else first_line(path)[0]
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


class RunFileSource(FollowingSource):
    """Reads run files into snapshots for the app, each file a stream; takes no commands.

    A followed file stays open (what a writer appends to it just before it is rotated away is read), so at
    most `reading.max_files` per folder are shown; a file not followed is closed once read.
    """

    what = "a run file"
    # whatever its writer's runs held
    produces = frozenset({LOSS, SAMPLES, LAYERS, WEIGHTS, SCALARS, RUNS, TIME})
    promised = frozenset({LOSS})  # the rest shows as the files reveal it

    def __init__(self, paths: list[Path], follow: bool = True, reading: Reading = Reading()):
        """`paths` as check_paths returned them; `follow`: keep reading what is appended (else end when
        read)."""
        super().__init__(follow, reading)
        self._folders = [p for p in paths if p.is_dir()]
        self._followed: list[FollowedFile] = []
        self._readers: dict[Path, RunFileReader] = {}  # each file's decoder, which knows its runs so far
        self._names = _display_names(paths)
        self._snapshots: dict[Path, int] = {}  # snapshots read from each file
        given = [p for p in paths if not p.is_dir()]
        for path in given[:reading.max_files]:
            self._add(path)
        # files not shown, by folder (Path(): given)
        self._left_out = {Path(): len(given[reading.max_files:])}
        self._stamps: dict[Path, int] = {}  # each folder's mtime when last listed
        self._unsure: dict[Path, int] = {}  # files whose first line was not complete yet, by their size then
        # what each file looked at in a folder was, at which mtime
        self._seen: dict[Path, tuple[int, str]] = {}
        self.rescan()

    @property
    def paths(self) -> list[Path]:
        """The files read, in the order they were found."""
        return [file.path for file in self._followed]

    def _add(self, path: Path) -> None:
        if path in self._readers:
            return
        name = self._names.get(path) or _shortest_name(path, self._folders)
        self._readers[path] = RunFileReader(name)
        self._followed.append(FollowedFile(path, Lines(MAX_LINE_BYTES), self.follow))

    def _files(self) -> list[FollowedFile]:
        return self._followed

    def _find_files(self) -> None:
        """List a folder again only when its mtime changed (a file came or went) or a file not yet whole grew:
        a folder of 10,000 files costs one stat a look while nothing changes."""
        for folder in self._folders:
            try:
                stamp = os.stat(folder).st_mtime_ns
            except OSError:
                continue
            grown = [p for p, size in self._unsure.items() if p.parent == folder and file_size(p) != size]
            settled = time.time_ns() - stamp > self.reading.settled_s * 1e9
            if stamp == self._stamps.get(folder) and settled and not grown:
                continue
            self._stamps[folder] = stamp
            found, unsure, self._left_out[folder] = newest_run_files(folder, self.reading.max_files,
                                                                     self._seen)
            for path in found:
                self._add(path)
            self._unsure = {p: size for p, size in self._unsure.items() if p.parent != folder}
            self._unsure.update((path, file_size(path)) for path in unsure)

    def _read(self, until: float) -> list[Arrival]:
        items: list[Arrival] = []
        for file in self._followed:
            reader = self._readers[file.path]
            for line in file.read(self.reading.chunk_bytes, until):
                try:
                    snapshot = reader.read_line(line)
                except RunFileError as error:
                    file.count_damage(str(error))
                    continue
                if snapshot is not None:
                    self._snapshots[file.path] = self._snapshots.get(file.path, 0) + 1
                    items.append(snapshot)
            if time.monotonic() >= until:
                break
        return items

    # ---- what the status line says

    def _status(self) -> SourceStatus:
        files = self._followed
        problems = [said for said in map(self._problem, files) if said]
        loading = [f for f in files if f.loading]
        left_out = sum(self._left_out.values())
        ended = not self.follow and not any(f.unread for f in files)
        if not files:
            text = "waiting for run files in " + ", ".join(str(p) for p in self._folders)
        elif any(not f.found for f in files):
            text = "waiting for " + self._names_of([f for f in files if not f.found])
        elif loading:
            text = "reading " + self._names_of(loading)
        elif not self._snapshots:
            text = "waiting for the first line of " + self._names_of(files)
        elif self.follow:
            text = "following " + (self._name(files[0]) if len(files) == 1 else f"{len(files)} files")
        else:
            text = "read " + (self._name(files[0]) if len(files) == 1 else f"{len(files)} files")
        if left_out:  # said, but no warning: the newest are what a folder of many runs is opened for
            text += (f" · {left_out:,} older files not shown (the {self.reading.max_files} newest run files "
                     "are): give files to choose")
        if problems:
            text = "; ".join(problems) + " · " + text
        return SourceStatus(text, progress=progress(files, self.reading.progress_from_bytes),
                            warning=bool(problems), ended=ended)

    def _name(self, file: FollowedFile) -> str:
        return self._readers[file.path].stream

    def _names_of(self, files: list[FollowedFile]) -> str:
        return names([self._name(f) for f in files])

    def _problem(self, file: FollowedFile) -> str:
        said = []
        if file.damaged:
            lines = "line" if file.damaged == 1 else "lines"
            said.append(f"{self._name(file)}: {file.damaged} damaged {lines} skipped ({file.last_damage})")
        event = event_said(self._name(file), file)
        return "; ".join(said + [event] if event else said)


def _display_names(paths: list[Path]) -> dict[Path, str]:
    """Each file as given on the command line, by its name alone where that tells the files apart."""
    files = [p for p in paths if not p.is_dir()]
    given = [p.name for p in files]
    return {p: p.name if given.count(p.name) == 1 else str(p) for p in files}


def _shortest_name(path: Path, folders: list[Path]) -> str:
    """A file found in a followed folder: its name within the folder."""
    for folder in folders:
        if path.parent == folder:
            return path.name if len(folders) == 1 else str(Path(folder.name) / path.name)
    return str(path)
