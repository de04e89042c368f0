"""The one snapshot builder: what is new since a run's last snapshot, its training rate, and when the next is
due."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from mmtui.measure.losses import LossBook
from mmtui.measure.pacing import Pacing, StatsClock
from mmtui.records import RUNNING, ActivationStats, EvalResult, Histogram, RunInfo, Scalar, Snapshot

if TYPE_CHECKING:  # the statistics come measured; a log's histograms come without torch (mmtui view)
    from mmtui.measure.reductions import StepStats


class SnapshotBuilder:
    """Collects one run's losses, evaluations, samples, scalars and notes between two snapshots, and takes
    them.

    The lecture's trainer, watch() and a TensorBoard log read back all build their snapshots here, so they
    agree on what a snapshot holds. The trainer and watch() also keep its pace: a snapshot at step 0 and then
    every `snapshot_every` steps or `snapshot_interval_s` seconds; statistics on every step-counted one, else
    when the StatsClock says.
    """

    def __init__(self, run: RunInfo, pacing: Pacing, step: int = 0, now: float | None = None,
                 book: LossBook | None = None):
        now = time.perf_counter() if now is None else now
        self.run = run
        self.pacing = pacing
        self.book = book if book is not None else LossBook()  # the step-0, latest finite and diverged losses
        self.losses: list[float] = []  # every minibatch loss taken since the last snapshot, from
        # first_loss_step on
        self.first_loss_step = step
        self.evals: list[EvalResult] = []
        self.samples: list[str] = []
        self.scalars: list[Scalar] = []
        self.notes: list[str] = []
        self._measured: list[StepStats] = []  # measured steps whose results are on their way to the host
        self._logged: tuple[tuple[ActivationStats, ...], tuple[Histogram, ...]] | None = None  # a log's
        # histograms of layers and weights, for the next snapshot
        self.saved: str | None = None  # a checkpoint written since the last snapshot
        self.save_error: str | None = None
        self._last_emit = self._rate_t0 = now
        self._rate_step0 = step
        self.clock = StatsClock(pacing, now)

    @property
    def has_news(self) -> bool:
        """Losses, evaluations, samples, scalars or logged histograms that no snapshot carried yet."""
        return bool(self.losses or self.evals or self.samples or self.scalars or self._logged)

    def snapshot_due(self, step: int, now: float) -> bool:
        """Whether a snapshot is due before training step `step` (updates done so far)."""
        if step == 0:
            return True
        if self.pacing.snapshot_every:
            return step % self.pacing.snapshot_every == 0
        return now - self._last_emit >= self.pacing.snapshot_interval_s

    def add_loss(self, step: int, value: float) -> bool:
        """Keep the loss of step `step` (before its update) for the next snapshot; False where it diverged."""
        self.losses.append(value)
        return self.book.add(step, value)

    def add_stats(self, stats: StepStats) -> None:
        """A measured step's statistics, sent: the first snapshot that finds them landed carries them."""
        self._measured.append(stats)

    def add_logged(self, layers: tuple[ActivationStats, ...], weights: tuple[Histogram, ...]) -> None:
        """Histograms a log holds, of layers and of weights, for the next snapshot: statistics not measured
        here."""
        self._logged = (layers, weights)

    def _landed(self, wait: bool) -> StepStats | None:
        """The latest measured step whose results have landed (all of them, with `wait`); older ones are
        dropped, newer ones wait for a later snapshot. Copies land in the order they were sent."""
        landed = len(self._measured) if wait else next(
            (i for i, stats in enumerate(self._measured) if not stats.ready()), len(self._measured))
        if not landed:
            return None
        latest = self._measured[landed - 1]
        self._measured = self._measured[landed:]
        return latest

    def stats_due(self, now: float) -> bool:
        """Whether statistics are taken now; a True answer counts as taking them."""
        return self.clock.due(now)

    def next_due_at(self) -> float | None:
        """When the next snapshot or statistics fall due by time, for a caller that only wants to look at the
        clock until then; None with step-counted pacing."""
        if self.pacing.snapshot_every:
            return None
        return min(self._last_emit + self.pacing.snapshot_interval_s, self.clock.next_at())

    def restart_rate(self, step: int, now: float) -> None:
        """The training rate counts from here: a run resumed after a pause does not count the pause."""
        self._rate_t0, self._rate_step0 = now, step

    def take(self, *, state: str, step: int, lr: float | None, now: float | None = None) -> Snapshot:
        """The snapshot of everything collected since the last one; the collection starts again empty. A
        snapshot that leaves the run not running waits for the statistics still on their way; a running one
        never does."""
        now = time.perf_counter() if now is None else now
        measured = self._landed(wait=state != RUNNING)
        layers, params = measured.records() if measured is not None else ((), ())
        through_time = measured.through_time() if measured is not None else ()
        weights: tuple[Histogram, ...] = ()
        if self._logged is not None:
            (layers, weights), self._logged = self._logged, None
        elapsed = now - self._rate_t0
        rate = (step - self._rate_step0) / elapsed if elapsed > 0 else 0.0
        snapshot = Snapshot(
            run=self.run, state=state, step=step, first_loss_step=self.first_loss_step,
            losses=tuple(self.losses),
            lr=lr, steps_per_s=rate, init_loss=self.book.init_loss, layers=layers, params=params,
            evals=tuple(self.evals), samples=tuple(self.samples), last_finite_loss=self.book.last_finite_loss,
            diverged_loss=self.book.diverged_loss, saved=self.saved, save_error=self.save_error,
            scalars=tuple(self.scalars), notes=tuple(self.notes), through_time=through_time, weights=weights)
        self.first_loss_step += len(self.losses)  # the step of the next loss: a watched loop's losses may
        # come a snapshot later than their steps, on their way from a device
        self.losses, self.evals, self.samples, self.scalars, self.notes = [], [], [], [], []
        self.saved = self.save_error = None
        self._last_emit = now
        self.restart_rate(step, now)
        return snapshot
