"""The --log run file: one writer and one reader, lossless, from headless runs and from a UI's trainer."""

from __future__ import annotations

import io
import json
import math
import queue
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from mmtui.cli import cli
from mmtui.engine.checkpoint import load_checkpoint
from mmtui.engine.config import RunFiles, TrainConfig
from mmtui.measure.pacing import Pacing
from mmtui.engine.trainer import Trainer
from mmtui.engine.words import read_words
from mmtui.records import (DIVERGED, ActivationStats, EvalResult, Histogram, ParamStats, Reinit, RunInfo,
                           Scalar, Snapshot)
from mmtui.runfile import RunFileError, RunFileReader, RunFileWriter, read_run_file
from mmtui.sources.trainer import TrainerSource

from app_sources import svg_text
from test_headless_cli import SCHEMA, TIMEOUT_S, assert_one_line_error, events, mmtui

# compile off: a compiled step built in the background would take a core from the tests that follow
QUICK = TrainConfig(steps=1_000_000, eval_every=0, num_samples=2, compile="off")


def headless_args(data, *more: str) -> list[str]:
    return ["--headless", "--data", str(data), "--steps", "300", "--every", "100", "--eval-every", "100",
            "--num-samples", "2", *more]


def read_lines(path) -> list[dict]:
    """The run file's whole lines as JSON: a line still being written is left out."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return events(text[:text.rfind("\n") + 1])


def wait_for_lines(path, condition, timeout: float = TIMEOUT_S) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = read_lines(path)
        if condition(lines):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"the run file {path} did not get the lines awaited in time")


def round_trip(snapshots: list[Snapshot]) -> list[Snapshot]:
    """Written by the one writer, read back by the one reader; the reader's stream name taken off."""
    stream = io.StringIO()
    writer = RunFileWriter(stream)
    for snapshot in snapshots:
        writer.write(snapshot)
    reader = RunFileReader()
    read = [reader.read_line(line) for line in stream.getvalue().splitlines()]
    return [replace(s, run=replace(s.run, stream="")) for s in read if s is not None]


# ---- lossless

@pytest.mark.parametrize("model", ["mlp", "deep-bn"])
def test_every_snapshot_of_a_real_run_reads_back_equal(small_dataset, model):
    snapshots = []
    commands = queue.Queue()
    commands.put(Reinit(init="kaiming"))  # applied before step 0: a second run, with its own start line
    trainer = Trainer(TrainConfig(model=model, steps=120, eval_every=50, num_samples=3), small_dataset,
                      snapshots.append, commands=commands, pacing=Pacing(snapshot_every=40))
    trainer.run()
    for kind in ("layers", "params", "evals", "samples"):  # every kind of field is held by some snapshot
        assert any(getattr(s, kind) for s in snapshots), kind
    assert len({s.run.run_id for s in snapshots}) == 1 and snapshots[0].run.run_id == 1
    assert round_trip(snapshots) == snapshots
    assert sum(len(s.losses) for s in round_trip(snapshots)) == 120  # every minibatch loss


def test_non_finite_values_and_save_messages_read_back_as_they_were():
    stats = ActivationStats(step=3, saturation=12.5, share_99=3.0, dead_units=2, units=70, mean=-0.1, std=0.8,
                            hist_edges=(-1.0, 0.0, 1.0), hist_counts=(4, 6), layer=1, grad_mean=math.nan,
                            grad_std=math.inf, white_rows=(0, (1 << 69) | 5), saturated_at=0.9, white_at=0.95,
                            name="blocks.0.act  Softplus", kind="rectifier", flat_below=math.log(2))
    param = ParamStats("W1", (30, 70), 1e-3, 2e-3, math.inf, -math.inf, (-1.0, 1.0), (7,))
    info = RunInfo(run_id=4, name="a run", model="net",
                   settings={"lr": 0.1, "note": "x", "nested": [1, {"a": None}]},
                   total_steps=None, num_params=None, vocab_size=None, expected_init_loss=None)
    snapshot = Snapshot(run=info, state=DIVERGED, step=4, first_loss_step=1,
                        losses=(2.5, math.inf, -math.inf),
                        lr=None, steps_per_s=0.0, init_loss=2.5, layers=(stats,), params=(param,),
                        evals=(EvalResult(4, None, 3.25),), samples=("", "ann"), last_finite_loss=2.5,
                        diverged_loss=math.nan, saved="run.pt", save_error="disk full",
                        scalars=(Scalar("lr", 3, 0.1), Scalar("grad_norm", 4, math.inf)),
                        notes=("no loss seen",),
                        weights=(Histogram("weights/fc.weight", 4, 0.0, math.inf, (-1.0, 0.0, 1.0), (3, 5)),))
    (back,) = round_trip([snapshot])
    assert math.isnan(back.diverged_loss) and math.isnan(back.layers[0].grad_mean)
    assert replace(back, diverged_loss=None, layers=()) == replace(snapshot, diverged_loss=None, layers=())
    assert replace(back.layers[0], grad_mean=0.0) == replace(stats, grad_mean=0.0)


