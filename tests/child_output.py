"""Reading a child's output with a deadline: a child that stalls fails its test with a message, never hangs
it."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from collections.abc import Callable

import pytest


class Deadline:
    """A point in time `seconds` from now; left() fails the test once it has passed, after calling
    on_expire."""

    def __init__(self, seconds: float, what: str, on_expire: Callable[[], str] | None = None):
        self.at = time.monotonic() + seconds
        self.seconds, self.what, self.on_expire = seconds, what, on_expire

    def left(self) -> float:
        """Seconds still left (above 0); past the deadline, a failure naming what was awaited."""
        left = self.at - time.monotonic()
        if left <= 0:
            self.fail(f"{self.what}: nothing in {self.seconds:g} s")
        return left

    def fail(self, reason: str):
        detail = self.on_expire() if self.on_expire is not None else ""
        pytest.fail(f"{reason}{detail}", pytrace=False)


class ChildLines:
    """The JSON lines a `subprocess.Popen(..., stdout=PIPE, stderr=PIPE, text=True)` child prints, read as
    they come, each wait bounded by a deadline; on a timeout the child is killed and the test fails.

    It reads the pipe's file descriptor itself, around `process.stdout`'s buffer, so waiting on the descriptor
    tells the truth, and closing `process.stdout` or finish()'s communicate() afterwards work as usual.
    """

    def __init__(self, process: subprocess.Popen, timeout: float):
        self.process, self.timeout = process, timeout
        self._fd = process.stdout.fileno()
        self._pending = b""  # read from the pipe, not yet returned as a line

    def next_event(self, deadline: Deadline | None = None) -> dict:
        """The next line's JSON object."""
        deadline = deadline or Deadline(self.timeout, "waiting for the child's next line", self._kill)
        while b"\n" not in self._pending:
            with selectors.DefaultSelector() as selector:
                selector.register(self._fd, selectors.EVENT_READ)
                if not selector.select(deadline.left()):
                    continue  # the deadline passed while waiting: left() fails on the next turn
            chunk = os.read(self._fd, 65536)
            if not chunk:
                deadline.fail(f"{deadline.what}: the child closed its stdout first")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return json.loads(line)

    def wait_for(self, condition: Callable[[dict], bool], what: str) -> dict:
        """The first event for which condition(event) holds, within the timeout."""
        deadline = Deadline(self.timeout, f"waiting for {what}", self._kill)
        while not condition(event := self.next_event(deadline)):
            pass
        return event

    def finish(self, timeout: float | None = None) -> tuple[str, str]:
        """Wait for the child to exit: (its stdout not returned yet, its stderr)."""
        try:
            stdout, stderr = self.process.communicate(timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the child did not exit in {timeout or self.timeout:g} s{self._kill()}",
                        pytrace=False)
        return self._pending.decode() + stdout, stderr

    def _kill(self) -> str:
        """Kill the child; its stderr's end, for the failure message."""
        self.process.kill()
        try:
            _, stderr = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # a grandchild holds the pipe open: say nothing more
            return ""
        return (f"; the child was killed; its stderr ends: {stderr[-2000:]!r}" if stderr
                else "; the child was killed")
