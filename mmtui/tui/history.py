"""What the panels draw, accumulated from snapshots: bounded, downsampled histories of every stream's runs."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from mmtui.records import (LAYERS, LOSS, PAUSED, RUNNING, SAMPLES, SCALARS, TIME, WEIGHTS, ActivationStats,
                           EvalResult, Histogram, ParamStats, RunInfo, Scalar, Snapshot, TimeStats)

EMA_DECAY = 0.99  # smoothing of the loss curve: about the last 100 steps
MAX_POINTS = 2048  # a loss or ratio series never holds more points; full buckets merge pairwise
SATURATION_TREND = 120  # saturation readings kept for the sparkline
SAMPLE_LINES = 200  # sampled names kept for the samples panel
SCALAR_POINTS = 256  # readings kept of each named scalar, for its sparkline; full buckets merge pairwise
STATS_KEPT = 64  # statistics snapshots kept per run to step back through; full buckets merge pairwise
NOTES = 5  # the latest notes a source gave of a stream ("no loss seen ..."), for the status line
NEW_STREAM, NEW_RUN, NEW_DATA = "stream", "run", "data"  # what a snapshot added to a History began


def every_other(points: list) -> list:
    """Every other point, counted back from the latest, which stays."""
    return points[(len(points) - 1) % 2::2]


class Thinning:
    """Which readings a bounded series keeps: one in every `bucket`, at most `limit`. When the kept ones
    reach the limit, every other one goes and the bucket doubles: memory stays bounded whatever the run's
    length, and what is kept spans the run evenly. Kept readings are samples, not means, so a plot keeps
    the minibatch noise that the lecture's plots show."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.bucket = 1  # readings per kept one
        self._count = 0  # readings since the last kept one

    def keeps(self) -> bool:
        """Counts one reading: whether the series keeps it."""
        self._count += 1
        if self._count < self.bucket:
            return False
        self._count = 0
        return True

    def thinned(self, columns: list[list]) -> list[list]:
        """Aligned columns of kept readings, one just appended to each: as they are, or every other reading
        once they reach the limit."""
        if len(columns[0]) < self.limit:
            return columns
        self.bucket *= 2
        return [every_other(column) for column in columns]


class LossSeries:
    """A run's finite losses: one in every `thinning.bucket` steps kept raw, and a debiased EMA of all."""

    def __init__(self, limit: int = MAX_POINTS) -> None:
        self.thinning = Thinning(limit)
        self.steps: list[int] = []  # last step of each point
        self.raw: list[float] = []  # the loss of that step
        self.smooth: list[float] = []  # debiased EMA at that step
        self._ema = 0.0
        self._ema_weight = 0.0  # 1 - decay**n: divides out the EMA's pull towards its zero start

    def extend(self, first_step: int, losses: tuple[float, ...]) -> None:
        for offset, loss in enumerate(losses):
            if not math.isfinite(loss):
                continue  # plots cannot show NaN or inf; the status line reports divergence
            self._ema = EMA_DECAY * self._ema + (1 - EMA_DECAY) * loss
            self._ema_weight = EMA_DECAY * self._ema_weight + (1 - EMA_DECAY)
            if self.thinning.keeps():
                self.steps.append(first_step + offset)
                self.raw.append(loss)
                self.smooth.append(self._ema / self._ema_weight)
                self.steps, self.raw, self.smooth = self.thinning.thinned([self.steps, self.raw, self.smooth])

    @property
    def latest_smooth(self) -> float | None:
        """The smoothed loss at the latest step, whether or not it closed a point."""
        return self._ema / self._ema_weight if self._ema_weight else None

    def downsampled(self, width: int) -> tuple[list[int], list[float], list[float]]:
        """At most `width` points (steps, raw, smooth), so a plot's cost does not grow with the run."""
        picked = _latest_first_stride(len(self.steps), width)
        return self.steps[picked], self.raw[picked], self.smooth[picked]


class RatioSeries:
    """log10 update:data ratio of every 2-D weight, one reading in every `thinning.bucket` snapshots with
    stats (which arrive about twice a second)."""

    def __init__(self, limit: int = MAX_POINTS) -> None:
        self.thinning = Thinning(limit)
        self.steps: list[int] = []
        # per weight name, aligned with steps; NaN where one was missing
        self.values: dict[str, list[float]] = {}

    def add(self, step: int, params: tuple[ParamStats, ...]) -> None:
        if not params or not self.thinning.keeps():
            return
        if not self.values:
            self.values = {p.name: [] for p in params}  # a run's weights never change
        readings = {p.name: p.update_ratio_log10 for p in params}
        self.steps.append(step)
        for name, values in self.values.items():
            values.append(readings.get(name, math.nan))
        self.steps, *values = self.thinning.thinned([self.steps, *self.values.values()])
        self.values = dict(zip(self.values, values))

    def downsampled(self, width: int) -> tuple[list[int], dict[str, list[float]]]:
        """At most `width` points per weight, ending at the latest."""
        picked = _latest_first_stride(len(self.steps), width)
        return self.steps[picked], {name: values[picked] for name, values in self.values.items()}


