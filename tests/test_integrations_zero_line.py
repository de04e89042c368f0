"""`mmtui run` on a script that never imports mmtui: its model and optimizer are found and watched, every step's
loss, statistics from training steps only; a script that watches itself is watched once; --no-watch watches not."""

from __future__ import annotations

import json

from mmtui.runfile import read_run_file
from test_run_script import unattended, write_script

STEPS = 25
UNTOUCHED = f"""
import json, sys
import torch, torch.nn as nn, torch.nn.functional as F

torch.manual_seed(0)
model = nn.Sequential(nn.Embedding(7, 8), nn.Flatten(), nn.Linear(24, 16), nn.Tanh(), nn.Linear(16, 7))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
generator = torch.Generator().manual_seed(1)
losses = []
for step in range({STEPS}):
    if step % 10 == 0:
        with torch.no_grad():  # an evaluation: its embedding scaled up, every tanh saturates
            model[0].weight.mul_(1000)
            print("val loss", F.cross_entropy(model(torch.zeros(64, 3, dtype=torch.long)), torch.zeros(64).long()))
            model[0].weight.div_(1000)
    x = torch.randint(0, 7, (32, 3), generator=generator)
    loss = F.cross_entropy(model(x), x[:, 0])  # the model returns logits: the loss is computed beside it
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
json.dump(losses, open("losses.json", "w"))
"""
WATCHES_ITSELF = UNTOUCHED.replace("losses = []", "import mmtui\nrun = mmtui.watch(model, optimizer)\nlosses = []")


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


def test_a_script_that_watches_itself_is_watched_once_and_no_watch_watches_none(tmp_path):
    script = write_script(tmp_path, "own.py", WATCHES_ITSELF)
    result, _ = unattended(tmp_path, str(script))
    assert result.returncode == 0, result.stderr
    runs = list((tmp_path / "runs").glob("own-*.jsonl"))
    lines = [json.loads(line) for line in runs[0].read_text().splitlines()]
    assert len(runs) == 1 and [line["event"] for line in lines].count("header") == 1

    script = write_script(tmp_path, "unwatched.py", UNTOUCHED)
    result, _ = unattended(tmp_path, "--no-watch", str(script))
    assert result.returncode == 0, result.stderr
    assert not list((tmp_path / "runs").glob("unwatched-*"))
