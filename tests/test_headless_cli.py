"""The `mmtui` command: its JSON lines, exit codes, signals, and one-line errors for bad input."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields

import pytest
from click.testing import CliRunner

from mmtui.cli import cli
from mmtui.engine.config import TrainConfig

from child_output import ChildLines
from conftest import BAD_DATA  # the bad word lists that test_data.py reads in-process

TIMEOUT_S = 60


def mmtui(*args: str, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess:
    """The real command, as a user runs it: `python -m mmtui ARGS`, stdin closed."""
    return subprocess.run([sys.executable, "-m", "mmtui", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def assert_one_line_error(result: subprocess.CompletedProcess, phrase: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mmtui: error:")
    assert phrase in lines[0]
    assert result.stdout == ""


# ---- the JSON lines


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_start(event: dict) -> None:
    assert set(event["config"]) == {f.name for f in fields(TrainConfig)}
    assert isinstance(event["vocab_size"], int) and isinstance(event["num_params"], int)
    assert event["expected_init_loss"] == pytest.approx(math.log(event["vocab_size"]))


def check_step(event: dict) -> None:
    assert isinstance(event["step"], int)
    assert is_number(event["loss"]) and event["loss"] > 0
    assert is_number(event["lr"])
    assert is_number(event["saturation"]) and 0 <= event["saturation"] <= 100
    assert is_number(event["steps_per_s"]) and event["steps_per_s"] >= 0


def check_eval(event: dict) -> None:
    assert isinstance(event["step"], int)
    assert is_number(event["train_loss"]) and is_number(event["val_loss"])


def check_done(event: dict) -> None:
    assert isinstance(event["step"], int)
    assert is_number(event["train_loss"]) and is_number(event["val_loss"])
    assert isinstance(event["samples"], list) and all(isinstance(name, str) for name in event["samples"])
    assert is_number(event["seconds"]) and event["seconds"] >= 0


SCHEMA = {"start": check_start, "step": check_step, "eval": check_eval, "done": check_done}


def test_json_lines_follow_the_schema(small_words_path):
    args = ["--headless", "--data", str(small_words_path), "--init", "kaiming", "--steps", "300",
            "--every", "100", "--eval-every", "100", "--num-samples", "3"]
    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 0, result.output
    lines = events(result.stdout)
    assert lines, "no JSON lines on stdout"
    for event in lines:
        SCHEMA[event["event"]](event)
    kinds = [event["event"] for event in lines]
    assert kinds[0] == "start" and kinds.count("start") == 1
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert lines[0]["config"]["steps"] == 300 and lines[0]["config"]["init"] == "kaiming"
    assert lines[0]["num_params"] == 11_897 and lines[0]["vocab_size"] == 27
    assert [e["step"] for e in lines if e["event"] == "step"] == [0, 100, 200]
    assert [e["step"] for e in lines if e["event"] == "eval"] == [100, 200, 300]  # and the final one
    assert lines[-1]["step"] == 300 and lines[-1]["state"] == "done"
    assert len(lines[-1]["samples"]) == 3


def test_cli_runner_captures_the_json_lines_of_every_invocation(small_words_path):
    args = ["--headless", "--data", str(small_words_path), "--steps", "20", "--eval-every", "0",
            "--num-samples", "1"]
    runner = CliRunner()
    first = runner.invoke(cli, args)
    second = runner.invoke(cli, args)
    assert first.exit_code == second.exit_code == 0
    assert [e["event"] for e in events(first.stdout)] == ["start", "step", "eval", "done"]
    assert [e["event"] for e in events(second.stdout)] == ["start", "step", "eval", "done"]


def test_headless_stdout_is_only_json_lines(small_words_path):
    result = mmtui("--headless", "--data", str(small_words_path), "--steps", "500", "--every", "100",
                   "--eval-every", "250", "--num-samples", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = events(result.stdout)  # every line parses as JSON
    assert all(isinstance(event, dict) and event["event"] in SCHEMA for event in lines)
    assert lines[-1]["event"] == "done" and lines[-1]["step"] == 500


# ---- exit codes and signals


def test_huge_weights_and_learning_rate_exit_3_with_a_diverged_line():
    result = mmtui("--init", "lecture", "--w1-scale", "1000", "--lr", "1000", "--headless")
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    lines = events(result.stdout)
    diverged = lines[-1]
    assert diverged["event"] == "diverged"
    assert isinstance(diverged["step"], int)
    assert diverged["loss"] is None or diverged["loss"] > 100 * math.log(27)
    assert "done" not in [e["event"] for e in lines]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_ends_a_headless_run_with_a_done_line_and_a_checkpoint(small_words_path, tmp_path, sig, code):
    saved = tmp_path / "run.pt"
    process = subprocess.Popen(
        [sys.executable, "-m", "mmtui", "--headless", "--data", str(small_words_path), "--steps", "1000000",
         "--num-samples", "2", "--save", str(saved), "--compile", "off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = ChildLines(process, TIMEOUT_S)
        lines.wait_for(lambda event: event["event"] == "step", "the step-0 line")  # training is under way
        process.send_signal(sig)
        stdout, stderr = lines.finish()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    done = events(stdout)[-1]
    assert done["event"] == "done"
    assert done["state"] == "stopped"
    assert 0 < done["step"] < 1_000_000
    assert len(done["samples"]) == 2
    assert {"event": "saved", "step": done["step"], "path": str(saved)}.items() <= \
        next(e for e in events(stdout) if e["event"] == "saved").items() and saved.stat().st_size > 0


def test_a_reader_that_closes_the_pipe_ends_the_run_quietly(small_words_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "mmtui", "--headless", "--data", str(small_words_path), "--steps", "1000000",
         "--every", "1", "--compile", "off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = ChildLines(process, TIMEOUT_S)
        assert lines.next_event()["event"] == "start"
        process.stdout.close()  # as `mmtui --headless | head -1` does
        _, stderr = process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert stderr == ""


# ---- help


def test_help_succeeds_and_lists_the_options():
    result = mmtui("--help")
    assert result.returncode == 0
    assert "--headless" in result.stdout and "--init" in result.stdout
    assert all(option in result.stdout for option in ("--save", "--load", "--stop-at", "--log"))
    assert result.stderr == ""


def test_help_does_not_import_torch():
    # main() ends the process with os._exit: the check runs there, as the process ends
    code = ("import os, sys; sys.argv = ['mmtui', '--help']; end = os._exit; "
            "os._exit = lambda code: (print('torch' in sys.modules, flush=True), end(code)); "
            "from mmtui import cli; cli.main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    assert "--headless" in result.stdout
    assert result.stdout.splitlines()[-1] == "False"


# ---- bad input: one line on stderr, exit 2, no traceback

BAD_OPTIONS = [
    ("--init", "nope"),
    ("--steps", "0"), ("--steps", "-5"), ("--steps", "many"),
    ("--batch-size", "0"), ("--batch-size", "-32"),
    ("--lr", "0"), ("--lr", "-0.1"),
    ("--embed", "0"), ("--embed", "-10"),
    ("--hidden", "0"), ("--hidden", "-1"),
    ("--block-size", "0"), ("--block-size", "-3"),
    ("--stop-at", "0"), ("--stop-at", "11"),  # above --steps 10
]
NON_FINITE_OPTIONS = [("--lr", "nan"), ("--w1-scale", "inf")]


@pytest.fixture(scope="module")
def bad_input_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every bad input through the real command, four at a time: each one that reaches the engine imports
    torch."""
    cases = {}
    for kind, (make, _) in BAD_DATA.items():
        path = make(tmp_path_factory.mktemp(kind))
        cases[kind] = ("--headless", "--data", str(path), "--steps", "10")
    for option, value in BAD_OPTIONS + NON_FINITE_OPTIONS:
        cases[f"{option}={value}"] = ("--headless", "--steps", "10", option, value)  # the last --steps wins
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda args: mmtui(*args), cases.values())
        return dict(zip(cases, results))


