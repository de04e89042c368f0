"""The run file: the one writer and the one reader of mmtui's versioned, lossless JSON-lines record of runs.

A file is a "header" line (format and version), then per run a "start" line and one "snapshot" line per
snapshot, each carrying every field the panels draw; "eval", "saved", "save_failed", "diverged" and "done" lines
follow for scripts and are derived from the snapshots, so the reader skips them. JSON has no NaN or inf: a float that is not finite is
written as the string "NaN", "Infinity" or "-Infinity". A writer that opens a file again appends a new header.
"""

from __future__ import annotations

import json
import math
from typing import Any, TextIO

from mmtui import __version__
from mmtui.records import (BOUNDED, DIVERGED, DONE, STOPPED, ActivationStats, EvalResult, ParamStats, RunInfo, Scalar,
                           Snapshot)

FORMAT = "mmtui-run"
VERSION = 1  # raise it when a field changes meaning or goes; the reader refuses a newer version by name
DERIVED_EVENTS = frozenset({"eval", "saved", "save_failed", "diverged", "done"})
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class RunFileError(ValueError):
    """A file, or one line of it, that is no mmtui run file of a version this mmtui reads."""


# ---- values

def _number(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


def _numbers(values) -> list:
    return [v if math.isfinite(v) else _number(v) for v in values]


def _float(value) -> float | None:
    if isinstance(value, str):
        if value not in NON_FINITE:
            raise RunFileError(f"{value!r} is not a number")
        return NON_FINITE[value]
    if value is not None and not isinstance(value, (int, float)):
        raise RunFileError(f"{value!r} is not a number")
    return value


def _floats(values) -> tuple[float, ...]:
    return tuple(v if type(v) is float else _float(v) for v in values)


# ---- the events scripts read

class ScriptEvents:
    """The "eval", "saved", "save_failed", "diverged" and "done" events of snapshots, each run's end once; the run
    file and the headless stdout both write them."""

    def __init__(self) -> None:
        self._ended: tuple[int, str] | None = None  # (run, state) of the latest "diverged" or "done" event

    def of(self, snap: Snapshot) -> list[tuple[str, dict[str, Any]]]:
        events = [("eval", {"step": e.step, "train_loss": finite_or_none(e.train_loss),
                            "val_loss": finite_or_none(e.val_loss)}) for e in snap.evals]
        if snap.saved is not None:
            events.append(("saved", {"step": snap.step, "path": snap.saved}))
        if snap.save_error is not None:
            events.append(("save_failed", {"step": snap.step, "error": snap.save_error}))
        ended = (snap.run.run_id, snap.state)
        if snap.state not in (DIVERGED, DONE, STOPPED) or ended == self._ended:
            return events  # a later snapshot of an ended run (a Save's) ends nothing
        self._ended = ended
        if snap.state == DIVERGED:
            events.append(("diverged", {"step": snap.step - 1, "loss": finite_or_none(snap.diverged_loss),
                                        "last_finite_loss": finite_or_none(snap.last_finite_loss)}))
        elif snap.evals:
            final = snap.evals[-1]
            events.append(("done", {"state": snap.state, "step": snap.step,
                                    "train_loss": finite_or_none(final.train_loss),
                                    "val_loss": finite_or_none(final.val_loss), "samples": list(snap.samples)}))
        return events


def finite_or_none(value: float | None) -> float | None:
    """Scripts' events give null for NaN and inf, as they always have."""
    return value if value is not None and math.isfinite(value) else None


# ---- the writer

def _layer(s: ActivationStats) -> dict[str, Any]:
    return {"layer": s.layer, "step": s.step, "units": s.units, "mean": _number(s.mean), "std": _number(s.std),
            "saturation": _number(s.saturation), "share_99": _number(s.share_99), "dead_units": s.dead_units,
            "saturated_at": s.saturated_at, "white_at": s.white_at,
            "hist_edges": _numbers(s.hist_edges), "hist_counts": list(s.hist_counts),
            "grad_mean": _number(s.grad_mean), "grad_std": _number(s.grad_std),
            "grad_hist_edges": _numbers(s.grad_hist_edges), "grad_hist_counts": list(s.grad_hist_counts),
            "white_rows": [format(row, "x") for row in s.white_rows], "name": s.name, "kind": s.kind,
            "flat_below": s.flat_below}


def _param(p: ParamStats) -> dict[str, Any]:
    return {"name": p.name, "shape": list(p.shape), "grad_mean": _number(p.grad_mean),
            "grad_std": _number(p.grad_std), "grad_data_ratio": _number(p.grad_data_ratio),
            "update_ratio_log10": _number(p.update_ratio_log10), "grad_hist_edges": _numbers(p.grad_hist_edges),
            "grad_hist_counts": list(p.grad_hist_counts)}


def snapshot_line(snap: Snapshot) -> dict[str, Any]:
    """A snapshot as its run file line: every field, the run named by its run_id."""
    return {"event": "snapshot", "run_id": snap.run.run_id, "state": snap.state, "step": snap.step,
            "first_loss_step": snap.first_loss_step, "losses": _numbers(snap.losses), "lr": _number(snap.lr),
            "steps_per_s": _number(snap.steps_per_s), "init_loss": _number(snap.init_loss),
            "last_finite_loss": _number(snap.last_finite_loss), "diverged_loss": _number(snap.diverged_loss),
            "evals": [{"step": e.step, "train_loss": _number(e.train_loss), "val_loss": _number(e.val_loss)}
                      for e in snap.evals],
            "samples": list(snap.samples), "saved": snap.saved, "save_error": snap.save_error,
            "layers": [_layer(s) for s in snap.layers], "params": [_param(p) for p in snap.params],
            "scalars": [[s.name, s.step, _number(s.value)] for s in snap.scalars], "notes": list(snap.notes)}


def start_line(info: RunInfo) -> dict[str, Any]:
    return {"event": "start", "run_id": info.run_id, "name": info.name, "model": info.model,
            "settings": info.settings, "total_steps": info.total_steps, "num_params": info.num_params,
            "vocab_size": info.vocab_size, "expected_init_loss": _number(info.expected_init_loss)}


def header_line() -> dict[str, Any]:
    return {"event": "header", "format": FORMAT, "version": VERSION, "writer": f"mmtui {__version__}"}


class RunFileWriter:
    """Writes snapshots to a text stream as run file lines, each line flushed: a reader following the file, or a
    crash, sees whole lines only, and a crash loses at most the line in flight."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self._run: RunInfo | None = None
        self._events = ScriptEvents()
        self._write(header_line())

    def _write(self, line: dict[str, Any]) -> None:
        self.stream.write(json.dumps(line, allow_nan=False, separators=(",", ":")) + "\n")

    def write(self, snap: Snapshot) -> None:
        if snap.run != self._run:
            self._run = snap.run
            self._write(start_line(snap.run))
        self._write(snapshot_line(snap))
        for event, fields in self._events.of(snap):
            self._write({"event": event, "run_id": snap.run.run_id, **fields})
        self.stream.flush()


def open_run_file(path: str) -> TextIO:
    """A --log file, appended to and line-buffered."""
    return open(path, "a", encoding="utf-8", buffering=1)


class RunLog:
    """A run's --log file, written until a write fails (a full disk, a file system gone): then closed and never
    written again, its lines so far kept whole (a reader skips the one cut short), and training goes on."""

    def __init__(self, path: str):
        """Raises OSError when the file cannot be opened or its header written."""
        self.path = path
        self._stream = open_run_file(path)
        try:
            self._writer = RunFileWriter(self._stream)
        except OSError:
            self.close()
            raise
        self.error: str | None = None  # why writing stopped, once it did

    def write(self, snap: Snapshot) -> str | None:
        """Write the snapshot's lines; the error in one line the first time a write fails, else None."""
        if self.error is not None:
            return None
        try:
            self._writer.write(snap)
        except OSError as error:
            self.error = f"cannot write run log {self.path}: {error.strerror or error}; it stops here"
            self.close()
            return self.error
        return None

    def close(self) -> None:
        try:
            self._stream.close()  # a close that flushes into a full disk raises, and closes the file all the same
        except OSError as error:
            if self.error is None:
                self.error = f"cannot write run log {self.path}: {error.strerror or error}"


# ---- the reader

class RunFileReader:
    """Turns the lines of one run file, in order, into Snapshots; read_line raises RunFileError for a damaged line,
    after which the next lines still read."""

    def __init__(self, stream: str = ""):
        """`stream`: the name every RunInfo read gets (the file's); a second session appended to the file gets
        "(session 2)" after it, so its runs are told from the first session's."""
        self.stream = stream
        self.sessions = 0  # header lines read
        self.runs: dict[int, RunInfo] = {}  # this session's runs by run_id

    def read_line(self, line: str | bytes) -> Snapshot | None:
        """The snapshot of a "snapshot" line; None for every other line."""
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError) as error:
            raise RunFileError(f"not JSON ({_reason(error)})") from None
        if not isinstance(record, dict):
            raise RunFileError("not a JSON object")
        if "format" in record:
            self._header(record)
            return None
        if not self.sessions:
            raise RunFileError("no mmtui run file header before this line")
        event = record.get("event")
        try:
            if event == "snapshot":
                return self._snapshot(record)
            if event == "start":
                self._start(record)
                return None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RunFileError(f"a damaged {event!r} line ({_reason(error)})") from None
        if event in DERIVED_EVENTS:
            return None
        raise RunFileError(f"unknown event {event!r}")

    def _header(self, record: dict) -> None:
        check_header(record)
        self.sessions += 1
        self.runs = {}

    def _start(self, r: dict) -> None:
        stream = self.stream if self.sessions == 1 else f"{self.stream} (session {self.sessions})"
        settings = r["settings"]
        if not isinstance(settings, dict):
            raise TypeError("settings is not an object")
        self.runs[r["run_id"]] = RunInfo(
            run_id=r["run_id"], name=str(r["name"]), model=str(r["model"]), settings=settings,
            total_steps=r["total_steps"], num_params=r["num_params"], vocab_size=r["vocab_size"],
            expected_init_loss=_float(r["expected_init_loss"]), stream=stream)

    def _snapshot(self, r: dict) -> Snapshot:
        run = self.runs.get(r["run_id"])
        if run is None:
            raise ValueError(f"run {r['run_id']!r} has no start line")
        return Snapshot(
            run=run, state=str(r["state"]), step=int(r["step"]), first_loss_step=int(r["first_loss_step"]),
            losses=_floats(r["losses"]), lr=_float(r["lr"]), steps_per_s=_float(r["steps_per_s"]),
            init_loss=_float(r["init_loss"]), layers=tuple(_read_layer(s) for s in r["layers"]),
            params=tuple(_read_param(p) for p in r["params"]),
            evals=tuple(EvalResult(int(e["step"]), _float(e["train_loss"]), _float(e["val_loss"])) for e in r["evals"]),
            samples=tuple(str(name) for name in r["samples"]), last_finite_loss=_float(r["last_finite_loss"]),
            diverged_loss=_float(r["diverged_loss"]), saved=r["saved"], save_error=r["save_error"],
            scalars=tuple(Scalar(str(name), int(step), _float(value)) for name, step, value in r.get("scalars", ())),
            notes=tuple(str(note) for note in r.get("notes", ())))


