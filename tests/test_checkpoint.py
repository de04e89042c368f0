"""Checkpoints: a resumed run repeats the uninterrupted run's numbers; saving is atomic; bad checkpoints are
refused."""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import zipfile
from dataclasses import replace
from pathlib import Path
from io import StringIO

import pytest
import torch
from click.testing import CliRunner

import mmtui.engine.checkpoint as checkpoint_module
import mmtui.paths as paths_module
from mmtui.cli import cli
from mmtui.engine.checkpoint import CheckpointError, check_resumable, load_checkpoint
from mmtui.engine.config import FORMER_PACING_FIELDS, RunFiles, TrainConfig, Tunables
from mmtui.measure.pacing import Pacing
from mmtui.engine.trainer import Trainer
from mmtui.engine.words import Vocab, read_words, words_digest
from mmtui.headless import run_headless
from mmtui.records import DIVERGED, DONE, STOPPED, Reinit, Save, Stop
from mmtui.sources.trainer import TrainerSource

from child_output import ChildLines, Deadline
from test_headless_cli import TIMEOUT_S, assert_one_line_error, events, mmtui

# compile off: a compiled step built in the background would take a core from the tests that follow
QUICK = TrainConfig(steps=600, eval_every=0, num_samples=3, compile="off")
PACE = Pacing(snapshot_every=100)
BUFFERS = {"mlp": 0, "mlp-bn": 2, "deep": 0, "deep-bn": 12}  # running mean and var of each BatchNorm1d


# Minibatch indices drawn 64 steps at a time: a 600-step run crosses nine block boundaries and a save at step
# 301 falls inside a block, which the resumed run must redraw.
SMALL_BLOCKS = Tunables(index_block=64)


def run_trainer(config, dataset, on_snapshot=None, commands=None, cancel=None, save_path=None,
                tunables=Tunables(), **run_options):
    """Run to the end; returns (the run's final state, every snapshot emitted). on_snapshot may send
    commands."""
    snapshots = []

    def emit(snapshot):
        snapshots.append(snapshot)
        if on_snapshot is not None:
            on_snapshot(snapshot)

    trainer = Trainer(config, dataset, emit, commands=commands, cancel=cancel, save_path=save_path,
                      pacing=PACE, tunables=tunables)
    return trainer.run(**run_options), snapshots


def all_losses(snapshots) -> list[float]:
    return [loss for snapshot in snapshots for loss in snapshot.losses]


def once(command, when):
    """An on_snapshot hook and its queue: `command` (or commands) sent at the first snapshot that `when`
    accepts."""
    commands, sent = queue.Queue(), []

    def hook(snapshot):
        if not sent and when(snapshot):
            sent.append(snapshot.step)
            for item in command if isinstance(command, tuple) else (command,):
                commands.put(item)

    return hook, commands


def save_and_stop(config, dataset, path, after_step: int, tunables=Tunables()):
    """Train until a snapshot past `after_step`, then send Save and Stop; returns every snapshot."""
    hook, commands = once((Save(), Stop()), lambda snapshot: snapshot.step > after_step)
    _, snapshots = run_trainer(config, dataset, hook, commands, save_path=str(path), tunables=tunables)
    return snapshots


def resume(config, dataset, path, tunables=Tunables()):
    """Run `config` from the checkpoint at `path` to its end; returns every snapshot."""
    snapshots = []
    Trainer(config, dataset, snapshots.append, resume=load_checkpoint(path), pacing=PACE,
            tunables=tunables).run()
    return snapshots


# ---- resuming repeats the uninterrupted run


