"""Figures by time step: a module called once per time step measured at every call (a sample of its calls past
MAX_TIMES), and an output with a time axis measured per step; reduced on the device into the step's
Readout."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from mmtui.measure.activations import Activation
from mmtui.measure.readout import Readout
from mmtui.records import AT_HIDDEN, BOUNDED, OTHER, RECTIFIER, SATURATED_AT, TimeStats

# time steps measured per layer at most: wider than the view's heat map on any terminal. A layer called more
# often keeps every other call, then every fourth ..., so a step's cost stays bounded
MAX_TIMES = 64


@dataclass
class _Series:
    """One layer's time steps on one measured step: where each one's figures start in the readout."""

    name: str
    kind: str
    bounds: tuple[float, float]
    saturated_at: float
    flat_below: float
    grad_at: str = AT_HIDDEN
    calls: int = 0  # calls seen (per-call layers) or the time axis's length (sequences)
    stride: int = 1  # calls kept: those that are multiples of it
    kept: dict[int, int] = field(default_factory=dict)  # time step -> where its std is
    # its saturation is this far after its std: 1 per call, the block's length for a sequence (one block of
    # stds, then one of saturations)
    saturation_after: int = 1
    grads: dict[int, int] = field(default_factory=dict)  # time step -> where its gradient's std is
    first: torch.Tensor | None = None  # call 0's output, reduced once a second call shows the layer recurs


class ThroughTime:
    """The time-step figures of one measured step, put into that step's Readout; records() once it has landed.

    Two ways in: call() for each call of a module (a time step each), call_gradient() for the gradient
    reaching it; sequence() and sequence_gradient() for a tensor with a time axis. A module called once is no
    time series: only its call's tensor is held (no reduction), in case a second call comes.
    """

    def __init__(self, readout: Readout):
        self.readout = readout
        self._series: dict[object, _Series] = {}  # by the caller's key, in order of first call

    def _series_of(self, key, name: str, kind: str, bounds: tuple[float, float], saturated_at: float,
                   flat_below: float, grad_at: str = AT_HIDDEN) -> _Series:
        if key not in self._series:
            self._series[key] = _Series(name, kind, bounds, saturated_at, flat_below, grad_at)
        return self._series[key]

    # ---- a module called once per time step

    @torch.no_grad()
    def call(self, key, t: torch.Tensor, *, name: str = "", kind: str = BOUNDED,
             bounds: tuple[float, float] = (-1.0, 1.0), saturated_at: float = SATURATED_AT,
             flat_below: float = 0.0) -> int | None:
        """One call's output t (examples x units, or any shape as_examples_by_units takes); returns its time
        step where it is measured (give it to call_gradient), None where the sample of calls leaves it out."""
        series = self._series_of(key, name, kind, bounds, saturated_at, flat_below)
        time = series.calls
        series.calls += 1
        if time == 0:
            series.first = t.detach()  # measured once a second call comes: a layer called once is no series
            return 0
        if time == 1:
            self._put(series, 0, series.first)
            series.first = None
        if time % series.stride:
            return None
        self._put(series, time, t.detach())
        if len(series.kept) > MAX_TIMES:
            series.stride *= 2
            series.kept = {k: at for k, at in series.kept.items() if k % series.stride == 0}
            series.grads = {k: at for k, at in series.grads.items() if k % series.stride == 0}
        return time if time in series.kept else None

    def _put(self, series: _Series, time: int, t: torch.Tensor) -> None:
        flat = t.reshape(1, -1)  # (1, n)
        series.kept[time] = self.readout.put(*_per_row(flat, series))

    @torch.no_grad()
    def call_gradient(self, key, time: int, grad: torch.Tensor) -> None:
        """The gradient reaching call `time`'s output; a call the sample has since left out is not
        measured."""
        series = self._series[key]
        if time in series.kept:  # the backward comes after every call: a layer called once has none kept
            series.grads[time] = self.readout.put(grad.detach().float().std().reshape(1))

    # ---- a tensor with a time axis

    @torch.no_grad()
    def sequence(self, key, t: torch.Tensor, time_dim: int, *, name: str = "", kind: str = BOUNDED,
                 bounds: tuple[float, float] = (-1.0, 1.0), saturated_at: float = SATURATED_AT,
                 flat_below: float = 0.0, grad_at: str = AT_HIDDEN) -> None:
        """Outputs t with their time steps along time_dim (batch x time x hidden, or time first): each step's
        std and share in trouble, at most MAX_TIMES steps evenly spread, the first and the last among them."""
        series = self._series_of(key, name, kind, bounds, saturated_at, flat_below, grad_at)
        steps = t.shape[time_dim]
        series.calls = steps
        times = _spread_times(steps)
        by_time = _by_time(t.detach(), time_dim, times)  # (kept, n)
        at = self.readout.put(*_per_row(by_time, series))
        size = len(times)
        series.kept = {time: at + i for i, time in enumerate(times)}
        series.saturation_after = size

    @torch.no_grad()
    def sequence_gradient(self, key, grad: torch.Tensor, time_dim: int, grad_at: str | None = None) -> None:
        """The gradient reaching each time step of the tensor given to sequence(), along the same axis;
        grad_at names where it was taken, if elsewhere than the series was told."""
        series = self._series[key]
        if grad_at is not None:
            series.grad_at = grad_at
        times = _spread_times(grad.shape[time_dim])
        at = self.readout.put(_by_time(grad.detach(), time_dim, times).float().std(dim=1))  # (kept,)
        series.grads = {time: at + i for i, time in enumerate(times)}

    # ---- reading them, once landed

    def records(self, values: list[float], step: int) -> tuple[TimeStats, ...]:
        """Every layer with more than one time step, in order of first call."""
        records = []
        for series in self._series.values():
            if len(series.kept) < 2:
                continue
            times = sorted(series.kept)
            std = tuple(values[series.kept[time]] for time in times)
            saturation = tuple(values[series.kept[time] + series.saturation_after] for time in times)
            grads = tuple(values[series.grads[time]] if time in series.grads else math.nan for time in times)
            records.append(TimeStats(
                step=step, name=series.name, times=tuple(times), std=std,
                saturation=saturation if series.kind in (BOUNDED, RECTIFIER) else (),
                grad_std=grads if series.grads else (), grad_at=series.grad_at, kind=series.kind,
                calls=series.calls))
        return tuple(records)


def _spread_times(steps: int) -> list[int]:
    """At most MAX_TIMES of `steps` time steps, evenly spread, the first and the last kept."""
    if steps <= MAX_TIMES:
        return list(range(steps))
    stride = -(-steps // (MAX_TIMES - 1))
    return sorted(set(range(0, steps, stride)) | {steps - 1})


def _by_time(t: torch.Tensor, time_dim: int, times: list[int]) -> torch.Tensor:
    """t's kept time steps as rows: (kept, everything else)."""
    rows = t.movedim(time_dim, 0)  # (T, ...)
    if len(times) < rows.shape[0]:
        rows = rows.index_select(0, torch.tensor(times, device=t.device))
    return rows.reshape(len(times), -1)  # (kept, n)


