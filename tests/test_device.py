"""--device: auto picks the CPU for the lecture's nets and says so; cuda without a device is a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from mmtui.engine.config import CUDA_MIN_STEP_MACS, DeviceError, TrainConfig
from mmtui.measure.pacing import Pacing
from mmtui.engine.device import dataset_on, move_tensors, resolve_device
from mmtui.engine.trainer import Trainer

HAS_CUDA = torch.cuda.is_available()
QUICK = TrainConfig(steps=200, eval_every=0, num_samples=3)


@pytest.fixture
def cuda_found(monkeypatch):
    """Set whether torch finds a CUDA device, so both answers are tested on any machine."""
    return lambda found: monkeypatch.setattr(torch.cuda, "is_available", lambda: found)


@pytest.mark.parametrize("found, step_macs, expected", [
    (True, 32 * 11_897, "cpu"),  # the lecture's MLP: launch-bound, the CPU is faster
    (True, CUDA_MIN_STEP_MACS, "cuda"),  # a step with arithmetic enough for the GPU
    (False, CUDA_MIN_STEP_MACS, "cpu"),
])
def test_auto_picks_cuda_only_for_a_net_large_enough_and_a_device_found(cuda_found, found, step_macs,
                                                                        expected):
    cuda_found(found)
    assert resolve_device("auto", step_macs) == torch.device(expected)
    assert resolve_device("cpu", step_macs) == torch.device("cpu")  # never CUDA unless asked for


@pytest.mark.parametrize("found", [True, False])
def test_auto_says_what_it_picked_for_the_lecture_net(cuda_found, small_dataset, found):
    cuda_found(found)
    snapshots = []
    trainer = Trainer(replace(QUICK, device="auto", steps=2), small_dataset, snapshots.append)
    trainer.run()
    assert trainer.device == torch.device("cpu")
    notes = [note for snapshot in snapshots for note in snapshot.notes]
    assert len(notes) == 1 and notes[0].startswith("--device auto: training on the CPU (")
    assert (("a CUDA device was found, but" in notes[0]) == found
            and f"{32 * 11_897:,} multiply-adds" in notes[0])


def test_cuda_without_a_device_is_an_error_that_names_the_way_out(cuda_found, small_dataset):
    cuda_found(False)
    with pytest.raises(DeviceError, match="--device cpu or auto"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="--device cpu or auto"):
        Trainer(replace(QUICK, device="cuda"), small_dataset, lambda _: None)


def test_headless_cuda_without_a_device_exits_2_with_one_line(small_words_path):
    hidden = os.environ | {"CUDA_VISIBLE_DEVICES": ""}  # no device for torch to find, even on a GPU machine
    done = subprocess.run([sys.executable, "-m", "mmtui", "--headless", "--data", str(small_words_path),
                           "--steps", "10", "--device", "cuda"], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env=hidden)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["mmtui: error: --device cuda: torch finds no CUDA device "
                                                "here; use --device cpu or auto"]
    assert done.stdout == ""


def test_moving_tensors_changes_them_in_place_for_every_holder():
    # torch refuses to swap a CPU tensor's data for a meta tensor's, and this machine may have no GPU; a
    # second CPU device index is a move it can make: `.to("cpu:0")` copies into new storage
    # as `.to("cuda")` does.
    weight = torch.randn(3, 4, requires_grad=True)  # a layer net's parameter: an autograd leaf
    buffer = torch.zeros(4)
    before = weight.detach().clone()
    layer, parameters = {"weight": weight, "running_mean": buffer}, [weight]
    old_storage = weight.data_ptr(), buffer.data_ptr()
    move_tensors([weight, buffer], torch.device("cpu", 0))
    assert layer["weight"].data_ptr() != old_storage[0] and layer["running_mean"].data_ptr() != old_storage[1]
    assert parameters[0].data_ptr() == layer["weight"].data_ptr()  # both holders see the one moved tensor
    torch.testing.assert_close(layer["weight"].detach(), before)  # the same values, moved
    assert weight.is_leaf and weight.requires_grad  # still trainable: SGD updates what the layers hold


def test_moving_tensors_to_their_own_device_copies_nothing():
    weight = torch.randn(3, 4)
    storage = weight.data_ptr()
    move_tensors([weight], torch.device("cpu"))
    assert weight.data_ptr() == storage


@pytest.mark.parametrize("model", ["mlp", "mlp-bn"])
def test_a_cpu_run_keeps_its_data_and_tensors_where_they_are(small_dataset, model):
    trainer = Trainer(replace(QUICK, model=model), small_dataset, lambda _: None)
    assert trainer.dataset is small_dataset  # no copy of the splits
    tensors = trainer.params + trainer.model.buffers()
    assert {t.device.type for t in tensors} == {"cpu"}
    assert all(p is q for p, q in zip(trainer.params, trainer.model.parameters(), strict=True))
    trainer.run()
    assert {t.device.type for t in trainer.params + trainer.model.buffers()} == {"cpu"}


def test_the_dataset_moves_off_the_cpu_and_stays_put_on_it(small_dataset):
    assert dataset_on(small_dataset, torch.device("cpu")) is small_dataset
    moved = dataset_on(small_dataset, torch.device("meta"))
    assert {t.device.type
            for t in (moved.Xtr, moved.Ytr, moved.Xdev, moved.Ydev, moved.Xte, moved.Yte)} == {"meta"}
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
    # the same minibatches; kernels round differently
    assert cuda_losses == pytest.approx(cpu_losses, rel=1e-3)
    assert len(cuda_samples) == len(cpu_samples)
