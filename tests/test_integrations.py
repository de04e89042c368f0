"""The training people actually run, watched: a Lightning run with mmtui's Callback, a Hugging Face Trainer
with its TrainerCallback (accelerate's wrapped optimizer, ModelOutput losses), forwards without grad that are
no training step, and a model compiled with torch.compile; each with the real library, tiny models, on the
CPU."""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import mmtui
from mmtui.measure.pacing import Pacing
from mmtui.runfile import read_run_file
from mmtui.tui.history import History
from mmtui.watcher.run import NO_LOSS_NOTE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EVERY_STEP = Pacing(snapshot_every=1)  # statistics at every step: each step's figures checkable
STEPS = 6
VAL_SCALE = 1000.0  # validation inputs this large saturate every Tanh: a saturated measurement came from one


def tanh_net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))


def loaders(val_scale: float = VAL_SCALE) -> tuple[DataLoader, DataLoader]:
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 4, generator=generator) * 0.1, torch.randint(0, 3, (64,), generator=generator)
    return (DataLoader(TensorDataset(x, y), batch_size=8),
            DataLoader(TensorDataset(x * val_scale, y), batch_size=16))


def losses_of(snapshots) -> list[float]:
    return [loss for s in snapshots for loss in s.losses]


def assert_training_steps_only(snapshots) -> None:
    """Every measured step's layers came from a training forward: gradients reached them, and none saturated
    as the validation inputs make every unit saturate."""
    measured = [s for s in snapshots if s.layers]
    assert measured and measured[0].step == 1  # step 0 is measured
    for s in measured:
        assert all(layer.grad_std is not None and layer.saturation < 50 for layer in s.layers), s.step
        assert s.params and all(math.isfinite(p.grad_std) for p in s.params)


# ---- Lightning

@pytest.fixture(scope="module")
def lightning_run(tmp_path_factory):
    L = pytest.importorskip("lightning.pytorch")
    from mmtui.integrations.lightning import MmtuiCallback

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net, self.losses, self.val_losses = tanh_net(), [], {}

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)  # no forward returns it: training_step does
            self.log("accuracy", (self.net(x).argmax(-1) == y).float().mean())
            self.losses.append(loss.item())
            return {"loss": loss}

        def validation_step(self, batch, batch_idx):
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("val_loss", loss)
            if not self.trainer.sanity_checking:
                self.val_losses.setdefault(self.trainer.global_step, []).append(loss.item())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("lightning") / "run.jsonl"
    module = Module()
    trainer = L.Trainer(max_steps=STEPS, val_check_interval=3, limit_val_batches=2, num_sanity_val_steps=2,
                        callbacks=[MmtuiCallback(log=path, pacing=EVERY_STEP)], accelerator="cpu",
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    train, val = loaders()
    trainer.fit(module, train, val)
    return module, read_run_file(str(path))


def test_a_lightning_run_gives_every_steps_loss_as_training_step_returned_it(lightning_run):
    module, snapshots = lightning_run
    assert losses_of(snapshots) == pytest.approx(module.losses, rel=1e-6)
    assert snapshots[0].first_loss_step == 0 and snapshots[-1].step == STEPS and snapshots[-1].state == "done"
    assert snapshots[0].run.total_steps == STEPS and snapshots[0].run.settings["optimizer"] == "SGD"
    assert snapshots[0].run.settings["framework"] == "Lightning"  # the status line names it


def test_lightnings_val_loss_is_a_val_point_and_self_log_a_scalar_but_not_the_sanity_check(lightning_run):
    module, snapshots = lightning_run
    evals = [e for s in snapshots for e in s.evals]
    assert [e.step for e in evals] == list(module.val_losses) == [3, 6]  # none at step 0: the sanity check's
    assert [e.val_loss for e in evals] == pytest.approx([sum(v) / len(v) for v in module.val_losses.values()])
    accuracy = [sc for s in snapshots for sc in s.scalars if sc.name == "accuracy"]
    assert [sc.step for sc in accuracy] == list(range(1, STEPS + 1))  # updates done when logged
    assert not [n for s in snapshots for n in s.notes if n]


def test_lightnings_statistics_come_from_training_steps_only(lightning_run):
    _, snapshots = lightning_run
    assert_training_steps_only(snapshots)
    assert [layer.name for layer in snapshots[0].layers] == ["net.1  Tanh"]


# ---- Hugging Face Trainer

class TokenData(Dataset):
    def __init__(self, rows: int, vocab: int, block: int, seed: int):
        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, vocab, (rows, block), generator=generator)  # (N, T)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def tiny_gpt2(vocab: int = 11, block: int = 8):
    transformers = pytest.importorskip("transformers")
    transformers.utils.logging.set_verbosity_error()
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=vocab, n_positions=block, n_embd=16, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0))


