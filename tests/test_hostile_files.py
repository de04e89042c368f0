"""Files written by someone else: a run-file reader that checks every line against the format before it
becomes a record, version 2's compact lines read back exactly, and version 1 files still read."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pytest

from mmtui import runfile
from mmtui.records import ActivationStats, EvalResult, ParamStats, RunInfo, Scalar, Snapshot
from mmtui.records import SourceStatus
from mmtui.runfile import RunFileError, RunFileReader, read_run_file
from mmtui.sources.follow import Reading, ViewPathError
from mmtui.sources.run_file import RunFileSource
from collected import run_file_text

# Written by the version 1 writer: the lecture's trainer (40 steps, an evaluation, samples), a run of
# non-finite values, and examples/char_transformer.py watched
V1_FILE = Path(__file__).parent / "data" / "run_v1.jsonl"


def read_back(text: str) -> list[Snapshot]:
    reader = RunFileReader()
    return [s for s in map(reader.read_line, text.splitlines()) if s is not None]


def same(a, b) -> bool:
    """Equal field by field, to the bit, NaN included (NaN != NaN, but its repr is its repr)."""
    return repr(a) == repr(b)


def unstreamed(snapshots: list[Snapshot]) -> list[Snapshot]:
    return [replace(s, run=replace(s.run, stream="")) for s in snapshots]


# ---- version 1 files still read; version 2 writes them back exactly and smaller

def test_a_version_1_file_reads_field_for_field_as_its_lines_say():
    lines = [json.loads(line) for line in V1_FILE.read_text().splitlines()]
    raw = [line for line in lines if line.get("event") == "snapshot"]
    snapshots = read_run_file(str(V1_FILE))
    assert len(snapshots) == len(raw) == 6
    assert {s.run.model for s in snapshots} == {"mlp", "Transformer"}
    for line, snapshot in zip(raw, snapshots):
        assert snapshot.step == line["step"] and len(snapshot.losses) == len(line["losses"])
        for layer_line, layer in zip(line["layers"], snapshot.layers):
            for f in fields(layer):
                value = layer_line.get(f.name)
                if f.name == "white_rows":
                    assert layer.white_rows == tuple(int(row, 16) for row in value)
                elif isinstance(value, list):
                    assert same(getattr(layer, f.name), tuple(runfile.NON_FINITE.get(v, v) for v in value))
                elif value is not None or f.name.startswith("grad"):
                    assert same(getattr(layer, f.name), runfile.NON_FINITE.get(value, value)), f.name
    assert any(math.isnan(s.lr) for s in snapshots if s.lr is not None)  # the non-finite run's
    assert any(layer.name.endswith("NewGELU") for s in snapshots for layer in s.layers)


def test_version_2_writes_every_field_of_real_and_non_finite_snapshots_back_exactly():
    snapshots = unstreamed(read_run_file(str(V1_FILE)))
    back = read_back(run_file_text(snapshots))
    assert same(back, snapshots)
    assert any(not math.isfinite(loss) for s in back for loss in s.losses)


def test_version_2_is_several_times_smaller_for_the_same_snapshots():
    v1 = [line for line in V1_FILE.read_text().splitlines() if '"layers":[{' in line]
    v2 = [line for line in run_file_text(read_run_file(str(V1_FILE))).splitlines()
          if line.startswith('{"event":"snapshot"') and '"layers":[{' in line]
    assert len(v1) == len(v2) == 4
    assert sum(map(len, v1)) > 3 * sum(map(len, v2))


def test_odd_values_round_trip_to_the_bit():
    stats = ActivationStats(step=3, saturation=-0.0, share_99=0.0, dead_units=0, units=3, mean=math.nan,
                            std=math.inf, hist_edges=(-1e308, 0.0, 1e308), hist_counts=(2 ** 53, 0), layer=0,
                            grad_mean=None, grad_std=-math.inf,
                            grad_hist_edges=(0.1, 0.2, 0.30000000000000004), grad_hist_counts=(1, 2),
                            white_rows=(0, 7, 0), flat_below=-0.0, name="[/] \x1b]52;c;x\x07",
                            kind="other")
    param = ParamStats("W", (), 1e-320, 5e-324, 1e308, -math.inf, (), ())
    info = RunInfo(run_id=0, name="\u202e", model="m", settings={"deep": [[{"a": [1]}]]}, total_steps=0)
    snapshot = Snapshot(run=info, state="odd state", step=2 ** 53, first_loss_step=0, losses=(), lr=-1.5,
                        steps_per_s=0.0, init_loss=None, layers=(stats,), params=(param,),
                        evals=(EvalResult(1, math.nan, -math.inf),), samples=("[b]x", ""),
                        last_finite_loss=None,
                        diverged_loss=None, scalars=(Scalar("s", 0, math.nan),), notes=("\x00",))
    assert same(read_back(run_file_text([snapshot])), [snapshot])


@dataclass(frozen=True)
class MeasuredLater(ActivationStats):
    """A layer with fields a later mmtui adds: the writer and reader take them from the dataclass."""

    near_flat: float = 0.0
    slope: float | None = None
    tags: tuple[str, ...] = ()


def test_fields_added_to_the_records_are_written_and_read_with_no_change_to_the_run_file(monkeypatch):
    monkeypatch.setattr(runfile, "ActivationStats", MeasuredLater)
    (snapshot,) = [s for s in unstreamed(read_run_file(str(V1_FILE))) if s.layers][:1]
    layer = MeasuredLater(**{f.name: getattr(snapshot.layers[0], f.name) for f in fields(ActivationStats)},
                          near_flat=0.25, slope=math.nan, tags=("a", "b"))
    snapshot = replace(snapshot, layers=(layer,))
    (back,) = read_back(run_file_text([snapshot]))
    assert same(back, snapshot) and back.layers[0].near_flat == 0.25


# ---- what the reader refuses: the line skipped, the field and the reason named

def valid_lines() -> tuple[str, str, dict]:
    with_layers = [s for s in read_run_file(str(V1_FILE)) if s.layers]
    header, start, snapshot, *_ = run_file_text(with_layers[:1]).splitlines()
    return header, start, json.loads(snapshot)


def refused(line: str) -> str:
    header, start, _ = valid_lines()
    reader = RunFileReader()
    reader.read_line(header)
    reader.read_line(start)
    with pytest.raises(RunFileError) as error:
        reader.read_line(line)
    return str(error.value)


def layer0(changes: dict) -> str:
    snapshot = valid_lines()[2]
    snapshot["layers"][0].update(changes)
    return json.dumps(snapshot)


def top(changes: dict) -> str:
    return json.dumps({**valid_lines()[2], **changes})


@pytest.mark.parametrize("line, phrase", [
    ('[' * 100_000 + ']' * 100_000, "nested deeper"),
    ('{"a":' * 100_000 + '1' + '}' * 100_000, "nested deeper"),
    (top({"step": "Infinity"}), "step: 'Infinity' is not a whole number"),
    (top({"step": 1e999}), "step: inf is not a whole number"),
    (top({"step": -1}), "step: -1 is out of range"),
    (top({"step": 10 ** 4000}), "step: "),
    (top({"step": None}), "step: None is not a whole number"),
    (top({"step": [1]}), "step: [1] is not a whole number"),
    (top({"losses": [1.0, {"a": 1}]}), "losses[1]"),
    (top({"losses": [10 ** 400]}), "losses[0]: 1000"),
    (top({"samples": ["x" * 20_000]}), "samples[0]: a string of 20,000 characters"),
    (top({"samples": [3]}), "samples[0]: 3 is not a string"),
    (top({"scalars": [["a", 1]]}), "scalars[0]: not [name, step, value]"),
    (top({"steps_per_s": "NaN"}), "steps_per_s: NaN where a finite number belongs"),
    (layer0({"u": 10 ** 12}), "layers[0].units: 1000000000000 is out of range"),
    (layer0({"u": 1.5}), "layers[0].units: 1.5 is not a whole number"),
    (layer0({"dead": 13}), "dead_units: 13 of 12 units"),
    (layer0({"he": [0.0, 1.0]}), "layers[0].hist_edges: 2 edges for 50 bins"),
    (layer0({"he": [0.0, "NaN", 1.0]}), "hist_edges: an edge that is not a finite number"),
    (layer0({"he": {"lo": -1e308, "hi": 1e308, "n": 50, "by": "f64"}}), "an edge that is not a finite"),
    (layer0({"he": {"lo": 1.0, "hi": 0.0, "n": 50, "by": "f32"}}), "not even edges"),
    (layer0({"he": {"lo": 0.0, "hi": 1.0, "n": 10 ** 9, "by": "f32"}}), "hist_edges.n"),
    (layer0({"hc": "!!"}), "hist_counts: not base64"),
    (layer0({"hc": [1, -1]}), "hist_counts: a count out of range"),
    (layer0({"wr": {"r": 2, "w": 1, "b": "AAAA"}}), "3 bytes for 2 rows of 1 bytes"),
    (layer0({"wr": {"r": 1, "w": 2, "b": "//8="}}), "white_rows: a unit past the layer's 12"),
    (layer0({"n": {"a": 1}}), "layers[0].name: {'a': 1} is not a string"),
    (layer0({"k": "sigmoid-ish"}), "kind: 'sigmoid-ish' is none of bounded, rectifier, flat, other"),
    (layer0({"s": None}), "layers[0].step: None"),
    (json.dumps({"event": "snapshot", "run_id": 99}), "run 99 has no start line"),
])
def test_a_line_that_breaks_the_schema_is_refused_naming_the_field(line, phrase):
    assert phrase in refused(line)


def test_the_reader_takes_version_1_and_2_and_refuses_a_newer_one_by_name():
    for version in (1, 2):
        RunFileReader().read_line(json.dumps({"format": "mmtui-run", "version": version}))
    with pytest.raises(RunFileError, match="version 3 is newer than this mmtui reads"):
        RunFileReader().read_line('{"format": "mmtui-run", "version": 3}')


# ---- folders of many run files: the newest shown, the rest counted, a stat a look while nothing changes

def tiny_run_files(folder: Path, count: int) -> list[Path]:
    """`count` run files, each a header and a start line, the later ones written more recently."""
    header, start, _ = valid_lines()
    paths = []
    for i in range(count):
        path = folder / f"run{i:05}.jsonl"
        path.write_text(f"{header}\n{start}\n")
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
        paths.append(path)
    return paths


def test_a_folder_of_many_run_files_shows_the_newest_and_counts_the_rest(tmp_path, monkeypatch):
    reading = Reading(settled_s=0.0)
    paths = tiny_run_files(tmp_path, reading.max_files + 8)
    (tmp_path / "notes.txt").write_text("not a run\n")
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *args, **kwargs: opened.append(Path(path))
                        or real_open(path, *args, **kwargs))
    source = RunFileSource([tmp_path], follow=True, reading=reading)
    assert set(source.paths) == set(paths[-reading.max_files:])
    assert len(opened) == reading.max_files + 1  # notes.txt (the newest), the 32 newest run files: no others
    status = [item for item in source.receive(0.2) if isinstance(item, SourceStatus)][-1]
    assert "8 older files not shown (the 32 newest run files are)" in status.text
    opened.clear()
    source.rescan()
    assert opened == []  # nothing changed: not listed again, nothing opened
    (tmp_path / "new.jsonl").write_text((tmp_path / "run00000.jsonl").read_text())
    opened.clear()
    source.rescan()
    assert opened == [tmp_path / "new.jsonl"] and source.paths[-1] == tmp_path / "new.jsonl"
    source.close()


VIEW_UNDER_ULIMIT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
from mmtui.sources.run_file import RunFileSource
from pathlib import Path
source = RunFileSource([Path(sys.argv[1])], follow=True)
for _ in range(20):
    source.receive(0.05)
print(source.status.text)
"""


