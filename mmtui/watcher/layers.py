"""A model's activation layers: which modules are watched, their names, and the hooks that tap one step's
outputs."""

from __future__ import annotations

import fnmatch
import time

import torch
from torch import nn

from mmtui.measure.activations import Activation, activation_chosen, activation_of
from mmtui.measure.sampling import Samples
from mmtui.measure.slopes import near_flat, peak_slope
from mmtui.measure.reductions import StepStats, as_examples_by_units
from mmtui.measure.through_time import hidden_output, recurrent_of, time_dim_of
from mmtui.records import AT_INPUT, AT_OUTPUT, FLAT

# DistributedDataParallel's and torch.compile's wrappers: not the user's names
PREFIXES = ("module.", "_orig_mod.")


def user_name(path: str) -> str:
    """A module's or parameter's path as the user's model names it, without the wrappers' prefixes."""
    changed = True
    while changed:
        changed = False
        for prefix in PREFIXES:
            if path.startswith(prefix):
                path, changed = path[len(prefix):], True
    return path


def find_layers(model: nn.Module, patterns: list[str] | None) -> list[tuple[str, nn.Module, Activation]]:
    """The watched activation layers, in the model's order: every activation module and recurrent module
    (through_time.recurrent_of), or with `patterns` (module paths, * and ? allowed) exactly the modules they
    name, measured by class where it says, else as functions of the user's own (activation_chosen)."""
    layers = []
    for path, module in model.named_modules():
        path = user_name(path)
        if patterns is None:
            found = activation_of(module) or recurrent_of(module)
        elif path and any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns):
            found = activation_chosen(module)
        else:
            found = None
        if found is not None:
            layers.append((path, module, found))
    return layers


def layer_label(path: str, module: nn.Module) -> str:
    """How the panels name a layer: `transformer.h.0.mlp.act  NewGELU`."""
    return f"{path}  {type(module).__name__}"


