"""The compiled fast path gives the eager path's numbers: losses, weights, BatchNorm's buffers, over 1,000
steps."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time

import pytest
import torch

from mmtui.engine import compiled
from mmtui.engine.checkpoint import load_checkpoint
from mmtui.engine.config import TrainConfig, Tunables
from mmtui.measure.pacing import Pacing
from mmtui.engine.trainer import Trainer
from mmtui.experiments import MODELS, PRESETS, RECURRENT
from mmtui.records import DIVERGED, Save, Stop

from test_checkpoint import once
from test_headless_cli import TIMEOUT_S

STEPS = 1000
LAYER_NET_STEPS = 400  # a layer net's eager step is 5x the MLP's: 400 steps, evaluated at 300 and 400
LOSS_RTOL = 1e-3  # float32 kernels that fuse and round differently drift apart by ~1e-4 over 1,000 steps
# Statistics (on the eager path) at steps 0, 125, ..., 875: odd steps, where no call of 2 starts; the rest
# compiled. The evaluations on the val split alone, a ninth of the train split's time.
PACING = Pacing(snapshot_every=125, eval_train_every=False)
PACING_100 = Pacing(snapshot_every=100)  # a snapshot every 100 steps, where a test may save
# The session's cache starts cold, so every graph is compiled here. 2 steps a call prove the unrolling (each
# step's update seen by the next inside one graph) in ~4 s of compile against ~15 s for the default 8: the
# same code, unrolled less.
TWO = Tunables(steps_per_call=2)
ONE = Tunables(steps_per_call=1)  # a model's own step compiled, half the compile of two
# mlp-bn: the layer nets' autograd and BatchNorm's buffers across two steps of one graph; deep and deep-bn:
# the deep stacks, with and without BatchNorm
LAYER_NETS = {"mlp-bn": TWO, "deep": ONE, "deep-bn": ONE}


@dataclasses.dataclass
class Run:
    """A trainer run to its end and every snapshot it emitted."""

    trainer: Trainer
    snapshots: list

    def gathered(self, field: str) -> list:
        return [x for snapshot in self.snapshots for x in getattr(snapshot, field)]


def train(dataset, compile: str, tunables: Tunables = TWO, steps: int = STEPS, **settings) -> Run:
    run = Run(None, [])
    run.trainer = Trainer(TrainConfig(steps=steps, eval_every=300, compile=compile, **settings), dataset,
                          emit=run.snapshots.append, pacing=PACING, tunables=tunables)
    run.trainer.run()
    return run


@pytest.fixture(scope="module")
def lecture_runs(names_dataset) -> dict[str, Run]:
    """The lecture's MLP (its own init) trained eagerly and compiled: several tests read the same two runs."""
    return {compile: train(names_dataset, compile) for compile in ("off", "on")}


def assert_same_run(eager: Run, fast: Run) -> None:
    notes = fast.gathered("notes")
    assert any(note.startswith("compiled step in use from step") for note in notes), notes
    assert not any("failed" in note for note in notes), notes  # nor did it fall back to the eager path later
    eager_losses, fast_losses = eager.gathered("losses"), fast.gathered("losses")
    steps = fast.trainer.config.steps
    assert len(fast_losses) == len(eager_losses) == steps
    worst = max(abs(a - b) / abs(a) for a, b in zip(eager_losses, fast_losses))
    assert worst < LOSS_RTOL, f"losses differ by up to {worst:.2e} of the eager path's"
    ours, theirs = fast.trainer.model, eager.trainer.model
    for mine, other in zip(ours.parameters() + ours.buffers(), theirs.parameters() + theirs.buffers()):
        torch.testing.assert_close(mine, other, rtol=1e-2, atol=1e-3)
    evals, eager_evals = fast.gathered("evals"), eager.gathered("evals")
    assert [e.step for e in evals] == [e.step for e in eager_evals] == [*range(300, steps, 300), steps]
    for mine, other in zip(evals, eager_evals):
        assert math.isclose(mine.val_loss, other.val_loss, rel_tol=LOSS_RTOL)


