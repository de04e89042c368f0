"""Where a UI's trainer runs: a child process (training never waits for the UI's GIL) or a thread, one interface."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback
from dataclasses import dataclass

from mmtui.engine.commands import Command
from mmtui.engine.config import TrainConfig
from mmtui.engine.snapshot import Snapshot

JOIN_TIMEOUT_S = 0.1  # how long close() waits for the trainer to notice cancel before it is terminated


@dataclass(frozen=True)
class EngineFailure:
    """An exception in the trainer, sent to the UI in place of a snapshot."""

    message: str  # one line for people
    details: str  # the traceback, for a log


def serve(config: TrainConfig, words: list[str], commands, outbox, cancel) -> None:
    """Build the dataset and train until cancelled; every snapshot and any failure goes to the outbox."""
    try:
        from mmtui.engine.data import dataset_from_words
        from mmtui.engine.trainer import Trainer

        trainer = Trainer(config, dataset_from_words(words, config.block_size), emit=outbox.put,
                          commands=commands, cancel=cancel)
        trainer.run(exit_when_done=False)
    except Exception as error:  # noqa: BLE001 - any failure must reach the UI rather than die silently
        outbox.put(EngineFailure(f"{type(error).__name__}: {error}", traceback.format_exc()))


def _serve_in_child(config, words, commands, outbox, cancel) -> None:
    import warnings

    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch runs fine without numpy
    outbox.cancel_join_thread()  # exit promptly on cancel even if the UI stopped reading
    serve(config, words, commands, outbox, cancel)


class TrainerHost:
    """Starts a trainer, takes commands for it, hands back what it emitted; safe to call from any thread."""

    def __init__(self, config: TrainConfig, words: list[str], process: bool = True):
        self._receiving = threading.Lock()  # close() must not free the outbox under a receive()
        if process:
            context = multiprocessing.get_context("spawn")  # fork is unsafe beside a UI's threads
            self._commands, self._outbox, self._cancel = context.Queue(), context.Queue(), context.Event()
            self._runner = context.Process(target=_serve_in_child, name="mmtui-trainer", daemon=True,
                                           args=(config, words, self._commands, self._outbox, self._cancel))
        else:
            self._commands, self._outbox, self._cancel = queue.Queue(), queue.Queue(), threading.Event()
            self._runner = threading.Thread(target=serve, name="mmtui-trainer", daemon=True,
                                            args=(config, words, self._commands, self._outbox, self._cancel))

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
        """Cancel the trainer and wait briefly; a child process that does not stop in time is terminated."""
        if self._cancel is None:
            return  # closed already
        self._cancel.set()
        self._runner.join(JOIN_TIMEOUT_S)
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
