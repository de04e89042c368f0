"""The trainer: owns the model and the SGD loop, applies commands between steps, emits snapshots."""

from __future__ import annotations

import dataclasses
import queue
import time
from dataclasses import replace
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import torch
import torch.nn.functional as F

from mmtui.engine.checkpoint import Checkpoint, CheckpointError, check_resumable, save_checkpoint
from mmtui.engine.config import TrainConfig, Tunables, expected_init_loss
from mmtui.engine.data import Dataset
from mmtui.engine.device import auto_note, dataset_on, move_tensors, resolve_device
from mmtui.engine.model import Model, build_model
from mmtui.engine.recurrent import TIME_NAMES
from mmtui.engine.sampling import sample_names
from mmtui.engine.step import StepResult
from mmtui.experiments import RECURRENT, context_for, run_name
from mmtui.measure.losses import LossBook
from mmtui.measure.pacing import Pacing
from mmtui.measure.snapshots import SnapshotBuilder
from mmtui.measure.reductions import StepStats
from mmtui.records import (DIVERGED, DONE, PAUSED, RUNNING, STOPPED, Command, EvalResult, Pause, Reinit,
                           Resume, RunInfo, Save, Snapshot, Stop, TogglePause)

if TYPE_CHECKING:  # the compiled path imports torch's compiler, which --compile off never loads
    from mmtui.engine.compiled import CompiledSteps

# steps between two looks at the cancel flag and the command queue (and one right after each snapshot, which
# a caller may answer): a process queue's look costs ~7 us, a process event's ~1 us, 1.5% and 0.2% of an MLP
# step; 8 steps take 4-30 ms
COMMAND_POLL_STEPS = 8
IDLE_WAIT_S = 0.05  # how long a paused or finished trainer waits for a command before checking cancel again
DIVERGE_FACTOR = 100  # default divergence threshold, in multiples of the expected step-0 loss
SAMPLE_SEED_OFFSET = 10  # the lecture samples with a generator seeded 2147483647 + 10


class CommandSource(Protocol):
    """A queue.Queue or multiprocessing.Queue of commands."""

    def get(self, block: bool = True, timeout: float | None = None) -> Command: ...

    def get_nowait(self) -> Command: ...

    def empty(self) -> bool: ...


class CancelFlag(Protocol):
    """A threading.Event or multiprocessing.Event."""

    def is_set(self) -> bool: ...