def test_a_folder_of_thousands_of_run_files_reads_under_a_low_open_files_limit(tmp_path):
    tiny_run_files(tmp_path, 2000)
    result = subprocess.run([sys.executable, "-c", VIEW_UNDER_ULIMIT, str(tmp_path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "cannot be read" not in result.stdout and "1,968 older files not shown" in result.stdout


# ---- the fuzz: every field of a real run file through hostile values, read, and drawn in every view

RAW = "\0raw:"  # a value JSON cannot carry, written as raw text into the line: 1e999, a 4,000-digit number
HOSTILE = ["Infinity", "-Infinity", "NaN", RAW + "1e999", RAW + "-1e999", -1, -1e308, 1e308, 2 ** 64,
           RAW + "9" * 4000, 0, 0.0, 5e-324, 10 ** 7, 10 ** 12, "x", "", {}, [], None, True, [[[[[[]]]]]],
           "a" * 20_000, "[/]", "[link=https://example.com]x[/link]", "[/bbba\n[ba]",
           "\x1b]52;c;UFdORUQ=\x07", "\x1b]0;PWNED\x07", "\x1b[31mred\x1b[0m", "\u202eevil", [1e308, -1e308],
           {"lo": -1e308, "hi": 1e308, "n": 50, "by": "f64"}, {"lo": 0.0, "hi": 0.0, "n": 1, "by": "f64"},
           {"r": 1, "w": 1, "b": "/w=="}]
DEEP = "[" * 100_000 + "]" * 100_000
CASES = 300  # mutated files, each one field of one line
VIEW_KEYS = ("o", "y", "p")  # overview, layers, parameters


def leaf_paths(value, path=()):
    """Every place in a JSON value: its objects' keys and its lists' first and last items, to the leaves."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, path + (key,))
    elif isinstance(value, list) and value:
        for index in sorted({0, len(value) - 1}):
            yield from leaf_paths(value[index], path + (index,))


def mutated(line: dict, path: tuple, value) -> str:
    """`line` with the value at `path` replaced, as JSON text."""
    line = json.loads(json.dumps(line))
    if not path:
        return DEEP if value == DEEP else json.dumps(value)
    parent = line
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    text = json.dumps(line, separators=(",", ":"))
    for raw in {v for v in HOSTILE if isinstance(v, str) and v.startswith(RAW)}:
        text = text.replace(json.dumps(raw), raw[len(RAW):])
    return text


def fuzz_cases(seed: int = 2026) -> list[tuple[str, list[str]]]:
    """(what was changed, the file's lines): each field of the start line and of two snapshot lines (the
    lecture's net's, a watched transformer's) in turn, with a hostile value drawn by a seeded generator."""
    import random

    rng = random.Random(seed)
    lines = run_file_text(read_run_file(str(V1_FILE))).splitlines()
    base = [json.loads(line) for line in lines]
    targets = [i for i, line in enumerate(base) if line["event"] == "start"][:1]
    targets += [i for i, line in enumerate(base) if line["event"] == "snapshot" and line["layers"]][::3][:2]
    places = [(i, path) for i in targets for path in leaf_paths(base[i]) if path not in ((), ("event",))]
    cases = []
    while len(cases) < CASES:
        i, path = places[len(cases) % len(places)]
        value = rng.choice(HOSTILE)
        changed = list(lines)
        changed[i] = mutated(base[i], path, value)
        cases.append((f"line {i + 1} {'.'.join(map(str, path))} = {value!r:.40}", changed))
    cases.append(("a line nested 100,000 deep", lines[:3] + [DEEP] + lines[3:]))
    return cases


def test_the_fuzz_cases_reach_every_field():
    cases = fuzz_cases()
    assert len(cases) > CASES and len({what.split(" = ")[0] for what, _ in cases}) > 100


async def test_hostile_run_files_are_read_and_drawn_in_every_view_without_an_exception():
    """Each case's file read by the reader (a refused line counted, never raised past it); where the changed
    line was taken, its snapshots drawn by one app, each case a run of its own, in the overview, layers and
    parameters views in turn; no exception, no hang, the earlier snapshots kept."""
    import faulthandler

    from app_sources import ScriptedSource
    from mmtui.tui.app import MmtuiApp
    from mmtui.tui.messages import SnapshotsArrived

    faulthandler.dump_traceback_later(120, exit=True)  # a hang fails with a traceback, not a stuck suite
    app = MmtuiApp(ScriptedSource([], commands=frozenset()))
    unchanged = len(read_run_file(str(V1_FILE)))  # snapshots in the file before any change
    refused = drawn = 0
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            for number, (what, lines) in enumerate(fuzz_cases(), 1):
                reader = RunFileReader("fuzz.jsonl")
                snapshots = []
                for line in lines:
                    try:
                        snapshot = reader.read_line(line)
                    except RunFileError:
                        refused += 1
                        continue
                    if snapshot is not None:
                        snapshots.append(replace(snapshot, run=replace(snapshot.run, run_id=number)))
                if len(snapshots) < unchanged:
                    continue  # the changed line refused: the rest is the unchanged file, drawn already
                drawn += 1
                await pilot.press(VIEW_KEYS[drawn % len(VIEW_KEYS)])  # the views in turn
                app.post_message(SnapshotsArrived(snapshots))  # as the app's worker hands them on
                await pilot.pause()
                assert app.is_running, what
                assert app.history.run.info.run_id == number, what  # this case's snapshots arrived and stay
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert refused >= CASES // 3 and drawn >= CASES // 4  # of the rest, a line refused took its snapshots


# ---- every panel draws whatever the reader lets through, in bounded time

def extreme_snapshots() -> list[Snapshot]:
    """Snapshots at the edges of what the reader lets through (and past them, as another source might send):
    NaN and infinities everywhere a float may be one, empty and one-bin histograms, ranges of 1e308, 10^7 and
    10^12 units, a grad:data ratio of 1e308, a negative expected loss, the largest step the reader takes (it
    refuses a 4,000-digit one: no axis of floats places it)."""
    (real,) = [s for s in unstreamed(read_run_file(str(V1_FILE))) if s.layers and s.run.model == "mlp"][:1]
    layer, param = real.layers[0], real.params[0]
    odd_layers = (
        replace(layer, mean=math.nan, std=math.inf, saturation=math.nan, share_99=-math.inf,
                grad_mean=math.inf, grad_std=math.nan),
        replace(layer, hist_edges=(), hist_counts=(), grad_hist_edges=(), grad_hist_counts=(), white_rows=()),
        replace(layer, hist_edges=(0.5, 0.5), hist_counts=(7,), grad_hist_edges=(-1e-300, 1e-300),
                grad_hist_counts=(3,)),
        replace(layer, hist_edges=(-1e308, 0.0, 1e308), hist_counts=(1, 2 ** 53),
                grad_hist_edges=(-1e308, 1e308), grad_hist_counts=(5,), mean=1e308, std=1e308),
        replace(layer, units=10 ** 7, dead_units=10 ** 7, white_rows=(2 ** 511 - 1,) * 32, kind="rectifier"),
        replace(layer, units=10 ** 12, dead_units=0, white_rows=(1,) * 32, name="x" * 5000, kind="flat"),
        replace(layer, units=0, dead_units=0, white_rows=(0, 0)),
    )
    odd_params = (replace(param, grad_data_ratio=1e308, update_ratio_log10=1e308),
                  replace(param, name="W2", grad_data_ratio=math.nan, update_ratio_log10=-1e308,
                          grad_std=math.inf, grad_hist_edges=(-1e308, 1e308), grad_hist_counts=(10 ** 15,)),
                  replace(param, name="W3", shape=(10 ** 12, 10 ** 12), grad_hist_edges=(),
                          grad_hist_counts=()))
    info = replace(real.run, expected_init_loss=-3.0, settings={"gain": "x", "w1_scale": None, "init": [1]},
                   total_steps=10 ** 4000)  # a step count drawn as text, not placed
    losses = (math.nan, math.inf, -math.inf, -1.0, 0.0, 1e308, 5e-324, 2.0)
    first = replace(real, run=info, layers=odd_layers, params=odd_params, losses=losses, init_loss=-2.0,
                    lr=math.inf, steps_per_s=math.nan, evals=(EvalResult(3, math.nan, -math.inf),),
                    scalars=(Scalar("s", 1, math.nan), Scalar("s", 2, 1e308), Scalar("s", 3, -1e308),
                             Scalar("t", 4, math.inf)), state="diverged", diverged_loss=None)
    later = replace(first, step=2 ** 53 - 100, first_loss_step=2 ** 53 - 108, state="running")
    huge_run = replace(info, run_id=info.run_id + 1)
    return [first, later, replace(first, run=huge_run, step=2 ** 53, first_loss_step=2 ** 53 - 8)]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_every_view_draws_extreme_values_in_bounded_time(size):
    import time

    from app_sources import ScriptedSource
    from mmtui.tui.app import MmtuiApp

    app = MmtuiApp(ScriptedSource(extreme_snapshots(), commands=frozenset()))
    async with app.run_test(size=size) as pilot:
        for key in ("o", "y", "n", "n", "n", "n", "n", "n", "p", "comma", "comma", "l", "o", "y", "p"):
            started = time.perf_counter()
            await pilot.press(key)
            app.redraw(force=True)
            await pilot.pause()
            assert time.perf_counter() - started < 5, key  # not the minute 10^7 units took, nor 6.9 GB
            assert app.is_running
        assert app.history.latest.step == 2 ** 53


# ---- text from files is text: never markup, never an escape sequence

OSC52 = "\x1b]52;c;UFdORUQ=\x07"  # writes "PWNED" to the clipboard of a terminal that allows it
OSC0 = "\x1b]0;PWNED-TITLE\x07"  # sets the window title
HOSTILE_TEXT = {"link": "[link=https://example.com]click[/link]", "closing tag": "[/bbba", "osc52": OSC52,
                "osc0": OSC0, "csi": "\x1b[2J\x1b[31m", "c1 csi": "\x9b2J", "bidi": "\u202e"}


def hostile_text_snapshots(text: str) -> list[Snapshot]:
    """The lecture's run with `text` in its layer's name, a sample, a note, the run's name, its model and a
    setting, as a run file from elsewhere may hold them."""
    (real,) = [s for s in unstreamed(read_run_file(str(V1_FILE))) if s.layers and s.run.model == "mlp"][:1]
    info = replace(real.run, name=f"run {text} end", model=f"model {text} end",
                   settings={**real.run.settings, "init": f"init {text} end"})
    layer = replace(real.layers[0], name=f"layer {text} end")
    return [replace(real, run=info, layers=(layer,), samples=(f"name {text} end", "[/]"),
                    notes=(f"note {text} end",), state="diverged", diverged_loss=9.0)]


@pytest.mark.parametrize("kind", list(HOSTILE_TEXT))
async def test_a_run_files_names_samples_and_notes_are_drawn_as_plain_text(kind, tmp_path):
    from app_sources import screen_text
    from mmtui.tui.app import MmtuiApp

    path = tmp_path / "hostile.jsonl"
    path.write_text(run_file_text(hostile_text_snapshots(HOSTILE_TEXT[kind])))
    app = MmtuiApp(RunFileSource([path], follow=False))
    async with app.run_test(size=(160, 48)) as pilot:
        for key in ("o", "y", "p", "o"):
            await pilot.press(key)
            app.redraw(force=True)
            await pilot.pause()
        assert app.is_running
        assert app.history.latest is not None and app.history.latest.samples
        svg = app.export_screenshot()
        screen = screen_text(app)
    assert "\x1b" not in svg and "\x9b" not in svg and "\u202e" not in svg
    assert "PWNED" not in screen and "UFdORUQ" not in screen
    assert "name " in screen and "end" in screen  # the sample drawn, what was around the escape kept
    if kind in ("link", "closing tag"):
        assert f"name {HOSTILE_TEXT[kind]} end" in screen  # the brackets drawn as they are, not parsed
        assert "<a " not in svg and "example.com\"" not in svg


def test_a_word_list_holding_markup_trains_and_shows_its_samples_as_run_file_text(tmp_path):
    """The lecture's TUI on a UTF-8 word list of brackets and slashes: its samples are drawn as text (they
    broke the frame with a MarkupError after ~7 s)."""
    import asyncio

    from app_sources import screen_text, trainer_app

    words = ["[/bbba", "[ba]", "a[/b]", "[b]a", "ab/[", "]]a[", "[/]", "b[a", "/b]a", "[[b", "a]b/",
             "ba[/"] * 5
    app = trainer_app(words, sample_interval_s=0.2, num_samples=6)

    async def run() -> str:
        async with app.run_test(size=(160, 48)) as pilot:
            for _ in range(200):
                await pilot.pause(0.05)
                if app.history.samples and any("[" in s or "/" in s for s in app.history.samples):
                    break
            app.redraw(force=True)
            await pilot.pause()
            assert app.is_running
            return screen_text(app)

    screen = asyncio.run(run())
    assert any(sample in screen for sample in app.history.samples if "[" in sample)


# ---- TensorBoard logs: every stop worded, with its offset and reason; no silent loss

def tensorboard_log(folder: Path, steps: int = 200, bad_step: int | None = None) -> Path:
    """A SummaryWriter's log of a loss a step; at `bad_step`, a two-value tensor under the scalars plugin."""
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.util import tensor_util
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(log_dir=str(folder)) as writer:
        for step in range(steps):
            if step == bad_step:
                metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
                    plugin_name="scalars"))
                value = summary_pb2.Summary.Value(tag="train/loss", metadata=metadata,
                                                  tensor=tensor_util.make_tensor_proto([1.0, 2.0]))
                writer.file_writer.add_event(event_pb2.Event(step=step, summary=summary_pb2.Summary(
                    value=[value])))
            else:
                writer.add_scalar("train/loss", 3.0 / (1 + step), step)
    (found,) = folder.glob("events.out.tfevents.*")
    return found


def record_offsets(path: Path) -> list[int]:
    import struct

    data, offsets, at = path.read_bytes(), [], 0
    while at + 12 <= len(data):
        offsets.append(at)
        at += struct.unpack("<Q", data[at:at + 8])[0] + 16
    return offsets


def with_length(data: bytes, at: int, length: int) -> bytes:
    """The record at byte `at` claiming `length` bytes, its length's checksum right: damage no CRC catches."""
    import struct

    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    header = struct.pack("<Q", length)
    return data[:at] + header + struct.pack("<I", masked_crc32c(header)) + data[at + 12:]


def tensorboard_source(path: Path, follow: bool):
    from mmtui.sources.tensorboard import TensorBoardSource, check_log_paths

    return TensorBoardSource(check_log_paths([str(path)], wait=False), follow=follow)


def received(source, seconds: float = 5.0) -> tuple[list[Snapshot], SourceStatus]:
    import time

    snapshots, status, deadline = [], None, time.monotonic() + seconds
    while time.monotonic() < deadline and not (status and status.ended):
        for item in source.receive(0.05):
            if isinstance(item, Snapshot):
                snapshots.append(item)
            else:
                status = item
    return snapshots, status


def test_a_first_record_of_2_to_the_60_bytes_is_refused_in_words(tmp_path):
    path = tensorboard_log(tmp_path / "run")
    path.write_bytes(with_length(path.read_bytes(), 0, 2 ** 60))
    with pytest.raises(ViewPathError, match="its first record claims 1,152,921,504,606,846,976 bytes"):
        tensorboard_source(path, follow=False)


def test_a_length_of_2_to_the_34_mid_file_while_following_is_worded_with_its_offset(tmp_path):
    path = tensorboard_log(tmp_path / "run")
    at = record_offsets(path)[100]
    path.write_bytes(with_length(path.read_bytes(), at, 2 ** 34))
    source = tensorboard_source(tmp_path, follow=True)
    snapshots, status = received(source, 3.0)
    source.close()
    assert status.warning and f"the record at byte {at:,}" in status.text
    assert "claims 17,179,869,184 bytes" in status.text
    assert 0 < sum(len(s.losses) for s in snapshots) < 200


def test_a_tensor_logged_as_a_scalar_is_skipped_and_counted_and_the_steps_after_it_read(tmp_path):
    tensorboard_log(tmp_path / "run", bad_step=50)
    source = tensorboard_source(tmp_path, follow=False)
    snapshots, status = received(source)
    assert sum(len(s.losses) for s in snapshots) == 199  # every step but the bad one
    assert "1 values skipped, the latest 'train/loss' at step 50" in status.text


def test_a_fifo_named_as_an_event_file_is_not_opened(tmp_path):
    tensorboard_log(tmp_path / "run", steps=20)
    os.mkfifo(tmp_path / "run" / "events.out.tfevents.9.fifo")
    source = tensorboard_source(tmp_path, follow=False)
    snapshots, status = received(source)  # a read of the FIFO would block here for good
    assert status.ended and sum(len(s.losses) for s in snapshots) == 20


def test_export_skips_a_line_of_20_mib_without_holding_it_and_writes_the_rest(tmp_path):
    from mmtui import tensorboard_export

    pytest.importorskip("tensorboard")
    lines = run_file_text(read_run_file(str(V1_FILE))[:3]).splitlines()
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join(lines[:3] + ["[" + " " * (20 << 20) + "]"] + lines[3:]) + "\n")
    result = tensorboard_export.export_run_file(path, tmp_path / "out")
    assert result.damaged == 1 and "a line over 8 MiB" in result.first_damage
    assert result.runs and result.runs[0].losses == sum(len(s.losses)
                                                        for s in read_run_file(str(V1_FILE))[:3])
