"""`mmtui run`: a script as a child with the monitor, its output drawn safely, its end shown, its code
returned."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app_sources import screen_text, shows, svg_text
from child_output import Deadline
from pilot_wait import wait_until
from test_headless_cli import assert_one_line_error, mmtui
from mmtui.records import ScriptExited, ScriptOutput
from mmtui.sources import script as script_module
from mmtui.sources.script import ScriptLines, ScriptSource, new_run_file, python_command
from mmtui.tui.app import MmtuiApp

TIMEOUT_S = 180  # a whole `mmtui run` of a script importing torch, on a loaded machine
FIRST_OUTPUT_S = 60  # the child's torch import, before its first line
WIDE = (160, 48)

# A loop with mmtui.watch on a small net: STEPS steps (argv[1]), or until stopped without one.
WATCHED = """
import sys, time
import torch
from torch import nn
import mmtui

steps = int(sys.argv[1]) if len(sys.argv) > 1 else None
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
run = mmtui.watch(model, optimizer, total_steps=steps)
x = torch.randn(64, 8)
y = x.sum(1, keepdim=True)
step = 0
while steps is None or step < steps:
    loss = ((model(x) - y) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    run.log(loss=loss)
    if step % 50 == 0:
        print(f"step {step} loss {loss.item():.4f}")
    step += 1
    if steps is None:
        time.sleep(0.01)
"""
CRASHES = """
print("loading the data")
def load():
    raise ValueError("boom: no such column")
try:
    load()
except ValueError as error:
    raise RuntimeError("training failed") from error
"""
GARBAGE = """
import random, sys
sys.stdout.buffer.write(random.Random(0).randbytes(100_000))
sys.stdout.buffer.write(b"\\x1b[2J\\x1b[H\\x1b]0;title\\x07\\x1b[31m\\xe2\\x80\\xae\\x9b\\x07\\r\\n")
sys.stdout.flush()
print("\\x1b[1mafter the garbage\\x1b[0m\\tend")
"""
EXITS_AT_ONCE = "raise SystemExit(3)\n"
ARGUMENTS = "import sys\nprint('argv', sys.argv[1:])\n"
# A tqdm-like bar on stderr: carriage returns, no newline, then the script waits to be stopped.
BAR = """
import sys, time
for done in range(1, 6):
    sys.stderr.write(f"\\rbar {done}/5 |" + "#" * done)
    sys.stderr.flush()
time.sleep(120)
"""
SLEEPS = "print('hello from a script without watch', flush=True)\nimport time\ntime.sleep(120)\n"
IGNORES_SIGINT = """
import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
print("ignoring SIGINT", flush=True)
time.sleep(120)
"""


def write_script(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def mmtui_run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`mmtui run ARGS` as a user runs it from `folder`, stdin closed."""
    return subprocess.run([sys.executable, "-m", "mmtui", "run", *args], cwd=folder, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT_S)


def unattended(folder: Path, *args: str, size: str = "160x48") -> tuple[subprocess.CompletedProcess, str]:
    """`mmtui run --no-terminal` to the script's end: the result and the end screen's text."""
    shot = folder / "end.svg"
    result = mmtui_run(folder, "--no-terminal", "--screenshot", str(shot), "--size", size, *args)
    return result, svg_text(shot.read_text()) if shot.exists() else ""


# ---- the output, as lines safe to draw

def test_carriage_returns_rewrite_one_line_and_a_newline_split_across_reads_ends_it():
    lines = ScriptLines()
    lines.feed(b"epoch 1\r\n\r 10%|#")
    lines.feed(b"\r 20%|##\r")
    assert lines.take() == ScriptOutput(("epoch 1",), partial=" 20%|##")
    lines.feed(b"\n\xe2\x82")  # the \r's line ends as it stood; a character split across two reads
    lines.feed(b"\xac 3\n")
    assert lines.take() == ScriptOutput((" 20%|##", "€ 3"))
    assert lines.take() is None


def test_escape_sequences_and_control_characters_never_reach_a_line():
    lines = ScriptLines()
    lines.feed(bytes(range(256)) * 50 + b"\n\x1b[31mred\x1b[0m\ttab \x1b]8;;http://x\x1b\\link\xe2\x80\xae\n",
               final=True)
    output = lines.take()
    assert output.lines[-1] == "red     tab link"
    for line in output.lines:
        assert not re.search("[\x00-\x1f\x7f-\x9f\u202e]", line), repr(line)


def test_memory_is_bounded_in_lines_and_in_a_line_without_an_end():
    lines = ScriptLines(max_lines=10)
    lines.feed(b"".join(b"line %d\n" % i for i in range(25)))
    output = lines.take()
    assert output.lines == tuple(f"line {i}" for i in range(15, 25)) and output.dropped == 15
    lines.feed(b"x" * (script_module.MAX_LINE_CHARS * 3 + 5))
    output = lines.take()
    assert ([len(line) for line in output.lines] == [script_module.MAX_LINE_CHARS] * 3
            and output.partial == "xxxxx")


def test_the_last_traceback_is_found_with_the_exception_it_was_chained_to():
    lines = ScriptLines()
    lines.feed(b"Traceback (most recent call last):\n  old\nKeyError: 1\nstep 5\n"
               b"Traceback (most recent call last):\n  File a\nValueError: boom\n\n"
               b"The above exception was the direct cause of the following exception:\n\n"
               b"Traceback (most recent call last):\n  File b\nRuntimeError: failed\n", final=True)
    traceback = lines.last_traceback()
    assert traceback.startswith("Traceback (most recent call last):\n  File a\nValueError: boom")
    assert traceback.endswith("RuntimeError: failed") and "KeyError" not in traceback


def test_the_run_file_is_named_as_watch_names_it_and_never_one_that_exists(tmp_path, monkeypatch):
    from mmtui.watcher.files import LOG_ENV

    assert script_module.LOG_ENV == LOG_ENV
    monkeypatch.chdir(tmp_path)
    first = new_run_file("train")
    first.write_text("")
    second = new_run_file("train")
    assert first.parent == second.parent == Path("runs") and first != second
    assert re.fullmatch(r"train-\d{8}-\d{6}(-\d+)?\.jsonl", second.name)


# ---- the command, end to end

def test_a_watched_script_draws_its_loss_and_its_output_and_keeps_its_run(tmp_path):
    script = write_script(tmp_path, "watched.py", WATCHED)
    result, screen = unattended(tmp_path, str(script), "300")
    assert result.returncode == 0, result.stderr
    runs = list((tmp_path / "runs").glob("watched-*.jsonl"))
    assert len(runs) == 1 and '"event":"snapshot"' in runs[0].read_text()
    for text in ("watched Sequential", "step 300 / 300", "Output", "step 250 loss",
                 "watched.py exited with code 0", f"run file runs/{runs[0].name}"):
        assert text in screen, text
    assert "does not call mmtui.watch" not in screen and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(f"its run file: runs/{runs[0].name}")


def test_a_crash_is_shown_in_the_panel_printed_again_after_and_its_code_is_mmtuis(tmp_path):
    script = write_script(tmp_path, "crashes.py", CRASHES)
    result, screen = unattended(tmp_path, str(script))
    assert result.returncode == 1
    assert "RuntimeError: training failed" in screen and "crashes.py exited with code 1" in screen
    traceback = result.stderr[result.stderr.index("Traceback"):]
    assert ("ValueError: boom: no such column" in traceback
            and "The above exception was the direct cause" in traceback)
    assert traceback.rstrip().splitlines()[-2] == "RuntimeError: training failed"
    assert "loading the data" not in result.stderr  # the traceback alone, not the whole output again


def test_a_script_that_exits_at_once_without_watch_says_how_to_add_it(tmp_path):
    script = write_script(tmp_path, "quick.py", EXITS_AT_ONCE)
    result, screen = unattended(tmp_path, str(script))
    assert result.returncode == 3
    assert "quick.py exited with code 3" in screen and "no run file" in screen
    assert "import mmtui" in screen and "mmtui.watch(model, optimizer)" in screen
    assert "it wrote no run file" in result.stderr and not list((tmp_path / "runs").glob("quick-*"))


def test_binary_garbage_is_drawn_as_harmless_characters(tmp_path):
    script = write_script(tmp_path, "garbage.py", GARBAGE)
    result, screen = unattended(tmp_path, str(script), size="100x30")
    assert result.returncode == 0, result.stderr
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", screen)
    assert "after the garbage       end" in screen
    rows = screen.splitlines()
    # the status line is where it belongs
    assert len(rows) <= 30 and "garbage.py exited with code 0" in rows[-2]


def test_arguments_after_the_script_go_to_it_even_when_they_look_like_mmtuis(tmp_path):
    write_script(tmp_path, "args.py", ARGUMENTS)
    result, screen = unattended(tmp_path, "args.py", "--size", "3", "-h", "x")
    assert result.returncode == 0, result.stderr
    assert "argv ['--size', '3', '-h', 'x']" in screen


def test_a_module_runs_as_python_m_runs_it_from_the_current_folder(tmp_path):
    write_script(tmp_path, "trainmod.py", ARGUMENTS)
    result, screen = unattended(tmp_path, "-m", "trainmod", "a")
    assert result.returncode == 0, result.stderr
    assert "argv ['a']" in screen and "-m trainmod exited with code 0" in screen


@pytest.mark.parametrize("args, phrase", [(("missing.py",), "missing.py: no such file"),
                                          (("-m", "no_such_module_here"),
                                           "no module named 'no_such_module_here'"),
                                          ((), "Missing argument")])
def test_nothing_to_run_is_one_line_and_exit_2(tmp_path, args, phrase):
    assert_one_line_error(mmtui_run(tmp_path, "--no-terminal", *args), phrase)


def test_the_tui_needs_a_terminal_unless_told_otherwise(tmp_path):
    write_script(tmp_path, "quick.py", EXITS_AT_ONCE)
    assert_one_line_error(mmtui("run", str(tmp_path / "quick.py")), "the TUI needs a terminal")


# ---- the app on the source: the panel, and q

@pytest.fixture
def run_script(tmp_path):
    """Start a script written into tmp_path as `mmtui run` does; killed at the end if a test left it
    running."""
    started = []

    def start(name: str, text: str, *args: str, **options) -> ScriptSource:
        script = write_script(tmp_path, name, text)
        argv, shown, stem = python_command(str(script), None, args)
        source = ScriptSource(argv, shown, tmp_path / f"{stem}.jsonl", **options)
        source.start()
        started.append(source)
        return source

    yield start
    for source in started:
        if source.process.poll() is None:
            os.killpg(source.process.pid, signal.SIGKILL)
            source.process.wait(10)


def assert_gone(pid: int, seconds: float) -> None:
    """The process is gone (reaped, not a zombie) within `seconds`."""
    deadline = Deadline(seconds, f"process {pid} to be gone")
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(min(0.05, deadline.left()))


async def test_the_panel_shows_the_output_beside_the_loss_and_q_stops_the_script(run_script):
    source = run_script("watched.py", WATCHED)
    app = MmtuiApp(source)
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: shows(app, "Output", "step 50 loss", "watched Sequential", "Loss"),
                         timeout=FIRST_OUTPUT_S)
        assert app.history.latest.step > 0 and "watched.py running" in screen_text(app)
        await pilot.press("q")
    assert_gone(source.process.pid, source.graces[0])  # SIGINT was enough: no SIGTERM needed
    assert source.finish(5) == ScriptExited(130, "watched.py stopped by SIGINT", failed=False)


