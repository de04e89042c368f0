"""TensorBoard logs as a source: event files read with tensorboard's own reader, each run folder a stream, followed.

Scalars become the loss curve (the tag is_training_loss names, or --tag), evaluations and named scalars;
histograms (add_histogram) become activation layers of that tag, or weights' histograms where the tag names a
weight (weights/..., layer1.bias), one snapshot per step that logged any.
"""

from __future__ import annotations

import math
import os
import re
import stat
import struct
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmtui.records import (DONE, LAYERS, LOSS, OTHER, RUNNING, RUNS, SAMPLES, SCALARS, WEIGHTS, ActivationStats,
                           Arrival, Command, EvalResult, Histogram, RunInfo, Scalar, Snapshot, SourceStatus)
from mmtui.runfile import MAX_TEXT
from mmtui.scalar_names import is_learning_rate, is_training_loss, is_validation_loss
from mmtui.sources.run_file import NO_RUNS_IN_FOLDER, RunFilePathError, newest_run_files

EVENT_FILE_PREFIX = "events.out.tfevents."  # how every TensorBoard writer names its files
INSTALL_HINT = "reading TensorBoard logs needs the tensorboard package: pip install 'mmtui[tensorboard]'"
BATCH_S = 0.05  # receive() hands back what it parsed in this long, so a large log draws as it loads
RESCAN_S = 1.0  # how often followed log folders are searched for new runs and event files
PROGRESS_FROM_BYTES = 16 * 1024 * 1024  # a backlog this large shows a progress bar while it loads
RECORD_OVERHEAD = 16  # a TFRecord's framing: length (8 bytes), its CRC (4), then the data and its CRC (4)
HIST_BINS = 50  # a histogram is redrawn on this many even bins, as mmtui's own (TensorBoard's are exponential)
MAX_RUNS = 32  # runs shown at most, the most recently written first: each keeps a bounded history in the app
MAX_HISTOGRAM_TAGS = 16  # histogram tags shown per run, in the order first logged: each is a layer kept 64 times
# A histogram tag with one of these words among its words (split at / . _ -) is a weight's: "weights/fc1",
# "layer1.weight", "dense/kernel", "weight_gradients/W1" (mmtui export's); Lightning's and Keras's ways of logging
# parameters. Matched without case.
WEIGHT_WORDS = frozenset({"weight", "weights", "bias", "biases", "kernel", "param", "params", "parameters"})
TAG_WORDS = re.compile(r"[/._-]")
MAX_SCALAR_TAGS = 64  # other scalar tags kept per run, each a bounded sparkline
SAMPLES_TAG = "samples"  # a text tag shown in the Samples panel: what `mmtui export --tensorboard` writes
# What tells which framework wrote a log: Lightning's logger saves its hyperparameters beside the event files, and
# a transformers Trainer logs its arguments as this text tag.
LIGHTNING_FILE, TRAINER_TAG = "hparams.yaml", "args/text_summary"
MAX_SAMPLES = 1000  # names taken from one text value
MAX_STEP = 2 ** 53  # the largest step a float axis places exactly, as the run file's reader takes
MAX_RECORD_BYTES = 1 << 30  # a record longer than this is damage (a length gone wrong), not one being written
TAGS_NAMED = 6  # tags listed in a note that no loss tag was found
WHOLE, CUT_SHORT = "whole", "cut short"  # what _record_state finds where a reader stopped, besides damage


class TensorBoardMissing(RuntimeError):
    """The tensorboard package is not installed: INSTALL_HINT says how to get it."""


def require_tensorboard() -> None:
    """Raise TensorBoardMissing unless tensorboard's event reader can be imported."""
    try:
        from tensorboard.backend.event_processing import event_file_loader  # noqa: F401
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
    """The event files and log folders to view, checked; raises RunFilePathError naming the first problem. With
    `wait`, a path that does not exist yet, or a folder with no event files yet, is awaited instead. Raises
    TensorBoardMissing first where tensorboard is not installed."""
    require_tensorboard()
    checked = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise RunFilePathError(f"{given}: the folder cannot be read")
            if not run_folders(path) and not wait:
                raise RunFilePathError(f"{given}: {NO_RUNS_IN_FOLDER}")
        elif not path.exists():
            if not wait:
                raise RunFilePathError(f"{given}: no such file (--wait waits for it)")
        elif not path.is_file():
            raise RunFilePathError(f"{given}: not a regular file")
        elif not os.access(path, os.R_OK):
            raise RunFilePathError(f"{given}: cannot be read")
        else:
            problem = first_record_problem(path)
            if problem:
                raise RunFilePathError(f"{given}: {problem}")
        checked.append(path)
    return checked


