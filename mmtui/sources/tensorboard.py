"""TensorBoard logs as a source: event files, followed through sources.follow and cut by its TFRecords
framing, decoded with tensorboard's protobufs into snapshots by the one snapshot builder; each run folder a
stream.

Scalars become the loss curve (the tag is_training_loss names, or --tag), evaluations and named scalars;
histograms (add_histogram) become activation layers of that tag, or weights' histograms where the tag names a
weight (weights/..., layer1.bias), one snapshot per step that logged any.
"""

from __future__ import annotations

import math
import os
import re
import stat
import time
from dataclasses import replace
from pathlib import Path

from mmtui.measure.pacing import Pacing
from mmtui.measure.snapshots import SnapshotBuilder
from mmtui.records import (DONE, LAYERS, LOSS, OTHER, RUNNING, RUNS, SAMPLES, SCALARS, WEIGHTS,
                           ActivationStats, Arrival, EvalResult, Histogram, RunInfo, Scalar, SourceStatus)
from mmtui.runfile import MAX_TEXT
from mmtui.scalar_names import is_learning_rate, is_training_loss, is_validation_loss
from mmtui.sources.follow import (Damage, FollowedFile, FollowingSource, Reading, TFRecords, checked_paths,
                                  event_said, progress)
from mmtui.sources.run_file import newest_run_files

EVENT_FILE_PREFIX = "events.out.tfevents."  # how every TensorBoard writer names its files
INSTALL_HINT = "reading TensorBoard logs needs the tensorboard package: pip install 'mmtui[tensorboard]'"
FIRST_RECORD_PEEK_BYTES = 1024 * 1024  # what a check reads of a file for its first record
# a histogram is redrawn on this many even bins, as mmtui's own (TensorBoard's are exponential)
HIST_BINS = 50
# histogram tags shown per run, in the order first logged: each is a layer kept 64 times
MAX_HISTOGRAM_TAGS = 16
# A histogram tag with one of these words among its words (split at / . _ -) is a weight's: "weights/fc1",
# "layer1.weight", "dense/kernel", "weight_gradients/W1" (mmtui export's); Lightning's and Keras's ways of
# logging parameters. Matched without case.
WEIGHT_WORDS = frozenset({"weight", "weights", "bias", "biases", "kernel", "param", "params", "parameters"})
TAG_WORDS = re.compile(r"[/._-]")
MAX_SCALAR_TAGS = 64  # other scalar tags kept per run, each a bounded sparkline
SAMPLES_TAG = "samples"  # a text tag shown in the Samples panel: what `mmtui export --tensorboard` writes
# What tells which framework wrote a log: Lightning's logger saves its hyperparameters beside the event files,
# and a transformers Trainer logs its arguments as this text tag.
LIGHTNING_FILE, TRAINER_TAG = "hparams.yaml", "args/text_summary"
MAX_SAMPLES = 1000  # names taken from one text value
MAX_STEP = 2 ** 53  # the largest step a float axis places exactly, as the run file's reader takes
MAX_RECORD_BYTES = 1 << 30  # a record longer than this is damage (a length gone wrong), not one being written
TAGS_NAMED = 6  # tags listed in a note that no loss tag was found


class TensorBoardMissing(RuntimeError):
    """The tensorboard package is not installed: INSTALL_HINT says how to get it."""


def require_tensorboard() -> None:
    """Raise TensorBoardMissing unless what the source takes from tensorboard can be imported: its event
    protobufs and its checksum."""
    try:
        from tensorboard.compat.proto import event_pb2  # noqa: F401
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c  # noqa: F401
    except ImportError:
        raise TensorBoardMissing(INSTALL_HINT) from None


# ---- paths

def is_event_file(path: Path) -> bool:
    return path.name.startswith(EVENT_FILE_PREFIX)


def run_folders(root: Path) -> list[Path]:
    """Every folder at or under `root` that holds event files directly: TensorBoard's runs, sorted."""
    found = []
    for folder, subfolders, names in os.walk(root, onerror=lambda error: None):
        subfolders.sort()
        if any(name.startswith(EVENT_FILE_PREFIX) for name in names):
            found.append(Path(folder))
    return sorted(found)


