"""The headless runner: the engine with no terminal, printing one JSON object per line."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import sys
import threading
import time
from typing import TextIO

from mmtui.engine.checkpoint import Checkpoint, CheckpointError
from mmtui.engine.config import RunFiles, TrainConfig
from mmtui.engine.data import dataset_from_words
from mmtui.engine.snapshot import DIVERGED, DONE, STOPPED, Snapshot
from mmtui.engine.trainer import Trainer

EXIT_DIVERGED = 3
SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal's number, as shells report it


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or inf; a reader gets null instead."""
    return value if value is not None and math.isfinite(value) else None


def open_log(path: str) -> TextIO:
    """A --log file, appended to and line-buffered: a crash loses at most the line being written."""
    return open(path, "a", encoding="utf-8", buffering=1)


class JsonLines:
    """Turns snapshots into the "start", "step", "eval", "saved", "save_failed", "diverged" and "done" events,
    each line written to every stream (stdout, a --log file) and flushed."""

    def __init__(self, streams: list[TextIO], started: float):
        self.streams = streams
        self.started = started
        self._run_id: int | None = None  # the run of the latest "start" line
        self._ended: tuple[int, str] | None = None  # (run, state) of the latest "diverged" or "done" line

    def write(self, event: str, **fields) -> None:
        line = json.dumps({"event": event, **fields}, allow_nan=False) + "\n"
        for stream in self.streams:
            stream.write(line)
            stream.flush()  # a reader of the pipe sees each line as it happens

    def start(self, trainer: Trainer) -> None:
        info, ds = trainer.run_info, trainer.dataset
        self._run_id = info.run_id
        self.write("start", config=dataclasses.asdict(trainer.config), step=trainer.step,
                   vocab_size=info.vocab_size, num_params=info.num_params,
                   expected_init_loss=info.expected_init_loss, num_words=ds.num_words,
                   train_examples=len(ds.Ytr), val_examples=len(ds.Ydev))

    def follow(self, trainer: Trainer, snap: Snapshot) -> None:
        """snapshot(), after a "start" line when `snap` is the first of a new run (a UI's reinit)."""
        if snap.run.run_id != self._run_id:
            self.start(trainer)  # the trainer has started that run already, so it holds the run's config
        self.snapshot(snap)

    def snapshot(self, snap: Snapshot) -> None:
        for result in snap.evals:
            self.write("eval", step=result.step, train_loss=result.train_loss, val_loss=result.val_loss)
        if snap.stats is not None:
            stats = snap.stats
            self.write("step", step=stats.step, loss=finite_or_none(snap.losses[stats.step - snap.first_loss_step]),
                       lr=snap.lr, saturation=stats.saturation, share_99=stats.share_99,
                       dead_units=stats.dead_units, h_mean=stats.mean, h_std=stats.std,
                       steps_per_s=snap.steps_per_s,
                       layers=[{"mean": s.mean, "std": s.std, "saturation": s.saturation,
                                "grad_mean": finite_or_none(s.grad_mean), "grad_std": finite_or_none(s.grad_std)}
                               for s in snap.layers],
                       params=[{"name": p.name, "shape": list(p.shape), "grad_std": finite_or_none(p.grad_std),
                                "grad_data_ratio": finite_or_none(p.grad_data_ratio),
                                "update_ratio_log10": finite_or_none(p.update_ratio_log10)} for p in snap.params])
        if snap.saved is not None:
            self.write("saved", step=snap.step, path=snap.saved)
        if snap.save_error is not None:
            self.write("save_failed", step=snap.step, error=snap.save_error)
        ended = (snap.run.run_id, snap.state)
        if snap.state not in (DIVERGED, DONE, STOPPED) or ended == self._ended:
            return  # a later snapshot of an ended run (a Save's) ends nothing
        self._ended = ended
        if snap.state == DIVERGED:
            self.write("diverged", step=snap.step - 1, loss=finite_or_none(snap.diverged_loss),
                       last_finite_loss=finite_or_none(snap.last_finite_loss))
        else:
            final = snap.evals[-1]
            self.write("done", state=snap.state, step=snap.step, train_loss=final.train_loss,
                       val_loss=final.val_loss, samples=list(snap.samples),
                       seconds=round(time.perf_counter() - self.started, 3))


def run_headless(config: TrainConfig, words: list[str], out: TextIO | None = None, files: RunFiles = RunFiles(),
                 resume: Checkpoint | None = None) -> int:
    """Train on `words` (from `resume`, if given) to the end or to Ctrl-C / SIGTERM, save to files.save then, and
    return the process exit code; a failed save raises CheckpointError after the "done" line."""
    out = out or sys.stdout  # looked up now: a caller may have redirected sys.stdout since import
    started = time.perf_counter()
    cancel = threading.Event()
    received: list[int] = []

    def on_signal(signum, _frame):
        received.append(signum)
        cancel.set()  # the loop looks every few steps; nothing here may block

    save_errors: list[str] = []

    def emit(snap: Snapshot) -> None:
        lines.snapshot(snap)
        if snap.save_error is not None:
            save_errors.append(snap.save_error)

    previous = {sig: signal.signal(sig, on_signal) for sig in SIGNAL_EXIT}
    try:
        with contextlib.ExitStack() as stack:
            log = [stack.enter_context(open_log(files.log))] if files.log else []
            lines = JsonLines(log + [out], started)  # the log first: it keeps the line if stdout's reader left
            trainer = Trainer(config, dataset_from_words(words, config.block_size), emit=emit, cancel=cancel,
                              save_path=files.save, resume=resume)
            lines.start(trainer)
            state = trainer.run(exit_when_done=True, finish_on_cancel=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if save_errors:
        raise CheckpointError(save_errors[-1])
    if received:
        return SIGNAL_EXIT[received[0]]
    return EXIT_DIVERGED if state == DIVERGED else 0
