"""Which torch device a run trains on (--device), and moving a run's tensors there."""

from __future__ import annotations

from dataclasses import replace

import torch

from mmtui.engine.config import DeviceError
from mmtui.engine.data import Dataset


def resolve_device(name: str) -> torch.device:
    """auto: CUDA when torch finds a device, else the CPU; cuda without one is a DeviceError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: torch finds no CUDA device here; use --device cpu or auto")
    return torch.device(name)


def move_tensors(tensors: list[torch.Tensor], device: torch.device) -> None:
    """Move each tensor in place, so every holder of it (a model's layers, its parameter list) sees the move."""
    for tensor in tensors:
        if tensor.device != device:
            tensor.data = tensor.data.to(device)


def dataset_on(dataset: Dataset, device: torch.device) -> Dataset:
    """The split's tensors on `device`; the dataset itself on the CPU."""
    if device.type == "cpu":
        return dataset
    return replace(dataset, **{name: getattr(dataset, name).to(device)
                               for name in ("Xtr", "Ytr", "Xdev", "Ydev", "Xte", "Yte")})
