"""Screens that fit the run: each source's screen lays out only the panels its data fills, and fills them."""

from __future__ import annotations

import math
import re
from dataclasses import replace
import sys
from pathlib import Path

import pytest
import screen_sources
from app_sources import ScriptedSource, screen_text, trainer_app
from pilot_wait import wait_until

from mmtui.records import DONE, RUNNING, RunInfo, Scalar, ScriptOutput, Snapshot
from mmtui.sources.run_file import RunFileSource
from mmtui.sources.script import ScriptSource
from mmtui.sources.tensorboard import TensorBoardSource, is_weight_tag
from mmtui.tui.app import MmtuiApp
from mmtui.tui.history import History, LossSeries
from mmtui.tui.layer_words import cut_middle
from mmtui.tui.smoothing import SmoothedCurves, smoothed
from mmtui.tui.widgets.loss_plot import LegendEntry, legend_lines, log_ticks
from mmtui.tui.widgets.runs_table import runs_table_lines
from mmtui.tui.widgets.status_line import StatusShown, describe, what_ran


def script_snapshot(step: int, scalars: tuple[Scalar, ...] = ()) -> Snapshot:
    """A watched script's snapshot: a loss a step, no layers, maybe scalars."""
    info = RunInfo(run_id=0, name="train Net", model="Net", settings={"script": "train.py"})
    return Snapshot(run=info, state=RUNNING, step=step, first_loss_step=step - 10,
                    losses=tuple(2.0 + math.exp(-(step - 10 + i) / 50) for i in range(10)), lr=0.1,
                    steps_per_s=100.0, init_loss=3.0, layers=(), params=(), evals=(), samples=(),
                    last_finite_loss=2.0, diverged_loss=None, scalars=scalars)


def printed(first: int, last: int) -> ScriptOutput:
    return ScriptOutput(tuple(f"line {n}" for n in range(first, last + 1)))


async def test_the_output_keeps_following_when_a_panel_laid_out_beside_it_makes_it_shorter():
    """A script's first run.log(lr=...) brings the Scalars panel, which takes rows from the Output: its log
    stayed on the script's first lines, above its end, and Textual's Log follows only from its end."""
    source = ScriptedSource([printed(1, 8)], commands=frozenset(), produces=ScriptSource.produces,
                            promised=ScriptSource.promised)
    app = MmtuiApp(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "line 8" in screen_text(app))
        # the Loss takes half the width: lines rewrapped
        source.outbox += [script_snapshot(10), printed(9, 22)]
        await wait_until(pilot, lambda: "line 22" in screen_text(app) and app.loss_plot.region.area > 0)
        source.outbox += [script_snapshot(20, tuple(Scalar(f"metric_{i}", 20, 0.5) for i in range(6)))]
        await wait_until(pilot, lambda: app.overview.scalars.region.area > 0)
        source.outbox += [printed(23, 40)]
        await wait_until(pilot, lambda: "line 40" in screen_text(app), timeout=3)
        # the user scrolls up: it stays there
        app.output_panel.log_view.scroll_home(animate=False, immediate=True)
        source.outbox += [printed(41, 45)]
        await wait_until(pilot, lambda: app.output_panel.lines[-1] == "line 45")
        await pilot.pause(0.1)
        assert "line 45" not in screen_text(app) and not app.output_panel.following
        # back at the end: it follows again
        app.output_panel.log_view.scroll_end(animate=False, immediate=True)
        source.outbox += [printed(46, 50)]
        await wait_until(pilot, lambda: "line 50" in screen_text(app), timeout=3)


# ---- one screen per source, at every size

SIZES = ((80, 24), (120, 40), (160, 48))
# what a panel says while its data has not come: on a screen whose source has sent all it will, none may show
PLACEHOLDERS = ("waiting for the first step", "names appear here as the run samples them",
                "waiting for weight", "waiting for update:data", "no saturation image",
                "waiting for the first snapshot")