class ScalarSeries:
    """One named scalar's finite readings (lr, test loss, accuracy), one in every `thinning.bucket` kept."""

    def __init__(self, limit: int = SCALAR_POINTS) -> None:
        self.thinning = Thinning(limit)
        self.steps: list[int] = []
        self.values: list[float] = []
        self.latest: Scalar | None = None  # the newest reading, kept or not

    def add(self, scalar: Scalar) -> None:
        self.latest = scalar
        if scalar.value is None or not math.isfinite(scalar.value):
            return  # a sparkline has no place for NaN, inf, or a reading a writer could not take
        if self.thinning.keeps():
            self.steps.append(scalar.step)
            self.values.append(scalar.value)
            self.steps, self.values = self.thinning.thinned([self.steps, self.values])


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
    params: tuple[ParamStats, ...] = ()  # every 2-D weight, of the latest stats
    weights: tuple[Histogram, ...] = ()  # histograms of weights' values a log holds, the latest logged
    update_ratios: RatioSeries = field(default_factory=RatioSeries)
    init_loss: float | None = None
    scalars: dict[str, ScalarSeries] = field(default_factory=dict)  # by name, in order of first reading
    # The layers (each input side first) of statistics snapshots spread evenly over the run, oldest first, and
    # of the latest, last
    past_layers: list[tuple[ActivationStats, ...]] = field(default_factory=list)
    layer_thinning: Thinning = field(default_factory=lambda: Thinning(STATS_KEPT))  # which past_layers stay
    latest_kept: bool = True  # whether past_layers[-1] stays once newer statistics come
    pinned_step: int | None = None  # the step of the statistics shown instead of the latest; None: the latest
    init_layers: tuple[ActivationStats, ...] = ()  # the run's first statistics, kept whatever thinning drops
    # snapshots' figures by time step spread evenly over the run as past_layers, oldest first, the latest
    # last: the through-time heat map's rows
    past_times: list[tuple[TimeStats, ...]] = field(default_factory=list)
    time_thinning: Thinning = field(default_factory=lambda: Thinning(STATS_KEPT))  # which past_times stay
    latest_times_kept: bool = True  # whether past_times[-1] stays once newer figures come
    # the run's first figures by time step, kept whatever thinning drops
    first_times: tuple[TimeStats, ...] = ()

    @property
    def layers(self) -> tuple[ActivationStats, ...]:
        """Every activation layer, input side first, of the latest statistics."""
        return self.past_layers[-1] if self.past_layers else ()

    @property
    def shown_layers(self) -> tuple[ActivationStats, ...]:
        """The layers the panels draw: the latest, or those of the step stepped back to (the latest at or
        before it, when thinning took that one)."""
        if self.pinned_step is None:
            return self.layers
        earlier = [layers for layers in self.past_layers if layers[0].step <= self.pinned_step]
        return earlier[-1] if earlier else self.past_layers[0]

    @property
    def first_layer(self) -> ActivationStats | None:
        """The first of the layers shown, the lecture's hidden layer: the overview's panels draw it."""
        shown = self.shown_layers
        return shown[0] if shown else None

    def add_layers(self, layers: tuple[ActivationStats, ...]) -> None:
        self.init_layers = self.init_layers or layers
        if not self.latest_kept:
            self.past_layers.pop()  # the latest, which thinning would not have kept, gives way to the newer
        self.latest_kept = self.layer_thinning.keeps()
        self.past_layers.append(layers)
        if self.latest_kept:
            (self.past_layers,) = self.layer_thinning.thinned([self.past_layers])

    def add_times(self, times: tuple[TimeStats, ...]) -> None:
        """As add_layers: spread evenly over the run, the latest always last."""
        self.first_times = self.first_times or times
        if not self.latest_times_kept:
            self.past_times.pop()
        self.latest_times_kept = self.time_thinning.keeps()
        self.past_times.append(times)
        if self.latest_times_kept:
            (self.past_times,) = self.time_thinning.thinned([self.past_times])

    @property
    def shown_times(self) -> tuple[TimeStats, ...]:
        """The figures by time step of the statistics shown: the latest, or those at or before the step
        stepped back to; () for a run with none."""
        if not self.past_times:
            return ()
        if self.pinned_step is None:
            return self.past_times[-1]
        earlier = [times for times in self.past_times if times[0].step <= self.pinned_step]
        return earlier[-1] if earlier else self.past_times[0]

    @property
    def looking_back(self) -> str | None:
        """What the status line says while older statistics are shown."""
        if self.pinned_step is None:
            return None
        return f"statistics of step {self.first_layer.step:,}: , older  . newer"

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
    """One stream of snapshots (a run file, the live trainer): its current and previous runs, its latest."""

    run: RunHistory
    latest: Snapshot
    ghost: RunHistory | None = None  # the previous run of this stream, drawn faintly behind the current one
    samples: deque[str] = field(default_factory=lambda: deque(maxlen=SAMPLE_LINES))  # newest first
    steps_per_s: float = 0.0  # the latest speed while running; final evaluations and pauses do not count
    # the steps the current run advanced in snapshots that gave a speed, and the seconds they took
    timed_steps: int = 0
    timed_seconds: float = 0.0
    # the current run's notes, newest last, each once
    notes: deque[str] = field(default_factory=lambda: deque(maxlen=NOTES))

    def add(self, snapshot: Snapshot) -> None:
        advanced = snapshot.step - self.latest.step
        if snapshot.run.run_id != self.run.info.run_id:
            if self.run.losses.steps:
                self.ghost = self.run
            self.run = RunHistory(snapshot.run)
            self.timed_steps, self.timed_seconds, advanced = 0, 0.0, snapshot.step
            self.notes.clear()  # what a writer said was of its run: a new run's writer says its own
        run = self.run
        run.losses.extend(snapshot.first_loss_step, snapshot.losses)
        run.evals.extend(snapshot.evals)
        if snapshot.first_layer is not None:
            run.add_layers(snapshot.layers)
            run.saturation.append(snapshot.first_layer.saturation)
        if snapshot.weights:
            run.weights = snapshot.weights
        if snapshot.through_time:
            run.add_times(snapshot.through_time)
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


