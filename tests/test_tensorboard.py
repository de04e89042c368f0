"""TensorBoard logs in `mmtui view`, written by torch's own SummaryWriter: scalars as the loss curve,
evaluations and scalars, histograms as layers, runs as streams, followed as they grow, damage worded; and
`mmtui export --tensorboard`, read back by TensorBoard's own reader."""

from __future__ import annotations

import html
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmtui.records import DONE, OTHER, Snapshot
from mmtui.sources.follow import Reading
from collected import Collected
from test_headless_cli import assert_one_line_error, mmtui

TIMEOUT_S = 20.0
STEPS = 300  # steps of the small log: a loss each, a histogram and a val loss every HIST_EVERY
HIST_EVERY = 100
NO_TB_REASON = "needs the tensorboard extra: pip install '.[tensorboard]'"


@pytest.fixture(scope="module")
def tb():
    return pytest.importorskip("tensorboard", reason=NO_TB_REASON)


def write_log(folder: Path, steps: int = STEPS, seed: int = 0, loss_tag: str = "train/loss", start: int = 0):
    """A training loop's log as SummaryWriter writes it: the loss every step, lr, and every HIST_EVERY steps a
    val loss and a histogram of a tanh activation. Returns each histogram's values by step."""
    import torch
    from torch.utils.tensorboard import SummaryWriter

    generator = torch.Generator().manual_seed(seed)
    logged = {}
    with SummaryWriter(log_dir=str(folder)) as writer:
        for step in range(start, start + steps):
            writer.add_scalar(loss_tag, 3.3 / (1 + step / 100) + seed, step)
            writer.add_scalar("lr", 0.1, step)
            if step % HIST_EVERY == 0:
                writer.add_scalar("val/loss", 3.4 / (1 + step / 100), step)
                values = torch.randn(2000, generator=generator).mul(1 + step / 100).tanh()
                writer.add_histogram("activations/h", values, step)
                logged[step] = values
    return logged


@pytest.fixture(scope="module")
def log_dir(tb, tmp_path_factory):
    folder = tmp_path_factory.mktemp("logs")
    histograms = write_log(folder / "run_a", seed=0)
    write_log(folder / "run_b", seed=1)
    return folder, histograms


def event_file(run_folder: Path) -> Path:
    (found,) = run_folder.glob("events.out.tfevents.*")
    return found


def source_on(*paths: Path, follow: bool = False, tag: str | None = None,
              reading: Reading = Reading()) -> Collected:
    from mmtui.sources.tensorboard import TensorBoardSource, check_log_paths

    checked = check_log_paths([str(p) for p in paths], wait=False)
    return Collected(TensorBoardSource(checked, follow=follow, tag=tag, reading=reading), TIMEOUT_S)


def losses_of(snapshots: list[Snapshot]) -> list[tuple[int, float]]:
    return [(s.first_loss_step + i, loss) for s in snapshots for i, loss in enumerate(s.losses)]


# ---- the source

def test_a_log_reads_as_the_loss_curve_val_points_lr_and_histogram_layers(log_dir):
    folder, logged = log_dir
    read = source_on(folder / "run_a").until(Collected.ended, "the log read whole")
    snaps = read.snapshots
    assert {s.run.stream for s in snaps} == {"run_a"} and read.status.text == "read run_a"
    assert [step for step, _ in losses_of(snaps)] == list(range(STEPS))  # every step, in order
    assert losses_of(snaps)[50][1] == pytest.approx(3.3 / 1.5)
    assert [e.step for s in snaps for e in s.evals] == [0, 100, 200]
    assert snaps[-1].lr == pytest.approx(0.1) and snaps[-1].state == DONE
    assert {sc.name for s in snaps for sc in s.scalars} == {"lr"}  # the loss and val loss are drawn as such
    with_layers = [s for s in snaps if s.layers]
    assert [s.layers[0].step for s in with_layers] == [0, 100, 200]  # one per step that logged a histogram
    for snap in with_layers:
        (layer,) = snap.layers
        values = logged[layer.step]
        assert layer.name == "activations/h" and layer.kind == OTHER and layer.layer == 1
        assert sum(layer.hist_counts) == len(values) and len(layer.hist_counts) == 50
        assert layer.hist_edges[0] == pytest.approx(values.min().item())
        assert layer.hist_edges[-1] == pytest.approx(values.max().item())
        assert layer.mean == pytest.approx(values.mean().item(), abs=1e-6)
        assert layer.std == pytest.approx(values.std(correction=0).item(), rel=1e-4)


