"""No orphans: q, SIGTERM, SIGHUP and mmtui's own death stop a script's whole process group and the lecture's
trainer child, with the documented escalation and exit codes. Processes are read from /proc (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from child_output import Deadline
from pilot_wait import wait_until
from mmtui.records import ScriptExited
from mmtui.sources.script import ScriptSource, python_command
from mmtui.tui.app import MmtuiApp

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")

START_S = 60  # a child's start on a loaded machine
# A script that writes its group and its three children's pids to argv[1], then waits to be stopped; with
# argv[2] "stubborn" the children ignore SIGINT (as DataLoader workers may), with "deaf" the script ignores
# SIGINT and SIGTERM too.
FAMILY = """
import os, signal, subprocess, sys, time
mode = sys.argv[2]
ignore = "signal.signal(signal.SIGINT, signal.SIG_IGN)\\n" if mode != "plain" else ""
child = "import signal, time\\n" + ignore + "time.sleep(300)"
if mode == "deaf":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
kids = [subprocess.Popen([sys.executable, "-c", child]) for _ in range(3)]
time.sleep(0.2)
with open(sys.argv[1] + ".tmp", "w") as file:
    file.write(" ".join(str(pid) for pid in [os.getpgid(0)] + [kid.pid for kid in kids]))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
print("family ready", flush=True)
time.sleep(300)
"""


def living(pids: list[int]) -> list[int]:
    """Those of `pids` that are running: neither gone nor a zombie waiting to be reaped."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            alive.append(pid)
    return alive


def group_members(pgid: int) -> list[int]:
    """The running processes of a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def wait_gone(pids: list[int], seconds: float) -> float:
    """Seconds until none of `pids` runs; fails after `seconds`."""
    started = time.monotonic()
    deadline = Deadline(seconds, f"processes {pids} to end")
    while living(pids):
        time.sleep(min(0.05, deadline.left()))
    return time.monotonic() - started


def wait_file(path: Path, seconds: float = START_S) -> str:
    deadline = Deadline(seconds, f"{path.name} to be written")
    while not path.exists():
        time.sleep(min(0.05, deadline.left()))
    return path.read_text()


def family_script(tmp_path: Path) -> Path:
    script = tmp_path / "family.py"
    script.write_text(FAMILY)
    return script


# ---- the source: q stops the whole group

async def test_q_stops_children_that_ignore_sigint_with_sigterm_after_the_grace(tmp_path):
    pids_file = tmp_path / "pids"
    argv, name, stem = python_command(str(family_script(tmp_path)), None, (str(pids_file), "stubborn"))
    source = ScriptSource(argv, name, tmp_path / f"{stem}.jsonl", stop_grace_s=0.3, kill_grace_s=1.0)
    source.start()
    try:
        pgid, *kids = map(int, wait_file(pids_file).split())
        assert pgid == source.process.pid and set(kids) <= set(group_members(pgid))
        app = MmtuiApp(source)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_until(pilot, lambda: app.output_panel is not None, timeout=START_S)
            await pilot.press("q")
        exited = source.finish(10)
        assert exited == ScriptExited(130, "family.py stopped by SIGINT", failed=False)
        assert source.stopped_running
        assert group_members(pgid) == []  # the children, which ignored SIGINT, took the SIGTERM
    finally:
        if group_members(source.process.pid):
            os.killpg(source.process.pid, signal.SIGKILL)


# ---- the command: signals to mmtui, and mmtui killed

def start_mmtui_run(tmp_path: Path, mode: str) -> tuple[subprocess.Popen, int, list[int]]:
    """`mmtui run --no-terminal family.py`: the process, the script's group and its children's pids."""
    pids_file = tmp_path / "pids"
    command = [sys.executable, "-m", "mmtui", "run", "--no-terminal", str(family_script(tmp_path)),
               str(pids_file), mode]
    process = subprocess.Popen(command, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        pgid, *kids = map(int, wait_file(pids_file).split())
    except BaseException:
        process.kill()
        process.communicate()
        raise
    return process, pgid, kids


def end(process: subprocess.Popen, pgid: int) -> None:
    if process.poll() is None:
        process.kill()
        process.communicate(timeout=10)
    if group_members(pgid):
        os.killpg(pgid, signal.SIGKILL)


def test_sighup_to_mmtui_run_stops_the_scripts_group_and_exits_129(tmp_path):
    process, pgid, kids = start_mmtui_run(tmp_path, "plain")
    try:
        process.send_signal(signal.SIGHUP)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 129, stderr
        assert "family.py stopped by SIGINT" in stderr and "Traceback" not in stderr
        assert group_members(pgid) == [] and living(kids) == []
    finally:
        end(process, pgid)


def test_the_whole_escalation_runs_before_mmtui_exits_with_the_stop_code(tmp_path):
    # The script ignores SIGINT and SIGTERM: only SIGKILL, 3 + 2 s after the stop, ends it. The shutdown watch
    # of the app must not end mmtui first (it did, at 5 s, with code 0 and the script left running).
    process, pgid, kids = start_mmtui_run(tmp_path, "deaf")
    try:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 143, stderr
        assert "family.py stopped by SIGKILL" in stderr
        assert group_members(pgid) == [] and living(kids) == []
    finally:
        end(process, pgid)


def test_a_killed_mmtui_leaves_no_script_behind(tmp_path):
    process, pgid, kids = start_mmtui_run(tmp_path, "plain")
    try:
        process.kill()  # SIGKILL: mmtui runs no code; the guard sees its pipe close
        process.communicate()
        wait_gone([pgid, *kids], 20)
        assert group_members(pgid) == []
    finally:
        end(process, pgid)


# ---- the lecture's trainer child

def start_lecture(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, int]:
    """The lecture's TUI, unattended, training in its child process for long: mmtui and its children's pids.
    Its stderr goes to a file: a pipe would be held open by a trainer child that outlived it."""
    log = tmp_path / "run.jsonl"
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "mmtui", "--no-terminal", "--steps", "100000000",
                                    "--compile", "off", "--log", str(log), *args], cwd=tmp_path,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = Deadline(START_S, "the trainer's first snapshot")
    while '"event":"snapshot"' not in (log.read_text() if log.exists() else ""):
        if process.poll() is not None:
            pytest.fail(f"mmtui ended: {(tmp_path / 'stderr.txt').read_text()}")
        time.sleep(min(0.1, deadline.left()))
    return process, children(process.pid)


def test_a_killed_mmtui_takes_the_lecture_trainer_with_it(tmp_path, small_words_path):
    process, kids = start_lecture(tmp_path, "--data", str(small_words_path))
    try:
        assert living(kids)
        process.kill()
        process.wait()
        wait_gone(kids, 10)
    finally:
        end(process, process.pid)
        for kid in living(kids):
            os.kill(kid, signal.SIGKILL)


def test_sighup_saves_the_lecture_run_and_exits_129(tmp_path, small_words_path):
    saved = tmp_path / "run.pt"
    process, kids = start_lecture(tmp_path, "--data", str(small_words_path), "--save", str(saved))
    try:
        for kid in kids:  # a closed terminal signals its whole foreground group: the trainer too
            os.kill(kid, signal.SIGHUP)
        process.send_signal(signal.SIGHUP)
        assert process.wait(30) == 129, (tmp_path / "stderr.txt").read_text()
        assert saved.stat().st_size > 0 and living(kids) == []
    finally:
        end(process, process.pid)
