"""The lecture's trainer as a source: a child process (training never waits for the UI's GIL) or a thread."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import multiprocessing
import os
import queue
import signal
import sys
import threading
import traceback

from mmtui.engine.config import DeviceError, RunFiles, TrainConfig
from mmtui.measure.pacing import Pacing
from mmtui.engine.words import DataError
from mmtui.processes import die_with_parent
from mmtui.records import (DIVERGED, DONE, LAYERS, LOSS, SAMPLES, STOPPED, TIME, WEIGHTS, Arrival, Command,
                           EngineFailure, Pause, Reinit, Resume, Save, Snapshot, SourceStatus, Stop,
                           TogglePause)
from mmtui.runfile import RunLog

JOIN_TIMEOUT_S = 0.1  # how long close() waits for the trainer to notice cancel before it is terminated
DRAIN_TIMEOUT_S = 0.2  # how long a trainer seen ended is given for its last items to arrive
# the same with a --save file: the trainer finishes its step (or evaluation) and saves
SAVE_JOIN_TIMEOUT_S = 10.0
# seconds between sampled names while a UI watches (each batch costs the trainer ~40 ms)
SAMPLE_INTERVAL_S = 5.0
# The run as a UI watches it: names sampled every few seconds, and interval evaluations of the val split only,
# which is all the Loss panel plots (the train split is 8x larger: ~0.7 s of every 10,000 steps on the
# lecture's names). Snapshots and statistics come at Pacing's default, time-based pace.
UI_PACING = Pacing(sample_interval_s=SAMPLE_INTERVAL_S, eval_train_every=False)
STARTING = SourceStatus("starting the trainer: loading torch…")  # the ~2 s before the first step
STARTED = SourceStatus("")
ENDED = SourceStatus("", ended=True)  # the run is done, stopped or diverged: only a reinit brings more


def run_trainer(config: TrainConfig, words: list[str], commands, outbox, cancel, files: RunFiles,
                pacing: Pacing) -> None:
    """The trainer's entry, in its process or thread: build the dataset (and resume files.load) and train
    until cancelled; every snapshot and any failure goes to the outbox, and every snapshot to the files.log
    run file, written here so that a busy UI delays none."""
    try:
        from mmtui.engine.checkpoint import load_checkpoint
        from mmtui.engine.data import dataset_from_words
        from mmtui.engine.trainer import Trainer

        with contextlib.ExitStack() as stack:
            run_log = RunLog(files.log) if files.log else None
            if run_log is not None:
                stack.callback(run_log.close)

            def emit(snapshot: Snapshot) -> None:
                log_error = run_log.write(snapshot) if run_log is not None else None
                if log_error is not None:  # a full disk: said on the status line; training goes on
                    snapshot = dataclasses.replace(snapshot, notes=(*snapshot.notes, log_error))
                outbox.put(snapshot)

            resume = load_checkpoint(files.load) if files.load else None
            trainer = Trainer(config, dataset_from_words(words, config.block_size), emit=emit,
                              commands=commands, cancel=cancel, save_path=files.save, resume=resume,
                              pacing=pacing)
            trainer.run(exit_when_done=False)
    except (DataError, DeviceError) as error:  # a setting refused: one line and exit 2, as headless says it
        outbox.put(EngineFailure(f"error: {error}", "", exit_code=2))
    except Exception as error:  # noqa: BLE001 - any failure must reach the UI rather than die silently
        outbox.put(EngineFailure(f"the trainer failed: {type(error).__name__}: {error}",
                                 traceback.format_exc()))


def _run_trainer_in_child(parent_pid: int, config, words, commands, outbox, cancel, files, pacing) -> None:
    """run_trainer() in the trainer's process, which ends with mmtui's however that ends (killed too). Its
    parent stops it: SIGINT and SIGHUP reach the terminal's whole process group, this process too, and would
    end it before the parent's close() could have it save."""
    import warnings

    die_with_parent(parent_pid)
    for signal_number in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signal_number, signal.SIG_IGN)
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch runs fine without numpy
    run_trainer(config, words, commands, outbox, cancel, files, pacing)
    if cancel.is_set():
        outbox.cancel_join_thread()  # exit promptly on cancel even if the UI stopped reading
    outbox.close()
    # otherwise the queue's feeder first: a failure's message reaches the UI before the end
    outbox.join_thread()
    # No interpreter teardown: a compiled step's build still running in a thread would abort it (SIGABRT).
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


