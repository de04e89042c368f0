"""Where a UI's trainer runs: a child process (training never waits for the UI's GIL) or a thread, one interface."""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
import time
import traceback
from dataclasses import dataclass

from mmtui.engine.commands import Command
from mmtui.engine.config import RunFiles, TrainConfig
from mmtui.engine.snapshot import Snapshot

JOIN_TIMEOUT_S = 0.1  # how long close() waits for the trainer to notice cancel before it is terminated
SAVE_JOIN_TIMEOUT_S = 10.0  # the same with a --save file: the trainer finishes its step (or evaluation) and saves


@dataclass(frozen=True)
class EngineFailure:
    """An exception in the trainer, sent to the UI in place of a snapshot."""

    message: str  # one line for people
    details: str  # the traceback, for a log


def serve(config: TrainConfig, words: list[str], commands, outbox, cancel, files: RunFiles) -> None:
    """Build the dataset (and resume files.load) and train until cancelled; every snapshot and any failure goes to
    the outbox, and every snapshot to the files.log JSON lines, written here so that a busy UI delays none."""
    try:
        from mmtui.engine.checkpoint import load_checkpoint
        from mmtui.engine.data import dataset_from_words
        from mmtui.engine.trainer import Trainer
        from mmtui.headless import JsonLines, open_log

        with contextlib.ExitStack() as stack:
            lines = JsonLines([stack.enter_context(open_log(files.log))], time.perf_counter()) if files.log else None

            def emit(snapshot: Snapshot) -> None:
                outbox.put(snapshot)
                if lines is not None:
                    lines.follow(trainer, snapshot)  # a reinit's run gets its own "start" line

            resume = load_checkpoint(files.load) if files.load else None
            trainer = Trainer(config, dataset_from_words(words, config.block_size), emit=emit, commands=commands,
                              cancel=cancel, save_path=files.save, resume=resume)
            if lines is not None:
                lines.start(trainer)
            trainer.run(exit_when_done=False)
    except Exception as error:  # noqa: BLE001 - any failure must reach the UI rather than die silently
        outbox.put(EngineFailure(f"{type(error).__name__}: {error}", traceback.format_exc()))


def _serve_in_child(config, words, commands, outbox, cancel, files) -> None:
    import warnings

    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch runs fine without numpy
    outbox.cancel_join_thread()  # exit promptly on cancel even if the UI stopped reading
    serve(config, words, commands, outbox, cancel, files)


class TrainerHost:
    """Starts a trainer, takes commands for it, hands back what it emitted; safe to call from any thread."""

    def __init__(self, config: TrainConfig, words: list[str], process: bool = True, files: RunFiles = RunFiles()):
        """`files`: the checkpoint to resume and save (on Save, at the end, on close) and the JSON-lines log."""
        self._receiving = threading.Lock()  # close() must not free the outbox under a receive()
        self._join_timeout = SAVE_JOIN_TIMEOUT_S if files.save else JOIN_TIMEOUT_S
        if process:
            context = multiprocessing.get_context("spawn")  # fork is unsafe beside a UI's threads
            self._commands, self._outbox, self._cancel = context.Queue(), context.Queue(), context.Event()
            self._runner = context.Process(target=_serve_in_child, name="mmtui-trainer", daemon=True,
                                           args=(config, words, self._commands, self._outbox, self._cancel, files))
        else:
            self._commands, self._outbox, self._cancel = queue.Queue(), queue.Queue(), threading.Event()
            self._runner = threading.Thread(target=serve, name="mmtui-trainer", daemon=True,
                                            args=(config, words, self._commands, self._outbox, self._cancel, files))

    def start(self) -> None:
        self._runner.start()

    def send(self, command: Command) -> None:
        if self._commands is not None:  # a key during shutdown goes nowhere
            self._commands.put(command)

    def receive(self, timeout: float) -> list[Snapshot | EngineFailure]:
        """Everything emitted so far, waiting up to timeout for the first item."""
        items = []
        with self._receiving:
            if self._outbox is None:
                return items  # closed
            return self._receive(items, timeout)

    def _receive(self, items: list, timeout: float) -> list[Snapshot | EngineFailure]:
        try:
            items.append(self._outbox.get(timeout=timeout))
            while True:
                items.append(self._outbox.get_nowait())
        except queue.Empty:
            if not items and not self._runner.is_alive() and not self._cancel.is_set():
                items.append(EngineFailure("the trainer exited unexpectedly", f"exit code {self._exitcode()}"))
            return items

    def _exitcode(self) -> int | None:
        return getattr(self._runner, "exitcode", None)

    def cancel(self) -> None:
        """Ask the trainer to stop after its current step; returns at once."""
        if self._cancel is not None:
            self._cancel.set()

    def close(self) -> None:
        """Cancel the trainer and wait for it to stop (and save, with a --save file); a child process that does
        not stop in time is terminated."""
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
