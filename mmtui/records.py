"""The records every layer shares: snapshots of a run, the commands a UI sends, and the
Source seam between them.

Plain dataclasses of Python values: neither torch nor textual, so a trainer, a run file, a watched script and
the TUI all speak them, across threads and processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# A run's states, as the status line shows them.
RUNNING, PAUSED, DONE, DIVERGED, STOPPED = "running", "paused", "done", "diverged", "stopped"

EXIT_DIVERGED = 3  # the exit code of a command whose run diverged, headless or unattended

SATURATED_AT = 0.97  # |t| above this counts as saturated: the lecture's saturation measure
WHITE_AT = 0.99  # |t| above this is a white pixel of the lecture's saturation image
# 0.0591: an output is in trouble where the function's slope is below this share of its peak slope; tanh's
# slope is 1 - t**2, so for tanh this rule is exactly |t| > 0.97
NEAR_FLAT_SLOPE = 1 - SATURATED_AT ** 2

# What an activation layer's trouble measure is, by the function's family; each is the rule above, in the
# terms that suit the family:
# tanh, sigmoid, hardtanh, softsign: saturation, |t| near a bound (on the range scaled to [-1, 1]), past
# saturated_at, where the slope is near flat
BOUNDED = "bounded"
# the ReLU family with an exactly flat side: outputs on it (t <= flat_below), dead units
RECTIFIER = "rectifier"
# GELU, SiLU, Mish, ELU, softplus, a user's own elementwise function: outputs whose slope (taken by autograd
# at their inputs) is below NEAR_FLAT_SLOPE x the function's peak slope; units near-flat for the batch
FLAT = "flat"
OTHER = "other"  # no trouble measure (a module whose slope cannot be taken): mean, std and the histogram only

# What a source may send, so that the app lays out a panel only for data that can come:
LOSS = "loss"  # minibatch losses (and val points): the Loss panel
SAMPLES = "samples"  # names sampled from the model: the Samples panel
OUTPUT = "output"  # a script's printed lines (ScriptOutput, ScriptExited): the Output panel
LAYERS = "layers"  # activation layers' statistics: the Activations and Saturation panels, the layers view
WEIGHTS = "weights"  # weights' statistics (ParamStats) or histograms of their values: the parameters view
SCALARS = "scalars"  # named scalars besides the loss: the Scalars panel
RUNS = "runs"  # several streams of runs at once: the Runs table
TIME = "time"  # layers' figures by time step (TimeStats): the through-time view


@dataclass(frozen=True)
class ActivationStats:
    """Statistics of one activation layer's outputs t (examples x units) on one batch, and of their gradients.

    Where t has more dimensions (a transformer's batch x time x channels), a unit is a channel and every other
    position an example. A white pixel is an output in trouble: |t| > white_at for a BOUNDED function, on the
    flat side for a RECTIFIER, near-flat for a FLAT function.

    A large layer's figures but the mean and std come from a fixed sample of its examples
    (measure/sampling.py).
    """

    step: int  # the step whose forward pass produced t
    # percent of outputs in trouble: |t| > saturated_at (BOUNDED), on the flat side
    # (RECTIFIER), near-flat (FLAT)
    saturation: float
    # percent of white pixels: |t| > white_at (BOUNDED), the flat side (RECTIFIER), near-flat (FLAT)
    share_99: float
    dead_units: int  # units white for every example of the batch: they never learn
    units: int  # units in the layer
    mean: float  # mean of t
    std: float  # standard deviation of t
    hist_edges: tuple[float, ...]  # bin edges; [-1, 1] for tanh
    hist_counts: tuple[int, ...]  # values of t per bin
    layer: int = 1  # 1 = the layer nearest the input
    grad_mean: float | None = None  # of dloss/dt, the gradient reaching this layer's output
    grad_std: float | None = None
    grad_hist_edges: tuple[float, ...] = ()  # symmetric bins around 0
    grad_hist_counts: tuple[int, ...] = ()
    # per example of the batch (at most the first 32), bit u set when t[example, u] is a white pixel
    white_rows: tuple[int, ...] = ()
    saturated_at: float = SATURATED_AT  # the thresholds these figures were taken with, so widgets draw them
    white_at: float = WHITE_AT
    # the module's path and class, "transformer.h.0.mlp.act  NewGELU"; "" for the lecture's nets
    name: str = ""
    kind: str = BOUNDED  # which trouble measure the figures above are: BOUNDED, RECTIFIER, FLAT or OTHER
    flat_below: float = 0.0  # a RECTIFIER's flat side: outputs at or below this (softplus's is ln 2)


# Where a layer's gradient by time step was taken (TimeStats.grad_at):
# each call's output: the hidden state h_t a recurrent cell returns, its whole gradient (from the layers above
# and from the later time steps)
AT_HIDDEN = "hidden"
# each time step's input x_t of a fused nn.RNN/GRU/LSTM, whose hidden states stay inside its kernel: what
# flows back through time to step t reaches x_t (times the input weights)
AT_INPUT = "input"
# each time step's output of a fused layer whose input takes no gradient: only what the layers above send to
# step t, not what came back through time
AT_OUTPUT = "output"


@dataclass(frozen=True)
class TimeStats:
    """One layer's figures by time step on one measured step: a module called once per time step (a recurrent
    cell, a weight-shared block), each call a time step, or an output with a time axis (nn.RNN/GRU/LSTM).

    A layer called more often than measure.through_time.MAX_TIMES keeps a sample of its calls (every other
    one, then every fourth ...): `times` says which.
    """

    step: int  # the training step whose forward pass made these outputs
    name: str  # the layer, as ActivationStats.name: "cell  RNNCell", "rnn  GRU", "h  tanh RNN"
    times: tuple[int, ...]  # the time steps (calls) measured, 0 = the first; the figures below are aligned
    std: tuple[float, ...]  # per time step: standard deviation of the outputs
    # per time step: percent of outputs in trouble, by `kind` as ActivationStats'; () for a kind
    # with no trouble measure
    saturation: tuple[float, ...]
    # per time step: standard deviation of the gradient reaching it (grad_at); () where no gradient came (an
    # evaluation's forward)
    grad_std: tuple[float, ...] = ()
    grad_at: str = AT_HIDDEN  # AT_HIDDEN, AT_INPUT or AT_OUTPUT
    kind: str = BOUNDED  # the trouble measure of `saturation`
    calls: int = 0  # time steps in all, measured or not


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
class Histogram:
    """A named tensor's values as a log holds them (a TensorBoard log's weight histograms), with no measure of
    trouble: the parameters view draws them where no ParamStats come."""

    name: str  # as logged: "weights/layer1.weight"
    step: int  # the step it was logged at
    mean: float
    std: float
    hist_edges: tuple[float, ...]
    hist_counts: tuple[int, ...]


@dataclass(frozen=True)
class EvalResult:
    """Loss over the full train and val splits."""

    step: int  # updates done when evaluated
    train_loss: float | None  # None when only the val split was evaluated
    val_loss: float


@dataclass(frozen=True)
class Scalar:
    """One reading of a named scalar a writer logs besides the loss: "lr", "val_loss", "grad_norm"."""

    name: str
    step: int
    value: float


@dataclass(frozen=True)
class RunInfo:
    """What identifies one run of any writer, between two reinits."""

    run_id: int  # grows with every reinit within one stream, so a UI knows when to reset its panels
    name: str  # how legends, tables and headings name the run: "mlp fix-tanh x1"
    model: str  # a label of the model: "mlp", "deep-bn", "GPT"
    # what defines the run, JSON values; of a lecture run (experiments.lecture_run) the status line shows the
    # init, gain, w1_scale and seed its model takes. Never mutated once in a RunInfo.
    settings: dict[str, Any] = field(default_factory=dict)
    total_steps: int | None = None  # None when the writer does not know its length
    num_params: int | None = None
    vocab_size: int | None = None
    expected_init_loss: float | None = None  # -ln(1/V): the loss of a net that knows nothing
    stream: str = ""  # where a reader found the run (a run file's name); "" for a live run. Not written


@dataclass(frozen=True)
class Snapshot:
    """Everything new since the previous snapshot of a run, plus its current state."""

    run: RunInfo
    state: str  # RUNNING, PAUSED, DONE, DIVERGED or STOPPED
    step: int  # updates done so far
    first_loss_step: int  # the step index of losses[0]
    losses: tuple[float, ...]  # every minibatch loss since the previous snapshot, in order
    lr: float | None  # learning rate of the latest step, where known
    steps_per_s: float  # training speed since the previous snapshot, pauses excluded
    init_loss: float | None  # this run's step-0 loss, once known
    # per activation layer, input side first, of the latest step's batch; () when this snapshot
    # carries no statistics
    layers: tuple[ActivationStats, ...]
    params: tuple[ParamStats, ...]  # per 2-D weight, with layers
    evals: tuple[EvalResult, ...]  # evaluations since the previous snapshot
    samples: tuple[str, ...]  # names sampled since the previous snapshot
    last_finite_loss: float | None  # the latest loss below the divergence threshold
    diverged_loss: float | None  # the loss that counted as divergence, when state is DIVERGED
    # the checkpoint file written since the previous snapshot, at this snapshot's step
    saved: str | None = None
    save_error: str | None = None  # why a save since the previous snapshot failed, in one line
    scalars: tuple[Scalar, ...] = ()  # named scalars logged since the previous snapshot, in order
    # what the writer says of the run since the previous snapshot, one line each: "no loss seen: return
    # (logits, loss) or call run.log(loss=...)"; an empty one takes back those before it
    notes: tuple[str, ...] = ()
    # per layer that runs through time, of the same step as `layers`; () when this snapshot carries no
    # statistics or the model has no such layer
    through_time: tuple[TimeStats, ...] = ()
    # histograms of weights' values a log holds, of the latest step that logged any; () when this
    # snapshot carries none
    weights: tuple[Histogram, ...] = ()

    @property
    def first_layer(self) -> ActivationStats | None:
        """The first hidden layer: the one the lecture's MLP has."""
        return self.layers[0] if self.layers else None

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None