def test_a_log_folder_is_every_run_folder_in_it(log_dir):
    folder, _ = log_dir
    read = source_on(folder).until(Collected.ended, "both runs read")
    assert {s.run.stream for s in read.snapshots} == {"run_a", "run_b"}
    assert read.status.text == "read 2 runs"
    assert len(losses_of(read.of("run_b"))) == STEPS
    assert losses_of(read.of("run_b"))[0][1] == pytest.approx(4.3)


def test_tag_picks_the_loss_curve_and_a_log_without_a_loss_tag_says_how(tb, tmp_path):
    write_log(tmp_path / "run", steps=20, loss_tag="objective")
    read = source_on(tmp_path, tag="val/loss").until(Collected.ended, "the log")
    assert [step for step, _ in losses_of(read.snapshots)] == [0]  # val/loss, logged at step 0
    untagged = source_on(tmp_path).until(Collected.ended, "the log")
    assert not losses_of(untagged.snapshots)
    assert untagged.status.warning
    assert ("run: no training loss tag among objective, lr, val/loss (--tag TAG picks one)"
            in untagged.status.text)
    assert {sc.name for s in untagged.snapshots for sc in s.scalars} == {"objective", "lr"}


def test_tf2_style_tensor_scalars_and_histograms_read_as_the_others(tb, tmp_path):
    import numpy as np
    from tensorboard.plugins.histogram.summary_v2 import histogram_pb
    from tensorboard.plugins.scalar.summary_v2 import scalar_pb
    from torch.utils.tensorboard import SummaryWriter

    values = np.tanh(np.random.default_rng(0).normal(size=1000))
    with SummaryWriter(log_dir=str(tmp_path / "keras")) as writer:
        for step in range(3):  # Keras's TensorBoard callback: tensors with the plugin named in their metadata
            writer.file_writer.add_summary(scalar_pb("epoch_loss", 2.0 - step / 10), step)
            writer.file_writer.add_summary(histogram_pb("dense/kernel_0", values * (step + 1), buckets=30),
                                           step)
    read = source_on(tmp_path).until(Collected.ended, "the log")
    assert losses_of(read.snapshots) == [(0, pytest.approx(2.0)), (1, pytest.approx(1.9)),
                                         (2, pytest.approx(1.8))]
    assert not any(s.layers for s in read.snapshots)  # a kernel's histogram is a weight's, not a layer's
    layer = [s for s in read.snapshots if s.weights][-1].weights[0]
    assert layer.name == "dense/kernel_0" and layer.step == 2 and sum(layer.hist_counts) == 1000
    assert layer.mean == pytest.approx(values.mean() * 3, abs=0.05)  # from the buckets' centres: no sums kept
    assert layer.hist_edges[0] == pytest.approx(values.min() * 3) and layer.hist_edges[-1] == pytest.approx(
        values.max() * 3)


def test_a_growing_log_is_followed_as_its_writer_flushes(tb, tmp_path):
    import torch
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path / "live"), flush_secs=3600)  # flushed by hand below
    try:
        writer.add_scalar("loss", 3.0, 0)
        writer.flush()
        followed = source_on(tmp_path, follow=True).until(lambda c: losses_of(c.snapshots), "the first loss")
        assert followed.status.text == "following live" and not followed.status.ended
        for step in range(1, 5):
            writer.add_scalar("loss", 3.0 - step / 10, step)
        writer.add_histogram("h", torch.tensor([0.0, 1.0, 2.0]), 4)
        writer.flush()
        followed.until(lambda c: len(losses_of(c.snapshots)) == 5 and any(s.layers for s in c.snapshots),
                       "the flushed steps")
        assert [step for step, _ in losses_of(followed.snapshots)] == [0, 1, 2, 3, 4]
    finally:
        writer.close()


def test_a_run_folder_whose_training_starts_again_begins_a_new_run(tb, tmp_path):
    write_log(tmp_path / "run", steps=30)
    time.sleep(1.1)  # event files are named by the second they were opened in
    write_log(tmp_path / "run", steps=10)
    read = source_on(tmp_path).until(Collected.ended, "both files")
    assert sorted({s.run.run_id for s in read.snapshots}) == [1, 2]
    second = [s for s in read.snapshots if s.run.run_id == 2]
    assert len(losses_of(second)) == 10
    assert second[-1].step == 9  # its own steps, not the first run's last