@pytest.mark.parametrize("preset", PRESETS)
def test_the_compiled_mlp_gives_the_eager_losses_for_every_preset(names_dataset, preset, request):
    if preset == "lecture":
        lecture_runs = request.getfixturevalue("lecture_runs")  # set up only where it is read
        assert_same_run(lecture_runs["off"], lecture_runs["on"])
    else:
        assert_same_run(train(names_dataset, "off", init=preset), train(names_dataset, "on", init=preset))


@pytest.mark.parametrize("model", list(LAYER_NETS))
def test_the_compiled_layer_nets_give_the_eager_losses(names_dataset, model):
    assert set(LAYER_NETS) == {m for m in MODELS if m != "mlp" and m not in RECURRENT}  # those: eager
    settings = {"model": model, "init": "fix-tanh", "tunables": LAYER_NETS[model], "steps": LAYER_NET_STEPS}
    assert_same_run(train(names_dataset, "off", **settings), train(names_dataset, "on", **settings))


def test_step_counted_snapshots_fall_between_calls(lecture_runs):
    """Snapshots every 125 steps (an odd count: not a multiple of 2 steps a call) each carry their step's
    statistics."""
    snapshots = lecture_runs["on"].snapshots
    assert [s.first_layer.step for s in snapshots if s.first_layer is not None] == list(range(0, STEPS, 125))
    assert [s.step for s in snapshots] == [1] + list(range(126, STEPS, 125)) + [STEPS]


def test_a_diverged_step_inside_a_call_ends_the_run_there(names_dataset):
    settings = {"model": "mlp", "init": "fix-tanh", "lr": 2.0, "diverge_at": 8.0}  # step 8's loss, the first
    # step of the call of steps 8 and 9, whose update of step 9 is made too
    fast, eager = train(names_dataset, "on", **settings), train(names_dataset, "off", **settings)
    losses = fast.gathered("losses")
    assert fast.trainer.state == eager.trainer.state == DIVERGED
    assert fast.trainer.step == eager.trainer.step == len(losses) == 9  # the count ends inside the call
    assert math.isclose(losses[-1], eager.gathered("losses")[-1], rel_tol=LOSS_RTOL)


def test_a_build_that_fails_leaves_the_run_on_the_eager_path(names_dataset, lecture_runs, monkeypatch):
    def fail(self) -> None:
        self.error = "InvalidCxxCompiler: no working C++ compiler found"

    monkeypatch.setattr(compiled.CompiledSteps, "build", fail)
    run = train(names_dataset, "on", model="mlp")
    assert run.gathered("losses") == lecture_runs["off"].gathered("losses")  # the same path: equal, not close
    assert run.gathered("notes") == ["the compiled step failed (InvalidCxxCompiler: no working C++ compiler "
                                     "found): training on the eager path"]


def test_auto_leaves_a_short_run_on_the_eager_path(names_dataset, monkeypatch):
    def no_compiled_steps(*args, **kwargs):
        raise AssertionError("a compiled step was set up for a short run")

    monkeypatch.setattr(compiled, "CompiledSteps", no_compiled_steps)
    assert STEPS < TWO.auto_compile_min_steps
    assert train(names_dataset, "auto", model="mlp").gathered("notes") == []


def test_auto_switches_to_the_compiled_step_when_its_build_is_done(names_dataset, lecture_runs, monkeypatch):
    """auto trains on the eager path from step 0 and asks for the build after step 0; the build, done here at
    the next snapshot rather than in a thread (so that the test knows when), takes over at the next aligned
    step."""
    asked: list[compiled.CompiledSteps] = []

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

    Trainer(TrainConfig(steps=STEPS, eval_every=0, compile="auto"), names_dataset, emit=emit, pacing=PACING,
            tunables=dataclasses.replace(TWO, auto_compile_min_steps=STEPS)).run()
    eager_losses = lecture_runs["off"].gathered("losses")
    assert asked and all(steps is asked[0] for steps in asked)  # asked from step 1 on, one build
    assert len(notes) == 2, notes
    assert notes[0].startswith("building the compiled step in a process of its own;"), notes
    assert notes[1].startswith("compiled step in use from step 126 (2 steps a call, built in"), notes
    assert losses[:126] == eager_losses[:126]  # the eager path's own steps, before the switch
    assert max(abs(a - b) / abs(a) for a, b in zip(losses, eager_losses)) < LOSS_RTOL


