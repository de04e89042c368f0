"""A watched training loop: its steps, losses and scalars, statistics at the monitor's pace,
written as a run file."""

from __future__ import annotations

import atexit
import math
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mmtui.measure.activations import activation_of_tensor
from mmtui.measure.pacing import Pacing
from mmtui.measure.readout import Readout
from mmtui.measure.sampling import Samples
from mmtui.measure.snapshots import SnapshotBuilder
from mmtui.measure.reductions import StepStats, as_examples_by_units
from mmtui.records import DONE, RUNNING, STOPPED, EvalResult, RunInfo, Scalar
from mmtui.runfile import RunFileWriter, open_run_file
from mmtui.scalar_names import is_validation_loss
from mmtui.watcher.compiled import CompileSafeHooks
from mmtui.watcher.layers import LayerTaps, user_name
from mmtui.watcher.optimizer import described, step_hooks
from mmtui.watcher.weights import WeightTaps

NO_LOSS_NOTE = "no loss seen: return (logits, loss) from forward, or call run.log(loss=loss)"  # 80 columns
BACKWARDS_UNSTEPPED = 64  # losses of backward() calls kept while no optimizer has stepped (a loop with none)
WITHDRAW_NOTES = ""  # a note that takes back the notes said before it (records.Snapshot.notes)
NOT_HOOKED_NOTE = "no layer statistics: their hooks did not run; log a layer so: run.log(h=h)"