def is_tensorboard_path(given: str) -> bool:
    """An event file, or a folder with event files at or under it and no mmtui run file in it."""
    path = Path(given)
    if path.is_dir():
        return not newest_run_files(path, 1)[0] and bool(run_folders(path))
    return is_event_file(path)


def check_log_paths(paths: list[str], wait: bool) -> list[Path]:
    """The event files and log folders to view, checked; raises ViewPathError naming the first problem. With
    `wait`, a path that does not exist yet, or a folder with no event files yet, is awaited instead. Raises
    TensorBoardMissing first where tensorboard is not installed."""
    require_tensorboard()
    return checked_paths(paths, wait, has_files=lambda folder: bool(run_folders(folder)),
                         file_problem=first_record_problem)


def event_records() -> TFRecords:
    """The framing of an event file, with tensorboard's checksum."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    return TFRecords(MAX_RECORD_BYTES, masked_crc32c)


def first_record_problem(path: Path) -> str | None:
    """Why a file is no event file at all (its first record is damaged or no event), in words; None if it
    reads, or is too short yet to tell (a writer that has just begun)."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import event_pb2

    framing = event_records()
    try:
        with open(path, "rb") as file:
            while chunk := file.read(64 * 1024):
                for item in framing.feed(chunk):
                    if isinstance(item, Damage):
                        return f"not a TensorBoard event file (its first record {item.why})"
                    event_pb2.Event.FromString(item)
                    return None
                if file.tell() >= FIRST_RECORD_PEEK_BYTES:
                    return None  # a first record this long: its checks come as it is read
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    except DecodeError:
        return "not a TensorBoard event file (its first record holds no event)"
    return None


def _regular(path: Path) -> bool:
    """A regular file: a FIFO named like an event file would block its reader for good."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


# ---- histograms

def rebinned(buckets: list[tuple[float, float, float]], low: float, high: float) -> tuple[tuple[float, ...],
                                                                                           tuple[int, ...]]:
    """(left, right, count) buckets spread over HIST_BINS even bins on [low, high], each count shared by
    overlap."""
    if not high > low:
        low, high = low - 0.5, high + 0.5  # every value equal: one bar in the middle
    width = (high - low) / HIST_BINS
    edges = tuple(low + i * width for i in range(HIST_BINS)) + (high,)
    counts = [0.0] * HIST_BINS
    for left, right, count in buckets:
        if not count:
            continue
        left, right = max(left, low), min(right, high)
        first = min(max(int((left - low) / width), 0), HIST_BINS - 1)
        if right <= left:  # a bucket of one value, or clipped to one
            counts[first] += count
            continue
        last = min(max(int((right - low) / width), 0), HIST_BINS - 1)
        for b in range(first, last + 1):
            overlap = min(right, edges[b + 1]) - max(left, edges[b])
            counts[b] += count * max(overlap, 0.0) / (right - left)
    return edges, whole_counts(counts)


def whole_counts(shares: list[float]) -> tuple[int, ...]:
    """Shares of counts rounded so that they keep their total: the largest remainders round up."""
    floors = [math.floor(n) for n in shares]
    short = round(sum(shares)) - sum(floors)
    for i in sorted(range(len(shares)), key=lambda i: floors[i] - shares[i])[:max(short, 0)]:
        floors[i] += 1
    return tuple(floors)


def is_weight_tag(tag: str) -> bool:
    """Whether a histogram's tag names a weight, not an activation layer."""
    return any(word in WEIGHT_WORDS for word in TAG_WORDS.split(tag.lower()))


