"""Through time: a module called once per time step measured at every call, an output with a time axis
measured per step, the figures against autograd, carried by the run file and the TensorBoard export, and the
lecture's rnn and gru telling their gradients apart on the bundled names."""

from __future__ import annotations

import io
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mmtui
from mmtui.engine.config import TrainConfig
from mmtui.engine.data import load_dataset
from mmtui.engine.model import build_model
from mmtui.engine.trainer import Trainer
from mmtui.measure.pacing import Pacing
from mmtui.measure.readout import Readout
from mmtui.measure.through_time import MAX_TIMES, ThroughTime
from mmtui.records import AT_HIDDEN, AT_INPUT, RECTIFIER, RUNNING, RunInfo, Snapshot, TimeStats
from mmtui.runfile import RunFileReader, RunFileWriter, read_run_file
from mmtui.tensorboard_export import through_time_scalars
from mmtui.tui.fading import fade, faded_from

T, B, E, H, V = 6, 16, 5, 12, 7


class RNNCell(nn.Module):
    """makemore's RNNCell: one Linear on [x_t, h_{t-1}], tanh."""

    def __init__(self):
        super().__init__()
        self.xh_to_h = nn.Linear(E + H, H)

    def forward(self, x, h):
        return F.tanh(self.xh_to_h(torch.cat([x, h], 1)))


class LoopedRNN(nn.Module):
    """The cell called once per time step from a Python loop; every step's hidden state kept, its grad
    retained."""

    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, E)
        self.start = nn.Parameter(torch.zeros(1, H))
        self.cell = RNNCell()
        self.head = nn.Linear(H, V)
        self.states: list[torch.Tensor] = []

    def forward(self, idx, y):
        emb = self.wte(idx)  # (B, T, E)
        h = self.start.expand(idx.shape[0], -1)
        self.states = []
        for t in range(idx.shape[1]):
            h = self.cell(emb[:, t], h)
            h.retain_grad()
            self.states.append(h)
        logits = self.head(h)
        return logits, F.cross_entropy(logits, y)


class FusedGRU(nn.Module):
    def __init__(self, batch_first: bool):
        super().__init__()
        self.wte = nn.Embedding(V, E)
        self.gru = nn.GRU(E, H, batch_first=batch_first)
        self.head = nn.Linear(H, V)
        self.batch_first = batch_first
        self.emb = self.out = None

    def forward(self, idx, y):
        emb = self.wte(idx if self.batch_first else idx.t())  # (B, T, E) or (T, B, E)
        emb.retain_grad()
        out, _ = self.gru(emb)
        self.emb, self.out = emb, out
        logits = self.head(out[:, -1] if self.batch_first else out[-1])
        return logits, F.cross_entropy(logits, y)