def test_a_run_saved_and_resumed_on_the_compiled_path_repeats_the_uninterrupted_run(names_dataset, tmp_path):
    """Saved at step 301 (inside a 64-step block of indices, where no call of 2 starts), the resumed run takes
    step 301 eagerly and then compiled calls at the uninterrupted run's places: the very same losses."""
    tunables = dataclasses.replace(TWO, index_block=64)
    config = TrainConfig(steps=600, eval_every=0, compile="on", init="kaiming")
    uninterrupted: list = []
    Trainer(config, names_dataset, uninterrupted.append, pacing=PACING_100, tunables=tunables).run()
    path = tmp_path / "run.pt"
    save_past_300, commands = once((Save(), Stop()), lambda snapshot: snapshot.step > 300)
    Trainer(config, names_dataset, save_past_300, commands=commands, save_path=str(path), pacing=PACING_100,
            tunables=tunables).run()
    saved = load_checkpoint(path)
    resumed: list = []
    Trainer(config, names_dataset, resumed.append, resume=saved, pacing=PACING_100, tunables=tunables).run()

    assert saved.step == 301 and 0 < saved.batch_position < 64
    assert [x for s in resumed for x in s.losses] == [x for s in uninterrupted for x in s.losses][301:]
    assert resumed[-1].evals[-1] == uninterrupted[-1].evals[-1]


def test_steps_a_call_that_do_not_divide_the_index_block_are_refused():
    with pytest.raises(ValueError, match="must divide index_block 1024"):
        Tunables(steps_per_call=3)  # a call would cross the end of a block of drawn indices
    Tunables(steps_per_call=16)  # a divisor: taken


def test_a_machine_without_a_cxx_compiler_trains_on_with_one_line(tmp_path):
    """No working C++ compiler (and an empty cache, so that nothing compiled earlier is found): one line on
    stderr, a note event, the run done, exit 0."""
    environment = {**os.environ, "CXX": "no-such-compiler", compiled.CACHE_ENV: str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "mmtui", "--headless", "--compile", "on", "--steps", "50",
                             "--every", "25", "--eval-every", "0"], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, env=environment, timeout=2 * TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("mmtui: the compiled step failed (") and "C++" in lines[0], lines
    assert lines[0].endswith("): training on the eager path")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["text"] for e in events if e["event"] == "note"] == [lines[0].removeprefix("mmtui: ")]
    assert events[-1]["event"] == "done" and events[-1]["step"] == 50


def test_a_run_that_ends_while_the_compiled_step_builds_exits_with_its_own_code(tmp_path):
    """The lecture's exploding init diverges at once, while --compile auto's build has just started in a
    thread (a cold cache: it is still building): the process ended with SIGABRT (134) in 4 of 12 runs, as the
    interpreter's teardown met the compiler's thread. Two runs at once, each must exit 3."""
    environment = {**os.environ, compiled.CACHE_ENV: str(tmp_path)}
    exploding = ["--headless", "--init", "lecture", "--w1-scale", "1000", "--lr", "1000"]
    runs = [subprocess.Popen([sys.executable, "-m", "mmtui", *exploding], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment)
            for _ in range(2)]
    results = [(run.wait(2 * TIMEOUT_S), run.stderr.read()) for run in runs]
    for code, stderr in results:
        assert code == 3, stderr
        assert "building the compiled step" in stderr and "terminate called" not in stderr


TINY = TrainConfig(embed=2, hidden=4, batch_size=2)  # the smallest net of the lecture's kind


def test_a_compiling_process_that_fails_is_one_line_and_the_run_stays_eager(tmp_path, monkeypatch):
    monkeypatch.setenv(compiled.CACHE_ENV, str(tmp_path))
    kind = {"config": {**dataclasses.asdict(TINY), "model": "nope"}, "vocab_size": 27}
    X, Y = torch.zeros(5, 3, dtype=torch.long), torch.zeros(5, dtype=torch.long)  # (N, block), (N,)
    steps = compiled.CompiledSteps(None, X, Y, TINY.batch_size, steps_per_call=2, kind=kind)
    assert steps.build_in_background()
    deadline = time.monotonic() + TIMEOUT_S
    while steps.error is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not steps.ready.is_set()
    assert "unknown model 'nope'" in steps.error and "\n" not in steps.error
