"""The through-time view: offered only where the run shown has figures by time step, and drawing them."""

from __future__ import annotations

from dataclasses import replace

from app_sources import ScriptedSource, screen_text
from pilot_wait import wait_until

from mmtui.records import RUNNING, ActivationStats, RunInfo, Snapshot, TimeStats
from mmtui.tui.app import MmtuiApp

INFO = RunInfo(run_id=0, name="rnn kaiming x0.25", model="rnn",
               settings={"init": "kaiming", "w1_scale": 0.25})
LAYER = ActivationStats(step=0, saturation=0.0, share_99=0.0, dead_units=0, units=64, mean=0.0, std=0.3,
                        hist_edges=(-1.0, 0.0, 1.0), hist_counts=(5, 5))
FADING = TimeStats(step=0, name="rnn hidden state", times=tuple(range(8)), std=(0.3,) * 8,
                   saturation=(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0),
                   grad_std=(1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1), calls=8)


def snapshot(step: int, through_time: tuple[TimeStats, ...], info: RunInfo = INFO) -> Snapshot:
    return Snapshot(run=info, state=RUNNING, step=step, first_loss_step=max(step - 1, 0), losses=(3.0,),
                    lr=0.1, steps_per_s=100.0, init_loss=3.3, layers=(LAYER,), params=(), evals=(),
                    samples=(), last_finite_loss=3.0, diverged_loss=None, through_time=through_time)


async def test_the_t_key_waits_for_figures_by_time_step_and_the_view_marks_where_the_gradient_fades():
    source = ScriptedSource([snapshot(1, ())])
    app = MmtuiApp(source)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None)
        assert app.check_action("view", ("time",)) is False  # an MLP's statistics: no key, no view
        await pilot.press("t")
        assert app.views.current == "overview"
        source.outbox.append(snapshot(2, (FADING,)))
        await wait_until(pilot, lambda: app.check_action("view", ("time",)))
        await pilot.press("t")
        await wait_until(pilot, lambda: "below 1% (grey) from step 3 back" in screen_text(app))
        screen = screen_text(app)
        assert "step 0's is 1.0e-06 of step 7's" in screen and "Saturation by time step" in screen
        assert "rnn hidden state · 8 time steps" in screen and "· below 1% of the row's last step" in screen
        # a reinit to a net without time steps: its statistics came, none by time step
        source.outbox.append(snapshot(3, (), replace(INFO, run_id=1, model="mlp")))
        await wait_until(pilot, lambda: app.views.current == "overview")


async def test_the_through_time_view_draws_at_80x24():
    app = MmtuiApp(ScriptedSource([snapshot(1, (FADING,)), snapshot(2, (FADING,))]))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.check_action("view", ("time",)))
        await pilot.press("t")
        await wait_until(pilot, lambda: "Gradient by time step over the run" in screen_text(app))
        assert "      2 " in screen_text(app)  # a heat-map row, labelled by its training step