def one_watched_step(model: nn.Module, path) -> TimeStats:
    """One SGD step of `model` under watch (the first step is measured), and the layer's figures by time
    step."""
    torch.manual_seed(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = mmtui.watch(model, optimizer, log=str(path))
    idx, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B,))
    _, loss = model(idx, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    run.close()
    timed = [snap for snap in read_run_file(str(path)) if snap.through_time]
    assert len(timed) == 1 and len(timed[0].through_time) == 1
    return timed[0].through_time[0]


def test_a_cell_called_per_time_step_is_measured_at_every_call_as_autograd_sees_each_hidden_state(tmp_path):
    torch.manual_seed(1)
    model = LoopedRNN()
    stats = one_watched_step(model, tmp_path / "run.jsonl")
    assert stats.name == "cell  RNNCell" and stats.times == tuple(range(T)) and stats.calls == T
    assert stats.grad_at == AT_HIDDEN
    for t, h in enumerate(model.states):  # the retained gradient of h_t: from the head and every later step
        assert stats.grad_std[t] == pytest.approx(h.grad.std().item(), rel=1e-5)
        assert stats.std[t] == pytest.approx(h.detach().std().item(), rel=1e-5)
        assert stats.saturation[t] == pytest.approx((h.detach().abs() > 0.97).float().mean().item() * 100)
    assert stats.grad_std[0] < stats.grad_std[-1]  # only the last step reaches the loss directly


@pytest.mark.parametrize("batch_first", [True, False])
def test_a_fused_gru_is_measured_per_time_step_with_the_gradient_reaching_each_steps_input(tmp_path,
                                                                                          batch_first):
    torch.manual_seed(2)
    model = FusedGRU(batch_first)
    stats = one_watched_step(model, tmp_path / "run.jsonl")
    time_dim = 1 if batch_first else 0
    assert stats.times == tuple(range(T)) and stats.grad_at == AT_INPUT
    for t in range(T):
        out_t, emb_grad_t = model.out.detach().select(time_dim, t), model.emb.grad.select(time_dim, t)
        assert stats.std[t] == pytest.approx(out_t.std().item(), rel=1e-5)
        assert stats.grad_std[t] == pytest.approx(emb_grad_t.std().item(), rel=1e-5)


def test_a_module_called_many_times_keeps_a_bounded_sample_of_its_calls_the_first_among_them():
    times = ThroughTime(Readout())
    x = torch.randn(4, 3)
    kept = [times.call("cell", x * (1 + call)) for call in range(300)]
    times.readout.send()
    records = times.records(times.readout.values(), step=5)
    (stats,) = records
    assert stats.calls == 300 and stats.times[0] == 0 and len(stats.times) <= MAX_TIMES
    stride = stats.times[1]
    assert all(t % stride == 0 for t in stats.times) and stride in (8, 16)
    assert stats.std[1] == pytest.approx((x * (1 + stride)).std().item(), rel=1e-5)
    assert set(stats.times) <= {call for call, time in enumerate(kept) if time is not None}


def test_a_module_called_once_is_no_time_series_and_costs_no_reduction():
    times = ThroughTime(Readout())
    assert times.call("act", torch.randn(4, 3)) == 0
    times.call_gradient("act", 0, torch.randn(4, 3))
    times.readout.send()
    assert times.readout.values() == [] and times.records([], step=0) == ()


def test_a_long_time_axis_keeps_its_first_and_last_steps_and_a_rectifiers_flat_side():
    times = ThroughTime(Readout())
    seq = torch.randn(2, 500, 3)  # (B, T, H)
    times.sequence("rnn", seq, 1, kind=RECTIFIER)
    times.sequence_gradient("rnn", torch.randn(2, 500, 3), 1)
    times.readout.send()
    (stats,) = times.records(times.readout.values(), step=0)
    assert stats.times[0] == 0 and stats.times[-1] == 499 and len(stats.times) <= MAX_TIMES
    assert stats.calls == 500
    last = seq[:, 499]
    assert stats.saturation[-1] == pytest.approx((last <= 0).float().mean().item() * 100)


def test_the_lecture_rnns_per_step_gradients_are_autograds():
    """makemore's RNN written out here from the model's weights: autograd's gradient at each hidden state is
    the step's gradient by time step."""
    config = TrainConfig(model="rnn", init="kaiming", block_size=4)
    model = build_model(config, 27, torch.Generator().manual_seed(3))
    X, Y = torch.randint(0, 27, (B, 4)), torch.randint(0, 27, (B,))
    result = model.step(X, Y, record=True)
    emb, h, states = model.C[X], model.start.expand(B, -1), []  # (B, T, embed), (B, hidden)
    for t in range(X.shape[1]):
        h = torch.tanh(torch.cat([emb[:, t], h], 1) @ model.cell["Wxh"] + model.cell["bxh"])  # (B, hidden)
        h.retain_grad()
        states.append(h)
    loss = F.cross_entropy(h @ model.W2 + model.b2, Y)
    loss.backward()
    assert torch.allclose(result.loss, loss.detach(), atol=1e-6)
    for t, h in enumerate(states):
        assert torch.allclose(result.time_grads[t], h.grad, atol=1e-7)


def test_the_figures_by_time_step_go_through_the_run_file_and_an_older_line_reads_without_them():
    info = RunInfo(run_id=0, name="rnn", model="rnn")
    stats = TimeStats(step=4, name="h", times=(0, 2, 4), std=(0.5, 0.6, math.nan), saturation=(1.0, 2.0, 3.0),
                      grad_std=(1e-6, 1e-4, 1e-2), grad_at=AT_INPUT, kind=RECTIFIER, calls=5)
    snap = Snapshot(run=info, state=RUNNING, step=5, first_loss_step=4, losses=(3.0,), lr=0.1,
                    steps_per_s=1.0, init_loss=3.0, layers=(), params=(), evals=(), samples=(),
                    last_finite_loss=3.0, diverged_loss=None, through_time=(stats,))
    stream = io.StringIO()
    RunFileWriter(stream).write(snap)
    reader = RunFileReader("f")
    read = [reader.read_line(line) for line in stream.getvalue().splitlines()]
    back = [s for s in read if s is not None][0].through_time[0]
    assert back.std[2] != back.std[2] and back == TimeStats(**{**stats.__dict__, "std": back.std})
    line = json.loads(stream.getvalue().splitlines()[-1])
    del line["through_time"]  # a line of a writer that had no figures by time step
    assert reader.read_line(json.dumps(line)).through_time == ()


def test_the_tensorboard_export_names_each_figure_and_time_step():
    stats = TimeStats(step=9, name="cell  RNNCell", times=(0, 3), std=(0.5, 0.6), saturation=(1.0, 2.0),
                      grad_std=(1e-4, 1e-2))
    scalars = dict(((tag, step), value) for tag, value, step in through_time_scalars(stats))
    assert scalars[("through_time_grad/cell RNNCell/t003", 9)] == 1e-2
    assert scalars[("through_time_saturation/cell RNNCell/t000", 9)] == 1.0
    assert len(scalars) == 6


def test_the_fade_and_the_step_below_one_percent_of_the_last():
    stats = TimeStats(step=0, name="h", times=(0, 1, 2, 3), std=(1,) * 4, saturation=(),
                      grad_std=(1e-5, 1e-4, 5e-3, 0.1))
    assert faded_from(stats) == 1 and fade(stats) == pytest.approx(1e-4)
    level = TimeStats(**{**stats.__dict__, "grad_std": (0.05, 0.06, 0.08, 0.1)})
    assert faded_from(level) is None and faded_from(TimeStats(**{**stats.__dict__, "grad_std": ()})) is None


class Measured(Exception):
    """The first snapshot with figures by time step came: the run has told what the test asks."""


def first_fade(model: str) -> float:
    """The lecture's net at init, kaiming with the cell's weights at a quarter (the lesson's two [ presses),
    on the bundled names: the first time step's gradient over the last's, on its first measured step."""
    def emit(snapshot: Snapshot) -> None:
        if snapshot.through_time:
            raise Measured(snapshot.through_time)

    config = TrainConfig(model=model, init="kaiming", w1_scale=0.25, steps=100, eval_every=0, compile="off")
    trainer = Trainer(config, load_dataset(None, config.block_size), emit=emit,
                      pacing=Pacing(snapshot_every=1))
    with pytest.raises(Measured) as measured:
        trainer.run()
    (stats,) = measured.value.args[0]
    assert stats.step == 0 and stats.times == tuple(range(8))
    return fade(stats)


def test_the_grus_gradient_fades_far_less_through_time_than_the_rnns_on_the_bundled_names():
    rnn, gru = first_fade("rnn"), first_fade("gru")
    assert rnn < 1e-2  # a tanh RNN below the edge: orders of magnitude lost over 8 characters
    assert gru > 1e-2 and gru > 5 * rnn  # the update gate's path around the tanh


def test_the_recurrent_models_stay_on_the_eager_path_and_say_so_when_the_compiled_step_is_asked_for():
    snaps = []
    config = TrainConfig(model="rnn", steps=2, eval_every=0, num_samples=0, compile="on")
    Trainer(config, load_dataset(None, config.block_size), emit=snaps.append,
            pacing=Pacing(snapshot_every=1)).run()
    notes = [note for snap in snaps for note in snap.notes]
    assert notes == ["--compile on: rnn trains on the eager path"]
    assert snaps[0].run.settings["block_size"] == 8  # whatever --block-size: the recurrent models' context