def histogram_stats(tag: str, step: int, value) -> ActivationStats | None:
    """A histogram summary value (add_histogram's HistogramProto, or TF2's [k, 3] tensor) as a layer named by
    its tag; None when it holds no finite value."""
    kind = value.WhichOneof("value")
    if kind == "histo":
        histo = value.histo
        if not histo.num or not (math.isfinite(histo.min) and math.isfinite(histo.max)):
            return None
        limits = list(histo.bucket_limit)
        lefts = [histo.min] + limits[:-1]
        buckets = list(zip(lefts, limits, histo.bucket))
        low, high, num = histo.min, histo.max, histo.num
        mean = histo.sum / num
        std = math.sqrt(max(histo.sum_squares / num - mean * mean, 0.0))
    else:
        from tensorboard.util import tensor_util

        array = tensor_util.make_ndarray(value.tensor)
        if array.ndim != 2 or array.shape[1] != 3 or not len(array):
            return None
        buckets = [(float(a), float(b), float(n)) for a, b, n in array]
        num = sum(n for _, _, n in buckets)
        low, high = buckets[0][0], buckets[-1][1]
        if not num or not (math.isfinite(low) and math.isfinite(high)):
            return None
        centres = [((a + b) / 2, n) for a, b, n in buckets]  # the tensor form keeps no sums: bucket centres
        mean = sum(c * n for c, n in centres) / num
        std = math.sqrt(max(sum(n * (c - mean) ** 2 for c, n in centres) / num, 0.0))
    edges, counts = rebinned(buckets, low, high)
    return ActivationStats(step=step, saturation=0.0, share_99=0.0, dead_units=0, units=0, mean=mean, std=std,
                           hist_edges=edges, hist_counts=counts, name=tag, kind=OTHER)


# ---- one run

