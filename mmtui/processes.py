"""Child processes' lives tied to mmtui's: a group stopped by escalation, and nothing left when mmtui dies."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # prctl's option: the signal the kernel sends this process when its parent ends (Linux)
POLL_S = 0.02  # how often a stopping group is looked at
ESCALATION = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
ALL_WELL = b"."  # what mmtui writes to a guard once the group it guards is gone: nothing to do
GUARD_CODE = "from mmtui.processes import guard; guard()"


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent ends, however it ends (SIGKILL too); exit now if
    the parent has ended already. Linux only: elsewhere nothing is done."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent ended before the request was in place
        os._exit(1)


def group_alive(pgid: int, reap: Callable[[], object] = lambda: None) -> bool:
    """Whether any process of the group is left; `reap` first collects a child leader that has ended."""
    reap()
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or the number now names someone else's group
        return False
    return True


def stop_group(pgid: int, graces: tuple[float, float, float],
               reap: Callable[[], object] = lambda: None) -> bool:
    """SIGINT to the whole group, then SIGTERM, then SIGKILL, each once the one before has had its grace
    (seconds) to end every process of it; True when the group is gone."""
    for signal_number, grace in zip(ESCALATION, graces):
        if not group_alive(pgid, reap):
            return True
        try:
            os.killpg(pgid, signal_number)
        except (ProcessLookupError, PermissionError):
            return True
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not group_alive(pgid, reap):
                return True
            time.sleep(POLL_S)
    return not group_alive(pgid, reap)


class GroupGuard:
    """A small process of its own session that stops a group (stop_group) when mmtui ends without saying that
    the group is gone: mmtui killed, crashed, or its terminal closed. It waits on a pipe, which the kernel
    closes when mmtui ends in any way."""

    def __init__(self, pgid: int, graces: tuple[float, float, float]):
        self._process = subprocess.Popen(
            [sys.executable, "-c", GUARD_CODE, str(pgid), *map(str, graces)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def release(self) -> None:
        """The group is gone: the guard ends without signalling anything."""
        if self._process.stdin.closed:
            return
        try:
            self._process.stdin.write(ALL_WELL)
            self._process.stdin.close()
        except OSError:  # the guard has ended already
            pass
        try:
            self._process.wait(1.0)
        except subprocess.TimeoutExpired:
            pass


def guard() -> None:
    """The guard's process: argv holds the group and its three graces. SIGINT, SIGTERM and SIGHUP are ignored:
    a terminal closing, or a Ctrl-C at the shell, must not end the guard before mmtui."""
    pgid, graces = int(sys.argv[1]), tuple(float(grace) for grace in sys.argv[2:5])
    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, signal.SIG_IGN)
    try:
        word = os.read(0, 1)
    except OSError:
        word = b""
    if word != ALL_WELL:
        stop_group(pgid, graces)