def train_with_trainer(path, **arguments):
    transformers = pytest.importorskip("transformers")
    from mmtui.integrations.transformers import MmtuiCallback

    model = tiny_gpt2()
    returned = []  # the losses the model returned in training forwards, as the Trainer got them
    model.register_forward_hook(lambda m, i, out: returned.append(out.loss.item()) if torch.is_grad_enabled()
                                else None)
    logged = []

    class KeepLogs(transformers.TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            logged.append(dict(logs))

    args = transformers.TrainingArguments(
        str(path.parent / "out"), max_steps=STEPS, per_device_train_batch_size=4, logging_steps=1,
        eval_strategy="steps", eval_steps=3, save_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True, **arguments)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=TokenData(48, 11, 8, 0),
                                   eval_dataset=TokenData(8, 11, 8, 1),
                                   callbacks=[MmtuiCallback(log=path, pacing=EVERY_STEP), KeepLogs()])
    trainer.train()
    return returned, logged, read_run_file(str(path))


@pytest.fixture(scope="module")
def trainer_run(tmp_path_factory):
    return train_with_trainer(tmp_path_factory.mktemp("trainer") / "run.jsonl")


def test_a_trainer_run_gives_the_models_loss_of_every_step_and_eval_loss_as_val_points(trainer_run):
    returned, logged, snapshots = trainer_run
    assert losses_of(snapshots) == pytest.approx(returned, rel=1e-6) and len(returned) == STEPS
    assert [log["loss"] for log in logged if "loss" in log] == pytest.approx(returned, rel=1e-5)
    evals = [e for s in snapshots for e in s.evals]
    assert [e.step for e in evals] == [3, 6]
    assert [e.val_loss for e in evals] == pytest.approx([log["eval_loss"] for log in logged
                                                          if "eval_loss" in log])
    assert snapshots[0].run.expected_init_loss == pytest.approx(math.log(11))  # from the ModelOutput's logits
    assert snapshots[0].run.settings["framework"] == "transformers"  # the status line names it
    assert {sc.name for s in snapshots for sc in s.scalars} == {"grad_norm"}
    assert snapshots[-1].step == STEPS and snapshots[0].run.settings["optimizer"] == "AdamW"


def test_a_trainers_statistics_come_from_training_steps_through_the_wrapped_optimizer(trainer_run):
    _, _, snapshots = trainer_run
    measured = [s for s in snapshots if s.layers]
    assert [s.step for s in measured] == list(range(1, STEPS + 1))  # every step, none from evaluation
    assert all(layer.grad_std is not None for s in measured for layer in s.layers)
    assert [layer.name for layer in measured[0].layers] == ["transformer.h.0.mlp.act  NewGELUActivation"]
    assert all(math.isfinite(p.update_ratio_log10) for s in measured for p in s.params)  # AdamW's real update


def test_under_gradient_accumulation_the_trainers_logged_loss_is_each_steps(tmp_path):
    _, logged, snapshots = train_with_trainer(tmp_path / "run.jsonl", gradient_accumulation_steps=2)
    assert losses_of(snapshots) == pytest.approx([log["loss"] for log in logged if "loss" in log], rel=1e-6)
    assert len(losses_of(snapshots)) == STEPS


