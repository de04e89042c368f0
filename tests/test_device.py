"""--device: auto picks CUDA only when torch finds it, cuda without it is a clear error, moves keep identity."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from mmtui.engine.config import DeviceError, Pacing, TrainConfig
from mmtui.engine.device import dataset_on, move_tensors, resolve_device
from mmtui.engine.trainer import Trainer

HAS_CUDA = torch.cuda.is_available()
QUICK = TrainConfig(steps=200, eval_every=0, num_samples=3)


def test_auto_is_cuda_exactly_when_torch_finds_a_device():
    assert resolve_device("auto").type == ("cuda" if HAS_CUDA else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA")
def test_cuda_without_a_device_is_an_error_that_names_the_way_out(small_dataset):
    with pytest.raises(DeviceError, match="--device cpu or auto"):
        Trainer(replace(QUICK, device="cuda"), small_dataset, lambda _: None)


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA")
def test_headless_cuda_without_a_device_exits_2_with_one_line(small_words_path):
    done = subprocess.run([sys.executable, "-m", "mmtui", "--headless", "--data", str(small_words_path),
                           "--steps", "10", "--device", "cuda"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["mmtui: error: --device cuda: torch finds no CUDA device here; "
                                                "use --device cpu or auto"]
    assert done.stdout == ""


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_moving_tensors_keeps_each_holders_reference():
    weight = torch.randn(3, 4)
    holders = {"layer": weight, "parameters": [weight]}
    move_tensors([weight], torch.device("cuda"))
    assert holders["layer"] is holders["parameters"][0] is weight
    assert weight.device.type == "cuda"


def test_the_dataset_moves_off_the_cpu_and_stays_put_on_it(small_dataset):
    assert dataset_on(small_dataset, torch.device("cpu")) is small_dataset
    moved = dataset_on(small_dataset, torch.device("meta"))
    assert {t.device.type for t in (moved.Xtr, moved.Ytr, moved.Xdev, moved.Ydev, moved.Xte, moved.Yte)} == {"meta"}
    assert moved.vocab == small_dataset.vocab and small_dataset.Xtr.device.type == "cpu"


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_a_cuda_run_follows_the_cpu_runs_numbers(small_dataset):
    def run(device):
        snapshots = []
        trainer = Trainer(replace(QUICK, device=device), small_dataset, snapshots.append,
                          pacing=Pacing(snapshot_every=50))
        trainer.run()
        return [loss for s in snapshots for loss in s.losses], snapshots[-1].samples

    cpu_losses, cpu_samples = run("cpu")
    cuda_losses, cuda_samples = run("cuda")
    assert cuda_losses[0] == pytest.approx(cpu_losses[0], rel=1e-5)  # the same init, drawn on the CPU
    assert cuda_losses == pytest.approx(cpu_losses, rel=1e-3)  # the same minibatches; kernels round differently
    assert len(cuda_samples) == len(cpu_samples)