class Run:
    """One TensorBoard run (a folder's event files, or one file given alone) decoded into snapshots of one
    stream, built by the snapshot builder the trainer and the watcher use."""

    def __init__(self, name: str, folder: Path | None, files: list[Path], tag: str | None, follow: bool):
        self.name = name
        self.folder = folder  # rescanned for new event files; None for a file given alone
        self.follow = follow  # the newest event file is followed: its writer may append to it
        self.files = [FollowedFile(path, event_records(), follow) for path in files]
        self.tag = tag  # the loss curve's tag: the given one, or the first is_training_loss names
        self.run_id = 1
        self.framework = "Lightning" if folder is not None and (folder / LIGHTNING_FILE).exists() else ""
        self.builder = SnapshotBuilder(self._info(), Pacing(), now=0.0)
        self.layers: dict[str, ActivationStats] = {}  # each histogram tag's latest, in the order first logged
        self.weights: dict[str, Histogram] = {}  # the same of the tags that name weights
        self.histogram_step: int | None = None  # the step of histograms logged since the previous snapshot
        self.step = 0  # the latest step seen
        self.loss_time = 0.0  # the wall time of the latest loss: the training rate of consecutive losses
        # scalar tags seen, in order, to say which there are when none is a loss
        self.tags: dict[str, None] = {}
        self.scalar_tags: set[str] = set()  # the other scalars' tags kept, at most MAX_SCALAR_TAGS
        self.hidden_histograms: set[str] = set()  # tags past MAX_HISTOGRAM_TAGS
        self.hidden_scalars: set[str] = set()  # tags past MAX_SCALAR_TAGS
        # tensor tags' plugin, which TF2 writers give with a tag's first value
        self.plugin: dict[str, str] = {}
        self.last_loss_step: int | None = None
        self.lr: float | None = None
        self.snapshots = 0
        self.events = 0
        self.damaged = 0  # records that passed their checksum yet hold no event
        self.skipped = 0  # values with no number their tag's plugin promises (a tensor logged as a scalar),
        # or steps below 0: none drawn
        self.last_skip = ""  # what the latest was

    def _info(self) -> RunInfo:
        """The run as the status line names it: a TensorBoard log, of the framework that wrote it where known;
        no model is named in a log."""
        settings = {"log": "TensorBoard", **({"framework": self.framework} if self.framework else {})}
        return RunInfo(run_id=self.run_id, name=self.name, model="", settings=settings, stream=self.name)

    def add_files(self) -> None:
        """Event files that appeared in the run's folder since the last look, in the order TensorBoard reads:
        only the newest is followed, the others are read to their end."""
        if self.folder is None:
            return
        try:
            found = sorted(n for n in os.listdir(self.folder) if n.startswith(EVENT_FILE_PREFIX))
        except OSError:
            return
        known = {f.path.name for f in self.files}
        new = [self.folder / n for n in found if n not in known]
        self.files.extend(FollowedFile(path, event_records(), self.follow) for path in new if _regular(path))
        for file in self.files[:-1]:
            file.follow = False

    # ---- records into the builder

    def decode(self, record: bytes, out: list[Arrival]) -> None:
        """One record of an event file: its summary values into the next snapshot, snapshots done into
        `out`."""
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto import event_pb2

        try:
            event = event_pb2.Event.FromString(record)
        except DecodeError:
            self.damaged += 1
            return
        self.events += 1
        if not event.HasField("summary"):
            return
        step = event.step
        if not 0 <= step <= MAX_STEP:
            self._skip(f"a step of {step:,}")
            return
        for value in event.summary.value:
            try:
                self._value(value, step, event.wall_time, out)
            except (ValueError, TypeError, OverflowError) as error:  # a tensor not of its plugin's shape
                self._skip(f"{value.tag!r} at step {step:,} ({error or type(error).__name__})")

    def _skip(self, why: str) -> None:
        self.skipped += 1
        self.last_skip = why

    def _value(self, value, step: int, wall_time: float, out: list[Arrival]) -> None:
        """One summary value: a scalar, a histogram, samples or the trainer's own text."""
        if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
            self.plugin.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
        kind = value.WhichOneof("value")
        plugin = self.plugin.get(value.tag, "")
        if kind == "simple_value":
            self._scalar(value.tag, step, float(value.simple_value), wall_time, out)
        elif kind == "histo" or kind == "tensor" and plugin == "histograms":
            self._histogram(value, step, out)
        elif kind == "tensor" and plugin == "scalars":
            from tensorboard.util import tensor_util

            number = float(tensor_util.make_ndarray(value.tensor).item())  # raises for several values
            self._scalar(value.tag, step, number, wall_time, out)
        elif kind == "tensor" and plugin == "text" and value.tag.split("/")[0] == SAMPLES_TAG:
            self._samples(value, step)
        elif kind == "tensor" and plugin == "text" and value.tag == TRAINER_TAG and not self.framework:
            self.framework = "transformers"
            self.builder.run = self._info()

    def _scalar(self, tag: str, step: int, number: float, wall_time: float, out: list[Arrival]) -> None:
        self.tags.setdefault(tag)
        if self.tag is None and is_training_loss(tag):
            self.tag = tag
        if tag == self.tag:
            builder = self.builder
            if self.last_loss_step is not None and step <= self.last_loss_step:
                self._new_run(out)  # the step went back: a new training logged into the same run
            elif builder.losses and step != builder.first_loss_step + len(builder.losses):
                self.flush(out, hold_histograms_of=step)  # a snapshot's losses are of consecutive steps
            builder = self.builder
            # the rate is the snapshot's own: a log's clock times consecutive steps only
            if not builder.losses:
                builder.first_loss_step = step
                builder.restart_rate(step, wall_time)
            builder.add_loss(step, number)
            self.last_loss_step, self.loss_time = step, wall_time
        elif is_validation_loss(tag):
            self.builder.evals.append(EvalResult(step, None, number))
        elif tag in self.scalar_tags or len(self.scalar_tags) < MAX_SCALAR_TAGS:
            self.scalar_tags.add(tag)
            self.builder.scalars.append(Scalar(tag, step, number))
            if is_learning_rate(tag):
                self.lr = number
        else:
            self.hidden_scalars.add(tag)
        self.step = max(self.step, step)

    def _histogram(self, value, step: int, out: list[Arrival]) -> None:
        tag = value.tag
        known = tag in self.layers or tag in self.weights
        if not known and len(self.layers) + len(self.weights) >= MAX_HISTOGRAM_TAGS:
            self.hidden_histograms.add(tag)
            return
        stats = histogram_stats(tag, step, value)
        if stats is None:
            return
        if self.histogram_step is not None and step != self.histogram_step:
            self.flush(out)  # one snapshot per step that logged histograms
        if is_weight_tag(tag):
            self.weights[tag] = Histogram(tag, step, stats.mean, stats.std, stats.hist_edges,
                                          stats.hist_counts)
        else:
            self.layers[tag] = stats
        self.histogram_step = step
        self.step = max(self.step, step)

    def _samples(self, value, step: int) -> None:
        from tensorboard.util import tensor_util

        text = tensor_util.make_ndarray(value.tensor)
        for item in text.flat:
            line = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
            # as a run file's
            names_in = [name.strip()[:MAX_TEXT] for name in line.splitlines() if name.strip()]
            self.builder.samples.extend(names_in[:MAX_SAMPLES])
        self.step = max(self.step, step)

    def _new_run(self, out: list[Arrival]) -> None:
        self.flush(out)
        self.run_id += 1
        self.builder = SnapshotBuilder(self._info(), Pacing(), now=0.0)
        self.layers, self.weights, self.last_loss_step, self.step = {}, {}, None, 0

    def flush(self, out: list[Arrival], state: str = RUNNING, hold_histograms_of: int | None = None) -> None:
        """What was logged since the last snapshot, as a snapshot; histograms of step `hold_histograms_of`
        wait for the rest of that step's."""
        held = self.histogram_step is not None and self.histogram_step == hold_histograms_of
        if self.histogram_step is not None and not held:
            layers = tuple(replace(s, layer=i) for i, s in enumerate(self.layers.values(), 1))
            self.builder.add_logged(layers, tuple(self.weights.values()))
            self.histogram_step = None
        if not self.builder.has_news and state == RUNNING:
            return
        # self.step: the latest step of any value, its losses' included
        out.append(self.builder.take(state=state, step=self.step, lr=self.lr, now=self.loss_time))
        self.snapshots += 1

    # ---- what the status line says of it

    def problem(self) -> str:
        said = []
        for file in self.files:
            if file.stopped:
                said.append(f"{self.name}: {file.path.name}: {file.stopped}: showing the records before it")
            elif file.cut_short and not file.follow:
                said.append(f"{self.name}: {file.path.name} ends in a truncated record: showing the records "
                            "before it")
            if file.event:
                said.append(f"{self.name}: {event_said(file.path.name, file)}")
        if self.damaged:
            said.append(f"{self.name}: {self.damaged} undecodable records skipped")
        if self.skipped:
            said.append(f"{self.name}: {self.skipped:,} values skipped, the latest {self.last_skip}")
        if self.tag is None and self.tags:
            named = ", ".join(list(self.tags)[:TAGS_NAMED]) + (", ..." if len(self.tags) > TAGS_NAMED else "")
            said.append(f"{self.name}: no training loss tag among {named} (--tag TAG picks one)")
        elif self.tag is not None and self.last_loss_step is None and self.tags and self.events:
            said.append(f"{self.name}: no scalar tagged {self.tag!r} yet")
        hidden = len(self.hidden_histograms) + len(self.hidden_scalars)
        if hidden:
            said.append(f"{self.name}: {hidden} tags beyond the first {MAX_HISTOGRAM_TAGS} histograms and "
                        f"{MAX_SCALAR_TAGS} scalars not shown")
        return "; ".join(said)


