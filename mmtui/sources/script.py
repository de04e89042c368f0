"""A script run by `mmtui run`: the child process, its output made safe to draw, and the run file it
writes."""

from __future__ import annotations

import codecs
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from mmtui.processes import GroupGuard, stop_group
from mmtui.records import OUTPUT, RUNS, Arrival, Command, ScriptExited, ScriptOutput, SourceStatus
from mmtui.sources.follow import Reading
from mmtui.sources.run_file import RunFileSource
from mmtui.text import safe_text

# mmtui.watcher.files.LOG_ENV, the file watch() writes; importing it from there loads torch
LOG_ENV = "MMTUI_LOG"
AUTOWATCH = "mmtui.integrations.autowatch"  # runs a script as python does, its model and optimizer watched
# where watch() keeps a run it is not told where to write: the user keeps this one there too
RUNS_FOLDER = "runs"
MAX_LINES = 2_000  # output lines held: what the panel scrolls back through, and where the traceback is found
# a line without an end is ended here: a stream of binary garbage holds bounded memory
MAX_LINE_CHARS = 10_000
READ_BYTES = 64 * 1024
STOP_GRACE_S = 3.0  # after SIGINT (a KeyboardInterrupt: watch() writes its last snapshot) before SIGTERM
KILL_GRACE_S = 2.0  # after SIGTERM before SIGKILL, and after SIGKILL before giving up on the process
DRAIN_S = 0.5  # after the exit, how long output still coming (a grandchild holding the pipe) is awaited
NO_RUN_FILE_NOTE_S = 15.0  # running this long without a run file, the panel says how to add mmtui.watch
WATCH_LINES = "add `import mmtui` and `run = mmtui.watch(model, optimizer)` to it (without log=: mmtui run " \
              "reads the file watch writes by default)"

LINE_BREAK = re.compile(r"\r\n|\n|\r")


class ScriptLines:
    """A child's output as lines: ended by \\n or \\r\\n, a lone \\r starting the line over (a tqdm bar), the
    last MAX_LINES held. feed() is called by the reader thread, take() by the app's worker."""

    def __init__(self, max_lines: int = MAX_LINES):
        # a character split across reads
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._ended = 0  # lines ended so far
        self._taken = 0  # of them, handed out by take() (or dropped from the buffer before it could)
        self._partial = ""  # the line being written, raw
        self._carriage = False  # a \r came: what follows replaces the line, unless a \n ends it first
        self._said_partial = ""  # the partial line as take() last handed it out
        self._lock = threading.Lock()

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self._decoder.decode(data, final)
        with self._lock:
            start = 0
            for match in LINE_BREAK.finditer(text):
                self._extend(text[start:match.start()])
                if match.group() == "\r":
                    self._carriage = True
                else:
                    self._end_line()
                start = match.end()
            self._extend(text[start:])
            if final and self._partial:
                self._end_line()

    def _extend(self, piece: str) -> None:
        if not piece:
            return
        if self._carriage:
            self._partial, self._carriage = "", False
        self._partial += piece
        while len(self._partial) > MAX_LINE_CHARS:
            rest = self._partial[MAX_LINE_CHARS:]
            self._partial = self._partial[:MAX_LINE_CHARS]
            self._end_line()
            self._partial = rest

    def _end_line(self) -> None:
        self._lines.append(safe_text(self._partial))
        self._ended += 1
        self._partial, self._carriage = "", False

    def take(self, notes: tuple[str, ...] = ()) -> ScriptOutput | None:
        """What was printed since the previous call, with mmtui's notes; None when nothing is new."""
        with self._lock:
            new = self._ended - self._taken
            held = min(new, len(self._lines))
            lines = tuple(self._lines)[len(self._lines) - held:] if held else ()
            self._taken = self._ended
            partial = safe_text(self._partial)
        if not new and partial == self._said_partial and not notes:
            return None
        self._said_partial = partial
        return ScriptOutput(lines, partial=partial, dropped=new - held, notes=notes)

    def last_traceback(self) -> str:
        """The last traceback among the lines held, with the exceptions it was chained to; "" when none."""
        with self._lock:
            lines = list(self._lines) + ([safe_text(self._partial)] if self._partial else [])
        starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last):")]
        if not starts:
            return ""
        start = starts[-1]
        # "During handling of the above exception, another ...", a blank line
        for earlier in reversed(starts[:-1]):
            between = [line for line in lines[earlier:start] if line.strip()]
            if not between or not between[-1].endswith(("another exception occurred:",
                                                        "of the following exception:")):
                break
            start = earlier
        return "\n".join(lines[start:])