@pytest.mark.parametrize("model", list(BUFFERS))
def test_a_run_saved_midway_and_resumed_gives_the_uninterrupted_runs_losses_step_for_step(
        small_dataset, tmp_path, model):
    config = replace(QUICK, model=model, init="kaiming")
    _, uninterrupted = run_trainer(config, small_dataset, tunables=SMALL_BLOCKS)
    path = tmp_path / "run.pt"
    interrupted = save_and_stop(config, small_dataset, path, after_step=300, tunables=SMALL_BLOCKS)
    saved = load_checkpoint(path)
    assert [s.saved for s in interrupted if s.saved] == [str(path)]
    assert saved.step == 301 and 0 < saved.batch_position < 64  # inside an index block

    resumed = resume(config, small_dataset, path, SMALL_BLOCKS)

    assert resumed[0].first_loss_step == 301
    assert all_losses(resumed) == all_losses(uninterrupted)[301:]
    assert resumed[-1].state == DONE and resumed[-1].step == 600
    assert resumed[-1].evals[-1] == uninterrupted[-1].evals[-1]
    assert resumed[-1].samples == uninterrupted[-1].samples  # the sampling generator continues too


def test_resuming_with_more_steps_gives_the_losses_of_an_uninterrupted_run_of_that_length(small_dataset,
                                                                                          tmp_path):
    # Saved at step 201 of 600 inside the first block of indices (600 drawn), resumed to 1200 (that block
    # holds 1024 then): the same indices, and the MLP's lr is 0.1 before step 300 for either length.
    path = tmp_path / "run.pt"
    save_and_stop(replace(QUICK, init="kaiming"), small_dataset, path, after_step=200)
    longer = replace(QUICK, init="kaiming", steps=1200)
    _, uninterrupted = run_trainer(longer, small_dataset)

    resumed = resume(longer, small_dataset, path)

    assert load_checkpoint(path).step == 201
    assert all_losses(resumed) == all_losses(uninterrupted)[201:]
    assert resumed[-1].evals[-1].val_loss == uninterrupted[-1].evals[-1].val_loss


@pytest.mark.parametrize("model", ["mlp", "deep-bn"])
def test_cli_run_stopped_at_300_and_resumed_to_600_ends_with_the_uninterrupted_val_loss(small_words_path,
                                                                                       tmp_path, model):
    common = ["--headless", "--data", str(small_words_path), "--steps", "600", "--every", "50",
              "--eval-every", "0", "--num-samples", "3", "--model", model]
    path = str(tmp_path / "run.pt")
    runner = CliRunner()
    uninterrupted = runner.invoke(cli, common)
    stopped = runner.invoke(cli, common + ["--stop-at", "300", "--save", path])
    resumed = runner.invoke(cli, ["--headless", "--load", path, "--every", "50", "--eval-every", "0",
                                  "--num-samples", "3"])

    assert uninterrupted.exit_code == stopped.exit_code == resumed.exit_code == 0, resumed.output
    stopped_lines, resumed_lines = events(stopped.stdout), events(resumed.stdout)
    full = events(uninterrupted.stdout)
    assert [e["event"] for e in stopped_lines[-2:]] == ["saved", "done"]
    assert stopped_lines[-1]["state"] == "stopped" and stopped_lines[-1]["step"] == 300
    assert stopped_lines[-2]["step"] == 300
    assert resumed_lines[0]["event"] == "start" and resumed_lines[0]["step"] == 300
    assert resumed_lines[0]["config"] == full[0]["config"]  # the checkpoint's config: model, data, steps, ...
    steps_after = [(e["step"], e["loss"]) for e in full if e["event"] == "step" and e["step"] >= 300]
    assert [(e["step"], e["loss"]) for e in resumed_lines if e["event"] == "step"] == steps_after
    assert resumed_lines[-1]["val_loss"] == full[-1]["val_loss"]
    assert resumed_lines[-1]["train_loss"] == full[-1]["train_loss"]
    assert resumed_lines[-1]["samples"] == full[-1]["samples"]  # saved before the stop's own samples


# ---- what a checkpoint holds


