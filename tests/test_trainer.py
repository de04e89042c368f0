"""The trainer: faithfulness to the lecture's loop, the init presets at step 0, commands, and snapshots."""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from mmtui.engine.config import TrainConfig
from mmtui.measure.pacing import Pacing
from mmtui.engine.trainer import COMMAND_POLL_STEPS, Trainer
from mmtui.experiments import LECTURE_SEED, PRESETS
from mmtui.records import DIVERGED, DONE, PAUSED, RUNNING, STOPPED, Pause, Reinit, Resume, Stop, TogglePause

# Small, quick runs: no periodic evaluations, few samples, a snapshot after steps 0, 10, 20, ... (whose .step,
# the count of updates done, reads 1, 11, 21, ...).
# compile off: a compiled step built in the background would take a core from the tests that follow
QUICK = TrainConfig(steps=300, eval_every=0, num_samples=3, compile="off")
PACE = Pacing(snapshot_every=10)


def run_trainer(config, dataset, on_snapshot=None, commands=None, cancel=None, pacing=PACE, **run_options):
    """Run to the end; returns (the run's final state, every snapshot emitted). on_snapshot may send
    commands."""
    snapshots = []

    def emit(snapshot):
        snapshots.append(snapshot)
        if on_snapshot is not None:
            on_snapshot(snapshot)

    trainer = Trainer(config, dataset, emit, commands=commands, cancel=cancel, pacing=pacing)
    state = trainer.run(**run_options)
    return state, snapshots


def all_losses(snapshots) -> list[float]:
    return [loss for snapshot in snapshots for loss in snapshot.losses]


def first_step(config, dataset):
    """The first snapshot of a run (step 0's loss and activations), without training or evaluating further."""
    cancel = threading.Event()
    _, snapshots = run_trainer(config, dataset, on_snapshot=lambda _: cancel.set(), cancel=cancel)
    assert len(snapshots) == 1 and snapshots[0].step == 1
    return snapshots[0]


