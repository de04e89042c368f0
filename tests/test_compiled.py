"""The compiled fast path gives the eager path's numbers: losses, weights, BatchNorm's buffers, over 1,000 steps."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

import pytest
import torch

import mmtui.engine.trainer as trainer_module
from mmtui.engine import compiled
from mmtui.engine.checkpoint import load_checkpoint
from mmtui.engine.config import TrainConfig
from mmtui.measure.pacing import Pacing
from mmtui.engine.trainer import Trainer
from mmtui.experiments import MODELS, PRESETS, RECURRENT
from mmtui.records import DIVERGED, Save, Stop

from test_checkpoint import once
from test_headless_cli import TIMEOUT_S

STEPS = 1000
LOSS_RTOL = 1e-3  # float32 kernels that fuse and round differently drift apart by ~1e-4 over 1,000 steps
PACING = Pacing(snapshot_every=250, eval_train_every=False)  # statistics (on the eager path) at 0, 250, 500, 750:
# the rest compiled; the evaluations on the val split, a ninth of the train split's time
PACING_100 = Pacing(snapshot_every=100)  # a snapshot every 100 steps, where a test may save
CHEAP_CALL = 2  # steps a call for the other models: the same code unrolled less, a compile of ~8 s instead of ~30


def train(dataset, compile: str, **settings) -> tuple[Trainer, list[float], list[str], list]:
    losses: list[float] = []
    notes: list[str] = []
    evals: list = []

    def emit(snapshot) -> None:
        losses.extend(snapshot.losses)
        notes.extend(snapshot.notes)
        evals.extend(snapshot.evals)

    trainer = Trainer(TrainConfig(steps=STEPS, eval_every=300, compile=compile, **settings), dataset, emit=emit,
                      pacing=PACING)
    trainer.run()
    return trainer, losses, notes, evals


def assert_same_run(dataset, **settings) -> None:
    eager, eager_losses, _, eager_evals = train(dataset, "off", **settings)
    fast, fast_losses, notes, evals = train(dataset, "on", **settings)
    assert any(note.startswith("compiled step in use from step") for note in notes), notes
    assert not any("failed" in note for note in notes), notes  # nor did it fall back to the eager path later
    assert len(fast_losses) == len(eager_losses) == STEPS
    worst = max(abs(a - b) / abs(a) for a, b in zip(eager_losses, fast_losses))
    assert worst < LOSS_RTOL, f"losses differ by up to {worst:.2e} of the eager path's"
    for ours, theirs in zip(fast.params + fast.model.buffers(), eager.params + eager.model.buffers()):
        torch.testing.assert_close(ours, theirs, rtol=1e-2, atol=1e-3)
    assert [e.step for e in evals] == [e.step for e in eager_evals] == [300, 600, 900, 1000]
    for ours, theirs in zip(evals, eager_evals):
        assert math.isclose(ours.val_loss, theirs.val_loss, rel_tol=LOSS_RTOL)


@pytest.mark.parametrize("preset", PRESETS)
def test_the_compiled_mlp_gives_the_eager_losses_for_every_preset(names_dataset, preset):
    assert_same_run(names_dataset, model="mlp", init=preset)


@pytest.mark.parametrize("model", [m for m in MODELS if m != "mlp" and m not in RECURRENT])  # those: eager
def test_the_compiled_layer_nets_give_the_eager_losses(names_dataset, model, monkeypatch):
    monkeypatch.setattr(compiled, "STEPS_PER_CALL", CHEAP_CALL)
    assert_same_run(names_dataset, model=model, init="fix-tanh")


def test_step_counted_snapshots_fall_between_calls(names_dataset):
    """Snapshots every 250 steps (not a multiple of 8) each carry their step's statistics."""
    snapshots = []
    trainer = Trainer(TrainConfig(steps=STEPS, eval_every=0, compile="on"), names_dataset, emit=snapshots.append,
                      pacing=PACING)
    trainer.run()
    assert [s.first_layer.step for s in snapshots if s.first_layer is not None] == [0, 250, 500, 750]
    assert [s.step for s in snapshots] == [1, 251, 501, 751, 1000]


def test_a_diverged_step_inside_a_call_ends_the_run_there(names_dataset):
    settings = {"model": "mlp", "init": "fix-tanh", "lr": 2.0, "diverge_at": 8.0}  # step 8's loss, the first call's
    fast, losses, _, _ = train(names_dataset, "on", **settings)
    eager, eager_losses, _, _ = train(names_dataset, "off", **settings)
    assert fast.state == eager.state == DIVERGED
    assert fast.step == eager.step == len(losses) == 9  # the count ends inside the call of steps 8 to 15
    assert math.isclose(losses[-1], eager_losses[-1], rel_tol=LOSS_RTOL)


def test_a_build_that_fails_leaves_the_run_on_the_eager_path(names_dataset, monkeypatch):
    def fail(self) -> None:
        self.error = "InvalidCxxCompiler: no working C++ compiler found"

    monkeypatch.setattr(compiled.CompiledSteps, "build", fail)
    trainer, losses, notes, _ = train(names_dataset, "on", model="mlp")
    eager, eager_losses, _, _ = train(names_dataset, "off", model="mlp")
    assert losses == eager_losses  # the very same path: equal, not close
    assert notes == ["the compiled step failed (InvalidCxxCompiler: no working C++ compiler found): training on "
                     "the eager path"]


