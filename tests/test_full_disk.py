"""A full disk is a message, not a crash: every write (run log, checkpoint, screenshot, CSV) fails in one
line, the app stays up, training goes on, and nothing written before is lost. Files are written whole, never
through a symlink planted at their name. The disk is a tiny tmpfs where this test may mount one (root on
Linux); the tests that need one skip elsewhere, and a writer that raises ENOSPC stands in for it."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mmtui.paths as paths_module
from mmtui.engine.config import RunFiles
from mmtui.paths import write_whole
from mmtui.runfile import read_run_file

from app_sources import shows, trainer_app
from pilot_wait import wait_until
from test_headless_cli import TIMEOUT_S, events

WIDE = (160, 48)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 128 KiB tmpfs; skips where it cannot be mounted."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int = 0) -> None:
    """Fill the disk, then free `leave` bytes of it."""
    with open(disk / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    if leave:
        size = (disk / "filler").stat().st_size
        os.truncate(disk / "filler", max(0, size - leave))


def headless(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmtui", "--headless", "--compile", "off", *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT_S)


# ---- the one writer of whole files

def test_a_symlink_planted_at_the_name_is_replaced_and_its_target_untouched(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    planted = tmp_path / "mmtui-run.csv"
    planted.symlink_to(target)
    written = write_whole(planted, "step,loss\n")
    assert written == planted.absolute() and not planted.is_symlink()
    assert planted.read_text() == "step,loss\n" and target.read_text() == "keep me"


def test_a_write_that_finds_no_room_leaves_the_old_file_whole_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "shot.svg"
    path.write_text("the old one")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(paths_module.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_whole(path, "x" * 10_000)
    assert path.read_text() == "the old one" and os.listdir(tmp_path) == ["shot.svg"]


# ---- headless: one line each, training goes on

def test_a_run_log_that_fills_the_disk_stops_with_one_line_and_training_goes_on(tiny_disk, small_words_path,
                                                                                 tmp_path):
    fill(tiny_disk, leave=24 * 1024)
    log = tiny_disk / "run.jsonl"
    result = headless("--data", str(small_words_path), "--steps", "3000", "--every", "10", "--log", str(log))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert "cannot write run log" in result.stderr and "No space left on device" in result.stderr
    lines = events(result.stdout)
    failed = [line for line in lines if line["event"] == "log_failed"]
    assert len(failed) == 1 and failed[0]["path"] == str(log) and lines[-1]["event"] == "done"
    assert lines[-1]["step"] == 3000  # training went on to the end
    text = log.read_text()  # the lines written before the disk filled read back; the one cut short is dropped
    whole = tmp_path / "whole.jsonl"
    whole.write_text(text[:text.rfind("\n") + 1])
    snapshots = read_run_file(str(whole))
    assert len(snapshots) >= 2 and snapshots[-1].step < failed[0]["step"]


def test_a_checkpoint_that_finds_no_room_keeps_the_previous_one(tiny_disk, small_words_path):
    saved = tiny_disk / "run.pt"
    first = headless("--data", str(small_words_path), "--steps", "200", "--save", str(saved))
    assert first.returncode == 0, first.stderr
    before = saved.read_bytes()
    fill(tiny_disk)
    result = headless("--data", str(small_words_path), "--steps", "300", "--save", str(saved), "--seed", "7")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    failed = [line for line in events(result.stdout) if line["event"] == "save_failed"]
    assert len(failed) == 1 and "No space left on device" in failed[0]["error"]
    assert saved.read_bytes() == before and sorted(os.listdir(tiny_disk)) == ["filler", "run.pt"]


# ---- the TUI: a notice, and the app stays up

async def test_the_tuis_writes_to_a_full_disk_are_notices_and_the_app_stays_up(tiny_disk, small_words_path,
                                                                             bundled_words, monkeypatch):
    monkeypatch.chdir(tiny_disk)  # where s and e write
    fill(tiny_disk, leave=8 * 1024)  # room for the log's first lines
    files = RunFiles(save=str(tiny_disk / "run.pt"), log=str(tiny_disk / "run.jsonl"))
    # the trainer in its child, as mmtui starts it: in this process it held the GIL from the keys' writes
    # (9 s)
    app = trainer_app(bundled_words[:1000], process=True, files=files, steps=10_000_000,
                      sample_interval_s=0.2)
    notices = []  # every toast, though each is drawn only until the next
    notify = app.notify
    monkeypatch.setattr(app, "notify",
                        lambda message, **options: (notices.append(message), notify(message, **options)))
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: shows(app, "cannot write run log"), timeout=60)
        step = app.history.latest.step
        for key in ("s", "e", "w"):
            await pilot.press(key)
        for notice in ("screenshot not saved", "CSV not saved", "checkpoint not saved"):
            await wait_until(pilot, lambda: any(notice in message for message in notices), timeout=30)
        await wait_until(pilot, lambda: app.history.latest.step > step, timeout=30)  # training goes on
        assert app.is_running
    left = sorted(os.listdir(tiny_disk))
    assert left == ["filler", "run.jsonl"], left  # no temporary file, no half a screenshot or CSV
    assert json.loads((tiny_disk / "run.jsonl").read_text().splitlines()[0])["event"] == "header"


def test_a_checkpoint_saved_over_a_planted_symlink_leaves_its_target_untouched(tmp_path, small_words_path):
    target = tmp_path / "precious.pt"
    target.write_bytes(b"someone else's file")
    planted = tmp_path / "run.pt"
    planted.symlink_to(target)
    result = headless("--data", str(small_words_path), "--steps", "20", "--eval-every", "0",
                      "--save", str(planted))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == b"someone else's file"
    assert not planted.is_symlink() and planted.read_bytes()[:2] == b"PK"  # the checkpoint, in its own file
