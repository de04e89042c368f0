"""A measured step's statistics travel as one readout: gathered in put() order, read back exactly, and carried
by the first snapshot that finds them landed; a running snapshot never waits for them, a closing one does."""

from __future__ import annotations

import torch

from mmtui.measure.pacing import Pacing
from mmtui.measure.readout import Readout
from mmtui.measure.snapshots import SnapshotBuilder
from mmtui.measure.reductions import StepStats
from mmtui.records import DONE, RUNNING, RunInfo


def test_pieces_come_back_in_the_order_they_were_put_as_float32():
    readout = Readout()
    first = readout.put(torch.tensor(1.5), torch.arange(3))
    second = readout.put(torch.tensor([[2.0, 3.0]], dtype=torch.float64))
    readout.send()
    assert readout.ready() and (first, second) == (0, 4)
    assert readout.values() == [1.5, 0.0, 1.0, 2.0, 2.0, 3.0]


class InFlight(StepStats):
    """A measured step whose copy has not landed yet, as a GPU's may not have at the next snapshot."""

    landed = False

    def ready(self) -> bool:
        return self.landed


def measured(step: int, value: float, cls=StepStats) -> StepStats:
    stats = cls(step)
    stats.activation(torch.full((4, 3), value))
    stats.send()
    return stats


def test_a_running_snapshot_carries_the_latest_landed_statistics_and_never_waits():
    builder = SnapshotBuilder(RunInfo(0, "run", "model"), Pacing())
    builder.add_stats(measured(0, 0.1))
    late = measured(5, 0.5, InFlight)
    builder.add_stats(late)
    first = builder.take(state=RUNNING, step=6, lr=None)
    assert [s.step for s in first.layers] == [0]  # step 5's are on their way: not waited for
    assert builder.take(state=RUNNING, step=7, lr=None).layers == ()
    late.landed = True
    landed = builder.take(state=RUNNING, step=8, lr=None).layers
    assert [(s.step, round(s.mean, 6)) for s in landed] == [(5, 0.5)]


def test_the_closing_snapshot_waits_for_what_is_still_on_its_way():
    builder = SnapshotBuilder(RunInfo(0, "run", "model"), Pacing())
    builder.add_stats(measured(3, 0.3, InFlight))
    assert [s.step for s in builder.take(state=DONE, step=4, lr=None).layers] == [3]
