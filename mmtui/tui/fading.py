"""What a layer's gradient by time step says: how far it fades back through time, and from
where it is lost."""

from __future__ import annotations

import math

from mmtui.records import TimeStats

# a time step whose gradient is below this share of the last step's has, for learning, none
FADED_BELOW = 0.01


def _reached(stats: TimeStats) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The time steps up to the last one a gradient reached: a padded sequence's last steps may get none."""
    grads = stats.grad_std
    last = max((i for i, grad in enumerate(grads) if grad > 0), default=-1)
    return stats.times[:last + 1], grads[:last + 1]


def faded_from(stats: TimeStats) -> int | None:
    """The latest time step whose gradient is below FADED_BELOW of the last reached step's: from there back
    the earlier characters barely teach the net; None where no step fell that far (or
    there is no gradient)."""
    times, grads = _reached(stats)
    if len(grads) < 2:
        return None
    floor = FADED_BELOW * grads[-1]
    for time, grad in zip(reversed(times[:-1]), reversed(grads[:-1])):
        if grad < floor:
            return time
    return None


def fade(stats: TimeStats) -> float | None:
    """The first time step's gradient over the last reached step's: 1e-3 is three orders of magnitude lost on
    the way back; None without gradients."""
    _, grads = _reached(stats)
    if len(grads) < 2 or not math.isfinite(grads[0]):
        return None
    return grads[0] / grads[-1]