@dataclass(frozen=True)
class EngineFailure:
    """A source that broke for good (the trainer raised), in place of a snapshot; the app
    shows it and exits."""

    message: str  # one line for people
    details: str  # the traceback, for a log; "" where the message says it all
    exit_code: int = 1  # 2 for a setting the trainer refused (no CUDA device, a checkpoint that does not fit)


@dataclass(frozen=True)
class SourceStatus:
    """What a source says of itself, shown at the end of the status line; the latest one holds."""

    text: str  # "following a.jsonl", "a.jsonl: 2 damaged lines skipped", "waiting for the first line"
    progress: float | None = None  # 0 to 1 while a finished file loads: the app shows a progress bar
    warning: bool = False  # something the user should notice (a damaged line, a file replaced or deleted)
    # nothing more will come unless a command asks for it: the trainer's run has ended, or every file was read
    # and none is followed. The unattended app (--no-terminal) exits on it.
    ended: bool = False


@dataclass(frozen=True)
class ScriptOutput:
    """What a script run by `mmtui run` printed since the previous one, stdout and stderr together.

    Safe to draw as it is: invalid UTF-8 is replaced, and escape sequences, control
    characters and tabs are gone.
    """

    lines: tuple[str, ...]  # lines ended since the previous one, oldest first
    # the line being written, not yet ended: a tqdm bar as its latest carriage return left it
    partial: str = ""
    dropped: int = 0  # lines printed since the previous one that the source's buffer no longer held
    # what mmtui itself says after these lines: "this script does not call mmtui.watch"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScriptExited:
    """The script run by `mmtui run` has ended; its last output came before this."""

    code: int  # its exit status as a shell reports it: 128 + N when signal N ended it
    summary: str  # one line for people: "train.py exited with code 1", "train.py stopped by SIGINT"
    failed: bool  # it ended by itself with a code other than 0: a crash, or sys.exit(n)


