"""When a run reports: how often snapshots and statistics are taken; plain Python, so the CLI reads it without
torch."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Pacing:
    """How often a trainer reports, which its watcher (a UI, a script) sets: not part of the run, nor of its
    checkpoint, so a run resumed under another pace repeats the same numbers."""

    snapshot_every: int = 0  # emit a snapshot every this many steps (0 = by time, see below)
    snapshot_interval_s: float = 0.1  # least seconds between two snapshots when snapshot_every is 0
    # with time-based snapshots, least seconds between two that carry statistics: the UI draws
    # its panels at this pace
    stats_interval_s: float = 0.5
    # the least seconds between two statistics also grow to this share of the run's age: dense for its first
    # 50 s, then ~70 statistics per doubling of its length (~530 in the first hour, ~600 in two), so a long
    # run's file stays bounded
    stats_thinning: float = 0.01
    # at most this share of the loop's time goes to statistics: after a measurement that held the training
    # thread c seconds, the next waits c / stats_budget at least (0 = no budget)
    stats_budget: float = 0.01
    sample_interval_s: float = 0.0  # seconds between sample events while training (0 = only at the end)
    # also the train split at the eval_every intervals; the TUI plots val only and skips it, since the train
    # split is 8x the val split (~0.7 s of a 6 s interval on the lecture's names)
    eval_train_every: bool = True


class StatsClock:
    """When a run's next statistics fall due, by the rule of Pacing: a least interval that grows with the
    run's age, stretched further by what the last measurement cost the training thread. With step-counted
    snapshots, every snapshot carries statistics (the tests' and the headless runner's exact pace)."""

    def __init__(self, pacing: Pacing, now: float):
        self.pacing = pacing
        self._start = now  # the run's start: its age thins the pace
        self._last = -math.inf  # a run's first snapshot always carries statistics
        self._cost = 0.0  # seconds the training thread spent on the latest measurement
        # the latest measurement is the run's first: its one-time costs (samples drawn, the first calls of
        # each reduction) set no budget, or a run's first statistics after step 0 came seconds late
        self._first = False

    def next_at(self) -> float:
        """The time from which statistics are due."""
        pacing = self.pacing
        gap = max(pacing.stats_interval_s, (self._last - self._start) * pacing.stats_thinning,
                  self._cost / pacing.stats_budget if pacing.stats_budget and not self._first else 0.0)
        return self._last + gap

    def due(self, now: float) -> bool:
        """Whether statistics are due now; a True answer counts as taking them."""
        if self.pacing.snapshot_every or now >= self.next_at():
            self._first = self._last == -math.inf
            self._last, self._cost = now, 0.0
            return True
        return False

    def spent(self, seconds: float) -> None:
        """The training thread spent `seconds` more on the latest measurement."""
        self._cost += seconds
