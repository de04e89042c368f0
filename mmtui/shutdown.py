"""How the monitor ends: stop signals caught, a hung app or a hung-up terminal ended, a script's end said."""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time

import click

EXIT_GRACE_S = 5.0  # how long the app may take to shut down once asked (it takes well under a second)
WATCH_POLL_S = 0.1  # how often the shutdown watch looks for a signal caught and a terminal hung up
SIGNAL_EXITS = {signal.SIGTERM: 143, signal.SIGHUP: 129}  # 128 + the signal's number, as shells report it
HANGUP_CODE = SIGNAL_EXITS[signal.SIGHUP]  # a closed terminal ends mmtui as its SIGHUP would
USER_STOP_CODE = 130  # a script stopped by q, as a shell reports Ctrl-C


class StopSignals:
    """SIGTERM and SIGHUP (a closed terminal, an SSH drop), caught from before a source starts: each asks the
    app to quit as q does (the terminal restored, a --save checkpoint written, a script stopped). The handler
    only notes the signal; the shutdown watch, a thread, acts on it: the app's event loop may be blocked."""

    def __init__(self) -> None:
        self.code: int | None = None  # the first stop signal's exit code, once one came
        for signal_number in SIGNAL_EXITS:
            signal.signal(signal_number, self._caught)

    def _caught(self, signal_number: int, _frame) -> None:
        if self.code is None:
            self.code = SIGNAL_EXITS[signal_number]


class ShutdownWatch:
    """Ends the app, and the process if it must: on a stop signal it asks the app to exit with the signal's
    code; it ends the process if the app has not returned `grace_s` after it was asked to end, or after its
    terminal hung up. Textual's shutdown can loop for ever when a quit comes while the app is still starting
    (a browser tab closed at once under --serve); and once the terminal is gone, Textual's writes block its
    event loop (SIGHUP reaches mmtui only where the session's leader passes it on). The source is closed
    first: the trainer saves its --save checkpoint and ends; a script's group is stopped."""

    def __init__(self, app, signals: StopSignals, terminal: int | None, grace_s: float = EXIT_GRACE_S):
        """`terminal`: the descriptor of the terminal the app reads (a served tab's: the server's pipe),
        watched for a hang-up; None if none."""
        self.app, self.signals, self.terminal, self.grace_s = app, signals, terminal, grace_s
        self.returned = threading.Event()  # the app's run() returned: what follows is the command's to time
        threading.Thread(target=self._watch, daemon=True, name="shutdown-watch").start()

    def _watch(self) -> None:
        app, code = self.app, None
        while not app.exit_requested.wait(WATCH_POLL_S) and not self.returned.is_set():
            if self.signals.code is not None:
                code = self.signals.code
                threading.Thread(target=self._ask_to_exit, args=(code,), daemon=True, name="exit-ask").start()
                break
            if self.terminal is not None and _hung_up(self.terminal):
                # a terminal's hang-up is SIGHUP's; a served tab's pipe closes after the server's quit too
                code = HANGUP_CODE if os.isatty(self.terminal) else None
                break
        if self.returned.wait(self.grace_s):
            return
        app.source.close()
        exit_now(code or app.return_code or 0)

    def _ask_to_exit(self, code: int) -> None:
        """app.exit(code) in the app's thread, once it runs and has drawn (a signal may come while it starts:
        an exit amid the first mount left widgets querying children already gone)."""
        while not self.returned.is_set():
            try:
                self.app.call_from_thread(self.app.call_after_refresh, self.app.exit, code)
                return
            except RuntimeError:  # not running yet
                time.sleep(WATCH_POLL_S)


def _hung_up(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLHUP)
    return any(events & (select.POLLHUP | select.POLLNVAL) for _, events in poller.poll(0))


def say(line: str) -> None:
    """A line on stderr, which may be a terminal that has gone (SIGHUP): then there is no one to tell."""
    try:
        click.echo(line, err=True)
    except OSError:
        pass


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown of Textual's and Rich's objects: ~0.3 s after quitting."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a terminal that hung up, a stream closed
            pass
    os._exit(code)


def finish_script(source, app_code: int) -> int:
    """Once the app has closed: the script's group stopped, its traceback printed again if it crashed, and the
    exit code: the script's own when it ended by itself; when mmtui stopped it, what stopped mmtui (130 for q,
    as for Ctrl-C; 143 SIGTERM, 129 SIGHUP or a closed terminal)."""
    stop_s, kill_s, _ = source.graces
    exited = source.finish(timeout=1.0)
    if exited is None:
        say(f"mmtui: stopping {source.name}: SIGINT sent, SIGTERM in {stop_s:g} s…")
        exited = source.finish(timeout=stop_s + 2 * kill_s + 1)
    if exited is None:
        say(f"mmtui: {source.name} (pid {source.process.pid}) did not stop, even on SIGKILL")
        return 1
    traceback = source.last_traceback() if exited.failed else ""
    if traceback:
        say(traceback)
    kept = f"its run file: {source.shown_run_file}" if source.run_file.exists() else "it wrote no run file"
    say(f"mmtui: {exited.summary}; {kept}")
    if source.stopped_running:
        return app_code if app_code in SIGNAL_EXITS.values() else USER_STOP_CODE
    return exited.code