def test_a_damaged_record_is_worded_and_the_records_before_it_are_drawn(log_dir, tmp_path):
    data = bytearray(event_file(log_dir[0] / "run_a").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: that record's checksum fails
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "events.out.tfevents.1.host").write_bytes(bytes(data))
    read = source_on(tmp_path).until(Collected.ended, "the readable part")
    assert read.status.warning and "the record at byte" in read.status.text and "checksum" in read.status.text
    assert "showing the records before it" in read.status.text
    assert 0 < len(losses_of(read.snapshots)) < STEPS


def test_a_truncated_last_record_is_read_once_complete_when_followed(log_dir, tmp_path):
    data = event_file(log_dir[0] / "run_a").read_bytes()
    (tmp_path / "run").mkdir()
    path = tmp_path / "run" / "events.out.tfevents.1.host"
    path.write_bytes(data[:-7])  # the writer stopped amid its last record
    read = source_on(tmp_path).until(Collected.ended, "the readable part")
    assert "events.out.tfevents.1.host ends in a truncated record" in read.status.text
    followed = source_on(tmp_path, follow=True).until(lambda c: c.status and c.status.text == "following run",
                                                      "the readable part, followed")
    assert not followed.status.warning  # a writer amid a record is no damage
    with path.open("ab") as file:
        file.write(data[-7:])
    followed.until(lambda c: len(losses_of(c.snapshots)) == STEPS, "the completed record")


def test_more_runs_than_shown_say_so(tb, tmp_path):
    for n in range(5):
        write_log(tmp_path / f"run{n}", steps=3)
    few = Reading(max_files=3)  # a folder of 100 runs, in miniature
    read = source_on(tmp_path, reading=few).until(Collected.ended, "the runs shown")
    assert len({s.run.stream for s in read.snapshots}) == 3
    assert "2 more runs not shown (the 3 most recently written are)" in read.status.text


def test_histograms_are_redrawn_on_even_bins_keeping_their_counts():
    from mmtui.sources.tensorboard import rebinned

    edges, counts = rebinned([(-1.0, 0.0, 700), (0.0, 1.0, 300), (0.5, 0.5, 2)], -1.0, 1.0)
    assert len(edges) == 51 and edges[0] == -1.0 and edges[-1] == 1.0
    assert counts[:25] == (28,) * 25 and counts[37] == 14 and sum(counts) == 1002  # 0.5 is in bin 37
    edges, counts = rebinned([(2.0, 2.0, 5)], 2.0, 2.0)  # every value equal: one bar
    assert sum(counts) == 5 and edges[0] < 2.0 < edges[-1]


# ---- the command

def screenshot_text(path: Path) -> str:
    return html.unescape(path.read_text()).replace("\xa0", " ")


def test_view_draws_a_summary_writer_log_folder_with_both_runs(log_dir, tmp_path):
    shot = tmp_path / "view.svg"
    result = mmtui("view", str(log_dir[0]), "--no-terminal", "--screenshot", str(shot))
    assert result.returncode == 0, result.stderr
    screen = screenshot_text(shot)
    for text in ("run_a", "run_b", "Activations: activations/h", "step 200: mean", "read 2 runs", "Runs"):
        assert text in screen, text


