"""The run file: the one writer and the one (validating) reader of mmtui's versioned, lossless
JSON-lines record of runs.

A file is a "header" line (format and version), then per run a "start" line and one "snapshot" line per
snapshot, each carrying every field of its records; "eval", "saved", "save_failed", "diverged" and "done"
lines follow for scripts and are derived from the snapshots, so the reader skips them. JSON has no NaN or inf:
a float that is not finite is written as the string "NaN", "Infinity" or "-Infinity". A writer that opens a
file again appends a new header.

Version 2 writes the statistics compactly, losslessly: a layer's and a weight's fields under short keys, those
at their dataclass default left out, histogram edges that are even steps as their ends and count, the
dead-neuron bitmap and the counts (as varints) in base64. Version 1 files (every field under its name, edges
listed, bitmap rows in hex) still read.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from dataclasses import MISSING, Field, fields, replace
from typing import Any, TextIO

from mmtui import __version__
from mmtui.records import (BOUNDED, DIVERGED, DONE, FLAT, OTHER, RECTIFIER, STOPPED, ActivationStats,
                           EvalResult, Histogram, ParamStats, RunInfo, Scalar, Snapshot, TimeStats)

FORMAT = "mmtui-run"
VERSION = 2  # raise it when a field changes meaning or goes; the reader refuses a newer version by name
READS = (1, 2)  # the versions the reader takes
DERIVED_EVENTS = frozenset({"eval", "saved", "save_failed", "diverged", "done"})
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

# What the reader takes, at most: beyond these a line is damaged, however it came to be written.
MAX_LINE_BYTES = 8 * 1024 * 1024  # a line
MAX_DEPTH = 16  # arrays and objects within each other (the format needs 5; settings are free-form JSON)
MAX_COUNT = 2 ** 53  # a step, a count, an id: the integers a float and every JSON reader hold exactly
MAX_UNITS = 2 ** 32  # units of one layer
MAX_BINS = 10_000  # bins of one histogram
MAX_ITEMS = 1 << 20  # items of any other list: losses, samples, layers
MAX_TEXT = 10_000  # characters of a string: a name, a sample, a note
MAX_MAP_ROWS = 1024  # examples in a dead-neuron bitmap (the writers keep 32)
MAX_MAP_BYTES = 1 << 17  # bytes of one bitmap row: a million units
MAX_DIMENSIONS = 16  # of a weight's shape
MAX_SETTINGS = 1000  # entries of a run's settings
MAX_RUNS = 100_000  # runs in one session of a file
VARINT_BYTES = 8  # of a histogram count in version 2: up to MAX_COUNT

# Version 2's keys for the fields of layers and weights, which repeat dozens of times a line; a field not
# named here (one added to the records later) is written under its own name.
SHORT_KEYS = {"step": "s", "saturation": "sat", "share_99": "w99", "dead_units": "dead", "units": "u",
              "mean": "m", "std": "sd", "hist_edges": "he", "hist_counts": "hc", "layer": "l",
              "grad_mean": "gm", "grad_std": "gs", "grad_hist_edges": "ge", "grad_hist_counts": "gc",
              "white_rows": "wr", "saturated_at": "sa", "white_at": "wa", "name": "n", "kind": "k",
              "flat_below": "fb", "shape": "sh", "grad_data_ratio": "gd", "update_ratio_log10": "ud"}
KINDS = (BOUNDED, RECTIFIER, FLAT, OTHER)  # a layer's trouble measures
EDGES = {"hist_edges": "hist_counts", "grad_hist_edges": "grad_hist_counts"}  # each with the counts it bounds
COMPACT = (ActivationStats, ParamStats)  # the records version 2 writes under SHORT_KEYS, defaults left out
# floats that are never NaN or inf
FINITE = frozenset({"saturated_at", "white_at", "flat_below", "steps_per_s"})
JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
OPENING = frozenset(b"[{")


class RunFileError(ValueError):
    """A file, or one line of it, that is no mmtui run file of a version this mmtui reads."""


class _Bad(ValueError):
    """A field of a line that fails the format's schema, named: "layers[2].units: -1 is negative"."""