@pytest.mark.parametrize("model", list(BUFFERS))
def test_checkpoint_holds_every_parameter_and_batchnorm_running_statistic(small_dataset, tmp_path, model):
    trainer = Trainer(replace(QUICK, model=model, steps=50), small_dataset, lambda _: None)
    trainer.run()
    path = tmp_path / "run.pt"
    trainer.save(str(path))
    saved = load_checkpoint(path)
    live = trainer.params + trainer.model.buffers()

    assert len(saved.buffers) == BUFFERS[model]
    assert all(torch.equal(a, b) for a, b in zip(saved.parameters + saved.buffers, live, strict=True))
    if BUFFERS[model]:  # trained statistics, not the zeros and ones of a fresh BatchNorm
        assert not torch.equal(saved.buffers[0], torch.zeros_like(saved.buffers[0]))
    restored = Trainer(replace(QUICK, model=model), small_dataset, lambda _: None, resume=saved)
    restored_tensors = restored.params + restored.model.buffers()
    assert all(torch.equal(a, b) for a, b in zip(restored_tensors, live, strict=True))
    assert saved.config == trainer.config and saved.step == 50 and restored.step == 50
    assert restored.init_loss == trainer.init_loss
    assert saved.vocab == small_dataset.vocab.chars


def test_a_resumed_run_samples_the_names_that_the_saved_run_would_sample_next(small_dataset, tmp_path):
    trainer = Trainer(replace(QUICK, steps=50), small_dataset, lambda _: None)
    trainer.run()  # samples at the end: the sampling generator has moved on from its seed
    path = tmp_path / "run.pt"
    trainer.save(str(path))
    resumed = Trainer(replace(QUICK, steps=100), small_dataset, lambda _: None, resume=load_checkpoint(path))
    assert resumed.sample() == trainer.sample()


