"""mmtui.watch on loops nobody wrote for mmtui: what reaches the run file, measured against the loop's own
tensors, and the hard cases (in-place ReLU, no activations, no loss, compiled, watched twice, bad arguments,
Ctrl-C)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from torch import nn

import mmtui
from mmtui.measure.pacing import Pacing
from mmtui.records import BOUNDED, DONE, FLAT, OTHER, RECTIFIER, STOPPED
from mmtui.runfile import read_run_file
from mmtui.watcher.run import NO_LOSS_NOTE

# a snapshot with statistics at every step: each step's figures checkable
EVERY_STEP = Pacing(snapshot_every=1)
TIMEOUT_S = 120


class NewGELU(nn.Module):
    """makemore's GELU: a module of the user's own whose class name says what it is."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Net(nn.Module):
    """Logits and the loss, as makemore's and nanoGPT's models return them; one ReLU unit is dead by its
    bias."""

    def __init__(self, vocab: int = 7):
        super().__init__()
        self.embed = nn.Embedding(vocab, 12)
        self.fc1, self.relu = nn.Linear(12, 16), nn.ReLU()
        self.fc2, self.act = nn.Linear(16, 16), NewGELU()
        self.fc3, self.gate = nn.Linear(16, 16), nn.Sigmoid()
        self.head = nn.Linear(16, vocab)
        with torch.no_grad():
            self.fc1.bias[3] = -1e4  # unit 3 of the ReLU: never above 0, dead for every example

    def forward(self, x, y=None):
        h = self.gate(self.fc3(self.act(self.fc2(self.relu(self.fc1(self.embed(x)))))))  # (B, T, 16)
        logits = self.head(h)  # (B, T, vocab)
        loss = None if y is None else nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        return logits, loss


def batches(steps: int, vocab: int = 7):
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randint(0, vocab, (8, 5), generator=generator)  # (B, T)
        yield x, (x + 1) % vocab


def train(model, optimizer, steps: int, run=None, log_loss: bool = False) -> list[float]:
    losses = []
    for x, y in batches(steps):
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if log_loss:
            run.log(loss=loss)  # after the step, as many loops log
        losses.append(loss.item())
    return losses


def watched_run(tmp_path, steps: int = 6, pacing: Pacing = EVERY_STEP, **watch):
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=pacing, **watch)
    losses = train(model, optimizer, steps)
    run.close()
    return model, losses, read_run_file(str(tmp_path / "run.jsonl"))


# ---- what a watched loop writes

def test_every_steps_loss_is_kept_and_the_expected_init_loss_comes_from_the_logits(tmp_path):
    _, losses, snapshots = watched_run(tmp_path, steps=40, pacing=Pacing())
    read = [loss for s in snapshots for loss in s.losses]
    assert read == pytest.approx(losses, rel=1e-6)
    assert snapshots[0].first_loss_step == 0 and snapshots[-1].state == DONE and snapshots[-1].step == 40
    assert snapshots[0].run.expected_init_loss == pytest.approx(math.log(7))
    assert snapshots[-1].init_loss == pytest.approx(losses[0])
    assert snapshots[0].run.settings["optimizer"] == "AdamW" and snapshots[0].run.model == "Net"


def test_each_activation_module_is_a_layer_in_model_order_with_the_measure_of_its_kind(tmp_path):
    _, _, snapshots = watched_run(tmp_path, steps=2)
    layers = snapshots[0].layers
    assert [(s.name, s.kind) for s in layers] == [("relu  ReLU", RECTIFIER), ("act  NewGELU", FLAT),
                                                  ("gate  Sigmoid", BOUNDED)]
    relu, gelu, sigmoid = layers
    assert relu.units == 16 and relu.dead_units >= 1 and relu.white_rows[0] >> 3 & 1  # unit 3, first example
    assert sigmoid.hist_edges[0] == 0.0 and sigmoid.hist_edges[-1] == 1.0
    assert relu.grad_std is not None and relu.grad_hist_counts  # the gradient reaching each output


