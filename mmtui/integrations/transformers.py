"""mmtui's views of a Hugging Face Trainer's run, as a TrainerCallback:
`Trainer(..., callbacks=[MmtuiCallback()])`."""

from __future__ import annotations

import os
from typing import Any

from mmtui.integrations.extras import require, scalars
from mmtui.watcher import watch

hf = require("transformers", "transformers", "mmtui.integrations.transformers")

NOT_SCALARS = {"loss", "learning_rate", "epoch", "total_flos"}  # the loss panel's, the status line's, none


class MmtuiCallback(hf.TrainerCallback):
    """Watches the Trainer's model from the start of training: every activation layer and 2-D weight on
    training steps (evaluation is not measured), each step's loss as the model returns it (the Trainer's
    logged loss under gradient accumulation, or where the model returns none), `eval_loss` as the loss panel's
    val points and the other logged numbers (grad_norm, eval metrics) as scalars. The Trainer's optimizer,
    which accelerate wraps, counts the steps. `mmtui run train.py` shows it live; without it, the run file is
    runs/<script>-<time>.jsonl for `mmtui view`.

    log, name, layers, pacing: as mmtui.watch takes them.
    """

    def __init__(self, log: str | os.PathLike | None = None, name: str | None = None,
                 layers: list[str] | None = None, pacing: Any = None):
        self._watch = {"log": log, "name": name, "layers": layers} | ({"pacing": pacing} if pacing else {})
        self.run = None  # the WatchedRun, from on_train_begin to on_train_end
        self._loss_by_log = False  # the Trainer's logged loss is the step's, not the model's returned one

    def on_train_begin(self, args: hf.TrainingArguments, state: hf.TrainerState, control: hf.TrainerControl,
                       model=None, optimizer=None, **kwargs) -> None:
        if not state.is_world_process_zero or model is None:
            return
        self.run = watch(model, optimizer, total_steps=state.max_steps or None, framework="transformers",
                         **self._watch)
        # Under accumulation the model's loss is a micro-batch's, scaled as the Trainer counts it: its log's
        # is the step's
        self._loss_by_log = args.gradient_accumulation_steps > 1 or args.label_smoothing_factor > 0
        if self._loss_by_log:
            self.run.losses_by_log()

    def on_log(self, args: hf.TrainingArguments, state: hf.TrainerState, control: hf.TrainerControl,
               logs: dict[str, Any] | None = None, **kwargs) -> None:
        if self.run is None or not logs or "train_runtime" in logs:  # the summary at the end: no step's
            return
        loss = logs.get("loss")
        if loss is not None and not self._loss_by_log and not self.run.loss_seen:
            self._loss_by_log = True  # the model returns none (the Trainer computes it): the log's is the one
            self.run.losses_by_log()
        values = {name: value for name, value in scalars(logs, NOT_SCALARS).items()
                  if not name.startswith("eval_")}  # on_evaluate's
        self.run.log(loss=loss if self._loss_by_log else None, **values)

    def on_evaluate(self, args: hf.TrainingArguments, state: hf.TrainerState, control: hf.TrainerControl,
                    metrics: dict[str, Any] | None = None, **kwargs) -> None:
        if self.run is not None and metrics:
            self.run.log(**{name: value for name, value in scalars(metrics, NOT_SCALARS).items()
                            if not name.endswith(("_runtime", "_per_second"))})  # eval_loss: a val point

    def on_train_end(self, args: hf.TrainingArguments, state: hf.TrainerState, control: hf.TrainerControl,
                     **kwargs) -> None:
        if self.run is not None:
            self.run.close()
            self.run = None