class WatchedRun:
    """The run of one watched loop: hooks on the model and the optimizer, and the run file they feed.

    Between the steps that carry statistics, the only work per step is a model hook that keeps the loss tensor
    (no device sync) and the optimizer hook that counts the step; activation hooks exist
    only on a measured step.
    """

    def __init__(self, model: nn.Module | None, optimizer: torch.optim.Optimizer | None,
                 params: list[tuple[str, torch.Tensor]], layers: list, path: Path, name: str,
                 settings: dict[str, Any], pacing: Pacing, total_steps: int | None):
        self.model, self.optimizer, self.path = model, optimizer, path
        self.automatic = False  # started by `mmtui run` unasked: a watch() of the script's own takes over
        self.step_count = 0  # updates done
        self._pacing = pacing
        self._name, self._settings, self._total_steps = name, settings, total_steps
        self._num_params = sum(p.numel() for _, p in params)
        self._samples = Samples()  # the fixed subsets a large tensor is measured on
        self._layers = LayerTaps(layers, self._samples)
        self._weights = WeightTaps(params, self._samples)
        self._stats: StepStats | None = None  # the measured step's statistics, while it runs
        self._spent = 0.0  # seconds the measured step's own work (arming, reading) took the training thread
        self._file = open_run_file(str(path))
        self._writer = RunFileWriter(self._file)
        # made at the first snapshot, when the run's facts are known
        self._builder: SnapshotBuilder | None = None
        self._run: RunInfo | None = None
        # from the logits beside a returned loss: -ln(1/V) is the expected loss
        self._vocab_size: int | None = None
        self._step_losses: list = []  # this step's loss tensors (or floats): more than one with accumulation
        self._losses: list = []  # one per step since the last snapshot: tensors until a snapshot sends them
        self._in_flight: list[_InFlight] = []  # the losses of earlier snapshots on their way to the host
        self._booked = 0  # steps whose loss a snapshot has taken
        # run.log(loss=...) was called: the model's returned losses are not counted twice
        self._logged_loss = False
        self._backward_losses = False  # the step's loss is what backward() was called on (log_backward)
        self._scalars: list[tuple[str, int, Any]] = []
        self._named_layers: list = []  # activations logged by name on the measured step
        self._measuring = False  # this step carries statistics
        # the last step ended without a loss: a run.log(loss=) right after is its loss
        self._loss_awaited = False
        self._write_awaited = False  # a snapshot is due, waiting for that loss
        self._said_no_loss = False
        self._steps_by_log = optimizer is None  # without an optimizer, each run.log(loss=...) ends a step
        self._closed = False
        # till then a step needs no snapshot nor statistics: it is counted and its loss kept, nothing else
        # (None: every step takes the full path)
        self._quiet_until: float | None = None
        self._handles = []
        # a compiled training step (optimizer.step() inside torch.compile) runs the step's end eagerly
        self._end_step_outside_graphs = CompileSafeHooks.outside_graphs(self._end_step)  # None: none compiles
        self._compiled = CompileSafeHooks(model, self._on_model_output) if model is not None else None
        if self._compiled is not None:
            self._handles.append(self._compiled)
        if optimizer is not None:
            self._handles += step_hooks(optimizer, self._before_update, self._end_step)
        atexit.register(self._close_at_exit)
        self._measure_next(time.perf_counter())

    # ---- what the loop tells

    def log(self, loss: torch.Tensor | float | None = None, **values: torch.Tensor | float) -> None:
        """The step's loss, named scalars (each a curve of its latest reading per snapshot; a validation loss
        joins the Loss panel's val points), and named activations: a tensor that is not a scalar is a layer of
        that name (h=h), measured on the steps that carry statistics."""
        step = self.step_count
        quiet = self._quiet_until
        if quiet is not None and loss is not None and self._steps_by_log and time.perf_counter() < quiet:
            self._losses.append(_reading(loss))  # a loop of raw tensors' every step: as little as counting it
            for name, value in values.items():
                # a layer waits for a measured step
                if not isinstance(value, torch.Tensor) or value.numel() == 1:
                    self._scalars.append((name, step, _reading(value)))
            self.step_count += 1
            return
        if loss is not None:
            if not self._logged_loss:
                self._logged_loss, self._step_losses = True, []  # the loop's own loss replaces the model's
            # logged after optimizer.step(): the step just done
            if self._loss_awaited and not self._step_losses:
                self._losses[-1] = _reading(loss)
                self._loss_awaited = False
            else:
                self._step_losses.append(_reading(loss))
        for name, value in values.items():
            if isinstance(value, torch.Tensor) and value.numel() > 1:
                if self._measuring:
                    self._named_layers.append((name, value))
            else:
                self._scalars.append((name, step, _reading(value)))
        if loss is not None and self._steps_by_log:
            self._end_step()
        elif self._write_awaited and not self._loss_awaited:
            self._write(RUNNING, time.perf_counter())

    def losses_by_log(self) -> None:
        """Count only the losses given to run.log(loss=...), never one the model returns: for a loop that
        knows its step's loss better than a forward does (Lightning's training_step, the Trainer under
        gradient accumulation), and logs it after the step."""
        self._logged_loss, self._step_losses = True, []

    def log_backward(self, loss: torch.Tensor) -> None:
        """For the zero-line watch: a 0-dim tensor the loop calls backward() on, the step's loss where the
        model returns none (a loss computed beside the model, F.cross_entropy(model(x), y))."""
        if self._step_losses and not self._backward_losses:
            return  # the model returned this step's loss: that one
        self._backward_losses = True
        if self.optimizer is not None or len(self._step_losses) < BACKWARDS_UNSTEPPED:
            self._step_losses.append(_reading(loss))  # the optimizer's step ends the step

    def attach_optimizer(self, optimizer: Any) -> None:
        """The optimizer of a model watched without one, found at its first step (from its step pre-hook,
        before the update): it counts the steps from this one on."""
        self.optimizer, self._steps_by_log = optimizer, False
        if self._run is None:  # the run's facts are not written yet
            self._settings |= described(optimizer)
        self._handles += step_hooks(optimizer, self._before_update, self._end_step)
        self._before_update()  # this step's: its pre-hooks are being called

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def loss_seen(self) -> bool:
        """Whether a finite loss has reached the run file, returned by the model or logged."""
        return self._builder is not None and self._builder.book.last_finite_loss is not None

    def step(self) -> None:
        """End a step by hand: for a loop without an optimizer that logs more than once a step."""
        self._steps_by_log = False
        self._end_step()

    # ---- hooks

    def _on_model_output(self, module: nn.Module, inputs, output) -> None:
        if self._write_awaited and torch.is_grad_enabled():  # the next step began: its loss will not come now
            self._write(RUNNING, time.perf_counter())
        if self._logged_loss or not torch.is_grad_enabled():
            return  # an evaluation's forward, or a loop that logs its own loss
        found = _loss_in(output)
        if found is not None:
            loss, logits = found
            self._step_losses.append(_reading(loss))
            if self._vocab_size is None and logits is not None and logits.dim() >= 2 and logits.shape[-1] > 1:
                self._vocab_size = logits.shape[-1]

    def _before_update(self) -> None:
        if self._measuring and not self._weights.waiting:
            self._weights.before_update()

    def _measure_next(self, now: float) -> None:
        """Arm the statistics of the coming step when their time has come: hooks on, weights kept."""
        every = self._pacing.snapshot_every
        if self._builder is None:
            due = True  # the first step's statistics: the run's first snapshot carries them
        elif every:
            # the coming step ends where a step-counted snapshot is due
            due = (self.step_count + 1) % every == 0
        else:
            due = self._builder.stats_due(now)
        self._measuring = due
        if due:
            if self._compiled is not None:
                self._compiled.measured_step()
            self._stats = StepStats(self.step_count)
            self._layers.arm(self._stats)
            if self.optimizer is None:
                self._weights.before_update()  # a loop of its own updates between two run.log calls
            self._spent = time.perf_counter() - now

    def _end_step(self) -> None:
        """The step is over (optimizer.step() returned, or the loop said so): count it, report when due. Every
        step of the loop runs this: between measured steps it does no more than count."""
        if torch.compiler.is_compiling() and self._end_step_outside_graphs is not None:
            return self._end_step_outside_graphs()  # optimizer.step() in a compiled training step: eagerly
        if self._closed:
            return
        quiet, losses = self._quiet_until, self._step_losses
        if quiet is not None and losses and time.perf_counter() < quiet:
            self._losses.append(losses[0] if len(losses) == 1 else sum(losses) / len(losses))
            losses.clear()
            self._loss_awaited = False
            self.step_count += 1  # the fast way: no snapshot nor statistics due, the loss known
            return
        if self._compiled is not None:
            self._compiled.step_done()
            self._compiled.check()
        if self._write_awaited:
            self._write(RUNNING, time.perf_counter())
        losses = self._step_losses
        if losses:
            self._losses.append(losses[0] if len(losses) == 1 else sum(losses) / len(losses))
            losses.clear()
            self._loss_awaited = False
        else:
            self._losses.append(math.nan)
            self._loss_awaited = True
        now = time.perf_counter()
        builder = self._builder or self._started_builder(now)
        if self._measuring:
            self._take_measurements(builder)
        self.step_count += 1
        if self._measuring or builder.snapshot_due(self.step_count, now):
            if self._loss_awaited and self.optimizer is not None:
                self._write_awaited = True  # the loop may log this step's loss right after optimizer.step()
            else:
                self._write(RUNNING, now)
        self._measure_next(now)
        self._quiet_until = None if self._measuring or self._write_awaited else builder.next_due_at()

    def _take_measurements(self, builder: SnapshotBuilder) -> None:
        """The measured step's layers (hooked and logged by name) and weights, sent on their way to the next
        snapshot that finds them landed; what the measurement took the training thread
        sets the next's pace."""
        started = time.perf_counter()
        stats, self._stats = self._stats, None
        hooked = self._layers.captured or not self._layers.layers
        self._layers.disarm()
        for order, (name, t) in enumerate(self._named_layers, len(self._layers.layers)):
            self._measure_named(stats, order, name, t)
        self._named_layers = []
        if self._weights.waiting:
            self._weights.after_update(stats)
        stats.send()
        builder.add_stats(stats)
        if not hooked and NOT_HOOKED_NOTE not in builder.notes:
            builder.notes.append(NOT_HOOKED_NOTE)
        spent = self._spent + self._layers.spent + self._weights.spent + time.perf_counter() - started
        self._layers.spent = self._weights.spent = 0.0
        builder.clock.spent(spent)

    def _measure_named(self, stats: StepStats, order: int, name: str, t: torch.Tensor) -> None:
        """A tensor the loop logged by name (run.log(h=h)), measured as its grad_fn says."""
        found = activation_of_tensor(t)
        # a non-leaf's gradient exists only if retained
        grad = t.grad if t.is_leaf or t.retains_grad else None
        whole = as_examples_by_units(t)
        rows = self._samples.rows(("named", name), whole.shape[0], whole.shape[1], t.device)
        handle = stats.activation(t, order=order, name=name, kind=found.kind, bounds=found.bounds,
                                  flat_below=found.flat_below, rows=rows)
        if grad is not None:
            stats.gradient(handle, grad, rows)

    # ---- snapshots

    def _started_builder(self, now: float) -> SnapshotBuilder:
        """The run's snapshot builder, made at its first snapshot."""
        if self._builder is None:
            vocab = self._vocab_size
            self._run = RunInfo(
                run_id=0, name=self._name, model=self._settings.get("model", "model"),
                settings=self._settings,
                total_steps=self._total_steps, num_params=self._num_params, vocab_size=vocab,
                expected_init_loss=math.log(vocab) if vocab else None)
            self._builder = SnapshotBuilder(self._run, self._pacing, now=now)
            self._builder.stats_due(now)  # the first step's statistics are taken; the pace counts from here
        return self._builder

    def _write(self, state: str, now: float) -> None:
        self._write_awaited = self._loss_awaited = False
        builder = self._builder
        pending, self._losses = self._losses, []
        if pending:
            self._in_flight.append(_InFlight(pending))
        while self._in_flight and (state != RUNNING or self._in_flight[0].readout.ready()):
            # a running snapshot takes those landed, never waits
            for value in self._in_flight.pop(0).floats():
                builder.add_loss(self._booked, value)
                self._booked += 1
        if self._booked and builder.book.last_finite_loss is None and not self._said_no_loss:
            self._said_no_loss = True
            builder.notes.append(NO_LOSS_NOTE)
        elif self._said_no_loss and builder.book.last_finite_loss is not None:
            self._said_no_loss = False  # said once, taken back once: a loss is finite from now on
            builder.notes.append(WITHDRAW_NOTES)  # the loss came after all (run.log(loss=) every few steps)
        # a curve at the snapshots' pace: a scalar logged every step (lr) keeps its latest reading per
        # snapshot; every evaluation stays
        latest = {name: (name, step, value) for name, step, value in self._scalars}
        readings = [reading for reading in self._scalars if is_validation_loss(reading[0])] + \
            [reading for name, reading in latest.items() if not is_validation_loss(name)]
        values = _floats([value for _, _, value in readings])
        for (name, step, _), value in zip(readings, values):
            if is_validation_loss(name):
                builder.evals.append(EvalResult(step, None, value))
            else:
                builder.scalars.append(Scalar(name, step, value))
        self._scalars = []
        lr = self.optimizer.param_groups[0].get("lr") if self.optimizer is not None else None
        started = time.perf_counter()
        snapshot = builder.take(state=state, step=self.step_count, lr=float(lr) if lr is not None else None,
                             now=now)
        self._writer.write(snapshot)
        # reading statistics back and writing them is measuring's cost too
        if snapshot.layers or snapshot.params:
            builder.clock.spent(time.perf_counter() - started)

    # ---- the end

    def close(self, state: str = DONE) -> None:
        """Write the last snapshot, remove every hook and close the file; safe to call twice."""
        if self._closed:
            return
        self._layers.disarm()
        for handle in self._handles:
            handle.remove()
        if self.model is not None:
            self.model.__dict__.pop("_mmtui_run", None)
        atexit.unregister(self._close_at_exit)
        now = time.perf_counter()
        self._started_builder(now)
        self._write(state, now)
        self._closed = True
        self._file.close()

    def _close_at_exit(self) -> None:
        """The interpreter is exiting with the run open: a Ctrl-C or an exception stopped it,
        or the loop ended."""
        interrupted = getattr(sys, "last_type", None) is not None
        self.close(STOPPED if interrupted else DONE)

    def __enter__(self) -> WatchedRun:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.close(STOPPED if kind is not None else DONE)


