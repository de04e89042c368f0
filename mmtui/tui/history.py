"""What the panels draw, accumulated from snapshots: bounded, downsampled histories of every stream's runs."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from mmtui.records import (LAYERS, LOSS, PAUSED, RUNNING, SAMPLES, SCALARS, WEIGHTS, ActivationStats, EvalResult, Histogram,
                           ParamStats, RunInfo, Scalar, Snapshot)

EMA_DECAY = 0.99  # smoothing of the loss curve: about the last 100 steps
MAX_POINTS = 2048  # a loss or ratio series never holds more points; full buckets merge pairwise
SATURATION_TREND = 120  # saturation readings kept for the sparkline
SAMPLE_LINES = 200  # sampled names kept for the samples panel
SCALAR_POINTS = 256  # readings kept of each named scalar, for its sparkline; full buckets merge pairwise
STATS_KEPT = 64  # statistics snapshots kept per run to step back through; full, every other one goes
NOTES = 5  # the latest notes a source gave of a stream ("no loss seen ..."), for the status line


class LossSeries:
    """A run's finite losses, one in every `bucket` steps kept raw, with a debiased EMA of all of them.

    Memory is bounded by MAX_POINTS whatever the step count; raw points are samples, not means, so the
    plot keeps the minibatch noise that the lecture's loss plot shows.
    """

    def __init__(self) -> None:
        self.bucket = 1  # steps per point; doubles whenever the points fill up
        self.steps: list[int] = []  # last step of each point
        self.raw: list[float] = []  # the loss of that step
        self.smooth: list[float] = []  # debiased EMA at that step
        self._count = 0
        self._ema = 0.0
        self._ema_weight = 0.0  # 1 - decay**n: divides out the EMA's pull towards its zero start

    def extend(self, first_step: int, losses: tuple[float, ...]) -> None:
        for offset, loss in enumerate(losses):
            if not math.isfinite(loss):
                continue  # plots cannot show NaN or inf; the status line reports divergence
            self._ema = EMA_DECAY * self._ema + (1 - EMA_DECAY) * loss
            self._ema_weight = EMA_DECAY * self._ema_weight + (1 - EMA_DECAY)
            self._count += 1
            if self._count == self.bucket:
                self._close_point(first_step + offset, loss)

    def _close_point(self, step: int, loss: float) -> None:
        self.steps.append(step)
        self.raw.append(loss)
        self.smooth.append(self._ema / self._ema_weight)
        self._count = 0
        if len(self.steps) >= MAX_POINTS:
            self.steps, self.raw, self.smooth = self.steps[1::2], self.raw[1::2], self.smooth[1::2]
            self.bucket *= 2

    @property
    def latest_smooth(self) -> float | None:
        """The smoothed loss at the latest step, whether or not it closed a point."""
        return self._ema / self._ema_weight if self._ema_weight else None

    def downsampled(self, width: int) -> tuple[list[int], list[float], list[float]]:
        """At most `width` points (steps, raw, smooth), so a plot's cost does not grow with the run."""
        picked = _latest_first_stride(len(self.steps), width)
        return self.steps[picked], self.raw[picked], self.smooth[picked]


class RatioSeries:
    """log10 update:data ratio of every 2-D weight, one reading in every `bucket` snapshots with stats.

    Readings arrive about ten times a second; like LossSeries, memory is bounded by MAX_POINTS whatever
    the run's length, and points are samples, not means.
    """

    def __init__(self) -> None:
        self.bucket = 1  # readings per point; doubles whenever the points fill up
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {}  # per weight name, aligned with steps; NaN where one was missing
        self._count = 0

    def add(self, step: int, params: tuple[ParamStats, ...]) -> None:
        if not params:
            return
        self._count += 1
        if self._count < self.bucket:
            return
        self._count = 0
        if not self.values:
            self.values = {p.name: [] for p in params}  # a run's weights never change
        readings = {p.name: p.update_ratio_log10 for p in params}
        self.steps.append(step)
        for name, values in self.values.items():
            values.append(readings.get(name, math.nan))
        if len(self.steps) >= MAX_POINTS:
            self.steps = self.steps[1::2]
            self.values = {name: values[1::2] for name, values in self.values.items()}
            self.bucket *= 2

    def downsampled(self, width: int) -> tuple[list[int], dict[str, list[float]]]:
        """At most `width` points per weight, ending at the latest."""
        picked = _latest_first_stride(len(self.steps), width)
        return self.steps[picked], {name: values[picked] for name, values in self.values.items()}


