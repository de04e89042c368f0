"""Several streams of snapshots compared: the History per stream, the Loss overlay, the Runs table, the c key;
and the overview at 80x24."""

from __future__ import annotations

import math
from dataclasses import replace

from textual.scrollbar import ScrollBar

from mmtui.records import DONE, RUNNING, ActivationStats, EvalResult, RunInfo, Snapshot
from mmtui.tui.app import MmtuiApp
from mmtui.tui.history import History
from mmtui.tui.palette import RUN_CODES
from mmtui.tui.widgets.loss_plot import loss_series
from mmtui.tui.widgets.runs_table import runs_table_lines
from app_sources import QUICK_DRAWING, ScriptedSource, screen_text, shows
from pilot_wait import wait_until

WIDE, SMALL = (160, 48), (80, 24)
BLOCK_GLYPHS = set("▁▂▃▄▅▆▇█")


class StandInSource(ScriptedSource):
    """A read-only source, as a run-file reader is: it takes no commands."""

    def __init__(self, snapshots: list[Snapshot]):
        super().__init__(snapshots, commands=frozenset())


def app_on(source: StandInSource) -> MmtuiApp:
    return MmtuiApp(source, pace=QUICK_DRAWING)  # the tests wait for what the next frame shows


def stats(step: int, mean: float) -> ActivationStats:
    return ActivationStats(step=step, saturation=60.0, share_99=30.0, dead_units=1, units=10, mean=mean,
                           std=0.9, hist_edges=(-1.0, -0.5, 0.0, 0.5, 1.0), hist_counts=(5, 1, 1, 5))


def run_snapshots(stream: str, name: str, *, steps: int = 1000, level: float = 2.0, mean: float = 0.0,
                  run_id: int = 0, done: bool = True) -> list[Snapshot]:
    """A finished run of `steps` steps in snapshots of 100, its loss settling at `level`;
    names sampled once."""
    info = RunInfo(run_id=run_id, name=name, model="mlp", settings={"init": name.split()[-1], "seed": 42},
                   total_steps=steps, vocab_size=27, expected_init_loss=math.log(27), stream=stream)
    snapshots = []
    for first in range(0, steps, 100):
        last = first + 100 >= steps
        state = DONE if done and last else RUNNING
        evals = (EvalResult(first + 100, level + 0.01, level + 0.05),) if last else ()
        snapshots.append(Snapshot(run=info, state=state, step=first + 100, first_loss_step=first,
                                  losses=tuple(level + 1.3 * math.exp(-(first + i) / 200)
                                               for i in range(100)),
                                  lr=0.1, steps_per_s=500.0, init_loss=3.3,
                                  layers=(stats(first + 100, mean),),
                                  params=(), evals=evals, samples=(f"{stream}-name",) if last else (),
                                  last_finite_loss=level, diverged_loss=None))
    return snapshots


def two_runs() -> list[Snapshot]:
    return (run_snapshots("a.jsonl", "mlp fix-tanh", level=2.1, mean=0.25)
            + run_snapshots("b.jsonl", "mlp lecture", steps=700, level=2.3, mean=-0.75))


def history_of(snapshots: list[Snapshot]) -> History:
    history = History()
    for snapshot in snapshots:
        history.add(snapshot)
    return history


def loss_panel_text(app: MmtuiApp) -> str:
    plot = app.overview.loss_plot
    return "\n".join(plot.render_line(y).text for y in range(plot.size.height))


# ---- the history and the drawing functions

def test_history_keeps_each_streams_run_and_shows_the_selected_one():
    history = history_of(two_runs())
    assert list(history.streams) == ["a.jsonl", "b.jsonl"] and history.comparing
    assert history.selected == "a.jsonl" and history.run.info.name == "mlp fix-tanh"
    assert history.latest.step == 1000 and list(history.samples)[1] == "a.jsonl-name"
    history.select_next()
    assert history.run.info.name == "mlp lecture" and history.latest.step == 700
    assert list(history.samples)[1] == "b.jsonl-name"
    history.select_next()
    assert history.selected == "a.jsonl"


def test_a_reinit_in_one_stream_leaves_a_ghost_there_and_the_other_stream_alone():
    history = history_of(run_snapshots("", "mlp lecture", done=False))
    history.add(run_snapshots("", "mlp kaiming", run_id=1)[0])
    assert not history.comparing and history.ghost.info.name == "mlp lecture"
    assert [line.label for line in loss_series(history, 80, True)][0] == "previous: mlp lecture"
    history = history_of(two_runs() + run_snapshots("b.jsonl", "mlp kaiming", run_id=1)[:1])
    assert history.streams["b.jsonl"].ghost.info.name == "mlp lecture"
    assert history.run.info.name == "mlp fix-tanh" and history.ghost is None
    assert not any((line.label or "").startswith("previous") for line in loss_series(history, 80, True))


def test_clashing_names_carry_their_stream():
    history = history_of(run_snapshots("a.jsonl", "mlp lecture") + run_snapshots("b.jsonl", "mlp lecture"))
    assert (history.label("a.jsonl") == "mlp lecture · a.jsonl"
            and history.label("b.jsonl") == "mlp lecture · b.jsonl")
    assert history_of(two_runs()).label("a.jsonl") == "mlp fix-tanh"


