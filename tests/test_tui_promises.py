"""What the README promises of the TUI: SIGTERM, ctrl+q, the s key's SVG, a trainer's failure, and the Loss,
Saturation and Samples panels' lessons."""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import xml.etree.ElementTree as ET

import pytest
import torch

from mmtui.engine.checkpoint import load_checkpoint
from mmtui.engine.words import read_words
from mmtui.records import RUNNING, EngineFailure, RunInfo, Snapshot
from mmtui.tui.app import MmtuiApp
from app_sources import ScriptedSource, screen_text, svg_text, trainer_app
from child_output import Deadline
from pilot_wait import wait_until

SIZE = (160, 48)
TIMEOUT_S = 60
PLOTEXT_GREEN = (0, 128, 0)  # plotext's "green", the expected-loss line's colour, as Rich's standard RGB
EXIT_ALTERNATE_SCREEN = b"\x1b[?1049l"
CSI = re.compile(rb"\x1b\[[0-9;?<>=]*[a-zA-Z]")
SAMPLES_HEADER = re.compile(r"── step ([\d,]+) · mlp lecture x1 ──")


@pytest.fixture(scope="module")
def words() -> list[str]:
    return read_words(None)[:1000]


def one_snapshot(step: int = 5) -> Snapshot:
    info = RunInfo(run_id=0, name="mlp lecture x1", model="mlp", settings={"init": "lecture", "seed": 1},
                   total_steps=1000, vocab_size=27, num_params=11_897, expected_init_loss=math.log(27))
    return Snapshot(run=info, state=RUNNING, step=step, first_loss_step=0, losses=(27.0,) * step, lr=0.1,
                    steps_per_s=100.0, init_loss=27.0, layers=(), params=(), evals=(), samples=(),
                    last_finite_loss=27.0, diverged_loss=None)


# ---- quitting


def test_sigterm_exits_143_restores_the_terminal_and_writes_the_save_checkpoint(small_words_path, tmp_path):
    checkpoint = tmp_path / "run.pt"
    main, child = os.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # rows, columns
    cooked = termios.tcgetattr(child)  # the terminal's settings before the app puts it in raw mode
    process = subprocess.Popen(
        [sys.executable, "-m", "mmtui", "--data", str(small_words_path), "--steps", "1000000",
         "--hidden", "20", "--save", str(checkpoint), "--compile", "off"],
        stdin=child, stdout=child, stderr=child, env={**os.environ, "TERM": "xterm-256color"},
        start_new_session=True)  # its own controlling terminal: the pty
    seen = b""

    def kill_all() -> str:
        """The app and its trainer: the trainer, in the app's session, would outlive a killed app."""
        os.killpg(process.pid, signal.SIGKILL)
        return ""

    def read_some(deadline: Deadline) -> bool:
        """Read what the app drew in the next 0.1 s; False once it has exited and drawn nothing more."""
        deadline.left()
        if select.select([main], [], [], 0.1)[0]:
            nonlocal seen
            seen += os.read(main, 65536)
            return True
        return process.poll() is None

    try:
        started = Deadline(TIMEOUT_S, "waiting for the status line to say running", kill_all)
        while b"running" not in seen:  # drawn once the first snapshot arrived: the trainer is under way
            read_some(started)
        process.send_signal(signal.SIGTERM)
        quitting = Deadline(20, "waiting for the app to exit after SIGTERM", kill_all)  # a save may take 10 s
        while read_some(quitting):
            pass
        restored = termios.tcgetattr(child)
    finally:
        with contextlib.suppress(ProcessLookupError):  # none left: all exited
            kill_all()
        process.wait(timeout=10)
        os.close(child)
        os.close(main)
    assert process.returncode == 143
    assert restored == cooked  # echo and line editing back on
    assert b"\x1b[?1049h" in seen  # it did draw on the alternate screen...
    tail = seen[seen.rindex(b"\x1b[?1049h"):]
    assert EXIT_ALTERNATE_SCREEN in tail  # ...and left it
    assert CSI.sub(b"", tail[tail.rindex(EXIT_ALTERNATE_SCREEN):]).strip() == b""  # nothing drawn after that
    saved = load_checkpoint(checkpoint)
    assert saved.step > 0 and saved.config.hidden == 20


async def test_ctrl_q_quits_and_closes_the_source():
    source = ScriptedSource([one_snapshot()])
    app = MmtuiApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "step 5 / 1,000" in screen_text(app))
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: not app.is_running, timeout=5)
    assert source.closed


# ---- the s key


async def test_s_saves_an_svg_screenshot_of_the_screen_and_says_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = MmtuiApp(ScriptedSource([one_snapshot()]))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: "step 5 / 1,000" in screen_text(app))
        await pilot.press("s")
        await wait_until(pilot, lambda: "screenshot saved:" in screen_text(app), timeout=5)
        (path,) = tmp_path.glob("mmtui-*.svg")
        assert path.name in screen_text(app).replace("\n", "")  # the toast names the file (it may wrap)
    svg = path.read_text(encoding="utf-8")
    assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
    text = svg_text(svg)
    assert "╭─ Loss" in text and "Saturation" in text and "step 5 / 1,000" in text


# ---- a trainer that fails


async def test_a_trainer_failure_ends_the_app_with_1_and_keeps_it_for_the_command_to_say():
    failure = EngineFailure("the trainer failed: RuntimeError: out of bananas", "Traceback: the details")
    app = MmtuiApp(ScriptedSource([one_snapshot(), failure]))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: not app.is_running, timeout=5)
    assert app.return_value == 1  # the command's exit code (cli: app.return_code or the result)
    assert app.failure == failure  # cli prints it once the terminal is restored