class ScalarSeries:
    """One named scalar's finite readings (lr, test loss, accuracy), one in every `bucket` kept, as LossSeries."""

    def __init__(self) -> None:
        self.bucket = 1  # readings per point; doubles whenever the points fill up
        self.steps: list[int] = []
        self.values: list[float] = []
        self.latest: Scalar | None = None  # the newest reading, kept or not
        self._count = 0

    def add(self, scalar: Scalar) -> None:
        self.latest = scalar
        if scalar.value is None or not math.isfinite(scalar.value):
            return  # a sparkline has no place for NaN, inf, or a reading a writer could not take
        self._count += 1
        if self._count < self.bucket:
            return
        self._count = 0
        self.steps.append(scalar.step)
        self.values.append(scalar.value)
        if len(self.steps) >= SCALAR_POINTS:
            self.steps, self.values = self.steps[1::2], self.values[1::2]
            self.bucket *= 2


def _latest_first_stride(length: int, width: int) -> slice:
    """Every n-th of `length` points, at most `width` of them, counted back from the latest."""
    stride = max(1, math.ceil(length / max(width, 1)))
    return slice(length - 1 - (length - 1) // stride * stride, None, stride)


@dataclass
class RunHistory:
    """One run between two reinits, as the panels need it."""

    info: RunInfo
    losses: LossSeries = field(default_factory=LossSeries)
    evals: list[EvalResult] = field(default_factory=list)
    saturation: deque[float] = field(default_factory=lambda: deque(maxlen=SATURATION_TREND))
    layers: tuple[ActivationStats, ...] = ()  # every activation layer, input side first, of the latest stats
    params: tuple[ParamStats, ...] = ()  # every 2-D weight, of the latest stats
    weights: tuple[Histogram, ...] = ()  # histograms of weights' values a log holds, the latest logged
    update_ratios: RatioSeries = field(default_factory=RatioSeries)
    init_loss: float | None = None
    scalars: dict[str, ScalarSeries] = field(default_factory=dict)  # by name, in order of first reading
    past_layers: list[tuple[ActivationStats, ...]] = field(default_factory=list)  # every statistics snapshot
    # thinned to STATS_KEPT, oldest first, the latest last
    pinned_step: int | None = None  # the step of the statistics shown instead of the latest; None: the latest
    first_layers: tuple[ActivationStats, ...] = ()  # the run's first statistics, kept whatever thinning drops

    @property
    def stats(self) -> ActivationStats | None:
        """The first layer of those shown: the overview's panels."""
        shown = self.shown_layers
        return shown[0] if shown else None

    @property
    def shown_layers(self) -> tuple[ActivationStats, ...]:
        """The layers the panels draw: the latest, or those of the step stepped back to (the latest at or before
        it, when thinning took that one)."""
        if self.pinned_step is None:
            return self.layers
        earlier = [layers for layers in self.past_layers if layers[0].step <= self.pinned_step]
        return earlier[-1] if earlier else self.past_layers[0]

    def add_layers(self, layers: tuple[ActivationStats, ...]) -> None:
        self.first_layers = self.first_layers or layers
        self.layers = layers
        self.past_layers.append(layers)
        if len(self.past_layers) >= STATS_KEPT:
            self.past_layers = self.past_layers[-2::-2][::-1] + [layers]  # every other, the latest kept

    @property
    def looking_back(self) -> str | None:
        """What the status line says while older statistics are shown."""
        if self.pinned_step is None:
            return None
        return f"statistics of step {self.stats.step:,}: , older  . newer"

    def step_through(self, delta: int) -> None:
        """Show older (delta < 0) or newer statistics; stepping past the newest follows the latest again."""
        steps = [layers[0].step for layers in self.past_layers]
        if not steps:
            return
        shown = self.shown_layers[0].step
        at = max(i for i, step in enumerate(steps) if step <= shown) if shown >= steps[0] else 0
        at = min(max(at + delta, 0), len(steps) - 1)
        self.pinned_step = None if at == len(steps) - 1 else steps[at]


@dataclass
class StreamHistory:
    """One stream of snapshots (a run file, the live trainer): its current run, the previous one, its latest state."""

    run: RunHistory
    latest: Snapshot
    ghost: RunHistory | None = None  # the previous run of this stream, drawn faintly behind the current one
    samples: deque[str] = field(default_factory=lambda: deque(maxlen=SAMPLE_LINES))  # newest first
    steps_per_s: float = 0.0  # the latest speed while running; final evaluations and pauses do not count
    timed_steps: int = 0  # steps the current run advanced in snapshots that gave a speed, and the seconds they took
    timed_seconds: float = 0.0
    notes: deque[str] = field(default_factory=lambda: deque(maxlen=NOTES))  # newest last, each once

    def add(self, snapshot: Snapshot) -> None:
        advanced = snapshot.step - self.latest.step
        if snapshot.run.run_id != self.run.info.run_id:
            if self.run.losses.steps:
                self.ghost = self.run
            self.run = RunHistory(snapshot.run)
            self.timed_steps, self.timed_seconds, advanced = 0, 0.0, snapshot.step
        run = self.run
        run.losses.extend(snapshot.first_loss_step, snapshot.losses)
        run.evals.extend(snapshot.evals)
        if snapshot.stats is not None:
            run.add_layers(snapshot.layers)
            run.saturation.append(snapshot.stats.saturation)
        if snapshot.weights:
            run.weights = snapshot.weights
        if snapshot.params:
            run.params = snapshot.params
            run.update_ratios.add(snapshot.step, snapshot.params)
        run.init_loss = snapshot.init_loss
        for scalar in snapshot.scalars:
            run.scalars.setdefault(scalar.name, ScalarSeries()).add(scalar)
        for note in snapshot.notes:
            if not note:
                self.notes.clear()  # the writer takes back what it said: the loss it missed came after all
            elif note not in self.notes:
                self.notes.append(note)
        if snapshot.samples:
            for name in reversed(snapshot.samples):
                self.samples.appendleft(name or "(empty)")
            self.samples.appendleft(f"── step {snapshot.step:,} · {run.info.name} ──")
        if snapshot.state == RUNNING and snapshot.steps_per_s > 0:
            self.steps_per_s = snapshot.steps_per_s
            if advanced > 0:
                self.timed_steps += advanced
                self.timed_seconds += advanced / snapshot.steps_per_s
        self.latest = snapshot

    @property
    def speed(self) -> float:
        """Steps a second: the latest while the run goes on; once it has ended, its average over the run."""
        if self.latest.state in (RUNNING, PAUSED) or not self.timed_seconds:
            return self.steps_per_s
        return self.timed_steps / self.timed_seconds


class History:
    """Every stream's current run, and the one stream selected for the panels; fed one snapshot at a time.

    `run`, `ghost`, `latest`, `samples` and `steps_per_s` are the selected stream's, so panels that show one run
    need not know that there may be several; the Loss panel overlays them all through `streams`.
    """

    def __init__(self) -> None:
        self.streams: dict[str, StreamHistory] = {}  # in order of first arrival: a stream's colour is its place
        self.selected: str | None = None  # the stream the panels show: the first to arrive until select_next()
        self.version = 0  # grows with every snapshot and selection, so a panel redraws only when its data changed
        self.samples_version = 0  # grows with every batch of the selected stream's sampled names, and selection
        self.run_version = 0  # grows with every reinit and every new stream
        self.seen: set[str] = set()  # what any snapshot has brought: LOSS, LAYERS, WEIGHTS, SAMPLES, SCALARS

    @property
    def selected_stream(self) -> StreamHistory | None:
        return self.streams.get(self.selected)

    @property
    def run(self) -> RunHistory | None:
        stream = self.selected_stream
        return stream.run if stream else None

    @property
    def ghost(self) -> RunHistory | None:
        stream = self.selected_stream
        return stream.ghost if stream else None

    @property
    def latest(self) -> Snapshot | None:
        stream = self.selected_stream
        return stream.latest if stream else None

    @property
    def samples(self) -> deque[str]:
        stream = self.selected_stream
        return stream.samples if stream else deque()

    @property
    def notes(self) -> deque[str]:
        stream = self.selected_stream
        return stream.notes if stream else deque()

    @property
    def steps_per_s(self) -> float:
        stream = self.selected_stream
        return stream.speed if stream else 0.0

    @property
    def comparing(self) -> bool:
        """Several streams: the Loss panel overlays their runs and a key picks the one the other panels show."""
        return len(self.streams) > 1

    def add(self, snapshot: Snapshot) -> None:
        name = snapshot.run.stream
        stream = self.streams.get(name)
        if stream is None:
            stream = self.streams[name] = StreamHistory(RunHistory(snapshot.run), snapshot)
            if self.selected is None:
                self.selected = name
            self.run_version += 1
        elif snapshot.run.run_id != stream.run.info.run_id:
            self.run_version += 1
        stream.add(snapshot)
        brought = {LOSS: True, LAYERS: snapshot.layers, WEIGHTS: snapshot.params or snapshot.weights,
                   SAMPLES: snapshot.samples,
                   SCALARS: snapshot.scalars}
        self.seen.update(kind for kind, there in brought.items() if there)
        if snapshot.samples and name == self.selected:
            self.samples_version += 1
        self.version += 1

    def select_next(self) -> None:
        """The panels show the next stream, in order of arrival, back to the first after the last."""
        if not self.streams:
            return
        names = list(self.streams)
        self.selected = names[(names.index(self.selected) + 1) % len(names)]
        self.samples_version += 1
        self.version += 1

    def step_through(self, delta: int) -> None:
        """The selected run's panels show older (delta < 0) or newer statistics."""
        if self.run is not None:
            self.run.step_through(delta)
            self.version += 1

    def label(self, name: str) -> str:
        """How legends, tables and titles name a stream's run: its name, and the stream's where two names clash."""
        run_name = self.streams[name].run.info.name
        clash = any(other.run.info.name == run_name for key, other in self.streams.items() if key != name)
        return f"{run_name} · {name}" if clash and name else run_name
