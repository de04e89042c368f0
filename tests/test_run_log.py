"""The --log file: the headless JSON lines, appended as they happen, from headless runs and from a UI's trainer."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from mmtui.cli import cli
from mmtui.engine.checkpoint import load_checkpoint
from mmtui.engine.commands import Reinit
from mmtui.engine.config import RunFiles, TrainConfig
from mmtui.engine.host import TrainerHost
from mmtui.engine.words import read_words

from test_headless_cli import SCHEMA, TIMEOUT_S, assert_one_line_error, events, mmtui

QUICK = TrainConfig(steps=1_000_000, eval_every=0, num_samples=2, snapshot_every=50)


def headless_args(data, *more: str) -> list[str]:
    return ["--headless", "--data", str(data), "--steps", "300", "--every", "100", "--eval-every", "100",
            "--num-samples", "2", *more]


def read_log(path) -> list[dict]:
    """The events of the log's whole lines: a line still being written is left out."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return events(text[:text.rfind("\n") + 1])


def wait_for_log(path, condition, timeout: float = TIMEOUT_S) -> list[dict]:
    """The log's events once `condition(events)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = read_log(path)
        if condition(lines):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"the log {path} did not get the lines awaited in time")


def run_reached(lines: list[dict], run: int, step: int) -> bool:
    """The log holds a "step" line at `step` or later of its run-th run (0 = the first "start")."""
    starts = [i for i, e in enumerate(lines) if e["event"] == "start"] + [len(lines)]
    return len(starts) > run + 1 and any(e["event"] == "step" and e["step"] >= step
                                         for e in lines[starts[run]:starts[run + 1]])


def test_headless_log_holds_the_lines_printed_on_stdout(small_words_path, tmp_path):
    log = tmp_path / "run.jsonl"
    result = CliRunner().invoke(cli, headless_args(small_words_path, "--log", str(log)))
    assert result.exit_code == 0, result.output
    assert log.read_text(encoding="utf-8") == result.stdout
    assert [e["event"] for e in read_log(log)] == ["start", "step", "eval", "step", "eval", "step", "eval", "done"]


def test_appending_to_a_log_begins_each_run_with_a_start_line(small_words_path, tmp_path):
    log = tmp_path / "run.jsonl"
    runner = CliRunner()
    first = runner.invoke(cli, headless_args(small_words_path, "--log", str(log), "--init", "lecture"))
    second = runner.invoke(cli, headless_args(small_words_path, "--log", str(log), "--init", "kaiming"))
    assert first.exit_code == second.exit_code == 0
    assert log.read_text(encoding="utf-8") == first.stdout + second.stdout
    starts = [e for e in read_log(log) if e["event"] == "start"]
    assert [e["config"]["init"] for e in starts] == ["lecture", "kaiming"]


def test_a_killed_run_leaves_every_line_it_printed_whole_in_the_log(small_words_path, tmp_path):
    log = tmp_path / "run.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "mmtui", "--headless", "--data", str(small_words_path), "--steps", "1000000",
         "--every", "10", "--log", str(log)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            printed = json.loads(line)
            if printed["event"] == "step" and printed["step"] >= 500:
                break
        assert printed in read_log(log)  # on disk by the time it was printed, not when a buffer fills
        process.send_signal(signal.SIGKILL)  # no handler, no flush at exit
        process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    logged = read_log(log)
    for event in logged:
        SCHEMA[event["event"]](event)
    assert logged[0]["event"] == "start"
    steps = [e["step"] for e in logged if e["event"] == "step"]
    assert steps == list(range(0, 10 * len(steps), 10)) and steps[-1] >= 500  # none lost before the kill


def test_ui_trainer_process_writes_the_log_with_a_start_line_for_each_reinit(small_words_path, tmp_path):
    log = tmp_path / "tui.jsonl"
    host = TrainerHost(QUICK, read_words(small_words_path), process=True, files=RunFiles(log=str(log)))
    host.start()
    try:  # the test never reads the host's snapshots, as a UI that is busy drawing: the log fills regardless
        wait_for_log(log, lambda lines: run_reached(lines, 0, 100))
        host.send(Reinit(init="kaiming"))
        lines = wait_for_log(log, lambda lines: run_reached(lines, 1, 100))
    finally:
        host.close()
    starts = [i for i, e in enumerate(lines) if e["event"] == "start"]
    assert [lines[i]["config"]["init"] for i in starts] == ["lecture", "kaiming"]
    assert lines[starts[1] + 1]["event"] == "step" and lines[starts[1] + 1]["step"] == 0  # the new run's step 0


def test_tui_writes_the_log_and_the_checkpoint_from_its_trainer(small_words_path, tmp_path):
    log, checkpoint = tmp_path / "tui.jsonl", tmp_path / "tui.pt"
    result = mmtui("--no-terminal", "--data", str(small_words_path), "--steps", "2000", "--eval-every", "1000",
                   "--num-samples", "2", "--keys", "500:4", "--log", str(log), "--save", str(checkpoint),
                   "--screenshot", str(tmp_path / "end.svg"))
    assert result.returncode == 0, result.stderr
    lines = read_log(log)
    assert [e["config"]["init"] for e in lines if e["event"] == "start"] == ["lecture", "kaiming"]
    assert [e["event"] for e in lines[-2:]] == ["saved", "done"] and lines[-1]["step"] == 2000
    assert load_checkpoint(checkpoint).config.init == "kaiming" and load_checkpoint(checkpoint).step == 2000


@pytest.mark.parametrize("kind", ["directory", "missing directory"])
def test_unwritable_log_path_gives_one_error_line_and_exit_2(tmp_path, kind):
    path = tmp_path if kind == "directory" else tmp_path / "absent" / "run.jsonl"
    assert_one_line_error(mmtui("--headless", "--steps", "10", "--log", str(path)), "--log")