LETTERS = re.compile(r"[A-Za-z]{2,}")


def shown_panels(app: MmtuiApp) -> set[str]:
    """The overview's panels that take room on the screen, by id."""
    overview = app.overview
    panels = (overview.loss_plot, overview.activations, overview.saturation, overview.samples,
              overview.output, overview.runs, overview.scalars)
    return {panel.id for panel in panels if panel is not None and panel.region.area > 0}


def loss_rows(app: MmtuiApp) -> list[str]:
    plot = app.loss_plot
    return [plot.render_line(y).text for y in range(plot.size.height)]


def loss_plot_gaps(app: MmtuiApp) -> tuple[int, int]:
    """Columns right of the Loss figure's frame and rows below its lowest text, inside the panel."""
    rows = loss_rows(app)
    bottom = max((y for y, row in enumerate(rows) if "┘" in row), default=None)
    if bottom is None:
        return len(rows[0]) if rows else 0, len(rows)
    used = max(y for y, row in enumerate(rows) if row.strip()) + 1
    return len(rows[bottom]) - rows[bottom].rindex("┘") - 1, len(rows) - used


def words_inside_the_figure(app: MmtuiApp) -> list[str]:
    """Words drawn inside the Loss figure's frame, over the curves: a legend's; the legend
    belongs above it."""
    rows = loss_rows(app)
    top = next(y for y, row in enumerate(rows) if "┌" in row)
    bottom = next(y for y, row in enumerate(rows) if "└" in row)
    return [word for row in rows[top:bottom] for word in LETTERS.findall(row.partition("│")[2] or row)]


async def check_every_size(app: MmtuiApp, pilot, panels: set[str],
                           also=lambda screen: True) -> dict[tuple, str]:
    """At 80x24, 120x40 and 160x48: the overview lays out exactly `panels`, says no placeholder, leaves no
    more than a few cells of the Loss panel empty and draws no legend over its curves; `also(screen)` holds.
    Returns each size's screen."""
    screens = {}
    for size in SIZES:
        await pilot.resize_terminal(*size)
        await wait_until(pilot, lambda: shown_panels(app) == panels and also(screen_text(app)), timeout=10)
        await pilot.pause(0.1)  # the panels' strips are built at their new size
        screen = screens[size] = screen_text(app)
        assert not [said for said in PLACEHOLDERS if said in screen], screen
        if "loss" in panels:
            right, below = loss_plot_gaps(app)
            assert right <= 2 and below <= 1, (size, right, below, "\n".join(loss_rows(app)))
            assert not words_inside_the_figure(app), (size, "\n".join(loss_rows(app)))
    return screens


async def until_ended(app: MmtuiApp, pilot, timeout: float = 30) -> None:
    await wait_until(pilot, lambda: app.source_status is not None and app.source_status.ended,
                     timeout=timeout)


@pytest.fixture(scope="module")
def logs(tmp_path_factory, char_transformer_run) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("logs")
    return {"transformer": char_transformer_run,
            "trainer": screen_sources.trainer_log(folder), "lightning": screen_sources.lightning_log(folder),
            "script": screen_sources.quiet_script(folder)}


async def test_the_lectures_screen_keeps_its_four_panels_and_every_key(bundled_words):
    app = trainer_app(bundled_words[:1000], hidden=20, steps=400)
    async with app.run_test(size=SIZES[0]) as pilot:
        await until_ended(app, pilot)
        screens = await check_every_size(app, pilot, {"loss", "activations", "saturation", "samples"},
                                         lambda screen: "── step 400" in screen)
    assert "1 2 3 4 presets" in screens[160, 48] and "space pause" in screens[160, 48]
    assert "Activations: hidden tanh h" in screens[160, 48] and "Saturation" in screens[160, 48]


