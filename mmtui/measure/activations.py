"""The activation functions' families: which trouble measure fits a module or a tensor, by the function that made it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from mmtui.records import BOUNDED, OTHER, RECTIFIER

# Class names, lower-cased, of the ReLU family (and anything of the user's own that says so: makemore's NewGELU),
# and of bounded functions. "relu" is looked for first: ReLU6 is a Hardtanh in torch, but its trouble is ReLU's.
RECTIFIER_NAMES = ("relu", "gelu", "silu", "swish", "mish", "selu", "celu", "elu", "softplus")
BOUNDED_NAMES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "softsign": (-1.0, 1.0)}


@dataclass(frozen=True)
class Activation:
    """How one function's outputs are measured."""

    kind: str  # BOUNDED, RECTIFIER or OTHER
    bounds: tuple[float, float] = (-1.0, 1.0)  # a BOUNDED function's range
    flat_below: float = 0.0  # a RECTIFIER's output at or below this came from an input at or below 0


def activation_of(module: nn.Module) -> Activation | None:
    """The measure of an activation module, by its class; None for a module that is none (or holds others)."""
    if any(True for _ in module.children()):
        return None
    name = type(module).__name__.lower()
    if isinstance(module, nn.Hardtanh) and "relu" not in name:
        return Activation(BOUNDED, (float(module.min_val), float(module.max_val)))
    if "relu" in name:
        return Activation(RECTIFIER)
    for bounded, bounds in BOUNDED_NAMES.items():
        # Tanhshrink (x - tanh x) and LogSigmoid are not bounded on both sides
        if bounded in name and "shrink" not in name and not name.startswith("log"):
            return Activation(BOUNDED, bounds)
    if "softplus" in name:
        return Activation(RECTIFIER, flat_below=math.log(2) / float(getattr(module, "beta", 1.0)))
    if any(rectifier in name for rectifier in RECTIFIER_NAMES):
        return Activation(RECTIFIER)
    return None


def activation_of_tensor(t: torch.Tensor) -> Activation:
    """The measure of a tensor a loop logs by name, from the function that made it (its grad_fn)."""
    made_by = type(t.grad_fn).__name__.lower() if t.grad_fn is not None else ""
    if "relu" in made_by or "gelu" in made_by or "silu" in made_by:
        return Activation(RECTIFIER)
    for bounded, bounds in BOUNDED_NAMES.items():
        if bounded in made_by:
            return Activation(BOUNDED, bounds)
    return Activation(OTHER)