# ---- values

def _number(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


def _numbers(values) -> list:
    return [v if math.isfinite(v) else _number(v) for v in values]


def _f32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def _even_f64(low: float, high: float, bins: int) -> list[float]:
    width = (high - low) / bins
    return [low + i * width for i in range(bins)] + [high]


def _even_f32(low: float, high: float, bins: int) -> list[float]:
    """torch.linspace(low, high, bins + 1) in float32, as its CPU kernel computes it: from each
    end to the middle."""
    step = _f32(_f32(high - low) / bins)
    half = (bins + 1) // 2
    # then rounded
    exact = [low + step * i if i < half else high - step * (bins - i) for i in range(bins + 1)]
    return list(struct.unpack(f"{bins + 1}f", struct.pack(f"{bins + 1}f", *exact)))


EVEN_EDGES = {"f32": _even_f32, "f64": _even_f64}  # how even edges were computed, tried in turn by the writer


def _same_floats(a, b) -> bool:
    """Equal to the bit: -0.0 is not 0.0."""
    return len(a) == len(b) and struct.pack(f"{len(a)}d", *a) == struct.pack(f"{len(b)}d", *b)


def _edges(edges: tuple[float, ...]) -> list | dict:
    """Histogram edges as version 2 writes them: even steps as {"lo", "hi", "n", "by"}, others listed."""
    bins = len(edges) - 1
    if bins >= 2 and all(math.isfinite(e) for e in edges) and bins <= MAX_BINS:
        low, high = float(edges[0]), float(edges[-1])
        for rule, even in EVEN_EDGES.items():
            if ((rule != "f32" or _f32(low) == low and _f32(high) == high)
                    and _same_floats(even(low, high, bins), edges)):
                return {"lo": low, "hi": high, "n": bins, "by": rule}
    return _numbers(edges)


def _counts(counts: tuple[int, ...]) -> str:
    """Histogram counts as version 2 writes them: each a little-endian base-128 varint,
    the bytes in base64."""
    data = bytearray()
    for n in counts:
        while n >= 0x80:
            data.append(n & 0x7F | 0x80)
            n >>= 7
        data.append(n)
    return base64.b64encode(bytes(data)).decode("ascii")


def _bitmap(rows: tuple[int, ...]) -> dict:
    """The dead-neuron bitmap as version 2 writes it: every row in the same number of bytes, in base64."""
    width = max(((row.bit_length() + 7) // 8 for row in rows), default=0)
    data = b"".join(row.to_bytes(width, "little") for row in rows)
    return {"r": len(rows), "w": width, "b": base64.b64encode(data).decode("ascii")}


def _same(value, default) -> bool:
    """`value` is its field's default, to the bit: -0.0 is not 0.0, 1 is not 1.0."""
    if type(value) is not type(default):
        return False
    return float.hex(value) == float.hex(default) if isinstance(value, float) else value == default


def _default(f: Field):
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else MISSING


def _encode(record, keys: dict[str, str] | None = None, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A record's fields as JSON values; with `keys`, version 2's compact form (short keys, defaults left
    out). Written from the dataclass's fields, so a field added to the records is written, and read,
    with no change here."""
    line = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name in skip or keys is not None and _same(value, _default(f)):
            continue
        key = keys.get(f.name, f.name) if keys is not None else f.name
        if f.name in EDGES:
            line[key] = _edges(value)
        elif f.name in EDGES.values():
            line[key] = _counts(value)
        elif f.name == "white_rows":
            line[key] = _bitmap(value)
        else:
            line[key] = _json(value)
    return line


def _json(value):
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, tuple):
        return [_json(item) for item in value]
    return value


# ---- the events scripts read

class ScriptEvents:
    """The "eval", "saved", "save_failed", "diverged" and "done" events of snapshots, each run's end once; the
    run file and the headless stdout both write them."""

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
                                    "val_loss": finite_or_none(final.val_loss),
                                    "samples": list(snap.samples)}))
        return events


def finite_or_none(value: float | None) -> float | None:
    """Scripts' events give null for NaN and inf, as they always have."""
    return value if value is not None and math.isfinite(value) else None


# ---- the writer

def snapshot_line(snap: Snapshot) -> dict[str, Any]:
    """A snapshot as its run file line: every field, the run named by its run_id, the statistics compact."""
    line = {"event": "snapshot", "run_id": snap.run.run_id}
    line.update(_encode(snap, {}, skip=("run", "layers", "params", "evals", "scalars", "weights",
                                        "through_time")))
    line["evals"] = [_encode(e) for e in snap.evals]
    line["layers"] = [_encode(s, SHORT_KEYS) for s in snap.layers]
    line["params"] = [_encode(p, SHORT_KEYS) for p in snap.params]
    if snap.scalars:
        line["scalars"] = [[s.name, s.step, _number(s.value)] for s in snap.scalars]
    if snap.weights:
        line["weights"] = [_encode(h) for h in snap.weights]
    if snap.through_time:  # a recurrent layer's figures by time step; a line without them reads as ()
        line["through_time"] = [_encode(t) for t in snap.through_time]
    return line


def start_line(info: RunInfo) -> dict[str, Any]:
    return {"event": "start", **_encode(info, skip=("stream",))}


def header_line() -> dict[str, Any]:
    return {"event": "header", "format": FORMAT, "version": VERSION, "writer": f"mmtui {__version__}"}


class RunFileWriter:
    """Writes snapshots to a text stream as run file lines, each line flushed: a reader following the file, or
    a crash, sees whole lines only, and a crash loses at most the line in flight."""

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
        for event, fields_ in self._events.of(snap):
            self._write({"event": event, "run_id": snap.run.run_id, **fields_})
        self.stream.flush()


def open_run_file(path: str) -> TextIO:
    """A --log file, appended to and line-buffered."""
    return open(path, "a", encoding="utf-8", buffering=1)


class RunLog:
    """A run's --log file, written until a write fails (a full disk, a file system gone): then closed and
    never written again, its lines so far kept whole (a reader skips the one cut short), and
    training goes on."""

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
            # a close that flushes into a full disk raises, and closes the file all the same
            self._stream.close()
        except OSError as error:
            if self.error is None:
                self.error = f"cannot write run log {self.path}: {error.strerror or error}"


# ---- checking a line's values against the schema

def _shown(value) -> str:
    """A bad value as a damage message quotes it: short, its escapes visible."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole(value, where: str, most: int = MAX_COUNT) -> int:
    if type(value) is not int:
        raise _Bad(f"{where}: {_shown(value)} is not a whole number")
    if not 0 <= value <= most:
        raise _Bad(f"{where}: {_shown(value)} is out of range (0 to {most:,})")
    return value


def _float(value, where: str, finite: bool = False) -> float:
    if type(value) is float:
        number = value
    elif type(value) is int:
        try:
            number = float(value)
        except OverflowError:
            raise _Bad(f"{where}: {_shown(value)} is too large") from None
    elif isinstance(value, str) and value in NON_FINITE:
        number = NON_FINITE[value]
    else:
        raise _Bad(f"{where}: {_shown(value)} is not a number")
    if finite and not math.isfinite(number):
        raise _Bad(f"{where}: {value} where a finite number belongs")
    return number


def _text(value, where: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{where}: {_shown(value)} is not a string")
    if len(value) > MAX_TEXT:
        raise _Bad(f"{where}: a string of {len(value):,} characters (at most {MAX_TEXT:,})")
    return value


def _list(value, where: str, most: int = MAX_ITEMS) -> list:
    if not isinstance(value, list):
        raise _Bad(f"{where}: {_shown(value)} is not a list")
    if len(value) > most:
        raise _Bad(f"{where}: {len(value):,} items (at most {most:,})")
    return value


def _flag(value, where: str) -> bool:
    if type(value) is not bool:
        raise _Bad(f"{where}: {_shown(value)} is not true or false")
    return value


def _optional(read):
    return lambda value, where: None if value is None else read(value, where)


def _any_json(value, where: str):
    """A value of a field this reader has no rule for (free-form settings, a field added later): JSON as it
    is, lists as tuples, its size bounded by the line's."""
    if isinstance(value, list):
        return tuple(_any_json(item, where) for item in value)
    if isinstance(value, str):
        return _text(value, where)
    return value


BY_TYPE = {  # a field's reader by its annotation
    "int": _whole, "int | None": _optional(_whole), "float": _float, "float | None": _optional(_float),
    "str": _text, "str | None": _optional(_text), "bool": _flag,
    "tuple[float, ...]": lambda v, where: tuple(_float(x, f"{where}[{i}]")
                                                for i, x in enumerate(_list(v, where))),
    "tuple[int, ...]": lambda v, where: tuple(_whole(x, f"{where}[{i}]")
                                              for i, x in enumerate(_list(v, where))),
    "tuple[str, ...]": lambda v, where: tuple(_text(x, f"{where}[{i}]")
                                              for i, x in enumerate(_list(v, where))),
}


def _read_edges(value, where: str) -> tuple[float, ...]:
    if isinstance(value, dict):  # version 2's even edges
        low, high = _float(value.get("lo"), f"{where}.lo", True), _float(value.get("hi"), f"{where}.hi", True)
        bins, rule = _whole(value.get("n"), f"{where}.n", MAX_BINS), value.get("by")
        if not isinstance(rule, str) or rule not in EVEN_EDGES or not bins or not low <= high:
            raise _Bad(f"{where}: not even edges (by {_shown(rule)}, {bins} bins from {low:g} to {high:g})")
        edges = tuple(EVEN_EDGES[rule](low, high, bins))
    else:
        edges = tuple(_float(x, f"{where}[{i}]") for i, x in enumerate(_list(value, where, MAX_BINS + 1)))
    if not all(map(math.isfinite, edges)):
        raise _Bad(f"{where}: an edge that is not a finite number")
    if any(b < a for a, b in zip(edges, edges[1:])):
        raise _Bad(f"{where}: edges out of order")
    return edges


def _read_counts(value, where: str) -> tuple[int, ...]:
    if isinstance(value, list):  # version 1: listed
        counts = _list(value, where, MAX_BINS)
        if not all(type(n) is int for n in counts):
            _whole(next(n for n in counts if type(n) is not int), where)
    else:
        counts, n, shift = [], 0, 0
        for byte in _base64(value, where, MAX_BINS * VARINT_BYTES):
            n |= (byte & 0x7F) << shift
            if byte < 0x80:
                counts.append(n)
                n = shift = 0
            else:
                shift += 7
        if shift or len(counts) > MAX_BINS:
            raise _Bad(f"{where}: {'a count cut short' if shift else f'over {MAX_BINS:,} bins'}")
    if counts and not 0 <= min(counts) <= max(counts) <= MAX_COUNT:
        raise _Bad(f"{where}: a count out of range (0 to {MAX_COUNT:,})")
    return tuple(counts)


def _base64(text, where: str, most: int) -> bytes:
    """Base64 text of at most `most` bytes, decoded."""
    if not isinstance(text, str) or len(text) > 4 * (most + 2) // 3:
        raise _Bad(f"{where}: {_shown(text)} is not base64 of at most {most:,} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Bad(f"{where}: not base64") from None


def _read_bitmap(value, where: str) -> tuple[int, ...]:
    if isinstance(value, list):  # version 1: a row per example, in hex
        rows = []
        for i, row in enumerate(_list(value, where, MAX_MAP_ROWS)):
            if (not isinstance(row, str) or not 0 < len(row) <= 2 * MAX_MAP_BYTES
                    or row.strip("0123456789abcdef")):
                raise _Bad(f"{where}[{i}]: {_shown(row)} is not a row of hex digits")
            rows.append(int(row, 16))
        return tuple(rows)
    if not isinstance(value, dict):
        raise _Bad(f"{where}: {_shown(value)} is not a bitmap")
    count, width = (_whole(value.get("r"), f"{where}.r", MAX_MAP_ROWS),
                    _whole(value.get("w"), f"{where}.w", MAX_MAP_BYTES))
    data = _base64(value.get("b"), f"{where}.b", count * width)
    if len(data) != count * width:
        raise _Bad(f"{where}.b: {len(data):,} bytes for {count} rows of {width} bytes")
    return tuple(int.from_bytes(data[i * width:(i + 1) * width], "little") for i in range(count))


def _read_settings(value, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) > MAX_SETTINGS:
        raise _Bad(f"{where}: {_shown(value)} is not an object")
    for key, item in value.items():
        _text(key, f"{where} key")
        if isinstance(item, str):
            _text(item, f"{where}.{key}")
    return value


def _read_scalar(value, where: str) -> Scalar:
    triple = _list(value, where)
    if len(triple) != 3:
        raise _Bad(f"{where}: not [name, step, value]")
    return Scalar(_text(triple[0], f"{where}.name"), _whole(triple[1], f"{where}.step"),
                  _float(triple[2], f"{where}.value"))


def _records(cls, value, where: str, version: int) -> tuple:
    return tuple(_decode(cls, r, version, f"{where}[{i}]") for i, r in enumerate(_list(value, where)))


def _field(f: Field, value, where: str, version: int):
    """One field's value read by its rule: its name's where the name has one, else its annotation's."""
    if f.name in EDGES:
        return _read_edges(value, where)
    if f.name in EDGES.values():
        return _read_counts(value, where)
    if f.name == "white_rows":
        return _read_bitmap(value, where)
    if f.name == "units":
        return _whole(value, where, MAX_UNITS)
    if f.name == "kind" and value not in KINDS:  # the panels word each kind their own way
        raise _Bad(f"{where}: {_shown(value)} is none of {', '.join(KINDS)}")
    if f.name == "shape":
        return tuple(_whole(n, f"{where}[{i}]") for i, n in enumerate(_list(value, where, MAX_DIMENSIONS)))
    if f.name == "settings":
        return _read_settings(value, where)
    if f.name == "layers":
        return _records(ActivationStats, value, where, version)
    if f.name == "params":
        return _records(ParamStats, value, where, version)
    if f.name == "evals":
        return _records(EvalResult, value, where, version)
    if f.name == "weights":
        return _records(Histogram, value, where, version)
    if f.name == "through_time":
        return _records(TimeStats, value, where, version)
    if f.name == "scalars":
        return tuple(_read_scalar(s, f"{where}[{i}]") for i, s in enumerate(_list(value, where)))
    if f.name in FINITE:
        return _float(value, where, finite=True)
    read = BY_TYPE.get(f.type if isinstance(f.type, str) else getattr(f.type, "__name__", ""))
    return read(value, where) if read is not None else _any_json(value, where)


def _decode(cls, r, version: int, where: str = "", given: dict[str, Any] | None = None,
            skip: tuple[str, ...] = ()):
    """A record of class `cls` from the JSON object `r`, every field checked; a field the line leaves out
    takes its dataclass default (version 2 leaves defaults out; older lines lack fields added since)."""
    if not isinstance(r, dict):
        raise _Bad(f"{where or 'the line'}: {_shown(r)} is not an object")
    prefix = f"{where}." if where else ""
    keys = SHORT_KEYS if version >= 2 and issubclass(cls, COMPACT) else {}
    values = dict(given or {})
    for f in fields(cls):
        if f.name in values or f.name in skip:
            continue
        key = keys.get(f.name, f.name)
        if key in r:
            values[f.name] = _field(f, r[key], prefix + f.name, version)
        elif _default(f) is MISSING:
            raise _Bad(f"{prefix}{f.name}: missing")
    record = cls(**values)
    for edges, counts in EDGES.items():
        e, c = getattr(record, edges, ()), getattr(record, counts, ())
        if (e or c) and len(e) != len(c) + 1:
            raise _Bad(f"{prefix}{edges}: {len(e)} edges for {len(c)} bins")
    if isinstance(record, ActivationStats):
        if record.dead_units > record.units:
            raise _Bad(f"{prefix}dead_units: {record.dead_units:,} of {record.units:,} units")
        if any(row.bit_length() > record.units for row in record.white_rows):
            raise _Bad(f"{prefix}white_rows: a unit past the layer's {record.units:,}")
    if isinstance(record, TimeStats):
        for name in ("std", "saturation", "grad_std"):
            figures = getattr(record, name)
            if len(figures) != len(record.times) and (figures or name == "std"):
                raise _Bad(f"{prefix}{name}: {len(figures):,} figures for {len(record.times):,} time steps")
    return record


# ---- the reader

class RunFileReader:
    """Turns the lines of one run file, in order, into Snapshots; read_line raises RunFileError for a damaged
    line, after which the next lines still read. Every field is checked before it becomes a record (types,
    bounds, lengths that agree), so a line another writer got wrong is refused whole, naming
    the field and why."""

    def __init__(self, stream: str = ""):
        """`stream`: the name every RunInfo read gets (the file's); a second session appended to the file gets
        "(session 2)" after it, so its runs are told from the first session's."""
        self.stream = stream
        self.sessions = 0  # header lines read
        self.version = VERSION  # the latest header's
        self.runs: dict[int, RunInfo] = {}  # this session's runs by run_id

    def read_line(self, line: str | bytes) -> Snapshot | None:
        """The snapshot of a "snapshot" line; None for every other line."""
        record = parse_line(line)
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
        except _Bad as error:
            raise RunFileError(f"a damaged {event!r} line ({_reason(error)})") from None
        if event in DERIVED_EVENTS:
            return None
        raise RunFileError(f"unknown event {_shown(event)}")

    def _header(self, record: dict) -> None:
        self.version = check_header(record)
        self.sessions += 1
        self.runs = {}

    def _start(self, r: dict) -> None:
        stream = self.stream if self.sessions == 1 else f"{self.stream} (session {self.sessions})"
        info = _decode(RunInfo, r, self.version, skip=("stream",))
        if len(self.runs) >= MAX_RUNS and info.run_id not in self.runs:
            raise _Bad(f"run_id: more than {MAX_RUNS:,} runs in one session")
        self.runs[info.run_id] = replace(info, stream=stream)

    def _snapshot(self, r: dict) -> Snapshot:
        run_id = _whole(r.get("run_id"), "run_id", MAX_COUNT)
        run = self.runs.get(run_id)
        if run is None:
            raise _Bad(f"run {run_id} has no start line")
        return _decode(Snapshot, r, self.version, given={"run": run})


def parse_line(line: str | bytes) -> dict:
    """A line as a JSON object, its length and nesting checked before it is parsed (a line nested 100,000 deep
    would exhaust the parser's stack); raises RunFileError."""
    data = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    if len(data) > MAX_LINE_BYTES:
        raise RunFileError(f"a line over {MAX_LINE_BYTES // (1024 * 1024)} MiB")
    if nesting(data) > MAX_DEPTH:
        raise RunFileError(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise RunFileError(f"not JSON ({_reason(error)})") from None
    if not isinstance(record, dict):
        raise RunFileError("not a JSON object")
    return record


def nesting(data: bytes) -> int:
    """How deep a JSON text's arrays and objects nest, its strings left out; cheap when the
    brackets are few."""
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    for byte in JSON_STRING.sub(b"", data).translate(None, NOT_BRACKETS):
        depth += 1 if byte in OPENING else -1
        deepest = max(deepest, depth)
    return deepest


def check_header(record: dict) -> int:
    """The version of a header this mmtui reads; raises RunFileError for any other first line."""
    if record.get("format") != FORMAT:
        raise RunFileError("not an mmtui run file (its first line has no \"format\": \"mmtui-run\")")
    version = record.get("version")
    if type(version) is not int or version not in READS:
        newer = type(version) is int and version > VERSION
        raise RunFileError(f"run file version {_shown(version)}"
                           + (" is newer than this mmtui reads" if newer else "")
                           + f" (this mmtui reads versions 1 to {VERSION}"
                             f"{'; upgrade mmtui' if newer else ''})")
    return version


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

