"""What one training step of any model hands the trainer."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class StepResult:
    """A minibatch's loss, every parameter's gradient, and each Tanh layer's output (and its gradient)."""

    loss: torch.Tensor  # scalar, before the update
    grads: list[torch.Tensor]  # one per parameter, in the model's parameters() order
    activations: list[torch.Tensor]  # each Tanh's output (B, units), input side first
    # dloss/d(activation) for each, when the step was asked to record
    activation_grads: list[torch.Tensor] | None
    # a recurrent net's tanh output at each time step (T, B, units), when recording
    time_outputs: torch.Tensor | None = None
    time_grads: torch.Tensor | None = None  # dloss/dh_t, what reaches each step's hidden state (T, B, units)