def test_activation_figures_equal_the_loops_own_outputs_and_gradients(tmp_path):
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=EVERY_STEP)
    seen = {}

    def keep_output(module, args, output) -> None:  # a hook that returns a value would replace the output
        seen.setdefault("out", output.detach().clone())

    model.relu.register_forward_hook(keep_output)

    def keep_gradient(module, args) -> None:  # the gradient reaching the ReLU's output is what enters fc2
        args[0].register_hook(lambda grad: seen.setdefault("grad", grad))

    model.fc2.register_forward_pre_hook(keep_gradient)
    train(model, optimizer, 1)
    run.close()
    relu = read_run_file(str(tmp_path / "run.jsonl"))[0].layers[0]
    out = seen["out"].reshape(-1, 16)  # a unit is a channel: (B*T, units)
    assert relu.mean == pytest.approx(out.mean().item(), rel=1e-5)
    assert relu.std == pytest.approx(out.std().item(), rel=1e-5)
    assert relu.saturation == pytest.approx((out <= 0).float().mean().item() * 100, rel=1e-5)
    assert relu.dead_units == int((out <= 0).all(dim=0).sum())
    assert relu.grad_std == pytest.approx(seen["grad"].std().item(), rel=1e-5)


def test_update_to_data_is_the_update_adam_made_not_lr_times_grad(tmp_path):
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=EVERY_STEP)
    before = model.fc2.weight.detach().clone()
    train(model, optimizer, 1)
    run.close()
    params = {p.name: p for p in read_run_file(str(tmp_path / "run.jsonl"))[0].params}
    # no biases
    assert set(params) == {"embed.weight", "fc1.weight", "fc2.weight", "fc3.weight", "head.weight"}
    update = model.fc2.weight.detach() - before
    expected = math.log10(update.std().item() / before.std().item())
    assert params["fc2.weight"].update_ratio_log10 == pytest.approx(expected, abs=1e-5)
    sgd_would_say = math.log10(1e-2 * model.fc2.weight.grad.std().item() / before.std().item())
    assert abs(params["fc2.weight"].update_ratio_log10 - sgd_would_say) > 0.3  # Adam's step is not lr * grad


def test_statistics_come_at_the_monitors_pace_and_the_hooks_go_between(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    calls: list[int] = []  # by forward: how many times a forward hook that mmtui registered on model.relu ran
    model.relu.register_forward_pre_hook(lambda *_: calls.append(0))
    register = model.relu.register_forward_hook

    def counted(hook, *args, **kwargs):  # the public method that mmtui hooks a layer with
        def counting(*hook_args):
            calls[-1] += 1
            return hook(*hook_args)

        return register(counting, *args, **kwargs)

    monkeypatch.setattr(model.relu, "register_forward_hook", counted)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=Pacing(stats_interval_s=3600))
    train(model, optimizer, 5)
    run.close()
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    assert [s.step for s in snapshots if s.layers] == [1]  # step 0's statistics, then none for an hour
    assert calls == [1, 0, 0, 0, 0]  # mmtui's hook on the measured step only


