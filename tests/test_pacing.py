"""The pace of statistics: a least interval, thinning as a run ages (dense first), stretched by what a
measurement cost the training thread (a budget), and every step-counted snapshot for the tests' exact pace."""

from __future__ import annotations

import pytest

from mmtui.measure.pacing import Pacing, StatsClock


def measurements(pacing: Pacing, seconds: float, poll_s: float = 0.01, cost_s: float = 0.0) -> list[float]:
    """When a loop polling every poll_s took statistics over `seconds`, each costing cost_s of its time."""
    clock, taken = StatsClock(pacing, 0.0), []
    for tick in range(int(seconds / poll_s)):
        now = tick * poll_s
        if clock.due(now):
            taken.append(now)
            clock.spent(cost_s)
    return taken


def test_the_first_minute_is_dense_then_the_pace_thins_with_the_runs_age():
    taken = measurements(Pacing(), 7200, poll_s=0.05)
    first_hour = [t for t in taken if t < 3600]
    assert sum(t < 50 for t in taken) == pytest.approx(100, abs=2)  # every 0.5 s while the run is young
    assert 500 <= len(first_hour) <= 560  # 100 + 100 ln(3600 / 50): ~530
    assert len(taken) - len(first_hour) == pytest.approx(69, abs=3)  # 100 ln 2 per doubling of the run's age
    gaps = [b - a for a, b in zip(taken, taken[1:])]
    assert gaps[-1] == pytest.approx(0.01 * taken[-2], rel=0.02)  # an hour in: one a minute and a bit


def test_a_measurement_that_costs_more_stretches_the_interval_to_the_budget():
    taken = measurements(Pacing(stats_thinning=0.0), 60, cost_s=0.05)  # 50 ms each: 1% means one per 5 s
    assert len(taken) == pytest.approx(12, abs=1)
    cheap = measurements(Pacing(stats_thinning=0.0), 60, cost_s=0.001)
    assert cheap[:3] == pytest.approx([0, 0.5, 1.0])  # cheap: the least interval holds


def test_the_runs_first_measurement_sets_no_budget_and_the_second_does():
    clock = StatsClock(Pacing(stats_thinning=0.0), 0.0)
    assert clock.due(0.0)
    clock.spent(0.2)  # one-time costs: samples drawn, the reductions' first calls
    assert clock.due(0.5)  # not 20 s later
    clock.spent(0.2)
    assert not clock.due(10.0) and clock.due(20.5)  # a steady cost holds the budget


def test_step_counted_snapshots_each_carry_statistics_whatever_the_cost():
    clock = StatsClock(Pacing(snapshot_every=10), 0.0)
    assert all(clock.due(0.001 * i) for i in range(100))