def test_the_file_is_standard_json_with_a_versioned_header(small_words_path, tmp_path):
    log = tmp_path / "run.jsonl"
    result = CliRunner().invoke(cli,
                                headless_args(small_words_path, "--log", str(log), "--diverge-at", "1e9"))
    assert result.exit_code == 0, result.output
    for line in log.read_text(encoding="utf-8").splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} is not standard JSON"))
    header, start = read_lines(log)[:2]
    assert header["format"] == "mmtui-run" and header["version"] == 2
    assert start["event"] == "start" and start["settings"]["steps"] == 300 and start["vocab_size"] > 0


# ---- --log writes it

def test_headless_log_keeps_every_loss_and_stdout_keeps_its_lines(small_words_path, tmp_path):
    log = tmp_path / "run.jsonl"
    result = CliRunner().invoke(cli, headless_args(small_words_path, "--log", str(log)))
    assert result.exit_code == 0, result.output
    assert [e["event"] for e in events(result.stdout)] == ["start", "step", "eval", "step", "eval", "step",
                                                           "eval", "done"]
    snapshots = read_run_file(str(log))
    losses = [loss for s in snapshots for loss in s.losses]
    assert len(losses) == 300 and snapshots[0].first_loss_step == 0
    printed = {e["step"]: e["loss"] for e in events(result.stdout) if e["event"] == "step"}
    assert all(losses[step] == loss for step, loss in printed.items())
    assert [e["val_loss"] for e in events(result.stdout) if e["event"] == "eval"] == \
        [e.val_loss for s in snapshots for e in s.evals]
    assert [e["event"] for e in read_lines(log)].count("done") == 1  # the scripts' events are in the file too


def test_appending_to_a_run_file_adds_a_session_whose_runs_are_told_apart(small_words_path, tmp_path):
    log = tmp_path / "run.jsonl"
    runner = CliRunner()
    first = runner.invoke(cli, headless_args(small_words_path, "--log", str(log), "--init", "lecture"))
    second = runner.invoke(cli, headless_args(small_words_path, "--log", str(log), "--init", "kaiming"))
    assert first.exit_code == second.exit_code == 0
    runs = {(s.run.stream, s.run.settings["init"]) for s in read_run_file(str(log))}
    assert runs == {(str(log), "lecture"), (f"{log} (session 2)", "kaiming")}


def test_a_killed_run_leaves_every_line_whole(small_words_path, tmp_path):
    log = tmp_path / "run.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "mmtui", "--headless", "--data", str(small_words_path), "--steps", "1000000",
         "--every", "10", "--log", str(log), "--compile", "off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_lines(log, lambda lines: any(e.get("step", 0) >= 500 for e in lines))
        process.send_signal(signal.SIGKILL)  # no handler, no flush at exit
        process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    snapshots = read_run_file(str(log))  # raises on a damaged line
    assert snapshots[0].first_loss_step == 0
    assert all(b.first_loss_step == a.first_loss_step + len(a.losses)
               for a, b in zip(snapshots, snapshots[1:]))
    assert sum(len(s.losses) for s in snapshots) == snapshots[-1].step >= 500  # none lost before the kill