async def test_a_watched_transformers_run_file_shows_no_samples_panel(logs):
    app = MmtuiApp(RunFileSource([logs["transformer"]], follow=False))
    async with app.run_test(size=SIZES[0]) as pilot:
        await until_ended(app, pilot)
        screens = await check_every_size(app, pilot, {"loss", "activations", "saturation"})
    assert "Activations: blocks.0.mlp.1  NewGELU" in screens[160, 48]
    assert "char_transformer · model Transformer" in screens[160, 48]


async def test_a_trainers_scalar_log_gives_the_loss_and_every_scalar_whole(logs):
    app = MmtuiApp(TensorBoardSource([logs["trainer"]], follow=False))
    async with app.run_test(size=SIZES[0]) as pilot:
        await until_ended(app, pilot)
        screens = await check_every_size(app, pilot, {"loss", "scalars"})
    for size in SIZES[1:]:
        assert all(tag in screens[size] for tag in screen_sources.TRAINER_SCALARS), screens[size]
    assert "more: a taller terminal shows them all" in screens[80, 24] or all(
        tag in screens[80, 24] for tag in screen_sources.TRAINER_SCALARS)
    assert "transformers · TensorBoard log" in screens[160, 48] and "steps/s" not in screens[160, 48]


async def test_a_lightning_log_puts_its_weights_in_the_parameters_view_and_caps_its_legend(logs):
    app = MmtuiApp(TensorBoardSource([logs["lightning"]], follow=False))
    async with app.run_test(size=SIZES[0]) as pilot:
        await until_ended(app, pilot)
        screens = await check_every_size(app, pilot, {"loss", "activations", "runs"})
        assert "more (c: next run)" in screens[80, 24] and "more runs · c: next run" in screens[80, 24]
        assert "version_0" in screens[160, 48] and "Activations: activations/" in screens[160, 48]
        assert "weights/" not in screens[160, 48] and "Lightning · TensorBoard log" in screens[160, 48]
        await pilot.press("p")
        await wait_until(pilot, lambda: "weights/encoder.0.weight" in screen_text(app))
        screen = screen_text(app)
        assert "encoder.0.bias" in screen and "Weights, as the log's histograms" in screen
        assert not [said for said in PLACEHOLDERS if said in screen] and "Update:data" not in screen
        await pilot.press("y")
        await wait_until(pilot, lambda: "activations/decoder.1" in screen_text(app))
        assert app.layers_view.dead_map.region.area == 0  # a logged histogram has no image of units


async def test_a_script_that_never_watches_gives_its_output_the_whole_screen(logs, tmp_path):
    source = ScriptSource([sys.executable, str(logs["script"])], "train.py", tmp_path / "run.jsonl")
    source.start()
    app = MmtuiApp(source)
    async with app.run_test(size=SIZES[0]) as pilot:
        await until_ended(app, pilot)
        screens = await check_every_size(app, pilot, {"output"}, lambda screen: "train.py exited" in screen)
        shot = app.screenshot_svg()
    assert 'xml:space="preserve"' in shot  # rsvg-convert keeps the spaces between a name and its figures
    assert "epoch 11: loss 1.90" in screens[160, 48] and "? help" in screens[160, 48]
    # no key for what cannot come
    assert "y layers" not in screens[160, 48] and "l log/lin" not in screens[160, 48]


# ---- the drawing functions

def test_a_narrow_loss_range_gets_at_least_three_log_ticks():
    assert log_ticks(3.35, 4.04) == [3.4, 3.6, 3.8, 4.0]
    assert len(log_ticks(2.01, 2.09)) >= 3 and log_ticks(2.0, 2.0) == [2.0]
    assert log_ticks(2.2, 27) == [2.5, 3, 4, 5, 7, 10, 15, 20]  # the lecture's: as they always were
    assert log_ticks(1e-5, 10) == [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10]  # decades: the powers of 10 alone


