"""A run file written as TensorBoard logs, one run folder per run, with torch's SummaryWriter.

The tags, which the README lists: train/loss (every step), train/lr, val/loss and train/split_loss
(evaluations), each logged scalar under its own name; activations/LAYER and gradients/LAYER histograms and
saturation/LAYER; weight_gradients/WEIGHT histograms, grad_data/WEIGHT and update_data_log10/WEIGHT; a layer
that runs through time, its figures per time step: through_time_grad/LAYER/tNNN,
through_time_saturation/LAYER/tNNN and through_time_std/LAYER/tNNN; samples as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mmtui.records import OTHER, ActivationStats, Snapshot, TimeStats
from mmtui.runfile import MAX_LINE_BYTES, RunFileError, RunFileReader

# a training loss's name by scalar_names' rule: `mmtui view` draws it as the loss again
LOSS_TAG = "train/loss"
LR_TAG = "train/lr"
VAL_LOSS_TAG = "val/loss"  # a validation loss's name: drawn as the Loss panel's val points again
# the loss over the whole train split, at an evaluation: neither name's rule
SPLIT_LOSS_TAG = "train/split_loss"
SAMPLES_TAG = "samples"  # the text tag `mmtui view` shows in the Samples panel
FOLDER_CHARACTERS = re.compile(r"[^\w.+-]+")  # what a run's name keeps in its folder's name; the rest is "_"


@dataclass
class RunCounts:
    """What was written of one run."""

    folder: Path
    losses: int = 0
    histograms: int = 0
    scalars: int = 0
    texts: int = 0


@dataclass
class ExportResult:
    """What an export wrote, and what of the run file it skipped."""

    outdir: Path
    runs: list[RunCounts] = field(default_factory=list)
    damaged: int = 0  # lines of the run file skipped as damaged
    first_damage: str = ""

    def lines(self) -> list[str]:
        """What the command says, one line each."""
        said = []
        if self.damaged:
            said.append(f"{self.damaged} damaged lines skipped ({self.first_damage})")
        if not self.runs:
            said.append("the run file holds no snapshot: nothing written")
        for run in self.runs:
            said.append(f"wrote {run.folder}: {run.losses:,} losses, {run.scalars:,} other scalars, "
                        f"{run.histograms:,} histograms, {run.texts:,} samples texts")
        if self.runs:
            said.append(f"view it with: tensorboard --logdir {self.outdir}")
        return said


def layer_tag(stats: ActivationStats) -> str:
    """A layer as its tags name it: the watched module's path and class, or the lecture's
    tanh layer number."""
    return " ".join(stats.name.split()) if stats.name else f"tanh layer {stats.layer}"


def through_time_scalars(stats: TimeStats) -> list[tuple[str, float, int]]:
    """A layer's figures by time step as scalars, one tag per figure and time step: TensorBoard draws each
    tag's curve over training, and its scalars dashboard filters them by the layer's name or a time step."""
    label = " ".join(stats.name.split()) or "hidden state"
    figures = (("grad", stats.grad_std), ("saturation", stats.saturation), ("std", stats.std))
    return [(f"through_time_{figure}/{label}/t{time:03d}", value, stats.step)
            for figure, values in figures for time, value in zip(stats.times, values)]


def histogram_of(writer, tag: str, edges: tuple[float, ...], counts: tuple[int, ...], mean: float | None,
                 std: float | None, step: int) -> bool:
    """Write mmtui's even bins as TensorBoard buckets (each bin's right edge its limit); False when there is
    nothing to write."""
    num = sum(counts)
    if not num or len(edges) != len(counts) + 1:
        return False
    mean = mean if mean is not None else 0.0
    std = std if std is not None else 0.0
    writer.add_histogram_raw(tag, min=edges[0], max=edges[-1], num=num, sum=mean * num,
                             sum_squares=(std * std + mean * mean) * num, bucket_limits=list(edges[1:]),
                             bucket_counts=list(counts), global_step=step)
    return True


class RunWriter:
    """One run's SummaryWriter, and the counts of what it wrote."""

    def __init__(self, folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder))
        self.counts = RunCounts(folder)

    def write(self, snap: Snapshot) -> None:
        writer, counts = self.writer, self.counts
        for offset, loss in enumerate(snap.losses):
            writer.add_scalar(LOSS_TAG, loss, snap.first_loss_step + offset)
        counts.losses += len(snap.losses)
        scalars = [(s.name, s.value, s.step) for s in snap.scalars if s.value is not None]
        if snap.lr is not None:
            scalars.append((LR_TAG, snap.lr, snap.step))
        for e in snap.evals:
            scalars.append((VAL_LOSS_TAG, e.val_loss, e.step))
            if e.train_loss is not None:
                scalars.append((SPLIT_LOSS_TAG, e.train_loss, e.step))
        for s in snap.layers:
            label = layer_tag(s)
            counts.histograms += histogram_of(writer, f"activations/{label}", s.hist_edges, s.hist_counts,
                                              s.mean, s.std, s.step)
            counts.histograms += histogram_of(writer, f"gradients/{label}", s.grad_hist_edges,
                                              s.grad_hist_counts, s.grad_mean, s.grad_std, s.step)
            if s.kind != OTHER:
                scalars.append((f"saturation/{label}", s.saturation, s.step))
        for p in snap.params:
            counts.histograms += histogram_of(writer, f"weight_gradients/{p.name}", p.grad_hist_edges,
                                              p.grad_hist_counts, p.grad_mean, p.grad_std, snap.step)
            scalars.append((f"grad_data/{p.name}", p.grad_data_ratio, snap.step))
            scalars.append((f"update_data_log10/{p.name}", p.update_ratio_log10, snap.step))
        for t in snap.through_time:
            scalars.extend(through_time_scalars(t))
        for tag, value, step in scalars:
            writer.add_scalar(tag, value, step)
        counts.scalars += len(scalars)
        if snap.samples:
            writer.add_text(SAMPLES_TAG, "  \n".join(snap.samples), snap.step)  # a Markdown line break each
            counts.texts += 1

    def close(self) -> None:
        self.writer.close()