def plain(value) -> bool:
    """True when a checkpoint value holds only types that torch.load(weights_only=True) rebuilds without
    code."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(plain(item) for item in value)
    return value is None or type(value) in (str, int, float, bool, torch.Tensor)


def test_checkpoint_file_holds_only_plain_values_with_a_format_and_version(small_dataset, tmp_path):
    trainer = Trainer(replace(QUICK, steps=10), small_dataset, lambda _: None)
    trainer.run()
    path = tmp_path / "run.pt"
    trainer.save(str(path))
    data = torch.load(path, weights_only=True)
    assert plain(data)
    assert data["format"] == "mmtui-checkpoint" and data["version"] == checkpoint_module.FORMAT_VERSION
    assert set(data["config"]) == {f.name for f in dataclasses.fields(TrainConfig)}


# ---- writing


def test_save_replaces_the_file_and_leaves_no_temporary_file(small_dataset, tmp_path):
    trainer = Trainer(replace(QUICK, steps=20), small_dataset, lambda _: None)
    path = tmp_path / "run.pt"
    trainer.save(str(path))
    trainer.run()
    trainer.save(str(path))
    assert os.listdir(tmp_path) == ["run.pt"]
    assert load_checkpoint(path).step == 20


def test_a_save_that_fails_midway_keeps_the_previous_checkpoint_whole(small_dataset, tmp_path, monkeypatch):
    trainer = Trainer(replace(QUICK, steps=20), small_dataset, lambda _: None)
    path = tmp_path / "run.pt"
    trainer.save(str(path))
    trainer.run()

    def disk_full(fd):  # the data went into the page cache; flushing it finds no room
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(paths_module.os, "fsync", disk_full)
    with pytest.raises(CheckpointError, match="cannot write checkpoint .*No space left"):
        trainer.save(str(path))
    assert os.listdir(tmp_path) == ["run.pt"]
    assert load_checkpoint(path).step == 0


def test_save_command_writes_the_current_step_and_training_goes_on(small_dataset, tmp_path):
    path = tmp_path / "run.pt"
    hook, commands = once(Save(), lambda snapshot: snapshot.step == 101)
    state, snapshots = run_trainer(replace(QUICK, steps=300), small_dataset, hook, commands,
                                   save_path=str(path))
    reports = [s for s in snapshots if s.saved or s.save_error]
    assert state == DONE and snapshots[-1].step == 300
    assert [(s.step, s.saved) for s in reports] == [(101, str(path)), (300, str(path))]  # the Save, the end
    assert load_checkpoint(path).step == 300


def test_save_command_without_a_save_path_reports_why_and_training_goes_on(small_dataset):
    commands = queue.Queue()
    commands.put(Save())
    state, snapshots = run_trainer(replace(QUICK, steps=100), small_dataset, commands=commands)
    assert state == DONE and snapshots[-1].step == 100
    assert "--save" in snapshots[0].save_error and snapshots[0].saved is None


def test_a_failed_save_is_reported_and_training_goes_on(small_dataset, tmp_path):
    commands = queue.Queue()
    commands.put(Save())
    state, snapshots = run_trainer(replace(QUICK, steps=100), small_dataset, commands=commands,
                                   save_path=str(tmp_path / "gone" / "run.pt"))
    assert state == DONE and snapshots[-1].step == 100
    assert snapshots[0].save_error.startswith("cannot write checkpoint")
    assert snapshots[-1].save_error.startswith("cannot write checkpoint")  # the end-of-run save failed too


def test_a_headless_run_whose_final_save_fails_prints_done_then_raises(small_words_path, tmp_path):
    out = StringIO()
    with pytest.raises(CheckpointError, match="cannot write checkpoint"):
        run_headless(replace(QUICK, steps=20), read_words(small_words_path), out,
                     files=RunFiles(save=str(tmp_path / "gone" / "run.pt")))
    assert [e["event"] for e in events(out.getvalue())][-2:] == ["save_failed", "done"]


def test_a_diverged_run_is_not_saved_at_its_end(small_dataset, tmp_path):
    config = replace(QUICK, init="lecture", w1_scale=1000, lr=1000, steps=1000)
    state, _ = run_trainer(config, small_dataset, save_path=str(tmp_path / "run.pt"))
    assert state == DIVERGED
    assert not (tmp_path / "run.pt").exists()


def test_stop_at_ends_the_run_stopped_with_a_final_eval_samples_and_a_checkpoint(small_dataset, tmp_path):
    path = tmp_path / "run.pt"
    state, snapshots = run_trainer(replace(QUICK, stop_at=250), small_dataset, save_path=str(path))
    final = snapshots[-1]
    assert state == STOPPED and final.state == STOPPED and final.step == 250
    assert final.evals[-1].step == 250 and len(final.samples) == 3 and final.saved == str(path)
    assert final.lr == QUICK.lr_at(249) == 0.1  # the 600-step schedule: no decay before step 300
    assert load_checkpoint(path).step == 250


def test_a_ui_trainer_stopped_at_stop_at_waits_for_a_reinit(small_dataset):
    commands = queue.Queue()

    def reinit_once_stopped(snapshot):
        if snapshot.state == STOPPED:
            commands.put(Reinit(init="kaiming") if snapshot.run.run_id == 0 else Stop())

    state, snapshots = run_trainer(replace(QUICK, stop_at=100), small_dataset, reinit_once_stopped, commands,
                                   exit_when_done=False)
    finals = [s for s in snapshots if s.state == STOPPED]
    assert state == STOPPED
    assert [(s.run.run_id, s.step) for s in finals] == [(0, 100), (1, 100)]  # the Stop finishes nothing again


def test_closing_a_ui_host_saves_the_run_where_it_stands(small_words_path, tmp_path):
    path = tmp_path / "run.pt"
    host = TrainerSource(replace(QUICK, steps=1_000_000), read_words(small_words_path),
                         files=RunFiles(save=str(path)), pacing=Pacing(snapshot_every=50))
    host.start()
    try:
        seen = 0
        # a stalled child fails
        deadline = Deadline(TIMEOUT_S, "waiting for the trainer's snapshot of step 200")
        while seen < 200:
            items = host.receive(timeout=deadline.left())
            seen = max([item.step for item in items if hasattr(item, "step")] + [seen])
    finally:
        host.close()  # as the TUI quits: cancel, then the trainer saves in its process
    assert load_checkpoint(path).step >= seen


# ---- resuming refuses what does not fit


def test_resuming_on_other_data_or_with_other_settings_is_refused(small_dataset, bundled_words, tmp_path):
    trainer = Trainer(replace(QUICK, steps=10), small_dataset, lambda _: None)
    trainer.run()
    saved = trainer.checkpoint()
    other_words = sorted(bundled_words[:1000])  # the same characters, in another order
    chars, digest = small_dataset.vocab.chars, small_dataset.words_sha256
    cases = {
        "vocabulary": (QUICK, chars[:-1], digest),
        "another word list": (QUICK, Vocab.from_words(other_words).chars, words_digest(other_words)),
        "lr": (replace(QUICK, lr=0.2), chars, digest),
        "total steps": (replace(QUICK, steps=10), chars, digest),
        "stop step": (replace(QUICK, stop_at=10), chars, digest),
    }
    for phrase, (config, vocab, words_sha256) in cases.items():
        with pytest.raises(CheckpointError, match=phrase):
            check_resumable(saved, config, vocab, words_sha256)
    check_resumable(saved, replace(QUICK, steps=11, stop_at=11, eval_every=5), chars, digest)  # fits


def write_checkpoint(path, name: str, **changes):
    """A copy of a real checkpoint named `name`, with some entries changed (or, for None, removed)."""
    data = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return _saved(path, name, data)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory, small_words_path):
    """A real checkpoint (mlp, 600 steps, stopped at 300) written by the command."""
    path = tmp_path_factory.mktemp("saved") / "run.pt"
    result = CliRunner().invoke(cli, ["--headless", "--data", str(small_words_path), "--steps", "600",
                                      "--stop-at", "300", "--eval-every", "0", "--num-samples", "1",
                                      "--save", str(path)])
    assert result.exit_code == 0, result.output
    return path


BAD_CHECKPOINTS = {
    # kind -> (how to make it from a real checkpoint, a phrase the one-line error must hold)
    "missing": (lambda p: p.with_name("absent.pt"), "not found"),
    "directory": (lambda p: p.parent, "directory"),
    "empty": (lambda p: _bytes(p, "empty.pt", b""), "truncated or corrupt"),
    "truncated": (lambda p: _bytes(p, "truncated.pt", p.read_bytes()[:2000]), "truncated or corrupt"),
    "word list": (lambda p: _bytes(p, "names.txt", b"emma\nolivia\n"), "not an mmtui checkpoint"),
    "code": (lambda p: _saved(p, "code.pt", {"format": TrainConfig()}), "not an mmtui checkpoint"),
    "foreign dict": (lambda p: _saved(p, "dict.pt", {"weights": torch.zeros(3)}), "not an mmtui checkpoint"),
    "version": (lambda p: write_checkpoint(p, "v99.pt", version=99), "version 99"),
    "missing field": (lambda p: write_checkpoint(p, "stepless.pt", step=None), "'step'"),
    "config": (lambda p: write_checkpoint(p, "config.pt", config={"model": "mlp"}), "config fields"),
    "unknown model": (lambda p: write_checkpoint(p, "gpt.pt", config=_config(p, model="gpt")),
                      "invalid config"),
    "sizes": (lambda p: write_checkpoint(p, "sizes.pt", config=_config(p, hidden=100)),
              "does not fit its config"),
    "generator": (lambda p: write_checkpoint(p, "generator.pt", sample_generator_state=torch.zeros(3).byte()),
                  "generator state"),
    # torch would warn "Detected pickle protocol 4" on the terminal before refusing it
    "plain pickle": (lambda p: _bytes(p, "plain.pt",
                                      pickle.dumps({"format": "mmtui-checkpoint"}, protocol=4)),
                     "truncated or corrupt"),
    "zip bomb": (lambda p: zip_bomb(p, p.with_name("bomb.pt"), 64 << 20), "holds a compressed entry"),
}


def zip_bomb(saved: Path, target: Path, inflated: int) -> Path:
    """The saved checkpoint's archive with its first tensor's record swapped for `inflated` bytes of zeros,
    deflated: a file of ~1/1000 that size, which torch.load would inflate in memory before any check."""
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(target, "w") as bomb:
        for entry in source.infolist():
            if entry.filename.endswith("/data/0"):
                record = zipfile.ZipInfo(entry.filename)
                record.compress_type = zipfile.ZIP_DEFLATED
                with bomb.open(record, "w", force_zip64=True) as out:
                    for _ in range(inflated >> 20):
                        out.write(bytes(1 << 20))
            else:
                bomb.writestr(entry, source.read(entry))
    return target


BOMB_RSS = """
import resource, sys
from mmtui.engine.checkpoint import CheckpointError, load_checkpoint
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_checkpoint(sys.argv[1])
except CheckpointError as error:
    print(error)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) >> 10)
