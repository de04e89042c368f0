"""mmtui's views of a Lightning run, as a Callback: `L.Trainer(callbacks=[MmtuiCallback()])`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mmtui.integrations.extras import require, scalars
from mmtui.records import DONE, STOPPED
from mmtui.watcher import watch

pl = require("lightning.pytorch", "lightning", "mmtui.integrations.lightning")


class MmtuiCallback(pl.Callback):
    """Watches the LightningModule from the start of training: every activation layer and 2-D weight, on
    training steps only (the sanity check and validation are not measured); each step's loss as training_step
    returned it; what `self.log` logs as scalars, a validation loss (`val_loss`, `val/loss`, ...) as the loss
    panel's val points. Steps are the trainer's optimizer steps. `mmtui run train.py` shows it live; without
    it, the run file is runs/<script>-<time>.jsonl for `mmtui view`.

    log, name, layers, pacing: as mmtui.watch takes them.
    """

    def __init__(self, log: str | os.PathLike | None = None, name: str | None = None,
                 layers: list[str] | None = None, pacing: Any = None):
        self._watch = {"log": log, "name": name, "layers": layers} | ({"pacing": pacing} if pacing else {})
        self.run = None  # the WatchedRun, from on_train_start to on_train_end
        self._sent: dict[str, Any] = {}  # each metric as last sent: a value Lightning still holds is no news

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank != 0:
            return
        total = trainer.max_steps if trainer.max_steps > 0 else trainer.estimated_stepping_batches
        self.run = watch(pl_module, trainer.optimizers[0] if trainer.optimizers else None,
                         total_steps=int(total) if total != float("inf") else None, framework="Lightning",
                         **self._watch)
        self.run.losses_by_log()  # training_step's own loss, which its forward may not return

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.run is None:
            return
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        self.run.log(loss=loss if hasattr(loss, "numel") else None, **self._unsent_metrics(trainer))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.run is not None and not trainer.sanity_checking:
            self.run.log(**self._unsent_metrics(trainer, by_value=True))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        self._close(STOPPED)

    def _unsent_metrics(self, trainer: pl.Trainer, by_value: bool = False) -> dict[str, Any]:
        """The metrics `self.log` logged since they were last sent (Lightning keeps every one's latest): a
        tensor not sent before, or after validation (which makes new tensors of the training step's metrics,
        and syncs the device anyway) a value not sent before."""
        sent = self._sent
        new = {name: value for name, value in scalars(dict(trainer.callback_metrics), skip={"loss"}).items()
               if sent.get(name) is not value
               and not (by_value and name in sent and float(sent[name]) == float(value))}
        self._sent |= new  # held, so that a tensor is never mistaken for a new one at the same address
        return new

    def _close(self, state: str = DONE) -> None:
        if self.run is not None:
            self.run.close(state)
            self.run, self._sent = None, {}
