"""`mmtui run` on a script that never imports mmtui: its model and optimizer are found and watched, every
step's loss, statistics from training steps only; a script that watches itself is watched once; --no-watch
watches none; a Trainer gets its callback; a crash ends as python's would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mmtui.runfile import read_run_file
from mmtui.sources.script import AUTOWATCH, python_command
from test_run_script import TIMEOUT_S, unattended, write_script

STEPS = 25
UNTOUCHED = f"""
import json, sys
import torch, torch.nn as nn, torch.nn.functional as F

torch.manual_seed(0)
model = nn.Sequential(nn.Embedding(7, 8), nn.Flatten(), nn.Linear(24, 16), nn.Tanh(), nn.Linear(16, 7))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)  # backward() of the loss times 1024, as with fp16
generator = torch.Generator().manual_seed(1)
losses = []
for step in range({STEPS}):
    if step % 10 == 0:
        with torch.no_grad():  # an evaluation: its embedding scaled up, every tanh saturates
            model[0].weight.mul_(1000)
            zeros = torch.zeros(64, 3, dtype=torch.long)
            print("val loss", F.cross_entropy(model(zeros), zeros[:, 0]))
            model[0].weight.div_(1000)
    x = torch.randint(0, 7, (32, 3), generator=generator)
    loss = F.cross_entropy(model(x), x[:, 0])  # the model returns logits: the loss is computed beside it
    optimizer.zero_grad()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    losses.append(loss.item())
json.dump(losses, open("losses.json", "w"))
"""
WATCHES_ITSELF = UNTOUCHED.replace("losses = []",
                                   "import mmtui\nrun = mmtui.watch(model, optimizer)\nlosses = []")


def test_a_script_that_never_imports_mmtui_has_its_steps_layers_and_weights_watched(tmp_path):
    script = write_script(tmp_path, "train.py", UNTOUCHED)
    result, screen = unattended(tmp_path, str(script))
    assert result.returncode == 0, result.stderr
    runs = list((tmp_path / "runs").glob("train-*.jsonl"))
    assert len(runs) == 1
    snapshots = read_run_file(str(runs[0]))
    losses = json.loads((tmp_path / "losses.json").read_text())
    assert [loss for s in snapshots for loss in s.losses] == losses and snapshots[-1].step == STEPS
    assert snapshots[0].run.settings["optimizer"] == "AdamW" and snapshots[0].run.name == "train Sequential"
    measured = [s for s in snapshots if s.layers]
    assert measured[0].step == 1 and measured[0].params  # step 0, with the update AdamW made
    for s in measured:  # from training steps: gradients reached them, and no evaluation's saturation
        assert [(layer.name, layer.grad_std is not None) for layer in s.layers] == [("3  Tanh", True)]
        assert s.layers[0].saturation < 50
    assert not [note for s in snapshots for note in s.notes if note]
    assert "train Sequential" in screen and "3  Tanh" in screen


def autowatched(folder, script) -> tuple[subprocess.CompletedProcess, list]:
    """The child `mmtui run` starts, without the app: the script through the zero-line watch; its run file."""
    run_file = folder / "run.jsonl"
    result = subprocess.run([sys.executable, "-m", AUTOWATCH, str(script)], cwd=folder, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT_S,
                            env={**os.environ, "MMTUI_LOG": str(run_file)})
    return result, read_run_file(str(run_file)) if run_file.exists() else []


def test_a_script_that_watches_itself_is_watched_once_and_no_watch_watches_none(tmp_path):
    result, snapshots = autowatched(tmp_path, write_script(tmp_path, "own.py", WATCHES_ITSELF))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "run.jsonl").read_text().splitlines()
    sessions = [line for line in lines if '"event":"header"' in line]
    assert len(sessions) == 1 and snapshots[-1].step == STEPS
    assert python_command("train.py", None, ("--lr", "1"))[0][1:] == ["-m", AUTOWATCH, "train.py", "--lr",
                                                                       "1"]
    assert python_command("train.py", None, ("--lr", "1"), watch=False)[0][1:] == ["train.py", "--lr", "1"]


TRAINER = """
import torch
from torch.utils.data import Dataset
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

class Tokens(Dataset):
    def __init__(self, rows, seed):
        self.ids = torch.randint(0, 11, (rows, 8), generator=torch.Generator().manual_seed(seed))
    def __len__(self):
        return len(self.ids)
    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}

torch.manual_seed(0)
model = GPT2LMHeadModel(GPT2Config(vocab_size=11, n_positions=8, n_embd=16, n_layer=1, n_head=2,
                                   bos_token_id=0, eos_token_id=0))
args = TrainingArguments("out", max_steps=6, per_device_train_batch_size=4, logging_steps=1,
                         eval_strategy="steps", eval_steps=3, save_strategy="no", report_to=[], use_cpu=True,
                         disable_tqdm=True)
Trainer(model=model, args=args, train_dataset=Tokens(48, 0), eval_dataset=Tokens(8, 1)).train()
"""
LIGHTNING = """
import lightning as L, torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

class Module(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    def training_step(self, batch, i):
        return nn.functional.cross_entropy(self.net(batch[0]), batch[1])
    def validation_step(self, batch, i):
        self.log("val_loss", nn.functional.cross_entropy(self.net(batch[0]), batch[1]))
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

torch.manual_seed(0)
data = TensorDataset(torch.randn(64, 4), torch.randint(0, 3, (64,)))
L.Trainer(max_steps=6, val_check_interval=3, limit_val_batches=2, accelerator="cpu", logger=False,
          enable_checkpointing=False, enable_progress_bar=False).fit(Module(), DataLoader(data, batch_size=8),
                                                                     DataLoader(data, batch_size=16))
"""


@pytest.mark.parametrize("library, text, layer", [
    ("transformers", TRAINER, "transformer.h.0.mlp.act  NewGELUActivation"),
    ("lightning", LIGHTNING, "net.1  Tanh"),
])
def test_an_untouched_framework_script_gets_its_callback_with_losses_and_evaluations(library, text, layer,
                                                                                    tmp_path):
    pytest.importorskip(library)
    result, snapshots = autowatched(tmp_path, write_script(tmp_path, "fit.py", text))
    assert result.returncode == 0, result.stderr
    assert len([loss for s in snapshots for loss in s.losses]) == 6 and snapshots[-1].step == 6
    assert [e.step for s in snapshots for e in s.evals] == [3, 6]
    measured = [s for s in snapshots if s.layers]
    assert measured[0].step == 1 and measured[0].layers[0].name == layer
    assert all(layer.grad_std is not None for s in measured for layer in s.layers)


def test_a_crash_or_a_ctrl_c_ends_the_script_as_python_would_end_it(tmp_path):
    crash = write_script(tmp_path, "crash.py", "def f():\n    raise ValueError('boom')\nf()\n")
    result, _ = autowatched(tmp_path, crash)
    assert result.returncode == 1
    assert result.stderr.splitlines()[:2] == ["Traceback (most recent call last):",
                                              f'  File "{crash}", line 3, in <module>']  # no frame of mmtui's
    interrupt = write_script(tmp_path, "interrupt.py",
                             "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n")
    plain = subprocess.run([sys.executable, str(interrupt)], capture_output=True, timeout=TIMEOUT_S)
    assert autowatched(tmp_path, interrupt)[0].returncode == plain.returncode != 0