def first_record_problem(path: Path) -> str | None:
    """Why a file is no event file at all (its first record is damaged), in words; None if it reads, or is too
    short yet to tell (a writer that has just begun)."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader

    size = path.stat().st_size
    if size < RECORD_OVERHEAD:
        return None
    state = _record_state(path, 0, size)
    if state not in (WHOLE, CUT_SHORT):
        return f"not a TensorBoard event file (its first record {state})"
    try:
        first = next(iter(RawEventFileLoader(str(path)).Load()), None)
    except Exception as error:  # noqa: BLE001 - tensorboard's reader raises its own error types
        return f"cannot be read ({_said(error)})"
    if first is None and state == WHOLE:
        return "not a TensorBoard event file (its first record is damaged)"
    return None


def _regular(path: Path) -> bool:
    """A regular file: a FIFO named like an event file would block its reader for good."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _said(error: Exception) -> str:
    """An error in words, its type's name where it has none (a MemoryError's)."""
    return str(error) or type(error).__name__


# ---- histograms

def rebinned(buckets: list[tuple[float, float, float]], low: float, high: float) -> tuple[tuple[float, ...],
                                                                                           tuple[int, ...]]:
    """(left, right, count) buckets spread over HIST_BINS even bins on [low, high], each count shared by overlap."""
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

@dataclass
class EventFile:
    """One event file of a run: its reader, how far it is read, and what went wrong."""

    path: Path
    loader: object | None = None  # tensorboard's RawEventFileLoader; dropped once the file is read for good
    position: int = 0  # bytes of whole records read
    backlog: int = 0  # bytes present when it was first opened: the load the progress bar tracks
    at_end: bool = False  # every readable record read
    writing: bool = False  # a record past `position` is cut short: a writer is amid it (or, not followed, stopped)
    problem: str = ""  # why reading stopped: a damaged record, the file gone


@dataclass
class News:
    """What a run logged since its previous snapshot."""

    first_loss_step: int | None = None
    losses: list[float] = field(default_factory=list)
    first_loss_time: float = 0.0  # wall times of the first and the latest loss, for the rate
    last_loss_time: float = 0.0
    evals: list[EvalResult] = field(default_factory=list)
    scalars: list[Scalar] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    histogram_step: int | None = None  # the step of histograms logged since the previous snapshot
    step: int = 0  # the latest step seen

    def empty(self) -> bool:
        return not (self.losses or self.evals or self.scalars or self.samples or self.histogram_step is not None)


