"""`mmtui view` as a user runs it: run files written by the headless command drawn, and every bad path refused
in one line with exit 2 before the screen changes."""

from __future__ import annotations

import html
import io
from dataclasses import replace

import pytest

from mmtui.engine.config import RunFiles, TrainConfig
from mmtui.engine.words import read_words
from mmtui.headless import run_headless
from mmtui.measure.pacing import Pacing

from test_headless_cli import assert_one_line_error, mmtui
from test_run_file_source import BAD_PATHS

# `mmtui --headless --steps 400 --every 100 --eval-every 200 --hidden 40 --num-samples 3 --log FILE`
HEADLESS = TrainConfig(steps=400, eval_every=200, hidden=40, num_samples=3)
EVERY_100 = Pacing(snapshot_every=100)


@pytest.fixture(scope="module")
def two_run_files(small_words_path, tmp_path_factory):
    """fix-tanh and lecture runs of the small names, each logged by the headless command's runner (in this
    process: a child would only import torch again)."""
    folder = tmp_path_factory.mktemp("runs")
    words = read_words(small_words_path)
    for name, init in (("a.jsonl", "fix-tanh"), ("b.jsonl", "lecture")):
        config = replace(HEADLESS, data=str(small_words_path), init=init)
        files = RunFiles(log=str(folder / name))
        assert run_headless(config, words, io.StringIO(), files, pacing=EVERY_100) == 0
    return folder / "a.jsonl", folder / "b.jsonl"


def test_view_draws_two_headless_runs_side_by_side(two_run_files, tmp_path):
    shot = tmp_path / "view.svg"
    result = mmtui("view", *map(str, two_run_files), "--no-terminal", "--screenshot", str(shot))
    assert result.returncode == 0, result.stderr
    screen = html.unescape(shot.read_text()).replace("\xa0", " ")
    for text in ("mlp fix-tanh x1", "mlp lecture x1", "Runs · c: next run", "step 400 / 400", "read 2 files",
                 "Activations: hidden tanh h", "Saturation", "Samples"):
        assert text in screen, text
    for key in ("presets", "BatchNorm", "new seed"):  # the lecture's keys are not offered for files
        assert key not in screen, key


def test_view_of_a_folder_shows_every_run_file_in_it(two_run_files, tmp_path):
    shot = tmp_path / "view.svg"
    result = mmtui("view", str(two_run_files[0].parent), "--no-terminal", "--screenshot", str(shot))
    assert result.returncode == 0, result.stderr
    screen = html.unescape(shot.read_text()).replace("\xa0", " ")
    assert "mlp fix-tanh x1" in screen and "mlp lecture x1" in screen


@pytest.mark.parametrize("kind", list(BAD_PATHS))
def test_view_refuses_a_bad_path_in_one_line_with_exit_2(kind, tmp_path):
    make, phrase = BAD_PATHS[kind]
    assert_one_line_error(mmtui("view", str(make(tmp_path))), phrase)


def test_view_without_a_path_is_a_usage_error():
    assert_one_line_error(mmtui("view"), "Missing argument 'PATH...'")


def test_view_needs_a_terminal_unless_told_otherwise(two_run_files):
    assert_one_line_error(mmtui("view", str(two_run_files[0])), "the TUI needs a terminal")


def test_the_training_command_still_takes_its_options_and_names_view_in_its_help():
    result = mmtui("--help")
    assert result.returncode == 0 and "mmtui view PATH..." in result.stdout and "--headless" in result.stdout
    assert "--wait" in mmtui("view", "--help").stdout