"""


def test_a_zip_bomb_is_refused_before_torch_inflates_it(saved_run):
    bomb = zip_bomb(saved_run, saved_run.with_name("bomb-256m.pt"), 256 << 20)  # 256 MiB of tensor in ~300 KB
    assert bomb.stat().st_size < 1 << 20
    result = subprocess.run([sys.executable, "-c", BOMB_RSS, str(bomb)], capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    refusal, grown_mib = result.stdout.splitlines()
    assert "holds a compressed entry" in refusal and result.stderr == ""
    assert int(grown_mib) < 64  # the peak RSS grew by less than 64 MiB: the GiB was never allocated


def _bytes(path, name, data: bytes):
    target = path.with_name(name)
    target.write_bytes(data)
    return target


def _saved(path, name, value):
    target = path.with_name(name)
    torch.save(value, target)
    return target


def _config(path, **changes) -> dict:
    return torch.load(path, weights_only=True)["config"] | changes


def test_a_checkpoint_of_an_earlier_mmtui_with_ui_pacing_in_its_config_still_loads(saved_run):
    # Earlier versions stored the UI's pacing in the config; it is the watcher's now, and ignored when read.
    former = {"snapshot_every": 0, "snapshot_interval_s": 0.1, "stats_interval_s": 0.5,
              "sample_interval_s": 5.0, "eval_train_every": False}
    assert set(former) == FORMER_PACING_FIELDS
    old = write_checkpoint(saved_run, "old.pt", config=_config(saved_run, **former))
    assert load_checkpoint(old).config == load_checkpoint(saved_run).config
    assert load_checkpoint(old).step == 300


@pytest.mark.parametrize("kind", list(BAD_CHECKPOINTS))
def test_bad_checkpoint_gives_one_error_line_and_exit_2(saved_run, small_words_path, kind):
    make, phrase = BAD_CHECKPOINTS[kind]
    result = CliRunner().invoke(cli, ["--headless", "--load", str(make(saved_run)),
                                      "--data", str(small_words_path)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert result.stdout == ""
    assert result.stderr.startswith("mmtui: error:") and len(result.stderr.splitlines()) == 1, result.stderr
    assert phrase in result.stderr


def test_checkpoint_saved_with_code_in_it_is_refused_without_running_it(saved_run, tmp_path):
    marker = tmp_path / "ran"
    target = _saved(saved_run, "evil.pt", {"format": "mmtui-checkpoint", "payload": RunsCode(str(marker))})
    with pytest.raises(CheckpointError, match="not an mmtui checkpoint"):
        load_checkpoint(target)
    assert not marker.exists()


class RunsCode:
    """Unpickling it would create a file: what weights_only=True must refuse to do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