class _OfSelectedStream:
    """A History attribute that is the selected stream's, or `empty()` before any stream arrived: panels
    that show one run need not know that there may be several."""

    def __init__(self, empty: Callable[[], object], name: str | None = None) -> None:
        self.empty = empty
        self.name = name  # the stream's attribute; by default the History attribute's own name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    def __get__(self, history: History, owner: type | None = None):
        stream = history.selected_stream
        return getattr(stream, self.name) if stream is not None else self.empty()


class History:
    """Every stream's current run, and the one stream selected for the panels; fed one snapshot at a time.

    `run`, `ghost`, `latest`, `samples`, `notes` and `steps_per_s` (its `speed`) are the selected stream's;
    the Loss panel overlays every stream's run through `streams`.
    """

    run: RunHistory | None = _OfSelectedStream(lambda: None)
    ghost: RunHistory | None = _OfSelectedStream(lambda: None)
    latest: Snapshot | None = _OfSelectedStream(lambda: None)
    samples: deque[str] = _OfSelectedStream(deque)
    notes: deque[str] = _OfSelectedStream(deque)
    steps_per_s: float = _OfSelectedStream(float, "speed")

    def __init__(self) -> None:
        # in order of first arrival: a stream's colour is its place
        self.streams: dict[str, StreamHistory] = {}
        self.selected: str | None = None  # the stream the panels show: the first to arrive till select_next()
        # grows with every snapshot and selection, so that a panel redraws only when its data changed
        self.version = 0
        # grows with every batch of the selected stream's sampled names, and with every selection
        self.samples_version = 0
        self.seen: set[str] = set()  # what any snapshot has brought: LOSS, LAYERS, WEIGHTS, SAMPLES, SCALARS

    @property
    def selected_stream(self) -> StreamHistory | None:
        return self.streams.get(self.selected)

    @property
    def comparing(self) -> bool:
        """Several streams: the Loss panel overlays their runs; a key picks the one other panels show."""
        return len(self.streams) > 1

    def add(self, snapshot: Snapshot) -> set[str]:
        """What the snapshot began, of NEW_STREAM, NEW_RUN (a reinit) and NEW_DATA (a kind of data not seen
        before)."""
        name = snapshot.run.stream
        stream = self.streams.get(name)
        began = set()
        if stream is None:
            stream = self.streams[name] = StreamHistory(RunHistory(snapshot.run), snapshot)
            if self.selected is None:
                self.selected = name
            began.add(NEW_STREAM)
        elif snapshot.run.run_id != stream.run.info.run_id:
            began.add(NEW_RUN)
        stream.add(snapshot)
        brought = {LOSS: True, LAYERS: snapshot.layers, WEIGHTS: snapshot.params or snapshot.weights,
                   SAMPLES: snapshot.samples, SCALARS: snapshot.scalars,
                   TIME: snapshot.through_time}
        kinds = {kind for kind, there in brought.items() if there}
        if not kinds <= self.seen:
            self.seen |= kinds
            began.add(NEW_DATA)
        if snapshot.samples and name == self.selected:
            self.samples_version += 1
        self.version += 1
        return began

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
        """How legends, tables and titles name a stream's run: its name, and the stream's on a clash."""
        run_name = self.streams[name].run.info.name
        clash = any(other.run.info.name == run_name for key, other in self.streams.items() if key != name)
        return f"{run_name} · {name}" if clash and name else run_name