def test_ui_trainer_process_writes_a_start_line_for_each_reinit(small_words_path, tmp_path):
    log = tmp_path / "tui.jsonl"

    def run_reached(lines, run_id: int, step: int) -> bool:
        return any(e.get("event") == "snapshot" and e["run_id"] == run_id and e["step"] >= step
                   for e in lines)

    source = TrainerSource(QUICK, read_words(small_words_path), process=True, files=RunFiles(log=str(log)))
    source.start()
    try:  # the test never reads the source's snapshots, as a UI busy drawing: the file fills regardless
        wait_for_lines(log, lambda lines: run_reached(lines, 0, 100))
        source.send(Reinit(init="kaiming"))
        lines = wait_for_lines(log, lambda lines: run_reached(lines, 1, 100))
    finally:
        source.close()
    starts = [i for i, e in enumerate(lines) if e.get("event") == "start"]
    assert [lines[i]["settings"]["init"] for i in starts] == ["lecture", "kaiming"]
    assert lines[starts[1] + 1]["first_loss_step"] == 0  # the new run's step 0


def test_tui_writes_the_run_file_and_the_checkpoint_from_its_trainer(small_words_path, tmp_path):
    log, checkpoint, screenshot = tmp_path / "tui.jsonl", tmp_path / "tui.pt", tmp_path / "end.svg"
    result = mmtui("--no-terminal", "--data", str(small_words_path), "--steps", "2000",
                   "--eval-every", "1000", "--num-samples", "2", "--keys", "500:4", "--log", str(log),
                   "--save", str(checkpoint),
                   "--screenshot", str(screenshot), "--size", "120x40")
    assert result.returncode == 0, result.stderr
    svg = screenshot.read_text(encoding="utf-8")
    assert ElementTree.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
    screen = svg_text(svg).splitlines()
    assert len(screen) == 40 and max(len(row) for row in screen) <= 120  # --size
    assert "╭─ Loss" in screen[0] and "previous: mlp lecture x1" in "\n".join(screen)  # the 4 key's reinit
    # the screen at the end
    assert re.search(r"done  ·  init kaiming  ·  step 2,000 / 2,000", "\n".join(screen))
    snapshots = read_run_file(str(log))
    assert [s.run.settings["init"] for s in snapshots if s.first_loss_step == 0] == ["lecture", "kaiming"]
    assert snapshots[-1].saved == str(checkpoint) and snapshots[-1].step == 2000
    assert load_checkpoint(checkpoint).config.init == "kaiming" and load_checkpoint(checkpoint).step == 2000


@pytest.mark.parametrize("kind", ["directory", "missing directory"])
def test_unwritable_log_path_gives_one_error_line_and_exit_2(tmp_path, kind):
    path = tmp_path if kind == "directory" else tmp_path / "absent" / "run.jsonl"
    assert_one_line_error(mmtui("--headless", "--steps", "10", "--log", str(path)), "--log")


# ---- the reader refuses what it cannot read

@pytest.mark.parametrize("line, phrase", [
    ('{"format": "mmtui-run", "version": 3}', "version 3 is newer"),
    ('{"format": "other", "version": 1}', "not an mmtui run file"),
    ('{"event": "step", "step": 0}', "no mmtui run file header"),
    ("not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
])
def test_a_line_the_reader_cannot_take_raises_a_run_file_error_naming_it(line, phrase):
    with pytest.raises(RunFileError, match=phrase):
        RunFileReader().read_line(line)


def test_a_damaged_snapshot_line_is_one_error_and_the_next_lines_still_read(small_dataset):
    snapshots = []
    Trainer(TrainConfig(steps=30, eval_every=0, num_samples=1), small_dataset, snapshots.append,
            pacing=Pacing(snapshot_every=10)).run()
    stream = io.StringIO()
    writer = RunFileWriter(stream)
    for snapshot in snapshots:
        writer.write(snapshot)
    lines = stream.getvalue().splitlines()
    damaged = [i for i, line in enumerate(lines) if '"event":"snapshot"' in line][1]
    lines[damaged] = lines[damaged].replace('"losses":[', '"losses":["oops",')
    reader = RunFileReader()
    read, errors = [], []
    for line in lines:
        try:
            read.append(reader.read_line(line))
        except RunFileError as error:
            errors.append(str(error))
    assert len(errors) == 1 and "snapshot" in errors[0]
    assert [s.step for s in read if s is not None] == [s.step for i, s in enumerate(snapshots) if i != 1]