def python_command(script: str | None, module: str | None, args: tuple[str, ...],
                   watch: bool = True) -> tuple[list[str], str, str]:
    """The child's argv for `mmtui run SCRIPT ARGS` or `mmtui run -m MODULE ARGS`, how to name it ("train.py",
    "-m pkg.train") and the stem its run file is named after (as watch() names it). With `watch`, python runs
    it through the zero-line watch (mmtui.integrations.autowatch), which finds its model and optimizer."""
    python = [sys.executable, "-m", AUTOWATCH] if watch else [sys.executable]
    if module is not None:
        return [*python, "-m", module, *args], f"-m {module}", module.rpartition(".")[2]
    return [*python, script, *args], Path(script).name, Path(script).stem


def new_run_file(stem: str) -> Path:
    """runs/<stem>-<time>.jsonl, a name not taken; in a temporary folder where runs/ cannot be written."""
    folder = Path(RUNS_FOLDER)
    try:
        folder.mkdir(exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(folder)
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix="mmtui-run-"))
    name = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, number = folder / f"{name}.jsonl", 1
    while path.exists():  # watch() would append a session to it, and the panels would show both
        number += 1
        path = folder / f"{name}-{number}.jsonl"
    return path


class ScriptSource:
    """A Python script as a child process: its output as ScriptOutput, its end as ScriptExited, and the
    snapshots of the run file it writes through mmtui.watch. Takes no commands: quitting the app stops the
    script."""

    commands: frozenset[type] = frozenset()
    produces = RunFileSource.produces - {RUNS} | {OUTPUT}  # its output, and what its one run file reveals
    promised = frozenset({OUTPUT})  # a script that never calls mmtui.watch sends its output alone

    def __init__(self, argv: list[str], name: str, run_file: Path, note_after_s: float = NO_RUN_FILE_NOTE_S,
                 stop_grace_s: float = STOP_GRACE_S, kill_grace_s: float = KILL_GRACE_S,
                 reading: Reading = Reading()):
        """`stop_grace_s`: how long the script's group is given after SIGINT, before SIGTERM; `kill_grace_s`:
        after SIGTERM before SIGKILL, and after SIGKILL before the group is given up on; `reading`: how its
        run file is read."""
        self.argv, self.name, self.run_file = argv, name, run_file
        self._watched = AUTOWATCH in argv  # run through the zero-line watch: its model is found unasked
        self.graces = (stop_grace_s, kill_grace_s, kill_grace_s)
        self.shown_run_file = os.path.relpath(run_file) if not run_file.is_absolute() else str(run_file)
        self.process: subprocess.Popen | None = None
        self.exited: ScriptExited | None = None  # once receive() has reported the end
        self._note_after_s = note_after_s
        self._output = ScriptLines()
        self._run = RunFileSource([run_file], follow=True, reading=reading)  # awaited until it exists
        self._run_status: SourceStatus | None = None  # the latest the run file source said
        self._said: SourceStatus | None = None
        self._drained = threading.Event()  # the pipe reached its end: every line printed is read
        self._stopping = threading.Event()  # a stop was asked: SIGINT sent, SIGTERM and SIGKILL to follow
        self.stopped_running = False  # the stop found the script running: it ended because it was asked to
        self._guard: GroupGuard | None = None  # stops the group if mmtui ends without stopping it
        self._stopper: threading.Thread | None = None  # runs the stop's escalation
        self._closed = threading.Event()
        self._started_at = 0.0
        self._exit_seen_at: float | None = None
        self._noted_no_run_file = False

    def start(self) -> None:
        """Start the script; raises OSError when it cannot start."""
        env = {**os.environ, LOG_ENV: str(self.run_file.resolve()), "PYTHONUNBUFFERED": "1"}
        # stdin is the TUI's; a session of its own: no controlling terminal to draw on,
        # and one group to signal.
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self._guard = GroupGuard(self.process.pid, self.graces)
        self._started_at = time.monotonic()
        threading.Thread(target=self._read_output, name="script-output", daemon=True).start()

    def _read_output(self) -> None:
        with self.process.stdout as pipe:
            while chunk := os.read(pipe.fileno(), READ_BYTES):
                self._output.feed(chunk)
        self._output.feed(b"", final=True)
        self._drained.set()

    # ---- the Source protocol

    def send(self, command: Command) -> None:
        raise ValueError(f"a script run by mmtui run takes no commands ({type(command).__name__})")

    def cancel(self) -> None:
        """Stop the script and every process of its group, returning at once: SIGINT, then SIGTERM after
        stop_grace_s, then SIGKILL after kill_grace_s."""
        if self._stopping.is_set() or self.process is None:
            return
        self._stopping.set()
        self.stopped_running = self.process.poll() is None
        self._stopper = threading.Thread(target=self._stop, name="script-stop", daemon=True)
        self._stopper.start()

    def close(self) -> None:
        self.cancel()
        self._closed.set()
        self._run.close()

    def receive(self, timeout: float) -> list[Arrival]:
        """The run file's snapshots, then the output, then the exit, then the status: what came in up to
        `timeout`, returning once something did."""
        deadline = time.monotonic() + timeout
        while True:
            items = []
            for item in self._run.receive(min(self._run.reading.batch_s,
                                              max(0.0, deadline - time.monotonic()))):
                if isinstance(item, SourceStatus):
                    self._run_status = item  # said again as part of the script's status
                else:
                    items.append(item)
            exited = self._exit_if_over()
            output = self._output.take(self._notes(exited))
            items += [report for report in (output, exited) if report is not None]
            status = self._status()
            if status != self._said:
                self._said = status
                items.append(status)
            if items or self._closed.is_set() or time.monotonic() >= deadline:
                return items

    # ---- the end

    def _exit_if_over(self) -> ScriptExited | None:
        """The exit, once: when the process has ended and its output is read (or DRAIN_S has passed)."""
        if self.exited is not None or self.process.poll() is None:
            return None
        now = time.monotonic()
        if self._exit_seen_at is None:
            self._exit_seen_at = now
        if not self._drained.is_set() and now - self._exit_seen_at < DRAIN_S:
            return None
        self._run.stop_following()
        self.exited = self._describe_exit(self.process.returncode)
        return self.exited

    def _describe_exit(self, returncode: int) -> ScriptExited:
        if returncode < 0:
            try:
                how = f"stopped by {signal.Signals(-returncode).name}"
            except ValueError:
                how = f"stopped by signal {-returncode}"
            code = 128 - returncode
        else:
            how, code = f"exited with code {returncode}", returncode
        return ScriptExited(code, f"{self.name} {how}", failed=code != 0 and not self.stopped_running)

    def finish(self, timeout: float) -> ScriptExited | None:
        """Stop the script's group if any of it runs and wait up to `timeout` for its end and its last output;
        None if the group has not ended by then. For the command, once the app has closed."""
        self.cancel()
        self._stopper.join(timeout)
        if self._stopper.is_alive() or self.process.poll() is None:
            return None
        self._drained.wait(DRAIN_S)
        return self.exited or self._describe_exit(self.process.returncode)

    def last_traceback(self) -> str:
        return self._output.last_traceback()

    def _stop(self) -> None:
        # The group, as Ctrl-C would: DataLoader workers too, and what the script left behind if it has ended.
        if stop_group(self.process.pid, self.graces, reap=self.process.poll):
            self._guard.release()

    # ---- what the panel and the status line say

    def _notes(self, exited: ScriptExited | None) -> tuple[str, ...]:
        """How to add mmtui.watch: once while the script runs without a run file, and at its end without
        one."""
        if self.run_file.exists():
            return ()
        if exited is not None:  # given once: receive() reports the exit once
            found = " it trained no model mmtui could find (a forward with grad);" if self._watched else ""
            return (f"{self.name} wrote no run file:{found} {WATCH_LINES}",)
        if not self._noted_no_run_file and time.monotonic() - self._started_at >= self._note_after_s:
            self._noted_no_run_file = True
            if self._watched:  # the zero-line watch writes it at the first training step
                return (f"no run file after {self._note_after_s:g} s: {self.name} has trained no model yet "
                        f"(mmtui watches the first it trains); without a torch module, {WATCH_LINES}",)
            return (f"no run file after {self._note_after_s:g} s: if {self.name} does not call mmtui.watch, "
                    f"{WATCH_LINES}",)
        return ()

    def _status(self) -> SourceStatus:
        run, exited = self._run_status, self.exited
        if exited is not None:
            state = exited.summary
        elif self._stopping.is_set():
            state = f"stopping {self.name}"
        else:
            state = f"{self.name} running"
        exists = self.run_file.exists()
        if run is not None and run.warning:
            where = run.text
        elif exists:
            where = f"run file {self.shown_run_file}"
        elif exited is not None:
            where = "no run file"
        else:
            where = f"waiting for its run file {self.shown_run_file}"
        ended = exited is not None and (not exists or (run is not None and run.ended))
        warning = (run is not None and run.warning) or (exited is not None and exited.failed)
        return SourceStatus(f"{state} · {where}", warning=warning, ended=ended)
