"""The immutable records a trainer emits; plain Python values, so any UI can read them without torch."""

from __future__ import annotations

from dataclasses import dataclass

# Trainer states, as the status line shows them.
RUNNING, PAUSED, DONE, DIVERGED, STOPPED = "running", "paused", "done", "diverged", "stopped"


@dataclass(frozen=True)
class ActivationStats:
    """Statistics of one Tanh layer's outputs t (batch x units) on one batch, and of their gradients."""

    step: int  # the step whose forward pass produced t
    saturation: float  # percent of |t| > 0.97, the lecture's saturation measure
    share_99: float  # percent of |t| > 0.99, the white pixels of the lecture's saturation image
    dead_units: int  # units with |t| > 0.99 for every example of the batch: they never learn
    units: int  # units in the layer
    mean: float  # mean of t
    std: float  # standard deviation of t
    hist_edges: tuple[float, ...]  # bin edges on [-1, 1]
    hist_counts: tuple[int, ...]  # values of t per bin
    layer: int = 1  # 1 = the Tanh nearest the input
    grad_mean: float | None = None  # of dloss/dt, the gradient reaching this layer's output
    grad_std: float | None = None
    grad_hist_edges: tuple[float, ...] = ()  # symmetric bins around 0
    grad_hist_counts: tuple[int, ...] = ()
    white_rows: tuple[int, ...] = ()  # per example of the batch, bit u set when |t[example, u]| > 0.99


@dataclass(frozen=True)
class ParamStats:
    """One 2-D weight's gradient and update, as the lecture's parameter diagnostics."""

    name: str  # "C", "W1", "layer 3 weight", ...
    shape: tuple[int, ...]
    grad_mean: float
    grad_std: float
    grad_data_ratio: float  # p.grad.std() / p.std(): the output layer's is outsized at init
    update_ratio_log10: float  # log10((lr * p.grad).std() / p.data.std()); about -3 is healthy
    grad_hist_edges: tuple[float, ...]
    grad_hist_counts: tuple[int, ...]


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
    model: str  # "mlp", "mlp-bn", "deep" or "deep-bn"
    gain: float  # tanh gain of the deep nets' hidden weights
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
    layers: tuple[ActivationStats, ...]  # per Tanh layer, input side first, of the latest step's batch; () if not
    # computed for this snapshot
    params: tuple[ParamStats, ...]  # per 2-D weight, with layers
    evals: tuple[EvalResult, ...]  # evaluations since the previous snapshot
    samples: tuple[str, ...]  # names sampled since the previous snapshot
    last_finite_loss: float | None  # the latest loss below the divergence threshold
    diverged_loss: float | None  # the loss that counted as divergence, when state is DIVERGED
    saved: str | None = None  # the checkpoint file written since the previous snapshot, at this snapshot's step
    save_error: str | None = None  # why a save since the previous snapshot failed, in one line

    @property
    def stats(self) -> ActivationStats | None:
        """The first hidden layer: the one the lecture's MLP has."""
        return self.layers[0] if self.layers else None

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None