class Run:
    """One TensorBoard run (a folder's event files, or one file given alone) read into snapshots of one stream."""

    def __init__(self, name: str, folder: Path | None, files: list[Path], tag: str | None):
        self.name = name
        self.folder = folder  # rescanned for new event files; None for a file given alone
        self.files = [EventFile(p) for p in files]
        self.tag = tag  # the loss curve's tag: the given one, or the first is_training_loss names
        self.run_id = 1
        self.framework = "Lightning" if folder is not None and (folder / LIGHTNING_FILE).exists() else ""
        self.info = self._info()
        self.news = News()
        self.layers: dict[str, ActivationStats] = {}  # each histogram tag's latest, in the order first logged
        self.weights: dict[str, Histogram] = {}  # the same of the tags that name weights
        self.tags: dict[str, None] = {}  # scalar tags seen, in order, to say which there are when none is a loss
        self.scalar_tags: set[str] = set()  # the other scalars' tags kept, at most MAX_SCALAR_TAGS
        self.hidden_histograms: set[str] = set()  # tags past MAX_HISTOGRAM_TAGS
        self.hidden_scalars: set[str] = set()  # tags past MAX_SCALAR_TAGS
        self.plugin: dict[str, str] = {}  # tensor tags' plugin, which TF2 writers give with a tag's first value
        self.last_loss_step: int | None = None
        self.last_loss: float | None = None
        self.init_loss: float | None = None
        self.lr: float | None = None
        self.snapshots = 0
        self.events = 0
        self.damaged = 0  # records that passed their checksum yet hold no event
        self.skipped = 0  # values with no number their tag's plugin promises (a tensor logged as a scalar),
        # or steps below 0: none drawn
        self.last_skip = ""  # what the latest was

    def _info(self) -> RunInfo:
        """The run as the status line names it: a TensorBoard log, of the framework that wrote it where known; no
        model is named in a log."""
        settings = {"log": "TensorBoard", **({"framework": self.framework} if self.framework else {})}
        return RunInfo(run_id=self.run_id, name=self.name, model="", settings=settings, stream=self.name)

    def add_files(self) -> None:
        """Event files that appeared in the run's folder since the last look, in the order TensorBoard reads."""
        if self.folder is None:
            return
        try:
            names = sorted(n for n in os.listdir(self.folder) if n.startswith(EVENT_FILE_PREFIX))
        except OSError:
            return
        known = {f.path.name for f in self.files}
        new = [self.folder / n for n in names if n not in known]
        self.files.extend(EventFile(path) for path in new if _regular(path))

    # ---- events into news

    def take(self, record: bytes, out: list[Arrival]) -> None:
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
        """One summary value into the news: a scalar, a histogram, samples or the trainer's own text."""
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
            self.info = self._info()

    def _scalar(self, tag: str, step: int, number: float, wall_time: float, out: list[Arrival]) -> None:
        self.tags.setdefault(tag)
        if self.tag is None and is_training_loss(tag):
            self.tag = tag
        news = self.news
        if tag == self.tag:
            if self.last_loss_step is not None and step <= self.last_loss_step:
                self._new_run(out)  # the step went back: a new training logged into the same run
            elif news.losses and step != news.first_loss_step + len(news.losses):
                self.flush(out, hold_histograms_of=step)  # a snapshot's losses are of consecutive steps
            news = self.news
            if not news.losses:
                news.first_loss_step, news.first_loss_time = step, wall_time
                if self.init_loss is None and step == 0:
                    self.init_loss = number
            news.losses.append(number)
            news.last_loss_time = wall_time
            self.last_loss_step = step
            if math.isfinite(number):
                self.last_loss = number
        elif is_validation_loss(tag):
            news.evals.append(EvalResult(step, None, number))
        elif tag in self.scalar_tags or len(self.scalar_tags) < MAX_SCALAR_TAGS:
            self.scalar_tags.add(tag)
            news.scalars.append(Scalar(tag, step, number))
            if is_learning_rate(tag):
                self.lr = number
        else:
            self.hidden_scalars.add(tag)
        news.step = max(news.step, step)

    def _histogram(self, value, step: int, out: list[Arrival]) -> None:
        tag = value.tag
        known = tag in self.layers or tag in self.weights
        if not known and len(self.layers) + len(self.weights) >= MAX_HISTOGRAM_TAGS:
            self.hidden_histograms.add(tag)
            return
        stats = histogram_stats(tag, step, value)
        if stats is None:
            return
        if self.news.histogram_step is not None and step != self.news.histogram_step:
            self.flush(out)  # one snapshot per step that logged histograms
        if is_weight_tag(tag):
            self.weights[tag] = Histogram(tag, step, stats.mean, stats.std, stats.hist_edges, stats.hist_counts)
        else:
            self.layers[tag] = stats
        self.news.histogram_step = step
        self.news.step = max(self.news.step, step)

    def _samples(self, value, step: int) -> None:
        from tensorboard.util import tensor_util

        text = tensor_util.make_ndarray(value.tensor)
        for item in text.flat:
            line = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
            names = [name.strip()[:MAX_TEXT] for name in line.splitlines() if name.strip()]  # as a run file's
            self.news.samples.extend(names[:MAX_SAMPLES])
        self.news.step = max(self.news.step, step)

    def _new_run(self, out: list[Arrival]) -> None:
        self.flush(out)
        self.run_id += 1
        self.info = self._info()
        self.layers, self.weights, self.last_loss_step, self.last_loss, self.init_loss = {}, {}, None, None, None

    # ---- news into snapshots

    def flush(self, out: list[Arrival], state: str = RUNNING, hold_histograms_of: int | None = None) -> None:
        """The news as a snapshot; histograms of step `hold_histograms_of` wait for the rest of that step's."""
        news = self.news
        if news.empty() and state == RUNNING:
            return
        held = news.histogram_step is not None and news.histogram_step == hold_histograms_of
        with_layers = news.histogram_step is not None and not held
        layers = tuple(replace(s, layer=i) for i, s in enumerate(self.layers.values(), 1))
        seconds = news.last_loss_time - news.first_loss_time
        rate = (len(news.losses) - 1) / seconds if seconds > 0 else 0.0
        step = max(news.step, self.last_loss_step or 0)
        out.append(Snapshot(
            run=self.info, state=state, step=step,
            first_loss_step=news.first_loss_step if news.first_loss_step is not None else step,
            losses=tuple(news.losses), lr=self.lr, steps_per_s=rate, init_loss=self.init_loss,
            layers=layers if with_layers else (), params=(), evals=tuple(news.evals), samples=tuple(news.samples),
            last_finite_loss=self.last_loss, diverged_loss=None, scalars=tuple(news.scalars),
            weights=tuple(self.weights.values()) if with_layers else ()))
        self.snapshots += 1
        self.news = News(step=step, histogram_step=news.histogram_step if held else None)

    # ---- what the status line says of it

    def problem(self) -> str:
        said = [f"{self.name}: {f.problem}" for f in self.files if f.problem]
        said += [f"{self.name}: {f.path.name} ends in a truncated record: showing the records before it"
                 for f in self.files if f.writing and f.at_end and not f.problem and not f.loader]
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