def test_a_loss_logged_after_the_step_belongs_to_that_step_and_scalars_become_curves(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl")
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    losses = []
    for step in range(30):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.log(loss=loss, lr=0.1, grad_norm=torch.tensor(float(step)))
        losses.append(loss.item())
    run.log(val_loss=1.25)
    run.close()
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    assert [loss for s in snapshots for loss in s.losses] == pytest.approx(losses)
    norms = [[s for s in snap.scalars if s.name == "grad_norm"] for snap in snapshots]
    # a scalar logged every step: its latest per snapshot
    assert all(len(readings) <= 1 for readings in norms)
    last = [readings[0] for readings in norms if readings][-1]
    assert (last.value, last.step) == (29.0, 30)  # the step: updates done when logged
    assert [e.val_loss for snap in snapshots for e in snap.evals] == [1.25]  # the Loss panel's val points


def test_the_notebooks_own_loop_of_raw_tensors_is_watched_by_name(tmp_path):
    g = torch.Generator().manual_seed(2147483647)
    C = torch.randn((27, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g) * 5 / 3 / 30**0.5
    b1 = torch.randn(200, generator=g) * 0.01
    W2 = torch.randn((200, 27), generator=g) * 0.01
    b2 = torch.randn(27, generator=g) * 0
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True
    run = mmtui.watch(params=parameters, log=tmp_path / "run.jsonl", pacing=EVERY_STEP)
    X, Y = torch.randint(0, 27, (32, 3), generator=g), torch.randint(0, 27, (32,), generator=g)
    first_step = {}
    for _ in range(3):
        emb = C[X]
        h = torch.tanh(emb.view(emb.shape[0], -1) @ W1 + b1)
        loss = nn.functional.cross_entropy(h @ W2 + b2, Y)
        for p in parameters:
            p.grad = None
        h.retain_grad()
        loss.backward()
        for p in parameters:
            p.data += -0.1 * p.grad
        run.log(loss=loss, h=h)
        first_step.setdefault("h", h.detach().clone())
        first_step.setdefault("W1 update", 0.1 * W1.grad)
        first_step.setdefault("W1 before", W1.detach() + 0.1 * W1.grad)
    run.close()
    first = read_run_file(str(tmp_path / "run.jsonl"))[0]
    assert [p.name for p in first.params] == ["C", "W1", "W2"]  # the caller's names; biases are not weights
    (layer,) = first.layers
    assert layer.name == "h" and layer.kind == BOUNDED and layer.units == 200
    assert layer.saturation == pytest.approx((first_step["h"].abs() > 0.97).float().mean().item() * 100)
    assert layer.grad_std is not None
    update = math.log10(first_step["W1 update"].std().item() / first_step["W1 before"].std().item())
    assert first.params[1].update_ratio_log10 == pytest.approx(update, abs=1e-4)  # the lecture's -lr * grad


# ---- hard cases

def test_an_in_place_relu_and_a_model_without_activations_train_and_report_what_they_have(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = mmtui.watch(model, optimizer, log=tmp_path / "inplace.jsonl", pacing=EVERY_STEP)
    for _ in range(3):
        loss = model(torch.randn(16, 4)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.log(loss=loss)
    run.close()
    (relu,) = read_run_file(str(tmp_path / "inplace.jsonl"))[0].layers
    assert relu.name == "1  ReLU" and relu.grad_std is not None and relu.hist_edges[0] >= 0

    linear = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(linear.parameters(), lr=0.1)
    run = mmtui.watch(linear, optimizer, log=tmp_path / "linear.jsonl", pacing=EVERY_STEP)
    loss = linear(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
    run.log(loss=loss)
    run.close()
    (snapshot,) = read_run_file(str(tmp_path / "linear.jsonl"))[:1]
    assert snapshot.layers == () and [p.name for p in snapshot.params] == ["weight"] and snapshot.losses


def test_a_model_returning_logits_only_says_that_no_loss_was_seen(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl")
    for _ in range(3):
        nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,))).backward()
        optimizer.step()
    run.close()
    notes = [note for s in read_run_file(str(tmp_path / "run.jsonl")) for note in s.notes]
    assert notes == [NO_LOSS_NOTE] and "run.log(loss=loss)" in NO_LOSS_NOTE


def test_watching_a_model_twice_names_the_first_run_and_close_frees_it(tmp_path):
    model = nn.Linear(2, 2)
    first = mmtui.watch(model, log=tmp_path / "first.jsonl")
    with pytest.raises(RuntimeError, match="first.jsonl"):
        mmtui.watch(model, log=tmp_path / "second.jsonl")
    first.close()
    mmtui.watch(model, log=tmp_path / "second.jsonl").close()


@pytest.mark.parametrize("arguments, error, phrase", [
    (lambda: ([nn.Linear(2, 2)],), TypeError, "must be a torch.nn.Module, not list"),
    (lambda: (nn.Linear(2, 2), "adam"), TypeError, "must be a torch.optim.Optimizer, not str"),
    (lambda: (), TypeError, "needs a model"),
])
def test_watch_of_what_is_no_model_says_what_it_expected(arguments, error, phrase, tmp_path):
    with pytest.raises(error, match=phrase):
        mmtui.watch(*arguments(), log=tmp_path / "run.jsonl")


def test_a_log_path_that_cannot_be_written_is_refused_at_watch(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="does not exist"):
        mmtui.watch(nn.Linear(2, 2), log=tmp_path / "missing" / "run.jsonl")
    with pytest.raises(ValueError, match="is a directory"):
        mmtui.watch(nn.Linear(2, 2), log=tmp_path)
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root writes anywhere: the refusal is made
    with pytest.raises(ValueError, match="is not writable"):
        mmtui.watch(nn.Linear(2, 2), log=tmp_path / "run.jsonl")


def test_rank_0_writes_and_a_rank_that_does_not_gets_a_run_that_does_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets them for each rank
    monkeypatch.setenv("RANK", "0")
    run = mmtui.watch(nn.Linear(2, 2), log=tmp_path / "rank0.jsonl")
    run.log(loss=1.0)
    run.close()
    assert [x for snapshot in read_run_file(str(tmp_path / "rank0.jsonl")) for x in snapshot.losses] == [1.0]
    monkeypatch.setenv("RANK", "1")
    run = mmtui.watch(nn.Linear(2, 2), log=tmp_path / "run.jsonl")
    run.log(loss=1.0)
    run.close()
    assert not (tmp_path / "run.jsonl").exists()
    run = mmtui.watch(nn.Linear(2, 2), log=tmp_path / "run.jsonl", ranks="all")
    run.close()
    assert (tmp_path / "run.rank1.jsonl").exists()
    assert read_run_file(str(tmp_path / "run.rank1.jsonl"))[0].run.name.endswith("rank 1")


def test_a_model_compiled_after_watch_trains_with_its_statistics(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=Pacing(snapshot_every=2))
    compiled = torch.compile(model)
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    for _ in range(4):
        loss = nn.functional.cross_entropy(compiled(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.log(loss=loss)
    run.close()
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    losses = [v for s in snapshots for v in s.losses]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
    measured = [s for s in snapshots if s.layers or s.notes]
    assert measured and all(s.layers[0].name == "1  Tanh" or s.notes for s in measured)


SCRIPT = """
import os, signal, torch, torch.nn as nn, mmtui
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
run = mmtui.watch(model, optimizer, log={log!r})
for step in range(100_000):
    loss = model(torch.randn(16, 4)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    run.log(loss=loss)
    if step == 500:
        os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C in the middle of the loop
"""


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="a model on CUDA needs a GPU, and this machine has none")
def test_a_model_on_cuda_waits_for_the_device_only_on_the_steps_the_monitor_reports(tmp_path):
    torch.manual_seed(0)
    model = Net().cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    steps, every = 200, 50
    on_device = [(x.cuda(), y.cuda()) for x, y in batches(steps)]  # the loop's own copies, before counting
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=Pacing(snapshot_every=every))
    waits_per_step = []
    torch.cuda.set_sync_debug_mode("warn")  # every CUDA-to-CPU wait warns, so they can be counted
    try:
        with warnings.catch_warnings(record=True) as waits:
            warnings.simplefilter("always")
            for x, y in on_device:
                before = len(waits)
                _, loss = model(x, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()  # no .item(): the loop itself never waits for the GPU
                waits_per_step.append(sum("synchroniz" in str(w.message) for w in waits[before:]))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    run.close()
    reported = {0} | {step for step in range(steps) if (step + 1) % every == 0}  # measured, and written
    assert all(waits_per_step[step] == 0 for step in range(steps) if step not in reported), waits_per_step
    assert all(waits_per_step[step] <= 1 for step in reported), waits_per_step  # the losses' one read
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    losses = [loss for s in snapshots for loss in s.losses]
    assert len(losses) == steps and all(math.isfinite(v) for v in losses)  # every step's loss, read late
    measured = [s for s in snapshots if s.layers]
    assert measured[0].layers[0].name == "relu  ReLU" and len(measured) >= len(reported) - 1  # the last may
    # land with the closing snapshot


def test_ctrl_c_in_the_loop_leaves_a_whole_run_file_that_says_stopped(tmp_path):
    log = tmp_path / "run.jsonl"
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT.format(log=str(log))))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr
    snapshots = read_run_file(str(log))  # every line whole: the reader raises on a damaged one
    assert snapshots[-1].state == STOPPED and snapshots[-1].step in (501, 502)
    assert sum(len(s.losses) for s in snapshots) == snapshots[-1].step


def test_unknown_kinds_are_watched_by_name_with_layers(tmp_path):
    _, _, snapshots = watched_run(tmp_path, steps=1, layers=["fc*"])
    assert [(s.name, s.kind) for s in snapshots[0].layers] == [
        ("fc1  Linear", OTHER), ("fc2  Linear", OTHER), ("fc3  Linear", OTHER)]
    assert snapshots[0].layers[0].saturation == 0 and snapshots[0].layers[0].white_rows == ()

