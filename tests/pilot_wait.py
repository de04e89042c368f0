"""Waiting in Pilot tests: the app's state follows the trainer's snapshots, which arrive on their own time."""

from __future__ import annotations

import time


async def wait_until(pilot, condition, timeout: float = 10.0) -> None:
    """Let the app run until condition() holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)