RESUME_MISMATCHES = {
    "other vocabulary": (["--data", "{other}"], "vocabulary"),
    "other words": (["--data", "{fewer}"], "another word list"),
    "steps not above the saved step": (["--steps", "300"], "must be above it"),
}


@pytest.mark.parametrize("kind", list(RESUME_MISMATCHES))
def test_resuming_on_mismatched_data_or_steps_gives_one_error_line_and_exit_2(saved_run, small_words_path,
                                                                              tmp_path, kind):
    other = tmp_path / "other.txt"
    other.write_text("\n".join(f"zz{c}q" for c in "abcdefghijkl") + "\n", encoding="utf-8")
    fewer = tmp_path / "fewer.txt"
    fewer.write_text("\n".join(small_words_path.read_text(encoding="utf-8").split()[:-1]), encoding="utf-8")
    options, phrase = RESUME_MISMATCHES[kind]
    options = [o.format(other=other, fewer=fewer) for o in options]
    result = CliRunner().invoke(cli, ["--headless", "--load", str(saved_run), *options])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("mmtui: error:") and len(result.stderr.splitlines()) == 1, result.stderr
    assert phrase in result.stderr


def test_the_real_command_reports_a_truncated_checkpoint_in_one_line(saved_run, small_words_path):
    truncated = _bytes(saved_run, "cut.pt", saved_run.read_bytes()[:-100])
    assert_one_line_error(mmtui("--headless", "--load", str(truncated), "--data", str(small_words_path)),
                          "truncated or corrupt")