async def test_a_carriage_return_bar_is_one_line_that_updates(run_script):
    source = run_script("bar.py", BAR)
    app = MmtuiApp(source)
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: shows(app, "bar 5/5 |#####"), timeout=FIRST_OUTPUT_S)
        screen = screen_text(app)
        assert "bar 1/5" not in screen and screen.count("bar ") == 1


async def test_a_script_that_does_not_watch_is_told_how_while_it_runs(run_script):
    source = run_script("plain.py", SLEEPS, note_after_s=0)
    app = MmtuiApp(source)
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: shows(app, "hello from a script without watch",
                                              "plain.py has trained no", "mmtui.watch(model,",
                                              "waiting for its run file"),
                         timeout=FIRST_OUTPUT_S)


async def test_a_script_ignoring_sigint_is_terminated_after_the_grace_period(run_script):
    source = run_script("stubborn.py", IGNORES_SIGINT, stop_grace_s=0.5)
    app = MmtuiApp(source)
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: shows(app, "ignoring SIGINT"), timeout=FIRST_OUTPUT_S)
        await pilot.press("q")
    exited = source.finish(source.graces[1] + 10)
    assert exited == ScriptExited(143, "stubborn.py stopped by SIGTERM", failed=False)
    assert_gone(source.process.pid, 5)
