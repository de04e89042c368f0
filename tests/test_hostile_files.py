"""Files written by someone else: a run-file reader that checks every line against the format before it becomes a
record, version 2's compact lines read back exactly, and version 1 files still read."""

from __future__ import annotations

import io
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
from mmtui.runfile import RunFileError, RunFileReader, RunFileWriter, read_run_file
from mmtui.sources import run_file
from mmtui.sources.run_file import RunFileSource

V1_FILE = Path(__file__).parent / "data" / "run_v1.jsonl"  # written by the version 1 writer: the lecture's trainer
# (40 steps, an evaluation, samples), a run of non-finite values, and examples/char_transformer.py watched


def written(snapshots: list[Snapshot]) -> str:
    stream = io.StringIO()
    writer = RunFileWriter(stream)
    for snapshot in snapshots:
        writer.write(snapshot)
    return stream.getvalue()


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
    back = read_back(written(snapshots))
    assert same(back, snapshots)
    assert any(not math.isfinite(loss) for s in back for loss in s.losses)


def test_version_2_is_several_times_smaller_for_the_same_snapshots():
    v1 = [line for line in V1_FILE.read_text().splitlines() if '"layers":[{' in line]
    v2 = [line for line in written(read_run_file(str(V1_FILE))).splitlines() if line.startswith('{"event":"snapshot"')
          and '"layers":[{' in line]
    assert len(v1) == len(v2) == 4
    assert sum(map(len, v1)) > 3 * sum(map(len, v2))


def test_odd_values_round_trip_to_the_bit():
    stats = ActivationStats(step=3, saturation=-0.0, share_99=0.0, dead_units=0, units=3, mean=math.nan,
                            std=math.inf, hist_edges=(-1e308, 0.0, 1e308), hist_counts=(2 ** 53, 0), layer=0,
                            grad_mean=None, grad_std=-math.inf, grad_hist_edges=(0.1, 0.2, 0.30000000000000004),
                            grad_hist_counts=(1, 2), white_rows=(0, 7, 0), flat_below=-0.0, name="[/] \x1b]52;c;x\x07",
                            kind="flat")
    param = ParamStats("W", (), 1e-320, 5e-324, 1e308, -math.inf, (), ())
    info = RunInfo(run_id=0, name="\u202e", model="m", settings={"deep": [[{"a": [1]}]]}, total_steps=0)
    snapshot = Snapshot(run=info, state="odd state", step=2 ** 53, first_loss_step=0, losses=(), lr=-1.5,
                        steps_per_s=0.0, init_loss=None, layers=(stats,), params=(param,),
                        evals=(EvalResult(1, math.nan, -math.inf),), samples=("[b]x", ""), last_finite_loss=None,
                        diverged_loss=None, scalars=(Scalar("s", 0, math.nan),), notes=("\x00",))
    assert same(read_back(written([snapshot])), [snapshot])


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
    (back,) = read_back(written([snapshot]))
    assert same(back, snapshot) and back.layers[0].near_flat == 0.25


# ---- what the reader refuses: the line skipped, the field and the reason named

def valid_lines() -> tuple[str, str, dict]:
    header, start, snapshot, *_ = written([s for s in read_run_file(str(V1_FILE)) if s.layers][:1]).splitlines()
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
    (layer0({"he": [0.0, "NaN", 1.0]}), "hist_edges[1]: NaN where a finite number belongs"),
    (layer0({"he": {"lo": 1.0, "hi": 0.0, "n": 50, "by": "f32"}}), "not even edges"),
    (layer0({"he": {"lo": 0.0, "hi": 1.0, "n": 10 ** 9, "by": "f32"}}), "hist_edges.n"),
    (layer0({"hc": "!!"}), "hist_counts: not base64"),
    (layer0({"hc": [1, -1]}), "hist_counts: a count out of range"),
    (layer0({"wr": {"r": 2, "w": 1, "b": "AAAA"}}), "3 bytes for 2 rows of 1 bytes"),
    (layer0({"wr": {"r": 1, "w": 2, "b": "//8="}}), "white_rows: a unit past the layer's 12"),
    (layer0({"n": {"a": 1}}), "layers[0].name: {'a': 1} is not a string"),
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


# ---- folders of many run files: the newest shown, the rest counted, a look costs a stat while nothing changes

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
    paths = tiny_run_files(tmp_path, run_file.MAX_FILES + 8)
    (tmp_path / "notes.txt").write_text("not a run\n")
    opened = []
    first_line = run_file._first_line
    monkeypatch.setattr(run_file, "_first_line", lambda path: opened.append(path) or first_line(path))
    monkeypatch.setattr(run_file, "MTIME_SETTLED_NS", 0)
    source = RunFileSource([tmp_path], follow=True)
    status = [item for item in source.receive(0.2) if isinstance(item, SourceStatus)][-1]
    assert {f.path for f in source._files} == set(paths[-run_file.MAX_FILES:])
    assert "8 older files not shown (the 32 newest run files are)" in status.text
    assert len(opened) == run_file.MAX_FILES + 1  # notes.txt (the newest), the 32 newest run files: no others
    opened.clear()
    source._rescan()
    assert opened == []  # nothing changed: not listed again, nothing opened
    (tmp_path / "new.jsonl").write_text((tmp_path / "run00000.jsonl").read_text())
    source._rescan()
    assert opened == [tmp_path / "new.jsonl"] and source._files[-1].path == tmp_path / "new.jsonl"
    source.close()


VIEW_UNDER_ULIMIT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
from mmtui.sources.run_file import RunFileSource
from pathlib import Path
source = RunFileSource([Path(sys.argv[1])], follow=True)
for _ in range(20):
    source.receive(0.05)
print(source._said.text)
"""


def test_a_folder_of_thousands_of_run_files_reads_under_a_low_open_files_limit(tmp_path):
    tiny_run_files(tmp_path, 2000)
    result = subprocess.run([sys.executable, "-c", VIEW_UNDER_ULIMIT, str(tmp_path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "cannot be read" not in result.stdout and "1,968 older files not shown" in result.stdout
