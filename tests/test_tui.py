"""The real app driven by Pilot: panels, preset keys, pause, quitting, divergence."""

from __future__ import annotations

import math
import multiprocessing
import re
import time

import pytest

from mmtui.engine.words import read_words
from mmtui.experiments import LECTURE_SEED
from mmtui.records import DIVERGED, PAUSED
from mmtui.tui.app import MmtuiApp
from app_sources import screen_text, trainer_app
from pilot_wait import wait_until

SIZE = (160, 48)
# Quitting takes ~0.4 s (benchmarks/ measure it); a test's bound must hold on a loaded machine too.
QUIT_BOUND_S = 5.0


@pytest.fixture(scope="module")
def words() -> list[str]:
    return read_words(None)[:2000]


def make_app(words, process: bool = False, **config) -> MmtuiApp:
    return trainer_app(words, process=process, sample_interval_s=0.5, **config)


def status_text(app: MmtuiApp) -> str:
    return str(app.status_line.render())


async def test_all_panels_and_the_status_line_are_present(words):
    app = make_app(words)
    async with app.run_test(size=SIZE) as pilot:
        for panel in ("#loss", "#activations", "#saturation", "#samples", "#status"):
            assert app.query_one(panel).region.area > 0, panel
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 100)
        assert "steps/s" in status_text(app)
        assert "init lecture" in status_text(app)


@pytest.mark.parametrize("key, preset", [("1", "lecture"), ("2", "fix-logits"), ("3", "fix-tanh"), ("4", "kaiming")])
async def test_each_preset_key_reinits_with_its_preset(words, key, preset):
    app = make_app(words, init="fix-tanh" if preset == "lecture" else "lecture")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.run is not None)
        await pilot.press(key)
        await wait_until(pilot, lambda: app.history.run.info.settings["init"] == preset
                         and app.history.run.init_loss is not None)
        await wait_until(pilot, lambda: f"init {preset}" in status_text(app))
        init_loss, expected = app.history.run.init_loss, app.history.run.info.expected_init_loss
        if preset == "lecture":
            assert init_loss > 15
        else:
            assert abs(init_loss - expected) < 0.1
        assert f"init {preset}" in status_text(app)


async def test_brackets_halve_and_double_the_hidden_weight_scale(words):
    app = make_app(words)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.run is not None)
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: app.history.run.info.settings["w1_scale"] == 2.0)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_until(pilot, lambda: app.history.run.info.settings["w1_scale"] == 0.5)
        await pilot.press("r")
        await wait_until(pilot, lambda: app.history.run.info.settings["seed"] == LECTURE_SEED + 1)


async def test_pause_holds_the_step_counter(words):
    app = make_app(words)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 100)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.history.latest.state == PAUSED)
        held = app.history.latest.step
        await pilot.pause(0.5)
        assert app.history.latest.step == held
        assert "paused" in status_text(app)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.history.latest.step > held)


async def test_q_quits_promptly_mid_training_with_the_trainer_in_a_child_process(words):
    app = make_app(words, process=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 100, timeout=30)
        pressed = time.monotonic()
        await pilot.press("q")
    assert time.monotonic() - pressed < QUIT_BOUND_S
    assert not multiprocessing.active_children()  # the trainer's process is gone


async def test_a_diverging_run_shows_diverged_and_a_reinit_recovers(words):
    app = make_app(words, init="lecture", diverge_at=10.0)  # the lecture's step-0 loss is above 10, fix-tanh's not
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.state == DIVERGED)
        await wait_until(pilot, lambda: "diverged" in status_text(app))
        await pilot.pause(0.5)  # a redraw or two of the plots, which skip the non-finite values
        await pilot.press("3")
        await wait_until(pilot, lambda: app.history.run.info.settings["init"] == "fix-tanh"
                         and app.history.latest.step > 50)
        assert math.isfinite(app.history.latest.last_loss)


async def test_log_key_switches_the_loss_axis_and_help_lists_the_keys(words):
    app = make_app(words)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 100)
        axis_label = re.compile(r"│loss( \(log axis\))? +step")  # the Loss panel's bottom row: y label, x label
        await wait_until(pilot, lambda: axis_label.search(screen_text(app)).group(1) is not None)
        await pilot.press("l")
        await wait_until(pilot, lambda: axis_label.search(screen_text(app)).group(1) is None)
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert type(app.screen).__name__ != "HelpScreen"


@pytest.mark.parametrize("size", [(80, 24), (250, 70), (40, 12)])
async def test_small_and_large_terminals_and_resizing_do_not_crash(words, size):
    app = make_app(words)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 100)
        await pilot.pause(0.3)
        for columns, rows in ((120, 30), (80, 24), (200, 60), size):
            await pilot.resize_terminal(columns, rows)
            await pilot.pause(0.1)
        assert app.is_running
        too_small = size == (40, 12)  # below 60x16 the panels give way to one line
        await wait_until(pilot, lambda: ("mmtui needs at least 60x16" in screen_text(app)) == too_small)
        assert ("╭─ Loss" in screen_text(app)) != too_small
