"""The app driven by Pilot: panels, the keys that reinit and pause, the loss axis, help, divergence.

The keys' commands are checked on a stand-in that answers them as the trainer does; the trainer's own
answers are tested on the trainer (test_trainer.py), a burst of these keys on the real one in
test_tui_reliability.py."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from mmtui.engine.words import read_words
from mmtui.experiments import LECTURE_SEED, PRESETS
from mmtui.records import DIVERGED, LOSS, PAUSED, RUNNING, Reinit, Save, TogglePause
from mmtui.tui.actions import KEY_ROWS, help_rows
from mmtui.tui.app import MmtuiApp
from mmtui.tui.widgets.help_screen import HelpScreen
from app_sources import ScriptedSource, StandInTrainer, past_step, screen_text, trainer_app
from pilot_wait import wait_until

SIZE = (160, 48)


@pytest.fixture(scope="module")
def words() -> list[str]:
    return read_words(None)[:2000]


def status_text(app: MmtuiApp) -> str:
    return str(app.status_line.render())


async def test_all_panels_and_the_status_line_are_present(words):
    app = trainer_app(words, sample_interval_s=0.5, hidden=20)
    async with app.run_test(size=SIZE) as pilot:
        for panel in ("#loss", "#activations", "#saturation", "#samples", "#status"):
            assert app.query_one(panel).region.area > 0, panel
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 100)
        assert "steps/s" in status_text(app)
        assert "init lecture" in status_text(app)


async def test_each_preset_key_reinits_with_its_preset_and_the_status_line_names_it():
    source = StandInTrainer(init="kaiming")
    app = MmtuiApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.run is not None)
        for key, preset in zip("1234", PRESETS):
            await pilot.press(key)
            await wait_until(pilot, lambda: app.history.run.info.settings["init"] == preset
                             and f"init {preset}" in status_text(app))
        assert source.sent == [Reinit(init=preset) for preset in PRESETS]


async def test_brackets_halve_and_double_the_hidden_weight_scale_and_r_takes_the_next_seed():
    source = StandInTrainer()
    app = MmtuiApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.run is not None)
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "W1 x2 " in status_text(app))
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_until(pilot, lambda: "W1 x0.5 " in status_text(app))
        await pilot.press("r")
        await wait_until(pilot, lambda: app.history.run.info.settings["seed"] == LECTURE_SEED + 1)
        assert source.sent == [Reinit(w1_factor=2), Reinit(w1_factor=0.5), Reinit(w1_factor=0.5),
                               Reinit(new_seed=True)]


async def test_space_pauses_and_resumes_and_the_status_line_holds_the_step():
    source = StandInTrainer()
    app = MmtuiApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 10)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.history.latest.state == PAUSED and "paused" in status_text(app))
        held = app.history.latest.step
        await wait_until(pilot, lambda: f"step {held:,} / " in status_text(app))
        await pilot.press("space")
        await wait_until(pilot, lambda: app.history.latest.state == RUNNING and past_step(app, held))
        assert source.sent == [TogglePause(), TogglePause()]


async def test_a_diverging_run_shows_diverged_and_a_reinit_recovers(words):
    # the lecture's step-0 loss is above 10, fix-tanh's not
    app = trainer_app(words, sample_interval_s=0.5, init="lecture", diverge_at=10.0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: past_step(app, -1) and app.history.latest.state == DIVERGED)
        await wait_until(pilot, lambda: "diverged" in status_text(app))
        app.redraw(force=True)  # the plots draw the diverged run, skipping its non-finite values
        await pilot.press("3")
        await wait_until(pilot, lambda: app.history.run.info.settings["init"] == "fix-tanh"
                         and app.history.latest.step > 50)
        assert math.isfinite(app.history.latest.last_loss)


async def test_log_key_switches_the_loss_axis_and_help_lists_the_keys():
    app = MmtuiApp(StandInTrainer())
    async with app.run_test(size=SIZE) as pilot:
        axis_label = re.compile(r"│loss( \(log axis\))? +step")  # the Loss panel's bottom row: y, x labels
        await wait_until(pilot, lambda: (label := axis_label.search(screen_text(app))) and label.group(1))
        await pilot.press("l")
        await wait_until(pilot, lambda: axis_label.search(screen_text(app)).group(1) is None)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


# ---- one table of keys

def readme_key_table() -> str:
    """The README's table of keys as the app's key table makes it."""
    rows = [f"| {' '.join(f'`{key}`' for key in row.keys)} | {row.text} |" for row in KEY_ROWS if row.text]
    return "\n".join(["| key | action |", "|---|---|", *rows])


def test_the_readmes_key_table_is_the_apps():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme_key_table()
    assert table in readme, f"the README's key table (under ### Keys) should read:\n{table}"


def test_every_binding_is_in_the_table_and_the_help_lists_the_keys_offered():
    assert [binding.key for binding in MmtuiApp.BINDINGS] == [b.key for row in KEY_ROWS for b in row.bindings]
    everything = help_rows(lambda binding: True)
    assert [keys for keys, _ in everything] == [" ".join(row.keys) for row in KEY_ROWS if row.text]
    assert all("`" not in text for _, text in everything)  # the README's code marks are not drawn
    assert "q" in [keys for keys, _ in help_rows(lambda binding: binding.key == "q")]  # ctrl+q not offered


async def help_keys(app: MmtuiApp) -> set[str]:
    """The keys the app's help screen lists, one by one."""
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        return {key for keys, _ in app.screen.key_rows for key in keys.split()}


async def test_the_help_lists_only_the_keys_the_source_can_take():
    lecture = await help_keys(MmtuiApp(StandInTrainer()))
    assert {"1", "[", "r", "g", "m", "space", "w", "s", "e", "o", "y", "p", "n", ",", "."} <= lecture
    assert "c" not in lecture and "t" not in lecture  # one run, and no figures by time step yet
    no_layers = ScriptedSource([], commands=frozenset(), produces=frozenset({LOSS}))
    losses_only = await help_keys(MmtuiApp(no_layers))
    assert losses_only == {"l", "s", "e", "?", "q", "ctrl+q"}  # no layers, no weights: no view to go to
    served = await help_keys(MmtuiApp(StandInTrainer(), writes=False))
    assert not {"s", "w", "e"} & served  # a tab served without --allow-writes is offered no key that writes