class Trainer:
    """Trains one net at a time; a Reinit command replaces it and restarts the step counter."""

    def __init__(self, config: TrainConfig, dataset: Dataset, emit: Callable[[Snapshot], None],
                 commands: CommandSource | None = None, cancel: CancelFlag | None = None,
                 save_path: str | None = None, resume: Checkpoint | None = None, pacing: Pacing = Pacing(),
                 tunables: Tunables = Tunables()):
        """`save_path`: where a run's checkpoint goes (see save()); `resume`: a checkpoint to continue, whose
        run `config` must extend (check_resumable); `pacing`: how often to report; `tunables`: how to work."""
        self._block_size = config.block_size  # the MLPs' context, as asked: a recurrent model reads its own
        config = replace(config, block_size=context_for(config.model, config.block_size))
        self.config = config
        self.pacing = pacing
        self.tunables = tunables
        # Every run's RunInfo settings: its config and the data's sizes,
        # so a run file alone describes the run.
        self._data_facts = {"num_words": dataset.num_words, "train_examples": len(dataset.Ytr),
                            "val_examples": len(dataset.Ydev)}
        # the net drawn on the CPU: only its size is wanted
        step_macs = (config.batch_size
                     * build_model(config, dataset.vocab.size, torch.Generator()).num_params()
                     if config.device == "auto" else 0)
        self.device = resolve_device(config.device, step_macs)
        # by block size: a reinit to a model of another context windows the same examples again, once
        self._datasets = {dataset.block_size: dataset_on(dataset, self.device)}
        self.dataset = self._datasets[dataset.block_size]
        self.emit = emit
        self.commands = commands if commands is not None else queue.Queue()
        self.cancel = cancel
        self.save_path = save_path
        self._stop_requested = False  # a Stop command arrived: finish the run (unless finished) and return
        self._poll_due = True  # look at the cancel flag and the command queue before the next step
        self.vocab_size = dataset.vocab.size
        self.expected_init_loss = expected_init_loss(self.vocab_size)
        self.diverge_at = config.diverge_at or DIVERGE_FACTOR * self.expected_init_loss
        self._run_id = -1
        # the compiled steps of each kind of model trained so far
        self._compiled: dict[tuple, CompiledSteps] = {}
        torch.set_num_threads(config.threads)
        self._start_run(config)
        if resume is not None:
            self._restore(resume)
        if config.device == "auto":
            self._builder.notes.append(auto_note(self.device, step_macs))

    # ---- one run between two reinits

    def _start_run(self, config: TrainConfig) -> None:
        self.config = config
        if config.block_size not in self._datasets:
            self._datasets[config.block_size] = self.dataset.with_block_size(config.block_size)
        self.dataset = self._datasets[config.block_size]
        self._run_id += 1
        self.generator = torch.Generator().manual_seed(config.seed)
        self.model: Model = build_model(config, self.vocab_size, self.generator)
        move_tensors(self.model.parameters() + self.model.buffers(), self.device)
        self.params = self.model.parameters()
        self.sample_generator = torch.Generator().manual_seed(config.seed + SAMPLE_SEED_OFFSET)
        self.run_info = RunInfo(
            run_id=self._run_id, name=run_name(config.model, config.init, config.w1_scale, config.gain),
            model=config.model, settings={**dataclasses.asdict(config), **self._data_facts},
            total_steps=config.steps, num_params=self.model.num_params(), vocab_size=self.vocab_size,
            expected_init_loss=self.expected_init_loss)
        self.step = 0  # updates done
        self.state = RUNNING
        self._batches = torch.empty(0, config.batch_size, dtype=torch.long)
        self._batch_pos = 0
        # before the current block's draw: what a checkpoint keeps
        self._block_state = self.generator.get_state()
        self._saved_step: int | None = None  # the step this run was last saved at
        now = time.perf_counter()
        self._builder = SnapshotBuilder(self.run_info, self.pacing, now=now,  # what the next snapshot carries
                                        book=LossBook(self.diverge_at))
        self._last_sample = now
        self._lr_tensors: dict[tuple[float, ...], torch.Tensor] = {}  # the compiled calls' learning rates
        self._compiled_steps = self._compiled_steps_of(config)
        self._compiled_steps_said = False  # this run's notes have said that the compiled step is in use

    # ---- the compiled path

    def _compiled_steps_of(self, config: TrainConfig) -> CompiledSteps | None:
        """The compiled steps of this run's kind of model, built or being built as config.compile asks; None
        where the run stays on the eager path: off, a device other than the CPU, a short run under auto."""
        short = config.steps < self.tunables.auto_compile_min_steps
        if config.compile == "off" or (config.compile == "auto" and short):
            return None
        if config.model in RECURRENT:  # a loop over time steps through autograd: not built for the compiler
            if config.compile == "on":
                self._builder.notes.append(f"--compile on: {config.model} trains on the eager path")
            return None
        if self.device.type != "cpu":
            if config.compile == "on":
                self._builder.notes.append(f"--compile on: the compiled step is built for the CPU only; "
                                           f"training on {self.device.type} on the eager path")
            return None
        key = (config.model, config.block_size, config.embed, config.hidden, config.batch_size)
        if key not in self._compiled:
            # torch's compiler loads only when it is asked for
            from mmtui.engine.compiled import CompiledSteps

            def throwaway() -> Model:
                return build_model(config, self.vocab_size, torch.Generator())

            kind = {"config": dataclasses.asdict(config), "vocab_size": self.vocab_size}
            compiled = self._compiled[key] = CompiledSteps(throwaway, self.dataset.Xtr, self.dataset.Ytr,
                                                           config.batch_size, self.tunables.steps_per_call,
                                                           kind=kind)
            if config.compile == "on":
                compiled.build()
        return self._compiled[key]

    def _compiled_steps_fit(self) -> bool:
        """Whether the next steps may run as one compiled call: it is built, and none of them but the last
        ends where the loop has work between two steps (an evaluation, a step-counted snapshot, the run's
        end)."""
        compiled = self._compiled_steps
        if compiled is None:
            return False
        if not compiled.ready.is_set():
            if compiled.error is not None:
                self._builder.notes.append(f"the compiled step failed ({compiled.error}): training on the "
                                           f"eager path")
                self._compiled_steps = None
            elif self.step > 0 and compiled.build_in_background():  # auto: once step 0's snapshot is out,
                # which then waits for none of the compiler's imports. A process of its own compiles; loading
                # its work here holds the GIL for a few seconds of tracing, when the eager steps crawl: the
                # note says so
                self._builder.notes.append("building the compiled step in a process of its own; the eager "
                                           "steps slow down only while it loads, for a few seconds")
            return False
        start, end = self.step, self.step + compiled.steps_per_call
        if start % compiled.steps_per_call or end > self.config.steps:
            return False  # aligned, so that the index blocks and the command polls fall on call ends
        if self.config.stop_at is not None and end > self.config.stop_at:
            return False
        return all(not every or start // every == (end - 1) // every
                   for every in (self.config.eval_every, self.pacing.snapshot_every))

    def _train_compiled_steps(self) -> None:
        """steps_per_call SGD steps in one compiled call; every step's loss is counted as _train_step counts
        it. A diverged step ends the count there, though the call's later updates were made: a diverged net is
        neither trained on nor saved."""
        compiled = self._compiled_steps
        count = compiled.steps_per_call
        if not self._compiled_steps_said:  # each run's notes say it: a run's notes go with it
            self._compiled_steps_said = True
            self._builder.notes.append(f"compiled step in use from step {self.step:,} ({count} steps a call, "
                                       f"built in {compiled.built_in_s:.1f} s)")
        batches = self._next_batches(count)  # (K, B)
        rates = tuple(self.config.lr_at(self.step + k) for k in range(count))
        if rates not in self._lr_tensors:
            self._lr_tensors[rates] = torch.tensor(rates)  # (K,)
        for value in compiled(self.model, batches, self._lr_tensors[rates]).tolist():
            if not self._count_step(value):
                return

    def _draw_block(self, start: int) -> None:
        """The minibatch indices of steps start, start + 1, ... in one call."""
        self._block_state = self.generator.get_state()
        count = min(self.tunables.index_block, self.config.steps - start)
        self._batches = torch.randint(0, self.dataset.Xtr.shape[0], (count, self.config.batch_size),
                                      generator=self.generator).to(self.device)  # (count, B)
        self._batch_pos = 0

    def _next_batches(self, count: int) -> torch.Tensor:
        """The minibatch indices of the next `count` steps, (count, B); a compiled call's count never crosses
        the end of a block, since blocks start at multiples of index_block and calls at multiples of their
        count."""
        if self._batch_pos == len(self._batches):
            self._draw_block(self.step)
        batches = self._batches[self._batch_pos:self._batch_pos + count]  # (count, B)
        self._batch_pos += count
        return batches

    def _train_step(self, with_stats: bool) -> None:
        """One SGD step on one minibatch; the loss is taken before the update, as the lecture's loop."""
        ix = self._next_batches(1)[0]  # (B,)
        result = self.model.step(self.dataset.Xtr[ix], self.dataset.Ytr[ix], record=with_stats)
        lr = self.config.lr_at(self.step)
        with torch.no_grad():
            torch._foreach_add_(self.params, result.grads, alpha=-lr)  # one fused update of every parameter
        if with_stats:
            self._measure(result, lr)
        self._count_step(result.loss.item())

    @torch.no_grad()
    def _measure(self, result: StepResult, lr: float) -> None:
        """The step's statistics, as the lecture takes them: every Tanh's output and gradient, and each 2-D
        weight's gradient with lr * grad.std() / data.std() after the update for its update:data."""
        started = time.perf_counter()
        stats = StepStats(self.step)
        grads = result.activation_grads or [None] * len(result.activations)
        for t, grad in zip(result.activations, grads):
            handle = stats.activation(t)
            if grad is not None:
                stats.gradient(handle, grad)
        if result.time_outputs is not None:  # a recurrent net: its tanh and the gradient at h by time step
            stats.times.sequence("h", result.time_outputs, 0, name=TIME_NAMES[self.config.model])
            stats.times.sequence_gradient("h", result.time_grads, 0)
        for name, index in self.model.weights().items():
            p, grad = self.params[index], result.grads[index]
            stats.weight(name, p, grad, p.std(), lr * grad.std())
        stats.send()
        self._builder.add_stats(stats)
        self._builder.clock.spent(time.perf_counter() - started)

    def _count_step(self, value: float) -> bool:
        """Count one step done, whose loss before its update was `value`; False if that loss diverged."""
        self.step += 1
        if self._builder.add_loss(self.step - 1, value):
            return True
        self.state = DIVERGED
        return False

    @property
    def init_loss(self) -> float | None:
        """This run's step-0 loss, once known (from its checkpoint, for a resumed run)."""
        return self._builder.book.init_loss

    @torch.no_grad()
    def split_loss(self, X: torch.Tensor, Y: torch.Tensor) -> float:
        logits = self.model.forward(X)
        return F.cross_entropy(logits, Y).item()

    def evaluate(self, train: bool = True) -> EvalResult:
        ds = self.dataset
        train_loss = self.split_loss(ds.Xtr, ds.Ytr) if train else None
        return EvalResult(self.step, train_loss, self.split_loss(ds.Xdev, ds.Ydev))

    def sample(self) -> list[str]:
        return sample_names(self.model, self.dataset.vocab, self.config.block_size, self.config.num_samples,
                            self.sample_generator)

    # ---- checkpoints

    def checkpoint(self) -> Checkpoint:
        """The current run as it stands between two steps; it shares the live tensors, so save it before the
        next."""
        return Checkpoint(self.config, self.dataset.vocab.chars, self.dataset.num_words,
                          self.dataset.words_sha256, self.step, tuple(self.params),
                          tuple(self.model.buffers()), self._block_state, self._batch_pos,
                          self.sample_generator.get_state(), self.init_loss)

    def save(self, path: str) -> None:
        """Write the current run's checkpoint to `path` (atomically); raises CheckpointError."""
        save_checkpoint(self.checkpoint(), path)
        self._saved_step = self.step

    def _save_reported(self) -> None:
        """Save to save_path, and tell the next snapshot what happened: a failed save must not end the run."""
        if self.save_path is None:
            self._builder.save_error = "no checkpoint file to save to: start mmtui with --save FILE"
            return
        try:
            self.save(self.save_path)
            self._builder.saved, self._builder.save_error = self.save_path, None
        except CheckpointError as error:
            self._builder.save_error = str(error)

    def _save_due(self) -> bool:
        """An automatic save (end of run, stop, quit): not of a diverged net, and not twice at one step."""
        return self.save_path is not None and self.state != DIVERGED and self._saved_step != self.step

    def _restore(self, checkpoint: Checkpoint) -> None:
        """Continue the checkpoint's run: its tensors, step and generators, so the next steps repeat its
        numbers."""
        check_resumable(checkpoint, self.config, self.dataset.vocab.chars, self.dataset.words_sha256)
        with torch.no_grad():
            for tensor, saved in zip(self.params + self.model.buffers(),
                                     checkpoint.parameters + checkpoint.buffers):
                tensor.copy_(saved)
        self.step = checkpoint.step
        self._builder = SnapshotBuilder(self.run_info, self.pacing, step=checkpoint.step,
                                        book=LossBook(self.diverge_at, checkpoint.init_loss))
        self.generator.set_state(checkpoint.batch_generator_state)
        self._block_state = checkpoint.batch_generator_state
        if checkpoint.batch_position:  # redraw the block the saved run was in; the indices repeat
            self._draw_block(checkpoint.step - checkpoint.batch_position)
            self._batch_pos = checkpoint.batch_position
        self.sample_generator.set_state(checkpoint.sample_generator_state)

    # ---- snapshots

    def _publish(self) -> None:
        started = time.perf_counter()
        snapshot = self._builder.take(state=self.state, step=self.step,
                                      lr=self.config.lr_at(max(self.step - 1, 0)))
        self.emit(snapshot)
        if snapshot.layers:  # reading statistics back and sending them on is measuring's cost too
            self._builder.clock.spent(time.perf_counter() - started)
        self._poll_due = True

    # ---- commands

    def _apply(self, command: Command) -> None:
        if isinstance(command, Reinit):
            if self._builder.has_news:
                self._publish()  # the old run's last losses reach the UI before the new run starts
            scale = ((command.w1_scale if command.w1_scale is not None else self.config.w1_scale)
                     * command.w1_factor)
            seed = self.config.seed + 1 if command.new_seed else self.config.seed
            model = command.model or self.config.model
            self._start_run(replace(self.config, init=command.init or self.config.init, w1_scale=scale,
                                    seed=seed, model=model, block_size=context_for(model, self._block_size),
                                    gain=command.gain if command.gain is not None else self.config.gain))
        elif isinstance(command, Stop):
            self._stop_requested = True
        elif isinstance(command, Save):
            self._save_reported()
            self._publish()
        elif self.state in (RUNNING, PAUSED):
            paused = {Pause: True, Resume: False, TogglePause: self.state == RUNNING}[type(command)]
            self.state = PAUSED if paused else RUNNING
            if not paused:
                self._builder.restart_rate(self.step, time.perf_counter())
            self._publish()

    def _drain_commands(self) -> None:
        self._poll_due = False
        while not self.commands.empty():
            try:
                self._apply(self.commands.get_nowait())
            except queue.Empty:
                return

    def _finish(self) -> None:
        """Final evaluation, checkpoint and samples of a run that ended by itself or by a Stop."""
        evals = self._builder.evals
        if not evals or evals[-1].step != self.step or evals[-1].train_loss is None:
            evals.append(self.evaluate())
        if self._save_due():  # before sampling: a resumed run then samples what the uninterrupted run does
            self._save_reported()
        self._builder.samples.extend(self.sample())
        self._publish()

    # ---- the loop

    def run(self, exit_when_done: bool = True, finish_on_cancel: bool = False) -> str:
        """Step until the run ends (or, with exit_when_done False, until Stop or cancel); returns the state.

        Cancel is checked with the commands, every COMMAND_POLL_STEPS steps and after each snapshot. A UI
        quits with it at once (saving first, with a save path); a script's Ctrl-C asks finish_on_cancel for
        the final evaluation, checkpoint and samples that a Stop command gives.
        """
        while True:
            look = self._poll_due or self.step % COMMAND_POLL_STEPS == 0 or self.state != RUNNING
            if look and self.cancel is not None and self.cancel.is_set():
                if finish_on_cancel and self.state in (RUNNING, PAUSED):
                    self.state = STOPPED
                    self._finish()
                elif self._save_due():
                    self._save_reported()
                    self._publish()  # the quitting UI does not read it; a run log records the save
                return STOPPED
            if look:
                self._drain_commands()
            if self._stop_requested:
                if self.state != STOPPED:  # a run that stopped at config.stop_at has finished already
                    self.state = STOPPED
                    self._finish()
                return STOPPED
            if self.state != RUNNING:
                if exit_when_done and self.state in (DONE, DIVERGED, STOPPED):
                    return self.state
                try:
                    self._apply(self.commands.get(timeout=IDLE_WAIT_S))
                except queue.Empty:
                    pass
                continue
            now = time.perf_counter()
            snapshot_due = self._builder.snapshot_due(self.step, now)
            with_stats = snapshot_due and self._builder.stats_due(now)
            if not with_stats and self._compiled_steps_fit():
                self._train_compiled_steps()
            else:
                self._train_step(with_stats)
            if self.state == DIVERGED:
                self._publish()
                continue
            every = self.config.eval_every
            if every and self.step % every == 0 and self.step < self.config.steps:
                self._builder.evals.append(self.evaluate(train=self.pacing.eval_train_every))
            interval = self.pacing.sample_interval_s
            if interval and now - self._last_sample >= interval:
                self._builder.samples.extend(self.sample())
                self._last_sample = now
            if self.step >= self.config.steps:
                self.state = DONE
                self._finish()
            elif self.config.stop_at is not None and self.step >= self.config.stop_at:
                self.state = STOPPED  # as a Stop would, but a UI's trainer then waits for a Reinit or quit
                self._finish()
            elif snapshot_due:
                self._publish()