BAD_LOGS = {
    "empty-folder": (lambda d: d, "a folder with no mmtui run files in it, and no TensorBoard event files"),
    "garbage-event-file": (lambda d: _write(d / "events.out.tfevents.1.host", b"\x07" * 64),
                           "not a TensorBoard event file (its first record has a bad length checksum)"),
    "missing-event-file": (lambda d: d / "events.out.tfevents.2.host", "no such file"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", list(BAD_LOGS))
def test_view_refuses_a_bad_log_in_one_line_with_exit_2(tb, kind, tmp_path):
    make, phrase = BAD_LOGS[kind]
    assert_one_line_error(mmtui("view", str(make(tmp_path)), "--tag", "loss"), phrase)


def test_with_wait_and_tag_an_empty_folder_is_awaited_as_a_log(tb, tmp_path):
    shot = tmp_path / "view.svg"
    (tmp_path / "logs").mkdir()
    result = mmtui("view", "--wait", "--tag", "loss", str(tmp_path / "logs"), "--no-terminal", "--screenshot",
                   str(shot))
    assert result.returncode == 0, result.stderr
    assert "waiting for event files in" in screenshot_text(shot)


def test_view_refuses_run_files_and_logs_together(log_dir, tmp_path):
    run_file = _write(tmp_path / "a.jsonl", b'{"event":"header","format":"mmtui-run","version":1}\n')
    assert_one_line_error(mmtui("view", str(run_file), str(log_dir[0])), "cannot be viewed together")


NO_TENSORBOARD = ("import sys; sys.modules['tensorboard'] = None; sys.argv[0] = 'mmtui'; "
                  "from mmtui.cli import main; main()")


@pytest.mark.parametrize("args", [["view", "--tag", "loss", "logs"],
                                  ["export", "--tensorboard", "RUN", "out"]])
def test_without_the_extra_view_and_export_say_how_to_install_it(args, tmp_path):
    (tmp_path / "logs").mkdir()
    run_file = _write(tmp_path / "RUN", b'{"event":"header","format":"mmtui-run","version":1}\n')
    args = [str(run_file) if a == "RUN" else str(tmp_path / a) if a in ("logs", "out") else a for a in args]
    result = subprocess.run([sys.executable, "-c", NO_TENSORBOARD, *args], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=60)
    assert_one_line_error(result, "needs the tensorboard package: pip install 'mmtui[tensorboard]'")


# ---- the app on a log

async def test_the_app_draws_the_loss_curve_and_the_histogram_and_overlays_two_runs(log_dir):
    from mmtui.sources.tensorboard import TensorBoardSource, check_log_paths
    from mmtui.tui.app import MmtuiApp
    from app_sources import screen_text
    from pilot_wait import wait_until

    app = MmtuiApp(TensorBoardSource(check_log_paths([str(log_dir[0])], wait=False), follow=False))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: len(app.history.streams) == 2
                         and all(s.latest.state == DONE for s in app.history.streams.values()), TIMEOUT_S)
        await wait_until(pilot, lambda: "Activations: activations/h" in screen_text(app), TIMEOUT_S)
        screen = screen_text(app)
        assert "run_a" in screen and "run_b" in screen  # the Loss legend overlays both
        assert "step 200: mean" in screen and "step 299" in screen
        assert "TensorBoard log" in screen and "model" not in screen.splitlines()[-2]
        # a logged histogram has no trouble measure: no panel of one, nor a 0 % trend,
        # takes room from the rest
        assert "Layer statistics" not in screen and "Saturation" not in screen
        assert "% over the run" not in screen
        await pilot.press("comma")  # each step that logged histograms is a snapshot to step back to
        await wait_until(pilot, lambda: "step 100: mean" in screen_text(app), TIMEOUT_S)


# ---- export

@pytest.fixture(scope="module")
def lecture_run_file(tb, small_words_path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("run") / "lecture.jsonl"
    result = mmtui("--headless", "--steps", "400", "--every", "100", "--eval-every", "200", "--hidden", "40",
                   "--num-samples", "3", "--model", "deep", "--data", str(small_words_path), "--log",
                   str(path))
    assert result.returncode == 0, result.stderr
    return path


EXPORTED_SCALARS = {"train/loss", "train/lr", "val/loss", "train/split_loss"}
EXPORTED_PER_LAYER = ("activations/", "gradients/")  # histograms, with saturation/ scalars
EXPORTED_PER_WEIGHT = ("weight_gradients/",)  # histograms, with grad_data/ and update_data_log10/ scalars


def test_export_reads_back_in_tensorboards_reader_with_every_tag(lecture_run_file, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from mmtui.runfile import read_run_file

    out = tmp_path / "out"
    result = mmtui("export", "--tensorboard", str(lecture_run_file), str(out))
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr and "tensorboard --logdir" in result.stderr
    (run_folder,) = [p for p in out.iterdir()]
    written = read_run_file(str(lecture_run_file))
    weights = [p.name for p in next(s for s in written if s.params).params]
    accumulator = EventAccumulator(str(run_folder),
                                   size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    assert {s.layer for snap in written for s in snap.layers} == {1, 2, 3, 4, 5}  # the deep net's Tanh layers
    assert EXPORTED_SCALARS <= set(tags["scalars"])
    for n in range(1, 6):
        assert f"activations/tanh layer {n}" in tags["histograms"]
        assert f"saturation/tanh layer {n}" in tags["scalars"]
        assert f"gradients/tanh layer {n}" in tags["histograms"]
    for name in weights:
        assert f"weight_gradients/{name}" in tags["histograms"]
        assert {f"grad_data/{name}", f"update_data_log10/{name}"} <= set(tags["scalars"])
    assert "samples/text_summary" in tags["tensors"]
    losses = [(e.step, e.value) for e in accumulator.Scalars("train/loss")]
    expected = losses_of(written)
    assert [s for s, _ in losses] == [s for s, _ in expected]
    assert [v for _, v in losses] == pytest.approx([v for _, v in expected], rel=1e-6)  # float32 in the file
    vals = [(e.step, e.value) for e in accumulator.Scalars("val/loss")]
    assert vals == [(e.step, pytest.approx(e.val_loss, rel=1e-6)) for s in written for e in s.evals]
    first = next(s for s in written if s.layers).layers[0]
    (histogram, *_) = accumulator.Histograms("activations/tanh layer 1")
    assert histogram.step == first.step
    assert list(histogram.histogram_value.bucket) == list(first.hist_counts)
    assert list(histogram.histogram_value.bucket_limit) == pytest.approx(list(first.hist_edges[1:]))


def test_an_export_viewed_again_gives_the_run_files_losses_and_histograms(lecture_run_file, tmp_path):
    from mmtui.runfile import read_run_file
    from mmtui.tensorboard_export import export_run_file

    export_run_file(lecture_run_file, tmp_path)
    read = source_on(tmp_path).until(Collected.ended, "the export")
    written = read_run_file(str(lecture_run_file))
    assert [s for s, _ in losses_of(read.snapshots)] == [s for s, _ in losses_of(written)]
    first = next(s for s in written if s.layers).layers[0]
    back = next(s for s in read.snapshots if s.layers)
    shown = next(layer for layer in back.layers if layer.name == "activations/tanh layer 1")
    assert shown.hist_counts == first.hist_counts  # even bins in, the same even bins out
    assert shown.hist_edges == pytest.approx(first.hist_edges, abs=1e-6)
    assert [n for s in read.snapshots for n in s.samples] == [n for s in written for n in s.samples]
    # their gradients' histograms are weights', not layers
    weights = {p.name for s in written for p in s.params}
    # as many as MAX_HISTOGRAM_TAGS leaves room for
    read_weights = {h.name for s in read.snapshots for h in s.weights}
    assert read_weights and read_weights <= {f"weight_gradients/{name}" for name in weights}
    assert not any(layer.name.startswith("weight_gradients/") for s in read.snapshots for layer in s.layers)


BAD_EXPORTS = {
    "no-format": (lambda d, run: ["export", str(run), str(d / "out")],
                  "say which format to write: --tensorboard"),
    "missing-run-file": (lambda d, run: ["export", "--tensorboard", str(d / "absent.jsonl"), str(d / "out")],
                         "no such file"),
    "not-a-run-file": (lambda d, run: ["export", "--tensorboard", str(_write(d / "x.txt", b"emma\n")),
                                       str(d / "out")], "not an mmtui run file"),
    "outdir-in-missing-folder": (lambda d, run: ["export", "--tensorboard", str(run), str(d / "no" / "out")],
                                 "does not exist"),
    "outdir-is-a-file": (lambda d, run: ["export", "--tensorboard", str(run), str(_write(d / "f", b""))],
                         "is not a folder"),
}


@pytest.mark.parametrize("kind", list(BAD_EXPORTS))
def test_export_refuses_bad_input_in_one_line_with_exit_2(kind, lecture_run_file, tmp_path):
    make, phrase = BAD_EXPORTS[kind]
    assert_one_line_error(mmtui(*make(tmp_path, lecture_run_file)), phrase)


def test_export_refuses_a_folder_that_holds_event_files_already(lecture_run_file, tmp_path):
    assert mmtui("export", "--tensorboard", str(lecture_run_file), str(tmp_path)).returncode == 0
    assert_one_line_error(mmtui("export", "--tensorboard", str(lecture_run_file), str(tmp_path)),
                          "already holds TensorBoard event files")
