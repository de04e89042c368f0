"""The activation functions' families: which trouble measure fits a module or a tensor, by the function that
made it.

Every measure is one rule, an output's slope below NEAR_FLAT_SLOPE x the function's peak slope, in the terms
that suit the family: a bound's neighbourhood (BOUNDED), the flat side (RECTIFIER), the slope itself (FLAT).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from mmtui.records import BOUNDED, FLAT, NEAR_FLAT_SLOPE, OTHER, RECTIFIER, SATURATED_AT, WHITE_AT

# Class names, lower-cased. "relu" is looked for after the leaky kinds, whose negative side is not flat: ReLU6
# is a Hardtanh in torch, but its trouble is ReLU's.
LEAKY_NAMES = ("prelu", "rrelu")  # slopes on the negative side of 1/4 and 1/8 to 1/3: FLAT, rarely near-flat
FLAT_NAMES = ("gelu", "silu", "swish", "mish", "selu", "celu", "elu", "softplus")  # and makemore's NewGELU
BOUNDED_NAMES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "softsign": (-1.0, 1.0)}
SOFTSIGN_AT = 1 - math.sqrt(NEAR_FLAT_SLOPE)  # 0.757: softsign's slope is (1 - |t|) ** 2
SOFTSIGN_WHITE_AT = 1 - math.sqrt(1 - WHITE_AT ** 2)  # 0.859: as flat as tanh's white pixels
# a hard bound's slope is exactly 0 at the bound only: outputs on it, allowing the scaling's rounding
HARD_AT = 0.999


@dataclass(frozen=True)
class Activation:
    """How one function's outputs are measured."""

    kind: str  # BOUNDED, RECTIFIER, FLAT or OTHER
    bounds: tuple[float, float] = (-1.0, 1.0)  # a BOUNDED function's range
    flat_below: float = 0.0  # a RECTIFIER's output at or below this came from an input at or below 0
    # a BOUNDED function's |t| (scaled to [-1, 1]) past which its slope is below NEAR_FLAT_SLOPE of its peak:
    # 0.97 for tanh and sigmoid alike
    saturated_at: float = SATURATED_AT
    white_at: float = WHITE_AT  # and past which an output is a white pixel
    known: bool = True  # a FLAT function mmtui knows to be elementwise; else each measurement checks it is


def activation_of(module: nn.Module) -> Activation | None:
    """The measure of an activation module, by its class; None for a module that is none (or holds others)."""
    if any(True for _ in module.children()):
        return None
    name = type(module).__name__.lower()
    if isinstance(module, nn.LeakyReLU):
        return Activation(RECTIFIER if abs(module.negative_slope) < NEAR_FLAT_SLOPE else FLAT)
    if any(leaky in name for leaky in LEAKY_NAMES):
        return Activation(FLAT)
    if isinstance(module, nn.Hardtanh) and "relu" not in name:
        return Activation(BOUNDED, (float(module.min_val), float(module.max_val)), saturated_at=HARD_AT,
                          white_at=HARD_AT)
    if "relu" in name:
        return Activation(RECTIFIER)
    for bounded, bounds in BOUNDED_NAMES.items():
        # Tanhshrink (x - tanh x) and LogSigmoid are not bounded on both sides
        if bounded in name and "shrink" not in name and not name.startswith("log"):
            if name.startswith("hard"):  # Hardsigmoid, Hardtanh of the user's: flat exactly past the bounds
                return Activation(BOUNDED, bounds, saturated_at=HARD_AT, white_at=HARD_AT)
            if bounded == "softsign":
                return Activation(BOUNDED, bounds, saturated_at=SOFTSIGN_AT, white_at=SOFTSIGN_WHITE_AT)
            return Activation(BOUNDED, bounds)
    if any(flat in name for flat in FLAT_NAMES):
        return Activation(FLAT)
    return None


def activation_chosen(module: nn.Module) -> Activation:
    """The measure of a module the user chose by name (layers=): by its class where mmtui knows it, else as a
    function of the user's own, FLAT wherever its measurements show it elementwise and OTHER where not."""
    found = activation_of(module)
    if found is not None:
        return found
    return Activation(FLAT, known=False) if not any(True for _ in module.children()) else Activation(OTHER)


def activation_of_tensor(t: torch.Tensor) -> Activation:
    """The measure of a tensor a loop logs by name, from the function that made it (its grad_fn). Its input is
    gone by then, so a FLAT function's slopes cannot be taken: OTHER."""
    made_by = type(t.grad_fn).__name__.lower() if t.grad_fn is not None else ""
    if "relu" in made_by and "leaky" not in made_by:
        return Activation(RECTIFIER)
    for bounded, bounds in BOUNDED_NAMES.items():
        if bounded in made_by:
            return Activation(BOUNDED, bounds)
    return Activation(OTHER)
