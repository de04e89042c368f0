"""The tests' bounded reading of a child's output: a child that stalls or exits early fails the wait,
killed."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from child_output import ChildLines, Deadline


def child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_child_that_stalls_mid_line_fails_the_wait_in_time_and_is_killed():
    # Half a line, then silence: a plain readline() would wait for the rest for ever.
    process = child("import sys, time; print('{\"event\": \"start\"}'); sys.stdout.write('{\"ev'); "
                    "sys.stdout.flush(); sys.stderr.write('stuck here'); sys.stderr.flush(); time.sleep(600)")
    lines = ChildLines(process, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match="the step line.*killed.*stuck here"):
        lines.wait_for(lambda event: event["event"] == "step", "the step line")
    assert time.monotonic() - started < 30  # the 1 s deadline plus the kill, with room for a loaded machine
    assert process.poll() is not None  # killed, not left behind


def test_a_child_that_exits_before_the_line_fails_the_wait_at_once():
    process = child("print('{\"event\": \"start\"}')")
    lines = ChildLines(process, timeout=60)
    with pytest.raises(pytest.fail.Exception, match="closed its stdout"):
        lines.wait_for(lambda event: event["event"] == "done", "the done line")


def test_lines_after_the_awaited_one_are_returned_by_finish():
    process = child("import json\nfor step in range(5): print(json.dumps({'event': 'step', 'step': step}))")
    lines = ChildLines(process, timeout=60)
    assert lines.wait_for(lambda event: event["step"] == 1, "step 1") == {"event": "step", "step": 1}
    stdout, stderr = lines.finish()
    assert stdout.splitlines() == [f'{{"event": "step", "step": {step}}}' for step in (2, 3, 4)]
    assert stderr == "" and process.returncode == 0


def test_a_child_that_does_not_exit_fails_finish_and_is_killed():
    process = child("import time; time.sleep(600)")
    with pytest.raises(pytest.fail.Exception, match="did not exit"):
        ChildLines(process, timeout=0.5).finish()
    assert process.poll() is not None


def test_a_passed_deadline_fails_with_what_was_awaited():
    deadline = Deadline(0.05, "waiting for the snapshot")
    assert 0 < deadline.left() <= 0.05
    time.sleep(0.1)
    with pytest.raises(pytest.fail.Exception, match="waiting for the snapshot"):
        deadline.left()