# ---- the source

class TensorBoardSource(FollowingSource):
    """Reads TensorBoard event files into snapshots for the app, each run a stream; takes no commands."""

    what = "a TensorBoard log"
    # scalars, histograms of activations and of weights, a samples text tag, a folder of runs
    produces = frozenset({LOSS, SAMPLES, LAYERS, WEIGHTS, SCALARS, RUNS})
    promised = frozenset({LOSS})  # the rest shows as the log reveals it

    def __init__(self, paths: list[Path], follow: bool = True, tag: str | None = None,
                 reading: Reading = Reading()):
        """`paths` as check_log_paths returned them; `follow`: keep reading what is written; `tag`: the loss
        curve's scalar tag (default: the first a training loss's name, by is_training_loss); at most
        `reading.max_files` runs are shown, the most recently written."""
        require_tensorboard()
        super().__init__(follow, reading)
        self.tag = tag
        self._roots = [p for p in paths if not is_event_file(p)]
        self._runs: dict[Path, Run] = {}  # by run folder, or by the event file given alone
        self._left_out = 0  # runs past reading.max_files
        for path in paths:
            if is_event_file(path):
                name = _run_name(path.parent, path.parent.parent, len(paths))
                self._runs[path] = Run(name, None, [path], tag, follow)
        self.rescan()

    def _files(self) -> list[FollowedFile]:
        return [file for run in self._runs.values() for file in run.files]

    def _find_files(self) -> None:
        found = {folder: root for root in self._roots for folder in run_folders(root)
                 if folder not in self._runs}
        room = max(self.reading.max_files - len(self._runs), 0)
        newest_first = sorted(found, key=_last_written, reverse=True)
        for folder in newest_first[:room]:
            self._runs[folder] = Run(_run_name(folder, found[folder], len(self._roots)), folder, [], self.tag,
                                     self.follow)
        self._left_out = max(len(found) - room, 0)
        for run in self._runs.values():
            run.add_files()

    def _read(self, until: float) -> list[Arrival]:
        items: list[Arrival] = []
        for run in self._runs.values():
            caught_up = True
            for file in run.files:
                for record in file.read(self.reading.chunk_bytes, until):
                    run.decode(record, items)
                if file.loading:
                    caught_up = False
                    break  # out of time: the rest next batch, in order
            run.flush(items, hold_histograms_of=None if caught_up else run.histogram_step)
            if time.monotonic() >= until:
                break
        return items

    def _ended(self) -> list[Arrival]:
        """Each run's last state, once the log is read whole."""
        items: list[Arrival] = []
        for run in self._runs.values():
            if run.snapshots:
                run.flush(items, state=DONE)
        return items

    # ---- what the status line says

    def _status(self) -> SourceStatus:
        runs = list(self._runs.values())
        problems = [said for said in (run.problem() for run in runs) if said]
        if self._left_out:
            problems.append(f"{self._left_out} more runs not shown (the {self.reading.max_files} most "
                            "recently written are): give run folders to choose")
        loading = [run for run in runs if any(f.unread for f in run.files)]
        if not runs:
            text = "waiting for event files in " + ", ".join(str(p) for p in self._roots)
        elif loading:
            text = "reading " + _names(loading)
        elif not any(run.snapshots for run in runs):
            text = "waiting for the first scalar or histogram of " + _names(runs)
        else:
            text = ("following " if self.follow else "read ") + _names(runs)
        if problems:
            text = "; ".join(problems) + " · " + text
        return SourceStatus(text, progress=progress(self._files(), self.reading.progress_from_bytes),
                            warning=bool(problems), ended=not self.follow and not loading)


def _names(runs: list[Run]) -> str:
    return runs[0].name if len(runs) == 1 else f"{len(runs)} runs"


def _run_name(folder: Path, root: Path, roots: int) -> str:
    """A run as TensorBoard names it: its folder within the log folder given; the log folder's name for
    itself, and before the run's when several were given."""
    inner = folder.relative_to(root) if folder.is_relative_to(root) else Path(folder.name)
    if inner == Path("."):
        return folder.resolve().name or str(folder)
    return str(Path(root.resolve().name) / inner) if roots > 1 else str(inner)


def _last_written(folder: Path) -> float:
    try:
        return max(os.stat(folder / n).st_mtime for n in os.listdir(folder)
                   if n.startswith(EVENT_FILE_PREFIX))
    except (OSError, ValueError):
        return 0.0