# ---- the examples, and a missing extra

@pytest.mark.parametrize("example, library, first_layer", [
    ("lightning_mlp.py", "lightning", "net.4  Tanh"),
    ("hf_trainer.py", "transformers", "transformer.h.0.mlp.act  NewGELUActivation"),
])
def test_each_frameworks_example_runs_as_a_user_runs_it(example, library, first_layer, small_words_path,
                                                        tmp_path):
    pytest.importorskip(library)
    every = "--val-every" if library == "lightning" else "--eval-every"
    result = subprocess.run([sys.executable, str(EXAMPLES / example), "--data", str(small_words_path),
                             "--steps", "8", "--run-file", "run.jsonl", every, "4"], capture_output=True,
                            text=True, cwd=tmp_path, stdin=subprocess.DEVNULL, timeout=300)
    assert result.returncode == 0, result.stderr
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    assert snapshots[-1].step == 8 and len(losses_of(snapshots)) == 8
    assert snapshots[0].layers[0].name == first_layer
    assert [e.step for s in snapshots for e in s.evals] == [4, 8]


@pytest.mark.parametrize("integration, extra", [("lightning", "lightning"), ("transformers", "transformers")])
def test_a_missing_framework_names_the_extra_to_install(integration, extra, monkeypatch):
    for name in [extra, *(name for name in sys.modules if name.startswith(f"{extra}."))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if it were not installed: its imports raise
    monkeypatch.delitem(sys.modules, f"mmtui.integrations.{integration}", raising=False)  # imported afresh
    with pytest.raises(ImportError) as refused:
        importlib.import_module(f"mmtui.integrations.{integration}")
    assert str(refused.value) == (f'mmtui.integrations.{integration} needs {extra}: '
                                  f'pip install "mmtui[{extra}]"')


# ---- wrapped optimizers, ModelOutput-style returns, notes

def test_accelerates_wrapped_optimizer_counts_steps_and_measures_updates(tmp_path):
    accelerate = pytest.importorskip("accelerate")
    torch.manual_seed(0)
    model = tanh_net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model, optimizer = accelerate.Accelerator(cpu=True).prepare(model, optimizer)
    assert type(optimizer).__name__ == "AcceleratedOptimizer"  # a torch Optimizer with no hooks of its own
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=EVERY_STEP)
    train, _ = loaders()
    for x, y in train:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.log(loss=loss)
    run.close()
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    assert snapshots[-1].step == len(train) and len(losses_of(snapshots)) == len(train)
    assert all(math.isfinite(p.update_ratio_log10) for s in snapshots if s.params for p in s.params)
    assert snapshots[0].run.settings["optimizer"] == "Adam"


class PlainSGD:
    """An optimizer of one's own, no torch Optimizer: step() and param_groups."""

    def __init__(self, params, lr: float):
        self.param_groups = [{"params": list(params), "lr": lr}]

    @torch.no_grad()
    def step(self):
        for p in self.param_groups[0]["params"]:
            p -= self.param_groups[0]["lr"] * p.grad

    def zero_grad(self):
        for p in self.param_groups[0]["params"]:
            p.grad = None


class DictModel(nn.Module):
    """Returns what transformers' models return: a dict-like with `loss` and `logits`."""

    def __init__(self):
        super().__init__()
        self.net = tanh_net()

    def forward(self, x, y):
        logits = self.net(x)
        return {"logits": logits, "loss": nn.functional.cross_entropy(logits, y)}


def test_an_optimizer_like_object_and_a_dict_with_a_loss_are_understood(tmp_path):
    torch.manual_seed(0)
    model = DictModel()
    optimizer = PlainSGD(model.parameters(), lr=0.1)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=EVERY_STEP)
    train, _ = loaders()
    losses = []
    for x, y in train:
        loss = model(x, y)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    run.close()
    assert "step" not in vars(optimizer)  # the wrapper is gone with the run
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    assert losses_of(snapshots) == pytest.approx(losses, rel=1e-6) and snapshots[-1].step == len(train)
    assert snapshots[0].run.expected_init_loss == pytest.approx(math.log(3))
    assert snapshots[0].params and snapshots[0].run.settings["optimizer"] == "PlainSGD"


