"""The app under abuse: key storms and resize storms mid-training."""

from __future__ import annotations

import random
import time

from mmtui.engine.config import TrainConfig
from mmtui.engine.snapshot import PAUSED, RUNNING
from mmtui.engine.words import read_words
from mmtui.tui.app import MmtuiApp

STORM_KEYS = ["1", "2", "3", "4", "left_square_bracket", "right_square_bracket", "r", "space", "l", "b", "g", "m",
              "question_mark", "escape", "o", "y", "p", "n"]


async def wait_until(pilot, condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def make_app() -> MmtuiApp:
    words = read_words(None)[:2000]
    return MmtuiApp(TrainConfig(steps=1_000_000, eval_every=0), words)  # the trainer in its child process


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
        await wait_until(pilot, lambda: app.history.latest.state == RUNNING and app.history.latest.step > 20)
        await pilot.pause(0.5)
        latest = app.history.latest
        assert app.history.run.info == latest.run  # the panels draw the run the engine reports
        status = str(app.status_line.render())
        assert f"step {latest.step:,}" in status or "step" in status
        assert latest.run.model in status and "running" in status
        pressed = time.monotonic()
        await pilot.press("q")
    assert time.monotonic() - pressed < 0.5 + 0.5  # the app's own exit plus Pilot's teardown


async def test_thirty_resizes_from_40x12_to_250x70_mid_training_raise_nothing():
    app = make_app()
    sizes = random.Random(1)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step > 100)
        for _ in range(30):
            await pilot.resize_terminal(sizes.randint(40, 250), sizes.randint(12, 70))
            await pilot.pause(0.05)
        await pilot.resize_terminal(40, 12)
        await pilot.pause(0.3)
        assert app.is_running
