"""Run files as a source: read whole, followed as they grow, through damage, truncation, rotation and
deletion; and the app drawing them with the lecture's keys withheld."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from mmtui.engine.config import TrainConfig
from mmtui.measure.pacing import Pacing
from mmtui.engine.trainer import Trainer
from mmtui.records import DONE, Snapshot, SourceStatus
from mmtui.sources.follow import Reading, ViewPathError
from mmtui.sources.run_file import OTHER, RunFileSource, check_paths, first_line
from mmtui.tui.app import MmtuiApp
from app_sources import screen_text, shows
from collected import Collected, run_file_text
from pilot_wait import wait_until

TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def real_run(small_dataset) -> list[Snapshot]:
    """A real trainer's snapshots: every kind of field the panels draw, a final evaluation and samples."""
    snapshots: list[Snapshot] = []
    Trainer(TrainConfig(steps=600, hidden=40, eval_every=300, num_samples=3), small_dataset, snapshots.append,
            pacing=Pacing(snapshot_every=50, sample_interval_s=0.0)).run()
    assert (snapshots[-1].state == DONE and any(s.samples for s in snapshots)
            and any(s.params for s in snapshots))
    return snapshots


def as_read_from(snapshots: list[Snapshot], stream: str) -> list[Snapshot]:
    return [replace(s, run=replace(s.run, stream=stream)) for s in snapshots]


def source_on(*paths: Path, follow: bool = True, reading: Reading = Reading()) -> Collected:
    return Collected(RunFileSource(check_paths([str(p) for p in paths], wait=False), follow=follow,
                                   reading=reading))


# ---- reading and following