@pytest.mark.skipif(torch.cuda.is_available(), reason="the failure needs a machine without CUDA")
@pytest.mark.parametrize("trainer", ["thread", "process"])
def test_a_setting_the_trainer_refuses_ends_the_command_with_exit_2_and_one_line(small_words_path, trainer):
    # --device cuda is checked in the trainer, after the screen is up; a process trainer's last words must
    # reach the app before the child is seen gone.
    result = subprocess.run([sys.executable, "-m", "mmtui", "--no-terminal", "--trainer", trainer, "--device",
                             "cuda", "--data", str(small_words_path), "--steps", "10"],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "mmtui: error: --device cuda: torch finds no CUDA device here; use --device cpu or auto"]


# ---- the panels' lessons, on the real trainer


def real_app(words, **config) -> MmtuiApp:
    return trainer_app(words, hidden=20, **config)  # a thread trainer: no process to start


def expected_loss_line_row(app: MmtuiApp) -> tuple[int | None, dict[int, float]]:
    """The row of the Loss panel's green line across the plot (None unless exactly one row is mostly green),
    and the y tick labels by row."""
    plot = app.loss_plot
    green_rows, labels = [], {}
    for y in range(plot.size.height):
        strip = plot.render_line(y)
        green = sum(len(s.text) for s in strip if s.style and s.style.color and s.style.color.triplet
                    and tuple(s.style.color.triplet) == PLOTEXT_GREEN)
        if green > plot.size.width / 2:
            green_rows.append(y)
        if label := re.match(r"\s*([\d.]+)┤", strip.text):
            labels[y] = float(label.group(1))
    return (green_rows[0] if len(green_rows) == 1 else None), labels


def ticks_on_both_sides(row: int | None, labels: dict[int, float]) -> bool:
    return row is not None and any(y < row for y in labels) and any(y > row for y in labels)


async def test_loss_panel_draws_minus_ln_1_over_v_as_a_green_line_at_its_height(words):
    app = real_app(words)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "expected -ln(1/V) = 3.30 (green line)" in screen_text(app))
        # the losses spread over several ticks of the log axis once a few redraws have passed; until then the
        # first steps' loss dots, all near 3.30, may cover the line, and no tick may yet lie below it
        await wait_until(pilot, lambda: ticks_on_both_sides(*expected_loss_line_row(app)), timeout=30)
        row, labels = expected_loss_line_row(app)
    expected = math.log(27)
    above = [value for y, value in labels.items() if y < row]
    below = [value for y, value in labels.items() if y > row]
    assert above and below, labels
    assert min(above) > expected > max(below)  # between the ticks that bracket 3.30 (log axis: 4 and 3)


async def test_lecture_init_warns_confidently_wrong_and_a_reinit_leaves_a_ghost_without_the_warning(words):
    app = real_app(words, init="lecture")
    warning = "⚠ confidently wrong at init: the logits are too large"
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: warning in screen_text(app))
        assert re.search(r"step-0 loss \d+\.\d\d, expected -ln\(1/27\) = 3\.30", screen_text(app))
        assert "previous:" not in screen_text(app)
        await pilot.press("3")
        await wait_until(pilot, lambda: "previous: mlp lecture x1" in screen_text(app))  # the ghost's legend
        await wait_until(pilot, lambda: ("init fix-tanh" in screen_text(app)
                                         and warning not in screen_text(app)))
        assert re.search(r"step-0 loss 3\.\d\d, expected -ln\(1/27\) = 3\.30", screen_text(app))


def newest_samples(text: str) -> tuple[str, list[str]] | None:
    """The Samples panel's newest header's step and the names under it, read off the screen."""
    lines = text.splitlines()
    for row, line in enumerate(lines):
        if header := SAMPLES_HEADER.search(line):
            column = header.start()
            names = []
            for below in lines[row + 1:]:
                name = below[column:].split("│")[0].strip()
                if not name or name.startswith("──"):  # the panel's end, or an older batch's header
                    break
                names.append(name)
            return header.group(1), names
    return None


async def test_samples_panel_shows_new_names_at_the_sample_interval(words):
    app = real_app(words, sample_interval_s=0.5)  # the UI's own default is every 5 s
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None, timeout=30)
        first_snapshot = time.monotonic()
        # A frame with the newest header and its names: the header's row may be painted a frame before them.
        await wait_until(pilot, lambda: (newest := newest_samples(screen_text(app))) and newest[1],
                         timeout=10)
        first = time.monotonic()
        first_step, names = newest_samples(screen_text(app))
        await wait_until(pilot, lambda: newest_samples(screen_text(app))[0] != first_step, timeout=10)
        second = time.monotonic()
    assert first - first_snapshot < 3 and second - first < 3  # well inside the default 5 s
    assert names and all(re.fullmatch(r"[a-z]+|\(empty\)", name) for name in names), names


def test_unattended_keys_beyond_the_runs_end_leave_it_ending_and_are_named(small_words_path):
    result = subprocess.run([sys.executable, "-m", "mmtui", "--no-terminal", "--data", str(small_words_path),
                             "--steps", "100", "--hidden", "20", "--keys", "50:l 5000:3"],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "mmtui: the runs ended before step 5,000: those keys were not pressed"