class InertRun:
    """What watch() returns on a rank that does not write: the same calls, doing nothing."""

    path = None
    step_count = 0
    loss_seen = False
    closed = True
    automatic = False

    def log(self, loss=None, **values) -> None: ...

    def losses_by_log(self) -> None: ...

    def attach_optimizer(self, optimizer) -> None: ...

    def log_backward(self, loss) -> None: ...

    def step(self) -> None: ...

    def close(self, state: str = DONE) -> None: ...

    def __enter__(self) -> InertRun:
        return self

    def __exit__(self, *exc) -> None: ...


# ---- values

def _loss_in(output) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """The loss a model returned (a 0-dim tensor with a grad, alone or in a tuple, or as `loss` of a dict or
    an object: transformers' ModelOutput) and logits beside it."""
    if isinstance(output, torch.Tensor):
        return (output, None) if output.dim() == 0 and output.requires_grad else None
    if isinstance(output, Mapping) or hasattr(output, "loss"):
        get = output.get if isinstance(output, Mapping) else lambda name: getattr(output, name, None)
        loss, logits = get("loss"), get("logits")
        if not (isinstance(loss, torch.Tensor) and loss.dim() == 0 and loss.requires_grad):
            return None
        return loss, logits if isinstance(logits, torch.Tensor) else None
    if isinstance(output, (tuple, list)):
        loss = next((t for t in output if isinstance(t, torch.Tensor) and t.dim() == 0 and t.requires_grad),
                    None)
        if loss is None:
            return None
        logits = next((t for t in output if isinstance(t, torch.Tensor) and t.dim() >= 2), None)
        return loss, logits
    return None


