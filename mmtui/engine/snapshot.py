"""The immutable records a trainer emits; plain Python values, so any UI can read them without torch."""

from __future__ import annotations

from dataclasses import dataclass

# Trainer states, as the status line shows them.
RUNNING, PAUSED, DONE, DIVERGED, STOPPED = "running", "paused", "done", "diverged", "stopped"


@dataclass(frozen=True)
class ActivationStats:
    """Statistics of one batch's hidden tanh activations h (batch x units)."""

    step: int  # the step whose forward pass produced h
    saturation: float  # percent of |h| > 0.97, the lecture's saturation measure
    share_99: float  # percent of |h| > 0.99, the white pixels of the lecture's saturation image
    dead_units: int  # units with |h| > 0.99 for every example of the batch: they never learn
    units: int  # hidden units in the layer
    mean: float  # mean of h
    std: float  # standard deviation of h
    hist_edges: tuple[float, ...]  # bin edges on [-1, 1]
    hist_counts: tuple[int, ...]  # values of h per bin


@dataclass(frozen=True)
class EvalResult:
    """Loss over the full train and val splits."""

    step: int  # updates done when evaluated
    train_loss: float | None  # None when only the val split was evaluated (config.eval_train_every)
    val_loss: float


@dataclass(frozen=True)
class RunInfo:
    """What identifies one run between two reinits."""

    run_id: int  # increases with every reinit, so a UI knows when to reset its panels
    init: str  # init preset
    w1_scale: float  # hidden weight scale on top of the preset
    seed: int  # generator seed of this run
    total_steps: int
    vocab_size: int
    num_params: int
    expected_init_loss: float  # -ln(1/V)


@dataclass(frozen=True)
class Snapshot:
    """Everything new since the previous snapshot, plus the current state."""

    run: RunInfo
    state: str  # RUNNING, PAUSED, DONE, DIVERGED or STOPPED
    step: int  # updates done so far
    first_loss_step: int  # the step index of losses[0]
    losses: tuple[float, ...]  # every minibatch loss since the previous snapshot, in order
    lr: float  # learning rate of the latest step
    steps_per_s: float  # training speed since the previous snapshot, pauses excluded
    init_loss: float | None  # this run's step-0 loss, once known
    stats: ActivationStats | None  # of the latest step's batch, when computed for this snapshot
    evals: tuple[EvalResult, ...]  # evaluations since the previous snapshot
    samples: tuple[str, ...]  # names sampled since the previous snapshot
    last_finite_loss: float | None  # the latest loss below the divergence threshold
    diverged_loss: float | None  # the loss that counted as divergence, when state is DIVERGED

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None