def _per_row(rows: torch.Tensor, series: _Series) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's std and percent in trouble, (rows,) each: rows (rows, n) of one time step's outputs."""
    rows = rows.float()
    std = rows.std(dim=1) if rows.shape[1] > 1 else rows.new_zeros(rows.shape[0])  # (rows,)
    if series.kind == BOUNDED:
        low, high = series.bounds
        scaled = rows if series.bounds == (-1.0, 1.0) else (rows - low) * (2 / (high - low)) - 1
        troubled = scaled.abs() > series.saturated_at
    elif series.kind == RECTIFIER:
        troubled = rows <= series.flat_below
    else:
        troubled = torch.zeros_like(rows, dtype=torch.bool)
    return std, troubled.float().mean(dim=1) * 100  # (rows,) each


# ---- the modules that run through time

def recurrent_of(module: nn.Module) -> Activation | None:
    """The measure of a recurrent module's outputs (its hidden states), by its class: torch's RNN, GRU and
    LSTM and their cells, and a module of the user's whose class name ends in "Cell" (makemore's RNNCell,
    GRUCell); None for any other. A tanh RNN's, a GRU's and an LSTM's hidden states lie in [-1, 1]: saturated
    past 0.97."""
    mode = getattr(module, "mode", None) if isinstance(module, nn.RNNBase) else None
    nonlinearity = getattr(module, "nonlinearity", "tanh")
    if isinstance(module, (nn.RNNBase, nn.RNNCellBase)):
        relu = mode == "RNN_RELU" or (isinstance(module, nn.RNNCell) and nonlinearity == "relu")
        return Activation(RECTIFIER) if relu else Activation(BOUNDED)
    name = type(module).__name__.lower()
    if name.endswith("cell"):
        recurrent = any(kind in name for kind in ("rnn", "gru", "lstm"))
        return Activation(BOUNDED) if recurrent else Activation(OTHER)
    return None


def time_dim_of(module: nn.Module, x) -> int | None:
    """The time axis of a fused nn.RNN/GRU/LSTM's input and output: 1 for batch_first batches, else 0; None
    for any other module, or an input that is no tensor (a PackedSequence)."""
    if not isinstance(module, nn.RNNBase) or not isinstance(x, torch.Tensor):
        return None
    return 1 if module.batch_first and x.dim() == 3 else 0


def hidden_output(output):
    """The tensor of a module's output that holds its hidden states: an LSTM cell's h of (h, c), a fused
    layer's outputs of (outputs, h_n); the output itself where it is a tensor."""
    while isinstance(output, (tuple, list)) and output:
        output = output[0]
    return output
