"""The run's settings and the run's files; plain Python, so the CLI reads them without torch."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmtui.experiments import LECTURE_SEED

DEVICES: tuple[str, ...] = ("cpu", "auto", "cuda")  # --device; auto: the faster for the net (engine.device)
# A step's multiply-adds (batch size x parameters) from which --device auto trains on CUDA. Below it a step is
# a few hundred tiny kernels, bound by their launches: on an H200 machine the lecture's MLP (32 x 11,897)
# trained at 2,231 steps/s on CUDA against 5,447 on one CPU core. The threshold is where a step's arithmetic
# is large enough for a GPU to win by a wide margin (not measured here); between the two the CPU
# stays the safe pick.
CUDA_MIN_STEP_MACS = 50_000_000
COMPILE_MODES: tuple[str, ...] = ("auto", "on", "off")  # --compile: see TrainConfig.compile
# SGD steps unrolled into one compiled call. An eager MLP step is ~150 operator calls, each dispatched from
# Python; one call of 8 runs fused C++ (143 us a step against 411 in benchmarks/step_profile.py). 16 gave 15%
# more for a longer compile; 8 divides the 1,024-step index blocks and the 10,000-step evaluations
STEPS_PER_CALL = 8
# --compile auto builds the compiled step for runs at least this long: a shorter one (20 s or less on the
# eager path) would end about when a first build (~30 s; 6-8 s from the cache) is done
AUTO_COMPILE_MIN_STEPS = 50_000


class DeviceError(ValueError):
    """A --device that torch cannot use here."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; the trainer never reads options from anywhere else."""

    # data
    data: str | None = None  # path to a word list, one word per line; None = the bundled names
    block_size: int = 3  # characters of context that predict the next one
    # model
    model: str = "mlp"  # one of MODELS
    gain: float = 5 / 3  # deep nets: factor on the hidden Linear weights (randn / sqrt(fan_in)); 5/3 for tanh
    embed: int = 10  # embedding dimensions per character
    hidden: int = 200  # units in the tanh hidden layer
    init: str = "lecture"  # one of PRESETS
    w1_scale: float = 1.0  # a further factor on W1 on top of the preset
    seed: int = LECTURE_SEED  # seeds the generator that draws the weights, then every minibatch
    # optimization
    steps: int = 200_000  # total SGD steps
    # end early, as a Stop does, once this many steps are done; lr_at still follows `steps`, so a run stopped
    # here and resumed from its checkpoint repeats the uninterrupted run's numbers
    stop_at: int | None = None
    batch_size: int = 32  # examples per minibatch
    lr: float = 0.1  # learning rate; divided by 10 from the second half of the steps on
    threads: int = 1  # torch.set_num_threads: one thread is fastest for this tiny net
    # one of DEVICES; the weights are drawn on the CPU either way, so a seed gives the same init everywhere.
    # These nets are launch-bound: ~10 tiny kernels a step run faster on a CPU thread
    device: str = "cpu"
    # one of COMPILE_MODES: the CPU's steps through torch.compile, 8 to a call. auto: from the first step on
    # the eager path while the compiled one is built in the background, for runs long enough to gain from it;
    # on: built before the first step; off: eager only. Either path gives the same numbers
    compile: str = "auto"
    diverge_at: float | None = None  # a loss above this counts as diverged; None = 100 x -ln(1/V)
    # monitoring
    eval_every: int = 10_000  # steps between full train/val evaluations (0 = only at the end)
    num_samples: int = 10  # names sampled for each sample event and at the end

    def lr_at(self, step: int) -> float:
        """The lecture's schedules: lr, then lr / 10 for the second half (the MLPs) or the
        last quarter (deep)."""
        decay_at = self.steps * 3 // 4 if self.model.startswith("deep") else self.steps // 2
        return self.lr if step < decay_at else self.lr / 10


# The fields that fix a run's numbers besides its length: a checkpoint's values are the
# ones a resumed run uses.
RUN_FIELDS: tuple[str, ...] = ("block_size", "model", "gain", "embed", "hidden", "init", "w1_scale", "seed",
                               "batch_size", "lr")


# The fields a checkpoint of an earlier mmtui may hold that are now measure.pacing's
# Pacing: ignored when read.
FORMER_PACING_FIELDS: frozenset[str] = frozenset({"snapshot_every", "snapshot_interval_s", "stats_interval_s",
                                                  "sample_interval_s", "eval_train_every"})


@dataclass(frozen=True)
class RunFiles:
    """The files a run reads and writes besides its data; apart from TrainConfig, which a
    checkpoint stores."""

    save: str | None = None  # checkpoint written at the end, on a clean stop or quit, and on a Save command
    load: str | None = None  # checkpoint the run resumes from
    log: str | None = None  # the JSON lines of every run, appended


def expected_init_loss(vocab_size: int) -> float:
    """The loss of a net that gives every character the same probability: -ln(1/V)."""
    return math.log(vocab_size)