class LayerTaps:
    """Hooks on the activation layers, present only while armed: one step's outputs (the first call of each
    module) reduced in the forward, where they are fresh (an in-place op after them would change them), and
    the gradients reaching them in the backward, into the step's StepStats; a FLAT function's inputs are
    sampled before it runs. Through time: every call of a module called more than once (a recurrent cell, a
    weight-shared block) is a time step of its own, and a fused nn.RNN/GRU/LSTM's outputs are measured per
    time step, with the gradient reaching each step's input (its hidden states stay inside the kernel).
    """

    def __init__(self, layers: list[tuple[str, nn.Module, Activation]], samples: Samples):
        self.layers = layers
        self.samples = samples
        self.spent = 0.0  # seconds the hooks took the training thread since the last look
        self._handles: list = []
        self._stats: StepStats | None = None
        self._taken: dict[int, int] = {}  # layer index -> its handle in the step's StepStats
        self._inputs: dict[int, torch.Tensor] = {}  # a FLAT layer's sampled inputs (examples, units)
        self._peaks: dict[int, torch.Tensor | None] = {}  # a FLAT layer's peak slope, found once
        # a fused recurrent layer's input, where it takes a gradient: what flows back through time reaches it
        self._time_inputs: dict[int, torch.Tensor] = {}
        self._sequenced: set[int] = set()  # the fused recurrent layers measured by time step this step

    @property
    def armed(self) -> bool:
        return bool(self._handles)

    def arm(self, stats: StepStats) -> None:
        self._stats, self._taken, self._inputs, self._time_inputs, self._sequenced = stats, {}, {}, {}, set()
        for index, (_, module, found) in enumerate(self.layers):
            if found.kind == FLAT:
                self._handles.append(module.register_forward_pre_hook(self._tap_input(index)))
            if isinstance(module, nn.RNNBase):
                self._handles.append(module.register_forward_pre_hook(self._tap_time_input(index)))
            self._handles.append(module.register_forward_hook(self._tap(index)))

    def _rows(self, index: int, t: torch.Tensor) -> torch.Tensor | None:
        shape = as_examples_by_units(t).shape
        return self.samples.rows(index, shape[0], shape[1], t.device)

    def _tap_input(self, index: int):
        def hook(module: nn.Module, args) -> None:
            if torch.compiler.is_compiling():
                return  # as the output's hook
            if index in self._inputs or index in self._taken or not args or not _measurable(args[0]):
                return
            started = _now()
            x = as_examples_by_units(args[0].detach())  # (N, units)
            rows = self._rows(index, args[0])
            self._inputs[index] = x.clone() if rows is None else x.index_select(0, rows)  # (R, units)
            self.spent += _now() - started
        return hook

    def _tap_time_input(self, index: int):
        def hook(module: nn.Module, args) -> None:
            x = args[0] if args else None
            if index not in self._time_inputs and time_dim_of(module, x) is not None and x.requires_grad:
                self._time_inputs[index] = x
        return hook

    def _tap(self, index: int):
        def hook(module: nn.Module, inputs, output) -> None:
            if torch.compiler.is_compiling():
                return  # measured steps run eager (watcher.compiled): nothing of this is traced
            output = hidden_output(output)
            if not _measurable(output):
                return
            if index in self._taken:
                self._tap_call(index, module, inputs, output)
                return
            started = _now()
            path, _, found = self.layers[index]
            rows = self._rows(index, output)
            flat = elementwise = None
            if found.kind == FLAT:
                flat, elementwise = self._near_flat(index, module, found, output, rows)
            handle = self._stats.activation(
                output, order=index, name=layer_label(path, module), kind=found.kind, bounds=found.bounds,
                flat_below=found.flat_below, saturated_at=found.saturated_at, white_at=found.white_at,
                rows=rows,
                near_flat=flat, elementwise=elementwise)
            self._taken[index] = handle
            if output.requires_grad:
                stats = self._stats
                output.register_hook(lambda grad: self._tap_gradient(stats, handle, grad, rows))
            self.spent += _now() - started
            self._tap_call(index, module, inputs, output)
        return hook

    def _tap_call(self, index: int, module: nn.Module, inputs, output: torch.Tensor) -> None:
        """Every call's figures as a time step; a fused recurrent layer's first call's by its time axis."""
        started = _now()
        path, _, found = self.layers[index]
        how = dict(name=layer_label(path, module), kind=found.kind, bounds=found.bounds,
                   saturated_at=found.saturated_at, flat_below=found.flat_below)
        times = self._stats.times
        time_dim = time_dim_of(module, inputs[0] if inputs else None)
        if time_dim is None:
            time = times.call(index, output, **how)
            if time is not None and output.requires_grad:
                output.register_hook(lambda grad: self._tap_time_gradient(
                    lambda: times.call_gradient(index, time, grad)))
        elif index not in self._sequenced:
            self._sequenced.add(index)
            times.sequence(index, output, time_dim, **how)
            given = self._time_inputs.pop(index, None)
            tensor, at = (given, AT_INPUT) if given is not None else (output, AT_OUTPUT)
            if tensor.requires_grad:
                tensor.register_hook(lambda grad: self._tap_time_gradient(
                    lambda: times.sequence_gradient(index, grad, time_dim, at)))
        self.spent += _now() - started

    def _tap_time_gradient(self, measure) -> None:
        started = _now()
        measure()
        self.spent += _now() - started

    def _tap_gradient(self, stats: StepStats, handle: int, grad: torch.Tensor,
                      rows: torch.Tensor | None) -> None:
        started = _now()
        stats.gradient(handle, grad, rows)
        self.spent += _now() - started

    def _near_flat(self, index: int, module: nn.Module, found: Activation, output: torch.Tensor,
                   rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        whole = as_examples_by_units(output.detach())  # (N, units)
        sampled = whole if rows is None else whole.index_select(0, rows)  # (R, units)
        inputs = self._inputs.pop(index, None)
        if inputs is None or inputs.shape != sampled.shape:  # not a function of its input alone
            return torch.zeros_like(sampled, dtype=torch.bool), sampled.new_zeros(())
        if index not in self._peaks:
            self._peaks[index] = peak_slope(module, output.device)
        return near_flat(module, inputs, sampled, self._peaks[index], check=not found.known)

    def disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._stats = None

    @property
    def captured(self) -> bool:
        """Whether the armed step's forward reached any layer (a compiled model runs without the hooks)."""
        return bool(self._taken)


def _now() -> float:
    """The clock for the hooks' cost; 0 inside a graph torch.compile traces, which the clock would break."""
    return 0.0 if torch.compiler.is_compiling() else time.perf_counter()


def _measurable(t) -> bool:
    """A training forward's floating-point output: an evaluation's (no grad) never stands for a step's."""
    return isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel() > 0 and torch.is_grad_enabled()
