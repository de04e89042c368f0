"""Screens that fit the run: each source's screen lays out only the panels its data fills, and fills them."""

from __future__ import annotations

import math

from app_sources import ScriptedSource, screen_text
from pilot_wait import wait_until

from mmtui.records import RUNNING, RunInfo, Scalar, ScriptOutput, Snapshot
from mmtui.sources.script import ScriptSource
from mmtui.tui.app import MmtuiApp


def script_snapshot(step: int, scalars: tuple[Scalar, ...] = ()) -> Snapshot:
    """A watched script's snapshot: a loss a step, no layers, maybe scalars."""
    info = RunInfo(run_id=0, name="train Net", model="Net", settings={"script": "train.py"})
    return Snapshot(run=info, state=RUNNING, step=step, first_loss_step=step - 10,
                    losses=tuple(2.0 + math.exp(-(step - 10 + i) / 50) for i in range(10)), lr=0.1,
                    steps_per_s=100.0, init_loss=3.0, layers=(), params=(), evals=(), samples=(),
                    last_finite_loss=2.0, diverged_loss=None, scalars=scalars)


def printed(first: int, last: int) -> ScriptOutput:
    return ScriptOutput(tuple(f"line {n}" for n in range(first, last + 1)))


async def test_the_output_keeps_following_when_a_panel_laid_out_beside_it_makes_it_shorter():
    """A script's first run.log(lr=...) brings the Scalars panel, which takes rows from the Output: its log stayed
    on the script's first lines, above its end, and Textual's Log follows only from its end."""
    source = ScriptedSource([printed(1, 8)], commands=frozenset(), produces=ScriptSource.produces,
                            promised=ScriptSource.promised)
    app = MmtuiApp(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "line 8" in screen_text(app))
        source.outbox += [script_snapshot(10), printed(9, 22)]  # the Loss takes half the width: lines rewrapped
        await wait_until(pilot, lambda: "line 22" in screen_text(app) and app.loss_plot.region.area > 0)
        source.outbox += [script_snapshot(20, tuple(Scalar(f"metric_{i}", 20, 0.5) for i in range(6)))]
        await wait_until(pilot, lambda: app.overview.scalars.region.area > 0)
        source.outbox += [printed(23, 40)]
        await wait_until(pilot, lambda: "line 40" in screen_text(app), timeout=3)
        app.output_panel.log_view.scroll_home(animate=False, immediate=True)  # the user scrolls up: it stays there
        source.outbox += [printed(41, 45)]
        await wait_until(pilot, lambda: app.output_panel.lines[-1] == "line 45")
        await pilot.pause(0.1)
        assert "line 45" not in screen_text(app) and not app.output_panel.following
        app.output_panel.log_view.scroll_end(animate=False, immediate=True)  # back at the end: it follows again
        source.outbox += [printed(46, 50)]
        await wait_until(pilot, lambda: "line 50" in screen_text(app), timeout=3)
