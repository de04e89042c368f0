"""The headless runner: the engine with no terminal, printing one JSON object per line."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import sys
import threading
import time
from typing import TextIO

from mmtui.engine.checkpoint import Checkpoint, CheckpointError
from mmtui.engine.config import RunFiles, TrainConfig
from mmtui.measure.pacing import Pacing
from mmtui.engine.data import dataset_from_words
from mmtui.engine.trainer import Trainer
from mmtui.records import DIVERGED, EXIT_DIVERGED, Snapshot
from mmtui.engine.words import DataError
from mmtui.runfile import RunLog, ScriptEvents, finite_or_none

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}  # 128 + the number, as shells say


class JsonLines:
    """Turns snapshots into the "start", "note", "step", "eval", "saved", "save_failed", "diverged" and "done"
    events on stdout, each line flushed; run_headless adds "log_failed"."""

    def __init__(self, out: TextIO, started: float):
        self.out = out
        self.started = started
        self._events = ScriptEvents()

    def write(self, event: str, **fields) -> None:
        self.out.write(json.dumps({"event": event, **fields}, allow_nan=False) + "\n")
        self.out.flush()  # a reader of the pipe sees each line as it happens

    def start(self, trainer: Trainer) -> None:
        info, ds = trainer.run_info, trainer.dataset
        self.write("start", config=dataclasses.asdict(trainer.config), step=trainer.step,
                   vocab_size=info.vocab_size, num_params=info.num_params,
                   expected_init_loss=info.expected_init_loss, num_words=ds.num_words,
                   train_examples=len(ds.Ytr), val_examples=len(ds.Ydev))

    def snapshot(self, snap: Snapshot) -> None:
        for note in snap.notes:  # the trainer's word on how it trains (the compiled step): stdout and stderr
            self.write("note", text=note)
            print(f"mmtui: {note}", file=sys.stderr, flush=True)
        events = self._events.of(snap)
        for event, fields in events:
            if event == "eval":
                self.write(event, **fields)
        if snap.first_layer is not None:
            first = snap.first_layer
            self.write("step", step=first.step,
                       loss=finite_or_none(snap.losses[first.step - snap.first_loss_step]),
                       lr=snap.lr, saturation=first.saturation, share_99=first.share_99,
                       dead_units=first.dead_units, h_mean=first.mean, h_std=first.std,
                       steps_per_s=snap.steps_per_s,
                       layers=[{"mean": s.mean, "std": s.std, "saturation": s.saturation,
                                "grad_mean": finite_or_none(s.grad_mean),
                                "grad_std": finite_or_none(s.grad_std)}
                               for s in snap.layers],
                       params=[{"name": p.name, "shape": list(p.shape),
                                "grad_std": finite_or_none(p.grad_std),
                                "grad_data_ratio": finite_or_none(p.grad_data_ratio),
                                "update_ratio_log10": finite_or_none(p.update_ratio_log10)}
                               for p in snap.params])
        for event, fields in events:
            if event == "done":
                fields = {**fields, "seconds": round(time.perf_counter() - self.started, 3)}
            if event != "eval":
                self.write(event, **fields)


def run_headless(config: TrainConfig, words: list[str], out: TextIO | None = None,
                 files: RunFiles = RunFiles(),
                 resume: Checkpoint | None = None, pacing: Pacing = Pacing()) -> int:
    """Train on `words` (from `resume`, if given) to the end or to Ctrl-C / SIGTERM, save to files.save then,
    and return the process exit code; a failed save raises CheckpointError after the "done" line, a --log file
    that could not be written to the end a DataError (after its "log_failed" line, training went on)."""
    out = out or sys.stdout  # looked up now: a caller may have redirected sys.stdout since import
    started = time.perf_counter()
    cancel = threading.Event()
    received: list[int] = []

    def on_signal(signum, _frame):
        received.append(signum)
        cancel.set()  # the loop looks every few steps; nothing here may block

    save_errors: list[str] = []

    def emit(snap: Snapshot) -> None:
        # first: kept if stdout's reader left
        log_error = run_log.write(snap) if run_log is not None else None
        lines.snapshot(snap)
        if log_error is not None:
            lines.write("log_failed", path=files.log, step=snap.step, error=log_error)
        if snap.save_error is not None:
            save_errors.append(snap.save_error)

    previous = {sig: signal.signal(sig, on_signal) for sig in SIGNAL_EXIT}
    try:
        with contextlib.ExitStack() as stack:
            run_log = RunLog(files.log) if files.log else None
            if run_log is not None:
                stack.callback(run_log.close)
            lines = JsonLines(out, started)
            trainer = Trainer(config, dataset_from_words(words, config.block_size), emit=emit, cancel=cancel,
                              save_path=files.save, resume=resume, pacing=pacing)
            lines.start(trainer)
            state = trainer.run(exit_when_done=True, finish_on_cancel=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if save_errors:
        raise CheckpointError(save_errors[-1])
    if run_log is not None and run_log.error is not None:
        raise DataError(run_log.error)
    if received:
        return SIGNAL_EXIT[received[0]]
    return EXIT_DIVERGED if state == DIVERGED else 0