class TrainerSource:
    """Starts a trainer, takes commands for it, hands back what it emitted; safe to call from any thread."""

    commands = frozenset({Reinit, Pause, Resume, TogglePause, Stop, Save})
    produces = frozenset({LOSS, SAMPLES, LAYERS, WEIGHTS, TIME})  # the lecture's every panel; figures by time
    # step from the recurrent models
    promised = frozenset({LOSS, SAMPLES, LAYERS, WEIGHTS})  # from its start

    def __init__(self, config: TrainConfig, words: list[str], process: bool = True,
                 files: RunFiles = RunFiles(), pacing: Pacing = UI_PACING):
        """`files`: the checkpoint to resume and save (on Save, at the end, on close) and the run file to
        write."""
        self._receiving = threading.Lock()  # close() must not free the outbox under a receive()
        self._said: SourceStatus | None = None  # STARTING before the first snapshot, then STARTED or ENDED
        self._join_timeout = SAVE_JOIN_TIMEOUT_S if files.save else JOIN_TIMEOUT_S
        if process:
            context = multiprocessing.get_context("spawn")  # fork is unsafe beside a UI's threads
            self._commands, self._outbox, self._cancel = context.Queue(), context.Queue(), context.Event()
            runner, target = context.Process, functools.partial(_run_trainer_in_child, os.getpid())
        else:
            self._commands, self._outbox, self._cancel = queue.Queue(), queue.Queue(), threading.Event()
            runner, target = threading.Thread, run_trainer
        self._runner = runner(target=target, name="mmtui-trainer", daemon=True,
                              args=(config, words, self._commands, self._outbox, self._cancel, files, pacing))

    def start(self) -> None:
        self._runner.start()

    @property
    def pid(self) -> int | None:
        """The trainer process's id once started; None for a thread."""
        return getattr(self._runner, "pid", None)

    def send(self, command: Command) -> None:
        if self._commands is not None:  # a key during shutdown goes nowhere
            self._commands.put(command)

    def receive(self, timeout: float) -> list[Arrival]:
        """Everything emitted so far, waiting up to timeout for the first item."""
        items = []
        with self._receiving:
            if self._outbox is None:
                return items  # closed
            return self._receive(items, timeout)

    def _receive(self, items: list, timeout: float) -> list[Arrival]:
        if self._said is None:
            self._said = STARTING
            return [STARTING]
        try:
            items.append(self._outbox.get(timeout=timeout))
            while True:
                items.append(self._outbox.get_nowait())
        except queue.Empty:
            if not items and not self._runner.is_alive() and not self._cancel.is_set():
                items += self._drain()  # what the trainer sent just before it ended: its failure, most likely
                if not any(isinstance(item, EngineFailure) for item in items):
                    items.append(EngineFailure("the trainer exited unexpectedly",
                                               f"exit code {self._exitcode()}"))
            snapshots = [item for item in items if isinstance(item, Snapshot)]
            if snapshots:
                status = ENDED if snapshots[-1].state in (DONE, STOPPED, DIVERGED) else STARTED
                if status is not self._said:
                    self._said = status
                    items.append(status)
            return items

    def _drain(self) -> list[Arrival]:
        items = []
        with contextlib.suppress(queue.Empty, OSError, EOFError):
            while True:
                items.append(self._outbox.get(timeout=DRAIN_TIMEOUT_S))
        return items

    def _exitcode(self) -> int | None:
        return getattr(self._runner, "exitcode", None)

    def cancel(self) -> None:
        """Ask the trainer to stop after its current step; returns at once."""
        if self._cancel is not None:
            self._cancel.set()

    def close(self) -> None:
        """Cancel the trainer and wait for it to stop (and save, with a --save file); a child process that
        does not stop in time is terminated."""
        if self._cancel is None:
            return  # closed already
        self._cancel.set()
        self._runner.join(self._join_timeout)
        if isinstance(self._runner, multiprocessing.process.BaseProcess):
            if self._runner.is_alive():
                self._runner.terminate()
                self._runner.join(JOIN_TIMEOUT_S)
            # Free the queues' semaphores now: a process that ends with os._exit would leave them to
            # multiprocessing's resource tracker, which warns about them on the terminal.
            with self._receiving:
                self._commands.close()
                self._outbox.close()
                self._commands = self._outbox = self._cancel = None