class TensorBoardSource:
    """Reads TensorBoard event files into snapshots for the app, each run a stream; takes no commands.

    receive() does the reading, in the app's worker thread, as the run-file source does.
    """

    commands: frozenset[type] = frozenset()
    # scalars, histograms of activations and of weights, a samples text tag, a folder of runs
    produces = frozenset({LOSS, SAMPLES, LAYERS, WEIGHTS, SCALARS, RUNS})
    promised = frozenset({LOSS})  # the rest shows as the log reveals it

    def __init__(self, paths: list[Path], follow: bool = True, tag: str | None = None):
        """`paths` as check_log_paths returned them; `follow`: keep reading what is written; `tag`: the loss
        curve's scalar tag (default: the first a training loss's name, by is_training_loss)."""
        require_tensorboard()
        self.follow = follow
        self.tag = tag
        self._roots = [p for p in paths if not is_event_file(p)]
        self._runs: dict[Path, Run] = {}  # by run folder, or by the event file given alone
        self._left_out = 0  # runs past MAX_RUNS
        for path in paths:
            if is_event_file(path):
                self._runs[path] = Run(_run_name(path.parent, path.parent.parent, len(paths)), None, [path], tag)
        self._scanned_at = 0.0
        self._rescan()
        self._closed = threading.Event()
        self._said: SourceStatus | None = None
        self._ended_sent = False

    def _rescan(self) -> None:
        self._scanned_at = time.monotonic()
        found = {folder: root for root in self._roots for folder in run_folders(root) if folder not in self._runs}
        room = MAX_RUNS - len(self._runs)
        newest_first = sorted(found, key=_last_written, reverse=True)
        for folder in newest_first[:max(room, 0)]:
            self._runs[folder] = Run(_run_name(folder, found[folder], len(self._roots)), folder, [], self.tag)
        self._left_out = max(len(found) - max(room, 0), 0)
        for run in self._runs.values():
            run.add_files()

    # ---- the Source protocol

    def send(self, command: Command) -> None:
        raise ValueError(f"a TensorBoard log takes no commands ({type(command).__name__})")

    def cancel(self) -> None:
        self._closed.set()

    def close(self) -> None:
        self._closed.set()
        for run in self._runs.values():
            for file in run.files:
                file.loader = None

    def receive(self, timeout: float) -> list[Arrival]:
        """What was read in up to BATCH_S, waiting up to `timeout` for something when nothing is new."""
        deadline = time.monotonic() + timeout
        while True:
            items = self._read_batch()
            status = self._status()
            if status.ended and not self._ended_sent:
                self._ended_sent = True
                for run in self._runs.values():
                    if run.snapshots:
                        run.flush(items, state=DONE)  # read whole: each run's last state
            if status != self._said:
                self._said = status
                items.append(status)
            if items or self._closed.is_set() or time.monotonic() >= deadline:
                return items
            self._closed.wait(min(BATCH_S, max(0.0, deadline - time.monotonic())))

    # ---- reading

    def _read_batch(self) -> list[Arrival]:
        if self._closed.is_set():
            return []
        if self.follow and self._roots and time.monotonic() - self._scanned_at >= RESCAN_S:
            self._rescan()
        items: list[Arrival] = []
        until = time.monotonic() + BATCH_S
        for run in self._runs.values():
            caught_up = True
            for file in run.files:
                if file.problem:
                    continue
                if not self._read_file(run, file, until, items):
                    caught_up = False
                    break  # out of time: the rest next batch, in order
            run.flush(items, hold_histograms_of=None if caught_up else run.news.histogram_step)
            if time.monotonic() >= until:
                break
        return items

    def _read_file(self, run: Run, file: EventFile, until: float, items: list[Arrival]) -> bool:
        """Read records until the file's end or `until`; False when time ran out first."""
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader

        newest = file is run.files[-1]
        if file.loader is None:
            if file.at_end and not (newest and self.follow):
                return True  # read whole: a newer file has taken over, or the log is not followed
            try:
                file.backlog = os.stat(file.path).st_size
                file.loader = RawEventFileLoader(str(file.path))
            except Exception as error:  # noqa: BLE001 - tensorboard's reader raises its own error types
                file.problem = f"{file.path.name} cannot be read ({_said(error)})"
                return True
        try:
            for record in file.loader.Load():
                file.position += len(record) + RECORD_OVERHEAD
                run.take(record, items)
                if time.monotonic() >= until:
                    file.at_end = False
                    return False
        except Exception as error:  # noqa: BLE001 - a file deleted or unreadable mid-read: keep what was drawn
            file.problem = f"{file.path.name} cannot be read past byte {file.position:,} ({_said(error)}): " \
                           "showing what was read"
            file.loader = None
            return True
        file.at_end = True
        file.backlog = 0
        self._check_damage(file)
        if not newest or not self.follow:
            file.loader = None  # its buffer goes; a file no writer appends to is read for good
        return True

    def _check_damage(self, file: EventFile) -> None:
        """What stopped the reader short of the file's end: a record cut short (a writer amid it: read once
        complete), one completed since the reader stopped (read next batch), or a damaged one, which
        tensorboard's reader never passes."""
        try:
            size = os.stat(file.path).st_size
        except OSError:
            return
        file.writing = False
        if size <= file.position:
            return
        state = _record_state(file.path, file.position, size)
        if state == CUT_SHORT:
            file.writing = True
        elif state != WHOLE:
            file.problem = f"{file.path.name}: the record at byte {file.position:,} of {size:,} {state}: " \
                           "showing the records before it"
            file.loader = None

    # ---- what the status line says

    def _status(self) -> SourceStatus:
        runs = list(self._runs.values())
        problems = [said for said in (run.problem() for run in runs) if said]
        if self._left_out:
            problems.append(f"{self._left_out} more runs not shown (the {MAX_RUNS} most recently written are): "
                            f"give run folders to choose")
        files = [f for run in runs for f in run.files]
        loading = [run for run in runs if any(not f.at_end and not f.problem for f in run.files)]
        backlog = sum(f.backlog for f in files)
        progress = None
        if loading and backlog >= PROGRESS_FROM_BYTES:
            progress = min(1.0, sum(min(f.position, f.backlog) for f in files if f.backlog) / backlog)
        ended = not self.follow and not loading
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
        return SourceStatus(text, progress=progress, warning=bool(problems), ended=ended)