def check_header(record: dict) -> None:
    """Raise RunFileError unless `record` is the header of a run file this mmtui reads."""
    if record.get("format") != FORMAT:
        raise RunFileError("not an mmtui run file (its first line has no \"format\": \"mmtui-run\")")
    version = record.get("version")
    if version != VERSION:
        newer = isinstance(version, int) and version > VERSION
        raise RunFileError(f"run file version {version!r}" + (" is newer than this mmtui reads" if newer else "")
                           + f" (this mmtui reads version {VERSION}{'; upgrade mmtui' if newer else ''})")


def _read_layer(s: dict) -> ActivationStats:
    return ActivationStats(
        step=int(s["step"]), saturation=_float(s["saturation"]), share_99=_float(s["share_99"]),
        dead_units=int(s["dead_units"]), units=int(s["units"]), mean=_float(s["mean"]), std=_float(s["std"]),
        hist_edges=_floats(s["hist_edges"]), hist_counts=tuple(int(n) for n in s["hist_counts"]),
        layer=int(s["layer"]), grad_mean=_float(s["grad_mean"]), grad_std=_float(s["grad_std"]),
        grad_hist_edges=_floats(s["grad_hist_edges"]), grad_hist_counts=tuple(int(n) for n in s["grad_hist_counts"]),
        white_rows=tuple(int(row, 16) for row in s["white_rows"]), saturated_at=_float(s["saturated_at"]),
        white_at=_float(s["white_at"]), name=str(s.get("name", "")), kind=str(s.get("kind", BOUNDED)),
        flat_below=_float(s.get("flat_below", 0.0)))


def _read_param(p: dict) -> ParamStats:
    return ParamStats(
        name=str(p["name"]), shape=tuple(int(n) for n in p["shape"]), grad_mean=_float(p["grad_mean"]),
        grad_std=_float(p["grad_std"]), grad_data_ratio=_float(p["grad_data_ratio"]),
        update_ratio_log10=_float(p["update_ratio_log10"]), grad_hist_edges=_floats(p["grad_hist_edges"]),
        grad_hist_counts=tuple(int(n) for n in p["grad_hist_counts"]))


def _reason(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 80 else text[:77] + "..."


def read_run_file(path: str) -> list[Snapshot]:
    """Every snapshot of a finished run file, in order; raises RunFileError naming the first damaged line."""
    reader = RunFileReader(path)
    snapshots = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            try:
                snapshot = reader.read_line(line)
            except RunFileError as error:
                raise RunFileError(f"{path}, line {number}: {error}") from None
            if snapshot is not None:
                snapshots.append(snapshot)
    return snapshots

