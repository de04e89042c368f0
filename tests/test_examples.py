"""The examples run as a user runs them, in seconds: the lecture's loop equals `mmtui --init lecture` at step
0, the transformer's GELUs are watched, and a torchrun DDP job writes one file per rank, compared."""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmtui.cli import cli
from mmtui.runfile import read_run_file
from test_headless_cli import events, mmtui

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIMEOUT_S = 180


def example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                          cwd=cwd, stdin=subprocess.DEVNULL, timeout=TIMEOUT_S)


def test_the_lectures_own_loop_starts_where_mmtui_init_lecture_does(small_words_path, tmp_path):
    result = example("lecture_mlp.py", "--data", str(small_words_path), "--steps", "5",
                     "--run-file", "run.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first = read_run_file(str(tmp_path / "run.jsonl"))[0]
    headless = CliRunner().invoke(cli, ["--headless", "--init", "lecture", "--data", str(small_words_path),
                                        "--steps", "5", "--every", "1"])  # in this process: torch is loaded
    assert headless.exit_code == 0, headless.output
    step0 = next(e for e in events(headless.stdout) if e["event"] == "step" and e["step"] == 0)
    layer = first.layers[0]
    assert first.losses[0] == pytest.approx(step0["loss"], rel=1e-5)
    assert (layer.saturation, layer.share_99, layer.dead_units) == pytest.approx(
        (step0["saturation"], step0["share_99"], step0["dead_units"]), rel=1e-6)
    assert layer.name == "h" and [p.name for p in first.params] == ["C", "W1", "W2"]


def test_the_transformers_gelus_weights_and_returned_loss_are_watched(char_transformer_run):
    snapshots = read_run_file(str(char_transformer_run))
    assert [s.name for s in snapshots[0].layers] == ["blocks.0.mlp.1  NewGELU", "blocks.1.mlp.1  NewGELU"]
    assert sum(len(s.losses) for s in snapshots) == 40 and snapshots[-1].step == 40
    assert "blocks.0.attn.in_proj_weight" in [p.name for p in snapshots[0].params]


# torch 2.13's gloo aborts a rank at its exit now and then on a busy machine (2 to 5 jobs in 12 with both
# cores taken), with or without mmtui and after destroy_process_group: the job's work is done, as the run
# files checked below show.
GLOO_EXIT_ABORT = "terminate called without an active exception"


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", str(EXAMPLES / "ddp.py"), "--steps", "30", *args],
                          capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL,
                          timeout=TIMEOUT_S)


def test_a_torchrun_job_writes_one_file_per_rank_when_asked_and_view_compares_them(tmp_path):
    """The README's command; that rank 0 alone writes by default is test_watch's, under torchrun's variables
    (a job costs ~6 s of starting processes)."""
    result = torchrun("--run-file", "all.jsonl", "--all-ranks", cwd=tmp_path)
    assert result.returncode == 0 or GLOO_EXIT_ABORT in result.stderr, result.stderr
    files = sorted(str(p) for p in tmp_path.glob("*.jsonl"))
    assert [Path(f).name for f in files] == ["all.rank0.jsonl", "all.rank1.jsonl"]
    assert [read_run_file(f)[-1].step for f in files] == [30, 30]
    shot = tmp_path / "ranks.svg"
    viewed = mmtui("view", *files, "--no-terminal", "--screenshot", str(shot))
    assert viewed.returncode == 0, viewed.stderr
    screen = html.unescape(shot.read_text()).replace("\xa0", " ")
    assert "ddp Sequential rank 0" in screen and "ddp Sequential rank 1" in screen


@pytest.mark.parametrize("cell", ["gru", "nn-gru"])
def test_makemores_recurrent_cells_are_measured_at_every_time_step(small_words_path, tmp_path, cell):
    result = example("makemore_rnn.py", "--type", cell, "--data", str(small_words_path), "--steps", "5",
                     "--run-file", "run.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (stats,) = next(s.through_time for s in read_run_file(str(tmp_path / "run.jsonl")) if s.through_time)
    assert stats.name == ("cell  GRUCell" if cell == "gru" else "rnn  GRU")
    assert stats.times == tuple(range(stats.calls)) and stats.calls > 3 and stats.grad_std[0] > 0
