"""The engine's statistics of one Tanh layer on a hand-built batch: saturation, dead units, the white
image."""

from __future__ import annotations

import statistics

import pytest
import torch

from mmtui.measure.reductions import activation_stats

# 4 examples x 10 units: 10 is not a multiple of 8, so the packed image spans two bytes with padding.
DEAD, PARTLY_WHITE, SATURATED, LATE_WHITE = 2, 5, 7, 9
ROWS = [[0.1] * 10 for _ in range(4)]
for row, value in enumerate([0.995, -0.999, 0.9999, -0.992]):
    ROWS[row][DEAD] = value  # white (|t| > 0.99) for every example: a dead unit, whatever the sign
for row, value in enumerate([0.999, -0.995, 0.5, 0.0]):
    ROWS[row][PARTLY_WHITE] = value  # white for two examples only: it still learns from the others
for row in range(4):
    ROWS[row][SATURATED] = -0.98  # saturated (|t| > 0.97) everywhere, never white
ROWS[3][LATE_WHITE] = -0.9995  # a unit past the first byte of the packed image


@pytest.fixture(scope="module")
def stats():
    grad = torch.arange(40, dtype=torch.float32).view(4, 10) / 100 - 0.2
    return activation_stats(torch.tensor(ROWS), grad, step=7, layer=2)


def test_a_unit_white_for_every_example_is_the_only_dead_one(stats):
    assert stats.dead_units == 1 and stats.units == 10


def test_white_and_saturated_shares_count_every_value_over_the_threshold(stats):
    values = [abs(v) for row in ROWS for v in row]
    assert stats.share_99 == pytest.approx(100 * 7 / 40)  # 4 dead + 2 partly white + 1 late white
    assert stats.saturation == pytest.approx(100 * 11 / 40)  # those 7 and the 4 saturated ones
    assert stats.share_99 == pytest.approx(100 * sum(v > 0.99 for v in values) / len(values))


def test_white_rows_set_bit_u_for_each_white_unit_u_of_each_example(stats):
    dead, partly, late = 1 << DEAD, 1 << PARTLY_WHITE, 1 << LATE_WHITE
    assert stats.white_rows == (dead | partly, dead | partly, dead, dead | late)


def test_mean_std_and_gradient_statistics_are_the_plain_ones(stats):
    values = [v for row in ROWS for v in row]
    grads = [(i / 100 - 0.2) for i in range(40)]
    assert stats.mean == pytest.approx(statistics.fmean(values), abs=1e-6)
    assert stats.std == pytest.approx(statistics.stdev(values), rel=1e-5)  # torch's std is the sample std
    assert stats.grad_mean == pytest.approx(statistics.fmean(grads), abs=1e-6)
    assert stats.grad_std == pytest.approx(statistics.stdev(grads), rel=1e-5)
    assert (stats.step, stats.layer) == (7, 2)
    assert sum(stats.hist_counts) == 40  # every value in one of the bins on [-1, 1]