def export_run_file(path: Path, outdir: Path) -> ExportResult:
    """Write every run of the run file at `path` into its own folder of `outdir`, read line by line (a large
    file is never held whole); damaged lines are skipped and counted, as `mmtui view` does."""
    result = ExportResult(outdir)
    reader = RunFileReader(path.name)
    writers: dict[str, RunWriter] = {}  # the open writer of each stream (a session): its runs come one by one
    runs: dict[tuple[str, int], RunWriter] = {}
    taken: set[str] = set()
    try:
        with open(path, "rb") as file:
            for number, line in enumerate(_bounded_lines(file), 1):
                if not line.strip():
                    continue
                try:
                    snap = reader.read_line(line)
                except RunFileError as error:
                    result.damaged += 1
                    result.first_damage = result.first_damage or f"line {number}: {error}"
                    continue
                if snap is None:
                    continue
                key = (snap.run.stream, snap.run.run_id)
                run = runs.get(key)
                if run is None:
                    if snap.run.stream in writers:
                        writers[snap.run.stream].close()  # a reinit: the stream's previous run is over
                    run = runs[key] = writers[snap.run.stream] = RunWriter(outdir / _folder(snap, taken))
                    result.runs.append(run.counts)
                run.write(snap)
    finally:
        for run in writers.values():
            run.close()
    return result


def _bounded_lines(file):
    """The file's lines, each read in pieces of at most MAX_LINE_BYTES: a longer line (a file of one 2 GB
    line) is never held whole; its first piece stands for it, which the reader refuses as too long."""
    while line := file.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := file.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # the rest of the line, dropped piece by piece
        yield line


def _folder(snap: Snapshot, taken: set[str]) -> str:
    """A run's folder: its name made safe for a path, numbered where two runs share it."""
    base = FOLDER_CHARACTERS.sub("_", snap.run.name).strip("_.") or "run"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name
