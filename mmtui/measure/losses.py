"""A run's per-step loss bookkeeping: the step-0 loss, the latest finite one, and the one that diverged."""

from __future__ import annotations

import math


class LossBook:
    """What the status line and the loss panel say of a run's losses besides the curve; the lecture's trainer
    and a watched loop book every step's loss here, so the two judge them alike."""

    def __init__(self, diverge_at: float | None = None, init_loss: float | None = None):
        # a loss not below this diverged; None: never (a watched loop's NaN is a step whose loss nobody
        # told, not a divergence)
        self.diverge_at = diverge_at
        self.init_loss = init_loss  # the loss of step 0, before its update
        self.last_finite_loss: float | None = None  # the latest finite loss below diverge_at
        self.diverged_loss: float | None = None  # the loss that diverged

    def add(self, step: int, value: float) -> bool:
        """Book the loss of step `step` (before its update); False where it diverged."""
        if step == 0:
            self.init_loss = value
        if math.isfinite(value) and (self.diverge_at is None or value < self.diverge_at):
            self.last_finite_loss = value
            return True
        if self.diverge_at is None:
            return True
        self.diverged_loss = value
        return False