def lecture_loop(dataset, preset: str, seed: int, steps: int, lr: float = 0.1) -> list[float]:
    """The lecture's training cell, written out plainly: the oracle for the trainer's losses."""
    g = torch.Generator().manual_seed(seed)
    V = dataset.vocab.size
    C = torch.randn((V, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g)
    b1 = torch.randn(200, generator=g)
    W2 = torch.randn((200, V), generator=g)
    b2 = torch.randn(V, generator=g)
    if preset != "lecture":
        W2 *= 0.01
        b2 *= 0
    if preset == "fix-tanh":
        W1 *= 0.2
        b1 *= 0.01
    if preset == "kaiming":
        W1 *= (5 / 3) / 30**0.5
        b1 *= 0.01
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True
    Xtr, Ytr = dataset.Xtr, dataset.Ytr
    lossi = []
    for i in range(steps):
        ix = torch.randint(0, Xtr.shape[0], (32,), generator=g)
        Xb, Yb = Xtr[ix], Ytr[ix]
        emb = C[Xb]
        hpreact = emb.view(-1, 30) @ W1 + b1
        h = torch.tanh(hpreact)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        step_lr = lr if i < steps // 2 else lr / 10
        for p in parameters:
            p.data += -step_lr * p.grad
        lossi.append(loss.item())
    return lossi


# ---- faithfulness to the lecture


@pytest.mark.parametrize("preset", ["fix-logits", "fix-tanh", "kaiming"])
def test_trainer_losses_equal_the_lectures_plain_loop(small_dataset, preset):
    config = replace(QUICK, init=preset, steps=300)
    _, snapshots = run_trainer(config, small_dataset)
    expected = lecture_loop(small_dataset, preset, LECTURE_SEED, 300)
    assert all_losses(snapshots) == pytest.approx(expected, abs=1e-5, rel=1e-5)


def test_trainer_losses_follow_the_lectures_plain_loop_from_the_raw_init(small_dataset):
    # The raw init's huge logits amplify float rounding (the trainer's fused addmm and update versus the
    # lecture's `@ + b` and `p.data +=`): the two runs drift apart by up to ~3e-4 relative.
    config = replace(QUICK, init="lecture", steps=300)
    _, snapshots = run_trainer(config, small_dataset)
    losses = all_losses(snapshots)
    expected = lecture_loop(small_dataset, "lecture", LECTURE_SEED, 300)
    assert losses[0] == pytest.approx(expected[0], rel=1e-6)
    assert losses == pytest.approx(expected, rel=1e-3)  # a wrong batch or lr is off by >10%


def test_same_seed_gives_the_same_losses_and_another_seed_others(small_dataset):
    config = replace(QUICK, init="kaiming", steps=200)
    _, first = run_trainer(config, small_dataset)
    _, second = run_trainer(config, small_dataset)
    _, other = run_trainer(replace(config, seed=12345), small_dataset)
    assert all_losses(first) == all_losses(second)
    assert all_losses(first) != all_losses(other)
    assert first[-1].samples == second[-1].samples


# ---- the presets at step 0, on the bundled names


@pytest.fixture(scope="module")
def step0(names_dataset):
    """Each preset's first snapshot on the bundled names, with the lecture's defaults."""
    return {preset: first_step(TrainConfig(init=preset), names_dataset) for preset in PRESETS}


def test_lecture_init_is_confidently_wrong_at_step_0(step0, names_dataset):
    # The oracle: the plain loop's draw (C, W1, b1, W2, b2, then the first batch) and its cross-entropy.
    expected = lecture_loop(names_dataset, "lecture", LECTURE_SEED, steps=1)[0]
    assert step0["lecture"].losses[0] == pytest.approx(expected, rel=1e-6)
    assert step0["lecture"].init_loss == pytest.approx(expected, rel=1e-6)
    assert expected > 15


@pytest.mark.parametrize("preset", ["fix-logits", "fix-tanh", "kaiming"])
def test_small_logits_presets_start_near_minus_log_one_over_v(step0, preset):
    assert step0[preset].init_loss == pytest.approx(-math.log(1 / 27), abs=0.1)
    assert step0[preset].run.expected_init_loss == pytest.approx(math.log(27))


def test_lecture_init_saturates_most_of_tanh(step0):
    stats = step0["lecture"].first_layer
    assert stats.step == 0
    assert stats.saturation > 50
    assert stats.share_99 > 50


def test_fix_tanh_saturation_is_far_below_the_lectures(step0):
    assert step0["fix-tanh"].first_layer.saturation < step0["lecture"].first_layer.saturation / 5
    assert step0["fix-tanh"].first_layer.share_99 < 5


def test_fix_logits_alone_leaves_tanh_as_saturated_as_the_lecture(step0):
    assert step0["fix-logits"].first_layer.saturation == pytest.approx(
        step0["lecture"].first_layer.saturation)


def test_kaiming_saturates_less_than_the_lecture(step0):
    assert step0["kaiming"].first_layer.saturation < step0["lecture"].first_layer.saturation / 2


# ---- commands


def test_reinit_with_a_preset_restarts_at_step_0_with_that_presets_loss(small_dataset):
    commands = queue.Queue()
    sent = []

    def reinit_at_step_50(snapshot):
        if snapshot.step >= 50 and not sent:
            commands.put(Reinit(init="fix-logits"))
            sent.append(snapshot.step)

    config = replace(QUICK, init="lecture", steps=200)
    state, snapshots = run_trainer(config, small_dataset, reinit_at_step_50, commands)

    old = [s for s in snapshots if s.run.run_id == 0]
    new = [s for s in snapshots if s.run.run_id == 1]
    assert state == DONE
    assert old[0].init_loss > 15
    assert new[0].run.settings["init"] == "fix-logits"
    assert new[0].first_loss_step == 0
    assert new[0].init_loss == pytest.approx(math.log(small_dataset.vocab.size), abs=0.1)
    assert new[-1].step == 200  # the new run trains its full length
    fresh = first_step(replace(config, init="fix-logits"), small_dataset)
    assert new[0].losses[0] == fresh.init_loss


def test_reinit_back_to_the_lecture_preset_gives_a_large_step_0_loss_again(small_dataset):
    commands = queue.Queue()
    sent = []

    def reinit_once(snapshot):
        if snapshot.run.run_id == 0 and snapshot.step >= 100 and not sent:
            commands.put(Reinit(init="lecture"))
            sent.append(snapshot.step)

    _, snapshots = run_trainer(replace(QUICK, init="fix-logits", steps=150), small_dataset, reinit_once,
                               commands)
    new = [s for s in snapshots if s.run.run_id == 1]
    assert new[0].run.settings["init"] == "lecture"
    assert new[0].losses[0] > 15


def test_reinit_with_w1_factor_2_doubles_the_hidden_weight_scale(small_dataset):
    commands = queue.Queue()
    commands.put(Reinit(w1_factor=2))  # applied before the first step
    config = replace(QUICK, init="kaiming", w1_scale=0.75, steps=20)
    trainer = Trainer(config, small_dataset, lambda _: None, commands=commands)
    w1_before = trainer.model.W1.detach().clone()
    trainer.run()
    assert trainer.run_info.settings["w1_scale"] == 1.5
    assert trainer.config.w1_scale == 1.5
    assert trainer.run_info.run_id == 1
    doubled = Trainer(replace(config, w1_scale=1.5, steps=1), small_dataset, lambda _: None)
    torch.testing.assert_close(doubled.model.W1.detach(), 2 * w1_before)


def test_reinit_with_new_seed_draws_with_the_next_seed(small_dataset):
    commands = queue.Queue()
    sent = []

    def reinit_once(snapshot):
        if snapshot.run.run_id == 0 and snapshot.step >= 30 and not sent:
            commands.put(Reinit(new_seed=True))
            sent.append(snapshot.step)

    config = replace(QUICK, init="kaiming", seed=1000, steps=60)
    _, snapshots = run_trainer(config, small_dataset, reinit_once, commands)
    old = [s for s in snapshots if s.run.run_id == 0]
    new = [s for s in snapshots if s.run.run_id == 1]
    assert old[0].run.settings["seed"] == 1000 and new[0].run.settings["seed"] == 1001
    assert new[0].run.settings["init"] == "kaiming"  # unset fields keep the current run's value
    assert new[0].losses[0] != old[0].losses[0]
    assert new[0].losses[0] == first_step(replace(config, seed=1001), small_dataset).init_loss


def start_in_thread(config, dataset, commands, pacing=PACE):
    """A trainer in a background thread, as the TUI runs it; snapshots arrive on a queue."""
    snapshots = queue.Queue()
    trainer = Trainer(config, dataset, snapshots.put, commands=commands, pacing=pacing)
    thread = threading.Thread(target=trainer.run, kwargs={"exit_when_done": False}, daemon=True)
    thread.start()
    return trainer, thread, snapshots


def wait_for(snapshots, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        snapshot = snapshots.get(timeout=max(deadline - time.monotonic(), 0.01))
        if condition(snapshot):
            return snapshot


def test_pause_holds_the_step_counter_until_resume(small_dataset):
    commands = queue.Queue()
    trainer, thread, snapshots = start_in_thread(replace(QUICK, steps=1_000_000), small_dataset, commands,
                                                 Pacing(snapshot_every=50))
    try:
        wait_for(snapshots, lambda s: s.step >= 100)
        commands.put(Pause())
        paused = wait_for(snapshots, lambda s: s.state == PAUSED)
        time.sleep(0.3)
        assert trainer.step == paused.step
        assert snapshots.empty()  # a paused trainer emits nothing new
        commands.put(Resume())
        resumed = wait_for(snapshots, lambda s: s.state == RUNNING)
        assert resumed.step == paused.step and resumed.losses == ()
        assert wait_for(snapshots, lambda s: s.step > paused.step + 100).state == RUNNING
    finally:
        commands.put(Stop())
        thread.join(timeout=20)
    assert not thread.is_alive()


def test_toggle_pause_pauses_a_running_trainer_and_resumes_a_paused_one(small_dataset):
    commands = queue.Queue()
    trainer, thread, snapshots = start_in_thread(replace(QUICK, steps=1_000_000), small_dataset, commands,
                                                 Pacing(snapshot_every=50))
    try:
        wait_for(snapshots, lambda s: s.step >= 100)
        commands.put(TogglePause())
        paused = wait_for(snapshots, lambda s: s.state != RUNNING)
        assert paused.state == PAUSED
        time.sleep(0.2)
        assert trainer.step == paused.step
        commands.put(TogglePause())
        assert wait_for(snapshots, lambda s: s.step > paused.step).state == RUNNING
    finally:
        commands.put(Stop())
        thread.join(timeout=20)
    assert not thread.is_alive()


def test_stop_ends_with_a_stopped_snapshot_that_carries_evals_and_samples(small_dataset):
    commands = queue.Queue()
    stopped_at = []

    def stop_after_100_steps(snapshot):
        if snapshot.step >= 100 and not stopped_at:
            commands.put(Stop())
            stopped_at.append(snapshot.step)

    config = replace(QUICK, steps=1_000_000, num_samples=4)
    state, snapshots = run_trainer(config, small_dataset, stop_after_100_steps, commands,
                                   exit_when_done=False)
    final = snapshots[-1]
    assert state == STOPPED
    assert final.state == STOPPED
    assert final.step == stopped_at[0]  # Stop ends the loop before another step
    assert [e.step for e in final.evals] == [final.step]
    assert math.isfinite(final.evals[0].train_loss) and math.isfinite(final.evals[0].val_loss)
    assert len(final.samples) == 4 and all(isinstance(name, str) for name in final.samples)


def test_stop_while_paused_still_finishes_the_run(small_dataset):
    commands = queue.Queue()

    def pause_then_stop(snapshot):
        if snapshot.state == PAUSED:
            commands.put(Stop())
        elif snapshot.step >= 50 and commands.empty():
            commands.put(Pause())

    state, snapshots = run_trainer(replace(QUICK, steps=1_000_000), small_dataset, pause_then_stop, commands,
                                   exit_when_done=False)
    assert state == STOPPED
    paused = next(s for s in snapshots if s.state == PAUSED)
    assert snapshots[-1].state == STOPPED and snapshots[-1].step == paused.step
    assert snapshots[-1].evals and snapshots[-1].samples


@pytest.mark.parametrize("cancel_at", [1, 137])
def test_cancel_stops_right_after_a_snapshot(small_dataset, cancel_at):
    cancel = threading.Event()
    snapshots = []

    def emit(snapshot):
        snapshots.append(snapshot)
        if snapshot.step == cancel_at:
            cancel.set()

    trainer = Trainer(replace(QUICK, steps=1_000_000), small_dataset, emit, cancel=cancel,
                      pacing=Pacing(snapshot_every=1))
    state = trainer.run(exit_when_done=False)
    assert state == STOPPED
    assert trainer.step == cancel_at
    assert snapshots[-1].state == RUNNING  # no final evaluation unless asked for


class CancelFromStep:
    """A cancel flag that reads set once the trainer has done `step` steps, as if set between two of its
    looks."""

    def __init__(self, step: int):
        self.step, self.trainer = step, None

    def is_set(self) -> bool:
        return self.trainer.step >= self.step


class CommandsFromStep(queue.Queue):
    """A command queue whose commands arrive once the trainer has done `step` steps, as if sent then."""

    def __init__(self, step: int):
        super().__init__()
        self.step, self.trainer = step, None

    def _arrived(self) -> bool:
        return self.trainer is not None and self.trainer.step >= self.step

    def empty(self) -> bool:
        return not self._arrived() or super().empty()

    def get_nowait(self):
        if not self._arrived():
            raise queue.Empty
        return super().get_nowait()


def test_cancel_between_snapshots_stops_at_the_next_look(small_dataset):
    # between two looks: nothing makes the trainer look at once
    cancel = CancelFromStep(2 * COMMAND_POLL_STEPS + 1)
    trainer = Trainer(replace(QUICK, steps=1_000_000), small_dataset, lambda _: None, cancel=cancel,
                      pacing=Pacing(snapshot_every=1000))
    cancel.trainer = trainer
    assert trainer.run(exit_when_done=False) == STOPPED
    assert trainer.step == 3 * COMMAND_POLL_STEPS  # the next look, at a multiple of COMMAND_POLL_STEPS


def test_cancel_with_finish_on_cancel_emits_a_final_stopped_snapshot(small_dataset):
    cancel = threading.Event()
    state, snapshots = run_trainer(replace(QUICK, steps=1_000_000, num_samples=2), small_dataset,
                                   lambda s: cancel.set() if s.step >= 40 else None, cancel=cancel,
                                   finish_on_cancel=True)
    assert state == STOPPED
    assert snapshots[-1].state == STOPPED
    assert snapshots[-1].evals[-1].step == snapshots[-1].step <= 41
    assert len(snapshots[-1].samples) == 2


def test_huge_weights_and_learning_rate_diverge(small_dataset):
    config = replace(QUICK, init="lecture", w1_scale=1000, lr=1000, steps=1000)
    state, snapshots = run_trainer(config, small_dataset)
    final = snapshots[-1]
    assert state == DIVERGED
    assert final.state == DIVERGED
    assert final.step < 1000
    threshold = 100 * math.log(small_dataset.vocab.size)
    assert not final.diverged_loss < threshold  # above the threshold, or NaN / inf
    assert final.last_finite_loss is not None and final.last_finite_loss < threshold


def test_a_run_ends_done_after_its_steps_with_a_final_eval_and_samples(small_dataset):
    state, snapshots = run_trainer(replace(QUICK, steps=250, eval_every=100), small_dataset)
    evals = [e for s in snapshots for e in s.evals]
    assert state == DONE
    assert snapshots[-1].state == DONE and snapshots[-1].step == 250
    assert [e.step for e in evals] == [100, 200, 250]
    assert len(snapshots[-1].samples) == QUICK.num_samples


def test_learning_rate_drops_tenfold_for_the_second_half(small_dataset):
    _, snapshots = run_trainer(replace(QUICK, steps=100, lr=0.1), small_dataset,
                               pacing=Pacing(snapshot_every=1))
    lr_by_step = {s.step - 1: s.lr for s in snapshots if s.state == RUNNING}
    assert lr_by_step[0] == lr_by_step[49] == 0.1
    assert lr_by_step[50] == lr_by_step[98] == pytest.approx(0.01)


# ---- snapshots


def test_time_based_snapshots_carry_statistics_at_the_slower_stats_pace(small_dataset):
    config = replace(QUICK, steps=400, hidden=50)
    every_step = Pacing(snapshot_every=0, snapshot_interval_s=0.0)
    _, rarely = run_trainer(config, small_dataset, pacing=replace(every_step, stats_interval_s=3600.0))
    always_measured = replace(every_step, stats_interval_s=0.0, stats_thinning=0.0, stats_budget=0.0)
    _, always = run_trainer(config, small_dataset, pacing=always_measured)
    assert len(rarely) == len(always) == 400
    assert [bool(s.layers) for s in rarely] == [True] + [False] * 399  # step 0's, then none within the hour
    assert [bool(s.params) for s in rarely] == [True] + [False] * 399
    assert all(s.layers and s.params for s in always)
    assert all_losses(rarely) == all_losses(always)  # statistics never change the training


def test_a_command_sent_between_snapshots_is_applied_within_the_poll_interval(small_dataset):
    # between two snapshots: nothing makes it look at once
    commands = CommandsFromStep(2 * COMMAND_POLL_STEPS + 1)
    commands.put(Pause())
    applied = []

    def stop_once_paused(snapshot):
        if snapshot.state == PAUSED:
            applied.append(snapshot.step)
            commands.put(Stop())

    trainer = Trainer(replace(QUICK, steps=1_000_000), small_dataset, stop_once_paused, commands=commands,
                      pacing=Pacing(snapshot_every=1000))
    commands.trainer = trainer
    assert trainer.run(exit_when_done=False) == STOPPED
    assert applied == [3 * COMMAND_POLL_STEPS]  # the next look, at a multiple of COMMAND_POLL_STEPS


def test_snapshots_are_rate_limited_and_drop_no_loss(small_dataset):
    steps, interval = 2000, 0.1
    config = replace(QUICK, init="kaiming", steps=steps, hidden=50)
    _, every_step = run_trainer(config, small_dataset, pacing=Pacing(snapshot_every=500))  # every loss, four
    # snapshots: measuring every step took 3 s
    started = time.perf_counter()
    _, by_time = run_trainer(config, small_dataset, pacing=Pacing(snapshot_interval_s=interval))
    elapsed = time.perf_counter() - started

    assert len(by_time) <= elapsed / interval + 2  # one per interval, plus step 0's and the final one
    assert len(by_time) < steps / 4
    assert len(all_losses(by_time)) == steps
    assert all_losses(by_time) == all_losses(every_step)
    position = 0
    for snapshot in by_time:  # each snapshot's losses start where the previous one's ended
        assert snapshot.first_loss_step == position
        position += len(snapshot.losses)