def test_the_smoothing_follows_a_short_log_and_smooths_a_long_run():
    short = [3.0 - 0.05 * i for i in range(30)]  # 30 logged points going down: 1.55 at the end
    assert smoothed(short)[-1] == pytest.approx(short[-1], abs=0.05)  # a fixed 0.99 left it at ~2.3
    noisy = [2.0 + (0.5 if i % 2 else -0.5) for i in range(2000)]
    assert max(smoothed(noisy)[1000:]) - min(smoothed(noisy)[1000:]) < 0.05
    assert smoothed([4.0])[0] == 4.0  # debiased: the first point is the data's, not pulled towards 0
    losses, curves = LossSeries(), SmoothedCurves()
    losses.extend(0, tuple(short))
    first = curves.of(losses)
    assert curves.of(losses) is first and first == smoothed(short)  # kept while the series is unchanged
    losses.extend(30, (1.5,))
    assert curves.of(losses) == smoothed([*short, 1.5])  # smoothed again once it grew: the weight is refitted


def test_long_names_are_cut_in_the_middle_and_columns_never_run_together():
    assert cut_middle("train/train_samples_per_second", 20) == "train/trai…er_second"
    assert cut_middle("short", 20) == "short"
    info = RunInfo(run_id=0, name="version_1", model="", stream="version_1")
    history = History()
    history.add(Snapshot(run=info, state=RUNNING, step=1_102_999, first_loss_step=1_102_998, losses=(2.0,),
                         lr=None, steps_per_s=0.0, init_loss=None, layers=(), params=(), evals=(), samples=(),
                         last_finite_loss=2.0, diverged_loss=None))
    row = runs_table_lines(history, 80)[1].text
    assert "version_1  1,102,999" in row


def test_a_legend_too_long_for_its_rows_cuts_names_then_counts_the_runs_it_leaves_out():
    entries = [LegendEntry("⣀⣀", 6, f"lightning_logs/version_{i}_with_a_long_name", run=True)
               for i in range(11)]
    one_row = [line.text for line in legend_lines(entries, 80, 1)]
    assert len(one_row) == 1 and "more (c: next run)" in one_row[0] and len(one_row[0]) <= 80
    assert "…sion_0_wit…" in one_row[0] and "…sion_1_wit…" in one_row[0]  # cut where the names agree
    whole = [line.text for line in legend_lines(entries[:2], 160, 1)]
    assert "lightning_logs/version_0_with_a_long_name" in whole[0]


def test_a_histograms_tag_that_names_a_weight_is_a_weights():
    for tag in ("weights/encoder.0", "encoder.0.weight", "layer1.bias", "dense/kernel", "weight_gradients/W1",
                "Parameters/fc"):
        assert is_weight_tag(tag), tag
    for tag in ("activations/h", "gradients/h", "encoder.1", "relu_out", "tanh layer 2"):
        assert not is_weight_tag(tag), tag


def test_the_status_line_names_what_ran_and_an_ended_runs_average_speed():
    assert what_ran("mlp", {"init": "lecture", "seed": 1}) == "model mlp"  # the lecture's, as it always was
    assert what_ran("LitNet", {"framework": "Lightning", "script": "train"}) \
        == "Lightning · train · model LitNet"
    assert what_ran("", {"log": "TensorBoard", "framework": "transformers"}) \
        == "transformers · TensorBoard log"
    history = History()
    for step, speed, state in ((100, 100.0, RUNNING), (200, 100.0, RUNNING), (600, 400.0, RUNNING),
                               (600, 0.0, DONE)):
        history.add(replace(script_snapshot(step), steps_per_s=speed, state=state))
        if step == 600 and state == RUNNING:
            assert history.steps_per_s == 400.0  # running: the latest speed
    assert history.steps_per_s == 250.0  # ended: 500 steps in 2 s, not the last snapshot's 400
    assert "250 steps/s over the run" in describe(StatusShown(history.latest, history.steps_per_s)).plain