@pytest.mark.parametrize("option", ["--lr", "--model", "--seed", "--hidden"])
def test_options_that_define_the_run_cannot_be_combined_with_load(saved_run, option):
    value = {"--lr": "0.2", "--model": "deep", "--seed": "1", "--hidden": "10"}[option]
    assert_one_line_error(mmtui("--headless", "--load", str(saved_run), option, value), option)


@pytest.mark.parametrize("kind", ["directory", "missing directory"])
def test_unwritable_save_path_gives_one_error_line_and_exit_2_before_training(tmp_path, kind):
    path = tmp_path if kind == "directory" else tmp_path / "absent" / "run.pt"
    assert_one_line_error(mmtui("--headless", "--steps", "10", "--save", str(path)), "--save")


# ---- signals


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_signal_finishes_the_step_prints_done_saves_and_exits(small_words_path, tmp_path, sig, code):
    path = tmp_path / "run.pt"
    process = subprocess.Popen(
        [sys.executable, "-m", "mmtui", "--headless", "--data", str(small_words_path), "--steps", "1000000",
         "--every", "100", "--num-samples", "2", "--save", str(path), "--compile", "off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = ChildLines(process, TIMEOUT_S)
        # a few hundred steps in
        lines.wait_for(lambda event: event.get("step", 0) >= 200, "a line at step 200")
        process.send_signal(sig)
        stdout, stderr = lines.finish()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    saved, done = events(stdout)[-2:]
    assert saved["event"] == "saved" and done["event"] == "done" and done["state"] == "stopped"
    assert saved["step"] == done["step"] == load_checkpoint(path).step
    assert os.listdir(tmp_path) == ["run.pt"]


def test_a_cancelled_ui_trainer_saves_without_a_final_evaluation(small_dataset, tmp_path):
    cancel = threading.Event()
    path = tmp_path / "run.pt"
    snapshots = []

    def cancel_at_31(snapshot):
        snapshots.append(snapshot)
        if snapshot.step >= 31:
            cancel.set()

    Trainer(replace(QUICK, steps=1_000_000), small_dataset, cancel_at_31, cancel=cancel, save_path=str(path),
            pacing=Pacing(snapshot_every=10)).run(exit_when_done=False)
    assert snapshots[-1].saved == str(path) and not snapshots[-1].evals  # saved, no final evaluation
    assert load_checkpoint(path).step == snapshots[-1].step == 31
    assert math.isfinite(load_checkpoint(path).init_loss)