def test_eight_and_more_runs_get_distinct_colours_in_the_plot_and_the_table():
    streams = len(RUN_CODES)
    history = history_of([s for i in range(streams)
                          for s in run_snapshots(f"{i}.jsonl", f"run {i}", steps=200)])
    curves = [line for line in loss_series(history, 80, True) if line.marker == "braille"]
    assert len(curves) == streams >= 8 and len({line.color for line in curves}) == streams
    rows = runs_table_lines(history, 120)[1:]
    name_colours = {list(row)[1].style.color for row in rows}
    assert len(rows) == streams and len(name_colours) == streams


def test_the_table_shows_latest_and_final_losses_once_a_run_is_done():
    history = history_of(two_runs() + run_snapshots("c.jsonl", "mlp kaiming", done=False)[:3])
    header, a, b, c = (line.text for line in runs_table_lines(history, 120))
    assert "final train" in header and "final val" in header
    assert a.startswith("▶ mlp fix-tanh") and "1,000" in a and a.split()[-2:] == ["2.1100", "2.1500"]
    assert "700" in b and b.split()[-2:] == ["2.3100", "2.3500"]
    assert "300" in c and c.split()[-3:] == ["—", "—", "—"]  # running, not evaluated yet


# ---- the app

async def test_both_names_in_the_legend_and_c_cycles_the_panels_and_the_status_line():
    app = app_on(StandInSource(two_runs()))
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: "b.jsonl" in app.history.streams and app.history.latest.state == DONE)
        await wait_until(pilot,
                         lambda: "▶ mlp fix-tanh" in loss_panel_text(app)
                         and "mlp lecture" in loss_panel_text(app)
                         and shows(app, "run 1/2: mlp fix-tanh", "step 1,000: mean +0.25", "a.jsonl-name",
                                   "c next run"))
        await pilot.press("c")
        await wait_until(pilot,
                         lambda: shows(app, "run 2/2: mlp lecture", "step 700: mean -0.75", "b.jsonl-name"))
        assert "▶ mlp lecture" in loss_panel_text(app)
        assert app.overview.activations.border_subtitle == "mlp lecture"
        assert app.overview.runs.region.height == 2 + 3  # its border, the header and a row per run
        await pilot.press("y")
        await wait_until(pilot, lambda: app.layers_view.dead_map.border_subtitle == "mlp lecture")
        await pilot.press("o", "c")
        await wait_until(pilot, lambda: shows(app, "run 1/2: mlp fix-tanh"))


async def test_one_stream_offers_no_c_key_and_no_runs_table():
    app = app_on(StandInSource(run_snapshots("a.jsonl", "mlp fix-tanh")))
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step == 1000)
        await wait_until(pilot, lambda: shows(app, "step 1,000 / 1,000", "step 1,000: mean"))
        text = screen_text(app)
        assert "next run" not in text and "run 1/" not in text and "Runs" not in text
        assert app.overview.runs.region.area == 0
        await pilot.press("c")
        assert app.history.selected == "a.jsonl"
        assert "mlp fix-tanh (smoothed)" in loss_panel_text(app)


async def test_a_second_stream_arriving_later_brings_the_c_key():
    source = StandInSource(run_snapshots("a.jsonl", "mlp fix-tanh"))
    app = app_on(source)
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None)
        source.outbox.extend(run_snapshots("b.jsonl", "mlp lecture"))
        await wait_until(pilot, lambda: app.history.comparing)
        await wait_until(pilot, lambda: shows(app, "c next run") and app.overview.runs.region.area > 0)


async def test_at_80x24_the_samples_panel_keeps_its_border_and_the_sparkline_stays_in_its_panel():
    snapshots = run_snapshots("", "mlp lecture")
    # > a screen
    snapshots = [replace(s, samples=tuple(f"name{s.step}-{i}" for i in range(8))) for s in snapshots]
    app = app_on(StandInSource(snapshots))
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step == 1000)
        await wait_until(pilot, lambda: shows(app, "name1000-0", "step 1,000 / 1,000"))
        samples = app.overview.samples.region
        for y in range(samples.y + 1, samples.bottom - 1):
            widget, _ = app.screen.get_widget_at(samples.right - 1, y)
            assert widget is app.overview.samples  # its border, not a scrollbar or a neighbour's cells
            for x in (samples.right - 3, samples.right - 2):
                widget, _ = app.screen.get_widget_at(x, y)
                assert not isinstance(widget, ScrollBar)
        rows = screen_text(app).splitlines()
        samples_rows = [row for row in rows if "name" in row and "─ Samples" not in row]
        assert samples_rows and all(not BLOCK_GLYPHS & set(row[samples.x:samples.right])
                                    for row in samples_rows)
        trend, saturation = app.query_one("#saturation-trend").region, app.overview.saturation.region
        assert saturation.x < trend.x and trend.right < saturation.right  # inside the panel's borders