def test_an_evaluation_forward_before_a_training_step_supplies_none_of_its_statistics(tmp_path):
    torch.manual_seed(0)
    model = DictModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=EVERY_STEP)
    train, val = loaders()
    for (x, y), (vx, vy) in zip(train, val):
        with torch.no_grad():
            model(vx, vy)  # an evaluation (or a sampler) first: saturated, no gradient
        loss = model(x, y)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    run.close()
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    assert_training_steps_only(snapshots)
    assert len(losses_of(snapshots)) == len(val)  # the evaluation's loss is no step's


def test_the_scripts_own_watch_takes_over_from_mmtui_runs_zero_line_watch(tmp_path):
    model = tanh_net()
    automatic = mmtui.watch(model, log=tmp_path / "auto.jsonl")
    automatic.automatic = True  # as mmtui.integrations.autowatch marks the run it starts unasked
    own = mmtui.watch(model, torch.optim.SGD(model.parameters(), lr=0.1), log=tmp_path / "own.jsonl")
    assert automatic.closed and not own.closed
    with pytest.raises(RuntimeError, match="watched already"):  # a run of the user's own is not taken over
        mmtui.watch(model, log=tmp_path / "again.jsonl")
    own.close()


def test_a_loss_logged_every_few_steps_takes_the_no_loss_note_back(tmp_path):
    model = tanh_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=EVERY_STEP)
    train, _ = loaders()
    for step, (x, y) in enumerate(train):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 3 == 2:
            run.log(loss=loss)  # as the Trainer's on_log does, every logging_steps
    run.close()
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    assert [n for s in snapshots for n in s.notes] == [NO_LOSS_NOTE, ""]
    history = History()
    for snapshot in snapshots:
        history.add(snapshot)
    assert not history.notes  # the status line says nothing of a loss that came


# ---- torch.compile

def test_a_compiled_model_keeps_its_statistics_and_watch_adds_no_graph_break(tmp_path):
    import time

    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    model = DictModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    pacing = Pacing(snapshot_interval_s=0.0, stats_interval_s=0.2, stats_thinning=0.0, stats_budget=0.0)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=pacing)  # watch, then compile
    compiled = torch.compile(model)  # inductor: the C++ compiler builds the CPU kernels
    train, _ = loaders()
    losses = []
    for epoch in range(3):
        for x, y in train:
            loss = compiled(x, y)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            time.sleep(0.02)  # a few steps between two measured ones: those run compiled
    run.close()
    assert not counters["graph_break"]  # none of mmtui's hooks, nor any other
    assert counters["stats"]["unique_graphs"] == 1  # compiled once: measured steps run eager, not recompiled
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    assert losses_of(snapshots) == pytest.approx(losses, rel=1e-6)
    measured = [s for s in snapshots if s.layers]
    assert len(measured) >= 3 and measured[0].step == 1  # step 0, and measured steps after it
    assert all(s.layers[0].grad_std is not None and s.params for s in measured)
    assert not [note for s in snapshots for note in s.notes]


def test_a_compiled_training_step_is_counted_and_measured_with_mmtuis_hooks_run_eagerly(tmp_path):
    torch.manual_seed(0)
    model = DictModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = mmtui.watch(model, optimizer, log=tmp_path / "run.jsonl", pacing=EVERY_STEP)

    @torch.compile(backend="eager")  # the whole step: forward, backward and the optimizer's update
    def train_step(x, y):
        loss = model(x, y)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss

    train, _ = loaders()
    losses = [train_step(x, y).item() for x, y in train]
    run.close()
    snapshots = read_run_file(str(tmp_path / "run.jsonl"))
    assert losses_of(snapshots) == pytest.approx(losses, rel=1e-6) and snapshots[-1].step == len(train)
    assert all(s.layers and s.layers[0].grad_std is not None and s.params for s in snapshots[:-1])