def _names(runs: list[Run]) -> str:
    return runs[0].name if len(runs) == 1 else f"{len(runs)} runs"


def _run_name(folder: Path, root: Path, roots: int) -> str:
    """A run as TensorBoard names it: its folder within the log folder given; the log folder's name for itself,
    and before the run's when several were given."""
    inner = folder.relative_to(root) if folder.is_relative_to(root) else Path(folder.name)
    if inner == Path("."):
        return folder.resolve().name or str(folder)
    return str(Path(root.resolve().name) / inner) if roots > 1 else str(inner)


def _last_written(folder: Path) -> float:
    try:
        return max(os.stat(folder / n).st_mtime for n in os.listdir(folder) if n.startswith(EVENT_FILE_PREFIX))
    except (OSError, ValueError):
        return 0.0


def _record_state(path: Path, position: int, size: int) -> str:
    """The record at `position` of a file `size` bytes long: WHOLE (its checksums right: written since the
    reader stopped), CUT_SHORT (its length read and right, its end not written yet), or why it is damaged, in
    words ("has a bad length checksum")."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    if size - position < 12:
        return CUT_SHORT
    try:
        with open(path, "rb") as file:
            file.seek(position)
            header = file.read(12)
            (length,), (crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
            if masked_crc32c(header[:8]) != crc:
                return "has a bad length checksum"
            if length > MAX_RECORD_BYTES:
                return f"claims {length:,} bytes"
            if size - position < length + RECORD_OVERHEAD:
                return CUT_SHORT
            data, (data_crc,) = file.read(length), struct.unpack("<I", file.read(4))
    except (OSError, struct.error):
        return CUT_SHORT  # gone, unreadable or shrunk: the next read says so
    return WHOLE if masked_crc32c(data) == data_crc else "has a bad data checksum"
