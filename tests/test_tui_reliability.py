"""The app under abuse: key storms and resize storms mid-training."""

from __future__ import annotations

import random
import time

from mmtui.engine.config import RunFiles
from mmtui.engine.words import read_words
from mmtui.records import PAUSED, RUNNING
from mmtui.tui.app import MmtuiApp
from app_sources import screen_text, trainer_app
from pilot_wait import wait_until

STORM_KEYS = ["1", "2", "3", "4", "left_square_bracket", "right_square_bracket", "r", "space", "l", "b", "g", "m",
              "question_mark", "escape", "o", "y", "p", "n"]


QUIT_BOUND_S = 5.0  # quitting takes ~0.4 s (benchmarks/ measure it); a test's bound must hold on a loaded machine


def status_text(app: MmtuiApp) -> str:
    return str(app.status_line.render())


def make_app() -> MmtuiApp:
    return trainer_app(read_words(None)[:2000], process=True, steps=1_000_000)  # the trainer in its child process


async def test_a_storm_of_500_keys_leaves_the_app_consistent_and_q_still_quits_at_once():
    app = make_app()
    storm = random.Random(0)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None, timeout=30)
        for _ in range(500):  # 100 keys a second, the app taking them as they come
            app.simulate_key(storm.choice(STORM_KEYS))
            await pilot.pause(0.01)
        while type(app.screen).__name__ == "HelpScreen":
            await pilot.press("escape")
        if app.history.latest.state == PAUSED:
            await pilot.press("space")
        await wait_until(pilot, lambda: app.history.latest.state == RUNNING and app.history.latest.step > 20,
                         timeout=15)
        assert app.history.run.info == app.history.latest.run  # the panels draw the run the engine reports
        await wait_until(pilot, lambda: status_text(app).startswith("running")
                         and f"model {app.history.run.info.model}" in status_text(app), timeout=5)
        await pilot.press("space")  # the step held still, so the status line's figure can be compared exactly
        await wait_until(pilot, lambda: app.history.latest.state == PAUSED and "paused" in status_text(app), timeout=15)
        step = f"step {app.history.latest.step:,} / 1,000,000"
        await wait_until(pilot, lambda: step in status_text(app), timeout=5)
        pressed = time.monotonic()
        await pilot.press("q")
    assert time.monotonic() - pressed < QUIT_BOUND_S  # the app's own exit (~0.4 s) plus Pilot's teardown


async def test_thirty_resizes_from_40x12_to_250x70_mid_training_raise_nothing():
    app = make_app()
    sizes = random.Random(1)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 100, timeout=15)
        for _ in range(30):
            await pilot.resize_terminal(sizes.randint(40, 250), sizes.randint(12, 70))
            await pilot.pause(0.05)
        await pilot.resize_terminal(40, 12)
        await pilot.pause(0.3)
        assert app.is_running


async def test_below_the_minimum_size_the_app_says_so_and_recovers_when_larger():
    app = make_app()
    async with app.run_test(size=(50, 12)) as pilot:
        await wait_until(pilot, lambda: "mmtui needs at least 60x16" in screen_text(app))  # it wraps at 50
        assert "╭─ Loss" not in screen_text(app) and not app.views.display
        await pilot.resize_terminal(160, 48)
        await wait_until(pilot, lambda: "╭─ Loss" in screen_text(app))
        assert "mmtui needs at least" not in screen_text(app) and app.views.display


async def test_e_exports_the_current_runs_losses_as_csv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 200, timeout=30)
        await pilot.press("e")
        await wait_until(pilot, lambda: any(tmp_path.glob("mmtui-mlp-*.csv")), timeout=5)
    (path,) = tmp_path.glob("mmtui-mlp-*.csv")
    header, *rows = path.read_text().splitlines()
    assert header.split(",")[:4] == ["step", "loss", "smoothed_loss", "val_loss"]
    assert {"update_ratio_log10_W1", "update_ratio_log10_W2"} <= set(header.split(","))
    steps = [int(row.split(",")[0]) for row in rows]
    assert steps == sorted(steps) and steps[0] == 0 and len(steps) > 200


async def test_w_saves_a_checkpoint_and_says_where(tmp_path):
    target = tmp_path / "run.pt"
    app = trainer_app(read_words(None)[:2000], process=True, files=RunFiles(save=str(target)), steps=1_000_000)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 100, timeout=30)
        await pilot.press("w")
        await wait_until(pilot, lambda: target.exists(), timeout=15)
        await wait_until(pilot, lambda: "checkpoint saved" in screen_text(app), timeout=15)
