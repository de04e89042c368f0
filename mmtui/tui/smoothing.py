"""The loss curve's smoothing: TensorBoard's debiased EMA, its weight fitted to the number of
points it smooths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from mmtui.tui.history import LossSeries

# the EMA averages over about 1/40 of the points: ~75 steps of a 3,000-step run kept whole, and under two
# points of a log's 30, where a fixed weight of 0.99 lagged far behind (2.05 where the loss was 1.73)
SPAN_SHARE = 40


def fitted_weight(points: int) -> float:
    """The EMA's weight for a curve of `points` points: its span, 1 / (1 - weight), is 1 +
    points / SPAN_SHARE."""
    return points / (points + SPAN_SHARE)


def debiased_ema(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an EMA divided by the weight its zero start took, so its first points are the
    data's, not pulled towards 0."""
    smoothed, ema, taken = [], 0.0, 0.0
    for value in values:
        ema = weight * ema + (1 - weight) * value
        taken = weight * taken + (1 - weight)
        smoothed.append(ema / taken)
    return smoothed


def smoothed(values: Sequence[float]) -> list[float]:
    """`values` smoothed with the weight fitted to their number."""
    return debiased_ema(values, fitted_weight(len(values)))


class SmoothedCurves:
    """Each loss series' smoothed points, kept until the series grows or thins: 32 finished runs of 2,048
    points took ~25 ms a frame to smooth again (the weight, fitted to their number, changes with
    every point added)."""

    def __init__(self) -> None:
        self._kept: WeakKeyDictionary[LossSeries, tuple[tuple[int, int, int], list[float]]] = \
            WeakKeyDictionary()

    def of(self, losses: LossSeries) -> list[float]:
        """The smoothed points of `losses`, one per kept raw loss."""
        key = (len(losses.raw), losses.thinning.bucket)
        kept = self._kept.get(losses)
        if kept is None or kept[0] != key:
            kept = self._kept[losses] = (key, smoothed(losses.raw))
        return kept[1]