def test_a_finished_file_reads_back_every_snapshot_and_ends_when_not_followed(real_run, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(run_file_text(real_run))
    read = source_on(path, follow=False).until(lambda c: c.status is not None and c.status.ended, "the end")
    assert read.snapshots == as_read_from(real_run, "a.jsonl")
    assert read.status == SourceStatus("read a.jsonl", ended=True)


def test_a_followed_file_hands_out_appended_lines_and_a_partial_line_once_complete(real_run, tmp_path):
    path = tmp_path / "a.jsonl"
    lines = run_file_text(real_run).splitlines(keepends=True)
    path.write_text("".join(lines[:3]))  # header, start, first snapshot
    followed = source_on(path).until(lambda c: len(c.snapshots) == 1 and c.says("following a.jsonl"),
                                     "line 3")
    half = len(lines[3]) // 2
    with path.open("a") as file:
        file.write(lines[3][:half])
    later = time.monotonic() + 0.3
    followed.until(lambda c: time.monotonic() > later, "a pause")
    assert len(followed.snapshots) == 1  # half a line is not a line
    with path.open("a") as file:
        file.write(lines[3][half:] + "".join(lines[4:]))
    followed.until(lambda c: len(c.snapshots) == len(real_run), "the rest of the file")
    assert followed.snapshots == as_read_from(real_run, "a.jsonl")
    assert not followed.status.ended  # followed files never end


def test_a_damaged_line_in_the_middle_is_skipped_and_counted(real_run, tmp_path):
    path = tmp_path / "a.jsonl"
    lines = run_file_text(real_run).splitlines(keepends=True)
    path.write_text("".join(lines[:3]) + '{"event": "snapshot", "run_id": 0, "st\n' + "".join(lines[3:]))
    read = source_on(path, follow=False).until(lambda c: c.status and c.status.ended, "the end")
    assert read.snapshots == as_read_from(real_run, "a.jsonl")
    assert read.status.warning and "a.jsonl: 1 damaged line skipped (not JSON" in read.status.text


def test_a_line_of_10_mb_is_skipped_and_counted(real_run, tmp_path):
    path = tmp_path / "a.jsonl"
    lines = run_file_text(real_run).splitlines(keepends=True)
    path.write_text("".join(lines[:3]) + '{"event": "snapshot", "x": "' + "y" * 10_000_000 + '"}\n'
                    + "".join(lines[3:]))
    read = source_on(path, follow=False).until(lambda c: c.status and c.status.ended, "the end")
    assert read.snapshots == as_read_from(real_run, "a.jsonl")
    assert "1 damaged line skipped (a line over 8 MiB)" in read.status.text


def test_an_empty_file_says_it_waits_for_the_first_line_then_reads_it(real_run, tmp_path):
    path = tmp_path / "a.jsonl"
    path.touch()
    followed = source_on(path).until(lambda c: c.says("waiting for the first line of a.jsonl"), "the wait")
    path.write_text(run_file_text(real_run[:2]))
    followed.until(lambda c: len(c.snapshots) == 2 and c.says("following a.jsonl"), "two snapshots")


def test_a_truncated_file_is_read_again_from_its_start_as_a_new_session(real_run, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(run_file_text(real_run))
    followed = source_on(path).until(lambda c: len(c.snapshots) == len(real_run), "the whole file")
    path.write_text(run_file_text(real_run[:2]))  # shorter than what was read
    followed.until(lambda c: len(c.snapshots) == len(real_run) + 2, "the new file's lines")
    assert followed.status.warning
    assert "a.jsonl was truncated: read again from its start" in followed.status.text
    assert followed.snapshots[-2:] == as_read_from(real_run[:2], "a.jsonl (session 2)")


def test_a_replaced_file_is_reopened_after_its_last_lines(real_run, tmp_path):
    path, new = tmp_path / "a.jsonl", tmp_path / "a.jsonl.new"
    path.write_text(run_file_text(real_run[:3]))
    followed = source_on(path).until(lambda c: len(c.snapshots) == 3, "the first file")
    with path.open("a") as old:  # written to the old file just before it is rotated away
        old.write("".join(run_file_text(real_run[:5]).splitlines(keepends=True)[5:]))
    new.write_text(run_file_text(real_run[:2]))
    os.replace(new, path)
    followed.until(lambda c: len(c.snapshots) == 5 + 2, "the old file's last lines, then the new file")
    assert followed.snapshots[3:5] == as_read_from(real_run[3:5], "a.jsonl")
    assert followed.snapshots[5:] == as_read_from(real_run[:2], "a.jsonl (session 2)")
    assert "a.jsonl was replaced: reading the new file" in followed.status.text


def test_a_deleted_file_says_so_and_is_read_again_when_it_comes_back(real_run, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(run_file_text(real_run[:3]))
    followed = source_on(path).until(lambda c: len(c.snapshots) == 3, "the file")
    path.unlink()
    followed.until(lambda c: c.says("a.jsonl was deleted: showing what was read"), "the deletion noticed")
    assert followed.status.warning
    path.write_text(run_file_text(real_run[:1]))
    followed.until(lambda c: len(c.snapshots) == 4 and c.says("replaced"), "the file back")


def test_a_folder_is_every_run_file_in_it_and_files_added_later(real_run, tmp_path):
    (tmp_path / "a.jsonl").write_text(run_file_text(real_run[:2]))
    (tmp_path / "notes.txt").write_text("not a run\n")
    (tmp_path / "b.jsonl").write_text(run_file_text(real_run[:3]))
    followed = source_on(tmp_path, reading=Reading(rescan_s=0.1)).until(lambda c: len(c.snapshots) == 5,
                                                                         "both files")
    assert sorted({s.run.stream for s in followed.snapshots}) == ["a.jsonl", "b.jsonl"]
    (tmp_path / "c.jsonl").write_text(run_file_text(real_run[:1]))
    followed.until(lambda c: any(s.run.stream == "c.jsonl" for s in c.snapshots), "the file added later")
    assert followed.says("following 3 files")


def test_two_files_of_one_name_are_told_apart_by_their_paths(real_run, tmp_path):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "run.jsonl").write_text(run_file_text(real_run[:1]))
    read = source_on(tmp_path / "x" / "run.jsonl", tmp_path / "y" / "run.jsonl", follow=False)
    read.until(lambda c: c.status and c.status.ended, "the end")
    assert [s.run.stream for s in read.snapshots] == [str(tmp_path / f / "run.jsonl") for f in ("x", "y")]


def test_a_large_backlog_reports_its_progress_as_it_loads(real_run, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(run_file_text(real_run))
    one_chunk_a_receive = Reading(progress_from_bytes=1, chunk_bytes=2048, batch_s=0.0)
    read = source_on(path, follow=False,
                     reading=one_chunk_a_receive).until(lambda c: c.status and c.status.ended, "the end")
    progress = [s.progress for s in read.statuses if s.progress is not None]
    assert len(progress) > 3 and progress == sorted(progress) and 0 < progress[0] < progress[-1] <= 1
    assert read.status.progress is None  # loaded: the bar goes


# ---- paths refused before the screen changes

def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_PATHS = {
    "missing": (lambda d: d / "absent.jsonl", "no such file (--wait waits for it)"),
    "binary": (lambda d: write(d / "model.pt", b"PK\x03\x04\x00\x00" * 100), "a binary file"),
    "not-a-run-file": (lambda d: write(d / "names.txt", b"emma\nolivia\n"), "not an mmtui run file"),
    "other-json": (lambda d: write(d / "other.jsonl", b'{"loss": 2.1}\n'), "not an mmtui run file"),
    "newer-version": (lambda d: write(d / "new.jsonl",
                                      b'{"event":"header","format":"mmtui-run","version":7}\n'),
                      "run file version 7 is newer than this mmtui reads"),
    "empty-folder": (lambda d: d, "a folder with no mmtui run files in it, and no TensorBoard event files"),
    "fifo": (lambda d: (os.mkfifo(d / "pipe"), d / "pipe")[1], "not a regular file"),
}


@pytest.mark.parametrize("kind", list(BAD_PATHS))
def test_a_path_that_is_no_run_file_is_refused_in_one_line(kind, tmp_path):
    make, phrase = BAD_PATHS[kind]
    path = make(tmp_path)
    with pytest.raises(ViewPathError, match=None) as refused:
        check_paths([str(path)], wait=False)
    assert phrase in str(refused.value) and "\n" not in str(refused.value)


def test_an_unreadable_file_is_refused_naming_why(tmp_path, monkeypatch):
    path = write(tmp_path / "a.jsonl", b"")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", refuse)  # root reads every file: the refusal is made, not awaited
    assert first_line(path) == (OTHER, "cannot be read (Permission denied)")


def test_with_wait_a_missing_file_is_awaited_and_read_when_it_appears(real_run, tmp_path):
    path = tmp_path / "later.jsonl"
    awaited = Collected(RunFileSource(check_paths([str(path)], wait=True)))
    awaited.until(lambda c: c.says("waiting for later.jsonl"), "the wait")
    path.write_text(run_file_text(real_run[:2]))
    awaited.until(lambda c: len(c.snapshots) == 2, "the file's lines")


def test_a_file_source_takes_no_command():
    source = RunFileSource([], follow=False)
    assert source.commands == frozenset()


# ---- the app on run files

def footer_of(app: MmtuiApp) -> str | None:
    """The Footer's row of keys, once drawn."""
    return next((line for line in screen_text(app).splitlines() if "? help  q quit" in line), None)


def app_on(*paths: Path, follow: bool = False) -> MmtuiApp:
    return MmtuiApp(RunFileSource(check_paths([str(p) for p in paths], wait=False), follow=follow))


async def test_a_finished_file_draws_every_panel_and_offers_no_lecture_key(real_run, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(run_file_text(real_run))
    app = app_on(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.state == DONE)
        final = real_run[-1]
        await wait_until(pilot, lambda: final.samples[0] in screen_text(app))  # the Samples panel, once drawn
        await wait_until(pilot, lambda: "read a.jsonl" in str(app.status_line.render()))
        screen = screen_text(app)
        assert "step 600 / 600" in screen and "done" in screen
        assert "mlp lecture x1" in screen  # the Loss legend names the run
        assert "Activations: hidden tanh h" in screen and "dead units of 40" in screen
        await wait_until(pilot, lambda: footer_of(app) is not None)
        footer = footer_of(app)
        assert "log/lin" in footer
        for key in ("presets", "pause", "BatchNorm", "new seed", "model", "gain"):
            assert key not in footer
        await pilot.press("y")  # the layers view draws from the file too
        await wait_until(pilot, lambda: "Gradients reaching each Tanh output" in screen_text(app))
        assert "waiting for the first step" not in screen_text(app)
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = screen_text(app)
        assert "log10 or linear" in help_text and "reinit" not in help_text
        assert "pause / resume" not in help_text


async def test_a_followed_file_moves_the_step_counter_as_a_writer_appends(real_run, tmp_path):
    path = tmp_path / "c.jsonl"
    lines = run_file_text(real_run).splitlines(keepends=True)
    path.write_text("".join(lines[:3]))
    stop = threading.Event()

    def writer() -> None:  # another process's writer, a line at a time
        with path.open("a") as file:
            for line in lines[3:]:
                if stop.wait(0.05):
                    return
                file.write(line)
                file.flush()

    app = app_on(path, follow=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None)
        first_step = app.history.latest.step
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            await wait_until(pilot, lambda: app.history.latest.step == 600, timeout=TIMEOUT_S)
            await wait_until(pilot, lambda: "step 600 / 600" in str(app.status_line.render()))
        finally:
            stop.set()
            thread.join(5)
        assert first_step == real_run[0].step < 600


async def test_two_files_overlay_their_losses_and_c_picks_the_run(real_run, small_dataset, tmp_path):
    kaiming: list[Snapshot] = []
    Trainer(TrainConfig(steps=300, hidden=40, eval_every=0, init="kaiming", num_samples=2), small_dataset,
            kaiming.append, pacing=Pacing(snapshot_every=50)).run()
    (tmp_path / "a.jsonl").write_text(run_file_text(real_run))
    (tmp_path / "b.jsonl").write_text(run_file_text(kaiming))
    app = app_on(tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: len(app.history.streams) == 2
                         and all(s.latest.state == DONE for s in app.history.streams.values()))
        await wait_until(pilot, lambda: shows(app, "mlp lecture x1", "mlp kaiming x1"))
        await wait_until(pilot, lambda: footer_of(app) is not None and "next run" in footer_of(app))
        await pilot.press("c")
        await wait_until(pilot, lambda: "run 2/2: mlp kaiming x1" in str(app.status_line.render()))


async def test_a_file_deleted_while_viewed_keeps_what_was_drawn(real_run, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(run_file_text(real_run))
    app = app_on(path, follow=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step == 600)
        path.unlink()
        await wait_until(pilot, lambda: "a.jsonl was deleted" in str(app.status_line.render()))
        await wait_until(pilot, lambda: shows(app, "step 600 / 600", "mlp lecture x1"))


async def test_an_empty_file_says_in_the_app_that_it_waits(tmp_path):
    path = tmp_path / "a.jsonl"
    path.touch()
    app = app_on(path, follow=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: "waiting for the first line of a.jsonl" in screen_text(app))