def test_auto_leaves_a_short_run_on_the_eager_path(names_dataset, monkeypatch):
    def no_compiled_steps(*args, **kwargs):
        raise AssertionError("a compiled step was set up for a short run")

    monkeypatch.setattr(compiled, "CompiledSteps", no_compiled_steps)
    _, _, notes, _ = train(names_dataset, "auto", model="mlp")
    assert notes == []


def test_auto_switches_to_the_compiled_step_when_its_build_is_done(names_dataset, monkeypatch):
    """auto trains on the eager path from step 0 and asks for the build after step 0; the build, done here at the
    next snapshot rather than in a thread (so that the test knows when), takes over at the next aligned step."""
    asked: list[compiled.CompiledSteps] = []
    monkeypatch.setattr(trainer_module, "AUTO_COMPILE_MIN_STEPS", 0)

    def ask(self) -> bool:  # as build_in_background answers: True the first time only
        asked.append(self)
        return len(asked) == 1

    monkeypatch.setattr(compiled.CompiledSteps, "build_in_background", ask)
    losses, notes = [], []

    def emit(snapshot) -> None:
        losses.extend(snapshot.losses)
        notes.extend(snapshot.notes)
        if asked and not asked[0].ready.is_set():
            asked[0].build()

    Trainer(TrainConfig(steps=STEPS, eval_every=0, compile="auto"), names_dataset, emit=emit, pacing=PACING).run()
    _, eager_losses, _, _ = train(names_dataset, "off")
    assert asked and all(steps is asked[0] for steps in asked)  # asked from step 1 on, one build
    assert len(notes) == 2 and notes[0].startswith("building the compiled step in a process of its own;"), notes
    assert notes[1].startswith("compiled step in use from step 256 (8 steps a call, built in"), notes  # built at 251
    assert losses[:256] == eager_losses[:256]  # the eager path's own steps, before the switch
    assert max(abs(a - b) / abs(a) for a, b in zip(losses, eager_losses)) < LOSS_RTOL


def test_a_run_saved_and_resumed_on_the_compiled_path_repeats_the_uninterrupted_run(names_dataset, tmp_path,
                                                                                     monkeypatch):
    """Saved at step 301 (inside a call of 8 and a 64-step block of indices), the resumed run takes steps 301-303
    eagerly and then compiled calls at the uninterrupted run's places: the very same losses."""
    monkeypatch.setattr(trainer_module, "INDEX_BLOCK", 64)
    config = TrainConfig(steps=600, eval_every=0, compile="on", init="kaiming")
    uninterrupted: list = []
    Trainer(config, names_dataset, uninterrupted.append, pacing=PACING_100).run()
    path = tmp_path / "run.pt"
    save_past_300, commands = once((Save(), Stop()), lambda snapshot: snapshot.step > 300)
    Trainer(config, names_dataset, save_past_300, commands=commands, save_path=str(path), pacing=PACING_100).run()
    saved = load_checkpoint(path)
    resumed: list = []
    Trainer(config, names_dataset, resumed.append, resume=saved, pacing=PACING_100).run()

    assert saved.step == 301
    assert [x for s in resumed for x in s.losses] == [x for s in uninterrupted for x in s.losses][301:]
    assert resumed[-1].evals[-1] == uninterrupted[-1].evals[-1]


def test_a_machine_without_a_cxx_compiler_trains_on_with_one_line(tmp_path):
    """No working C++ compiler (and an empty cache, so that nothing compiled earlier is found): one line on stderr,
    a note event, the run done, exit 0."""
    environment = {**os.environ, "CXX": "no-such-compiler", compiled.CACHE_ENV: str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "mmtui", "--headless", "--compile", "on", "--steps", "50",
                             "--every", "25", "--eval-every", "0"], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, env=environment, timeout=2 * TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmtui: the compiled step failed (") and "C++" in lines[0], lines
    assert lines[0].endswith("): training on the eager path")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["text"] for e in events if e["event"] == "note"] == [lines[0].removeprefix("mmtui: ")]
    assert events[-1]["event"] == "done" and events[-1]["step"] == 50


def test_a_run_that_ends_while_the_compiled_step_builds_exits_with_its_own_code(tmp_path):
    """The lecture's exploding init diverges at once, while --compile auto's build has just started in a thread
    (a cold cache: it is still building): the process ended with SIGABRT (134) in 4 of 12 runs, as the
    interpreter's teardown met the compiler's thread. Two runs at once, each must exit 3."""
    environment = {**os.environ, compiled.CACHE_ENV: str(tmp_path)}
    runs = [subprocess.Popen([sys.executable, "-m", "mmtui", "--headless", "--init", "lecture", "--w1-scale", "1000",
                              "--lr", "1000"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, env=environment) for _ in range(2)]
    results = [(run.wait(2 * TIMEOUT_S), run.stderr.read()) for run in runs]
    for code, stderr in results:
        assert code == 3, stderr
        assert "building the compiled step" in stderr and "terminate called" not in stderr


TINY = TrainConfig(embed=2, hidden=4, batch_size=2)  # the smallest net of the lecture's kind: the quickest compile


def test_a_compiling_process_that_fails_is_one_line_and_the_run_stays_eager(tmp_path, monkeypatch):
    monkeypatch.setenv(compiled.CACHE_ENV, str(tmp_path))
    steps = compiled.CompiledSteps(None, torch.zeros(5, 3, dtype=torch.long), torch.zeros(5, dtype=torch.long), 2,
                                   kind={"config": {**dataclasses.asdict(TINY), "model": "nope"}, "vocab_size": 27})
    steps._build_warmed()
    assert not steps.ready.is_set() and "unknown model 'nope'" in steps.error and "\n" not in steps.error