@pytest.mark.parametrize("kind", list(BAD_DATA))
def test_bad_data_gives_one_error_line_and_exit_2(bad_input_runs, kind):
    assert_one_line_error(bad_input_runs[kind], phrase=BAD_DATA[kind][1])


@pytest.mark.parametrize("option, value", BAD_OPTIONS, ids=[f"{o}={v}" for o, v in BAD_OPTIONS])
def test_bad_option_gives_one_error_line_and_exit_2(bad_input_runs, option, value):
    assert_one_line_error(bad_input_runs[f"{option}={value}"], phrase=option)


@pytest.mark.parametrize("option, value", NON_FINITE_OPTIONS, ids=[f"{o}={v}" for o, v in NON_FINITE_OPTIONS])
def test_non_finite_float_option_gives_one_error_line_and_exit_2(bad_input_runs, option, value):
    assert_one_line_error(bad_input_runs[f"{option}={value}"], phrase=option)


# The --no-terminal options are checked as they are read, before torch or Textual is imported.
BAD_NO_TERMINAL_OPTIONS = [("--keys", "500"), ("--keys", "x:3"), ("--keys", "500:"), ("--size", "10x5"),
                           ("--size", "wide"), ("--size", "160x")]


@pytest.mark.parametrize("option, value", BAD_NO_TERMINAL_OPTIONS,
                         ids=[f"{o}={v}" for o, v in BAD_NO_TERMINAL_OPTIONS])
def test_bad_no_terminal_option_gives_one_error_line_and_exit_2(option, value):
    assert_one_line_error(mmtui("--no-terminal", "--steps", "10", option, value), phrase=option)


def test_training_is_the_default_command_and_a_command_of_its_own(small_words_path):
    args = ["--headless", "--data", str(small_words_path), "--steps", "20", "--eval-every", "0",
            "--num-samples", "1"]
    runner = CliRunner()
    default, named = runner.invoke(cli, args), runner.invoke(cli, ["train", *args])
    assert default.exit_code == named.exit_code == 0, default.output + named.output
    without_time = [[{k: v for k, v in e.items() if k not in ("seconds", "steps_per_s")}
                     for e in events(r.stdout)]
                    for r in (default, named)]
    assert without_time[0] == without_time[1] and without_time[0][-1]["step"] == 20