def _reading(value):
    """A loss or scalar as kept until the next snapshot: a float read at once from the CPU, where reading
    costs no sync; a device's tensor, detached, read with the others in one sync at the snapshot. (Keeping CPU
    tensors alive instead cost the lecture's loop 9% of its speed in the allocator.)"""
    if isinstance(value, torch.Tensor):
        return value.item() if value.is_cpu else value.detach()
    return float(value)


class _InFlight:
    """One snapshot's losses: floats, and device tensors sent to the host in one asynchronous copy; a later
    snapshot that finds them landed takes them (history and file place each loss by its step)."""

    def __init__(self, values: list):
        self.values = values
        self.readout = Readout()
        for value in values:
            if isinstance(value, torch.Tensor):
                self.readout.put(value.float().mean())
        self.readout.send()

    def floats(self) -> list[float]:
        read = iter(self.readout.values())
        return [next(read) if isinstance(value, torch.Tensor) else float(value) for value in self.values]


def _floats(values: Iterable) -> list[float]:
    """Tensors and floats as floats, with one device sync for all the tensors."""
    values = list(values)
    tensors = [i for i, v in enumerate(values) if isinstance(v, torch.Tensor)]
    if tensors:
        read = torch.stack([values[i] for i in tensors]).float().cpu().reshape(-1).tolist()
        for i, value in zip(tensors, read):
            values[i] = value
    return [float(v) for v in values]


def parameter_names(model: nn.Module | None, params: Iterable[torch.Tensor] | dict | None,
                    caller_names: dict[str, Any]) -> list[tuple[str, torch.Tensor]]:
    """The watched parameters by name: the model's own, or params= as a dict, or a list named as the caller's
    variables are (C, W1, b1 ...), else by place."""
    if isinstance(params, dict):
        return [(str(name), p) for name, p in params.items()]
    if params is not None:
        by_id = {id(value): name for name, value in caller_names.items() if isinstance(value, torch.Tensor)}
        return [(by_id.get(id(p), f"param {i}"), p) for i, p in enumerate(params)]
    return [(user_name(name), p) for name, p in model.named_parameters()]