# ---- commands a UI sends to a source that trains

@dataclass(frozen=True)
class Reinit:
    """Draw a fresh net and restart the step counter; unset fields keep the current run's value."""

    init: str | None = None  # a preset name from experiments.PRESETS
    model: str | None = None  # a model name from experiments.MODELS
    gain: float | None = None  # the deep nets' tanh gain
    w1_scale: float | None = None  # the hidden weight scale to use
    w1_factor: float = 1.0  # multiplies the (new or current) hidden weight scale: the TUI's [ and ] keys
    new_seed: bool = False  # draw with the next seed instead of the current one


@dataclass(frozen=True)
class Pause:
    """Stop stepping until Resume, TogglePause or Reinit."""


@dataclass(frozen=True)
class Resume:
    """Continue stepping after Pause."""


@dataclass(frozen=True)
class TogglePause:
    """Pause when running, resume when paused: one key, no race with a stale UI state."""


@dataclass(frozen=True)
class Stop:
    """End the run loop after the current step."""


@dataclass(frozen=True)
class Save:
    """Write a checkpoint of the current run to the --save file, between two steps; the run goes on."""


Command = Reinit | Pause | Resume | TogglePause | Stop | Save
Arrival = Snapshot | SourceStatus | EngineFailure | ScriptOutput | ScriptExited


class Source(Protocol):
    """Where the app's snapshots come from: the lecture's trainer, run files, a watched script.

    The app calls receive() from one worker thread and the rest from its event loop; a
    source is safe for that.
    """

    commands: frozenset[type]  # the Command classes send() takes; the app offers only the keys that send them
    # what it may ever send: LOSS, SAMPLES, OUTPUT, LAYERS, WEIGHTS, SCALARS, RUNS; the app lays out no panel,
    # and offers no view, for anything else
    produces: frozenset[str]
    # of those, what it sends from its start: their panels wait for it; the others appear once their data
    # arrives (a run file, a log or a script's run file reveals what it holds as it is read)
    promised: frozenset[str]

    def receive(self, timeout: float) -> list[Arrival]:
        """Everything that arrived since the last call, oldest first, waiting up to
        `timeout` for the first."""
        ...

    def send(self, command: Command) -> None:
        """Pass a command on; one of `commands`."""
        ...

    def cancel(self) -> None:
        """Begin winding down, returning at once: the app calls it as it starts to quit."""
        ...

    def close(self) -> None:
        """Wind down and free what the source holds; safe to call twice."""
        ...
