"""Which torch device a run trains on (--device), and moving a run's tensors there."""

from __future__ import annotations

from dataclasses import replace

import torch

from mmtui.engine.config import CUDA_MIN_STEP_MACS, DeviceError
from mmtui.engine.data import Dataset


def resolve_device(name: str, step_macs: int = 0) -> torch.device:
    """The device for `name`: auto picks CUDA only where torch finds one and a step's multiply-adds
    (`step_macs`) reach CUDA_MIN_STEP_MACS, else the CPU; cuda without a device is a DeviceError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() and step_macs >= CUDA_MIN_STEP_MACS
                            else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: torch finds no CUDA device here; use --device cpu or auto")
    return torch.device(name)


def auto_note(device: torch.device, step_macs: int) -> str:
    """What --device auto picked, and why, in one line."""
    if device.type != "cpu":
        return (f"--device auto: training on {device.type}: a step of {step_macs:,} multiply-adds is large "
                f"enough for the GPU")
    found = "a CUDA device was found, but " if torch.cuda.is_available() else "no CUDA device; "
    return (f"--device auto: training on the CPU ({found}a step of {step_macs:,} multiply-adds is bound by "
            f"kernel launches, which the CPU makes faster; CUDA from {CUDA_MIN_STEP_MACS:,})")


def move_tensors(tensors: list[torch.Tensor], device: torch.device) -> None:
    """Move each tensor in place, so every holder of it (a model's layers, its parameter list) sees the
    move."""
    for tensor in tensors:
        if tensor.device != device:
            tensor.data = tensor.data.to(device)


def dataset_on(dataset: Dataset, device: torch.device) -> Dataset:
    """The split's tensors on `device`; the dataset itself on the CPU."""
    if device.type == "cpu":
        return dataset
    return replace(dataset, **{name: getattr(dataset, name).to(device)
                               for name in ("Xtr", "Ytr", "Xdev", "Ydev", "Xte", "Yte")})
