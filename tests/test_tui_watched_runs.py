"""A watched model's run in the TUI: each layer worded by its function's kind and named by its module, long
names kept by their ends, logged scalars as sparklines, the writer's notes in the status line."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import replace

from mmtui.engine.config import TrainConfig
from mmtui.records import (BOUNDED, OTHER, RECTIFIER, RUNNING, ActivationStats, ParamStats, RunInfo, Scalar,
                           Snapshot)
from mmtui.tui.app import MmtuiApp
from mmtui.tui.diagnostics import activation_table, param_table
from mmtui.tui.history import STATS_KEPT, History, ScalarSeries
from mmtui.tui.layer_words import fitted, trouble_rule
from mmtui.tui.widgets.activation_histogram import TAIL, histogram_lines
from mmtui.tui.widgets.saturation_panel import describe
from mmtui.tui.widgets.status_line import StatusShown, describe as status_describe
from app_sources import ScriptedSource, screen_text, shows
from pilot_wait import wait_until

SIZE = (160, 48)
INFO = RunInfo(run_id=0, name="train Transformer", model="Transformer")
GELU = "transformer.h.0.mlp.act  NewGELU"
LONG_WEIGHT = "transformer.h.11.attn.c_attn.weight"
NO_LOSS = "no loss seen: return it from forward (as logits, loss) or call run.log(loss=loss) each step"


def layer(kind: str, name: str = "", *, edges=(-1.0, -0.5, 0.0, 0.5, 1.0), counts=(5, 1, 1, 3), layer_index=1,
          flat_below=0.0, saturation=40.0) -> ActivationStats:
    return ActivationStats(step=10, saturation=saturation, share_99=30.0, dead_units=2, units=8, mean=0.2,
                           std=0.4, hist_edges=edges, hist_counts=counts, layer=layer_index, grad_mean=1e-4,
                           grad_std=2e-3, grad_hist_edges=(-0.01, 0.0, 0.01), grad_hist_counts=(3, 3),
                           white_rows=(0b11, 0b11), name=name, kind=kind, flat_below=flat_below)


def weight(name: str) -> ParamStats:
    return ParamStats(name, (192, 64), 1e-6, 1e-3, 1e-2, -2.5, (-0.01, 0.0, 0.01), (5, 5))


def snapshot(step: int, layers=(), params=(), scalars=(), notes=()) -> Snapshot:
    return Snapshot(run=INFO, state=RUNNING, step=step, first_loss_step=step, losses=(2.0,), lr=3e-4,
                    steps_per_s=50.0, init_loss=3.5, layers=tuple(layers), params=tuple(params), evals=(),
                    samples=(), last_finite_loss=2.0, diverged_loss=None, scalars=tuple(scalars),
                    notes=tuple(notes))


# ---- the words of each kind

def test_each_kind_states_its_own_trouble():
    assert trouble_rule(layer(BOUNDED)) == "|h| > 0.97"  # the lecture's first layer: h
    assert trouble_rule(layer(BOUNDED, layer_index=3), white=True) == "|t| > 0.99"
    sigmoid = layer(BOUNDED, "gate  Sigmoid", edges=(0.0, 0.5, 1.0), counts=(1, 1))
    assert trouble_rule(sigmoid) == "t within 0.015 of 0 or 1"  # 0.97 on the range scaled to [-1, 1]
    assert trouble_rule(layer(RECTIFIER, "act  ReLU")) == "t ≤ 0"
    assert trouble_rule(layer(RECTIFIER, "act  Softplus", flat_below=math.log(2))) == "t ≤ 0.693"
    assert trouble_rule(layer(OTHER, "proj  Identity")) is None


def test_a_long_module_path_keeps_its_end():
    assert fitted(LONG_WEIGHT, 20) == "…" + LONG_WEIGHT[-19:] and len(fitted(LONG_WEIGHT, 20)) == 20
    assert fitted("W1", 20) == "W1"
    table = param_table((weight(LONG_WEIGHT), weight("transformer.h.2.attn.c_attn.weight"))).plain
    # told apart by their ends
    assert "h.11.attn.c_attn.weight" in table and "h.2.attn.c_attn.weight" in table


def red_columns(lines) -> list[bool]:
    """Per bar column of the histogram's bottom row, whether it is drawn in the trouble colour."""
    bottom = lines[-3]
    return [segment.style == TAIL for segment in list(bottom)[1:] for _ in segment.text]


def test_a_rectifiers_histogram_reddens_the_bins_reaching_its_flat_side_and_labels_its_own_range():
    relu = layer(RECTIFIER, "act  ReLU", edges=(0.0, 1.0, 2.0, 3.0, 4.0), counts=(6, 2, 1, 1))
    lines = histogram_lines(relu, width=47, height=8)
    assert "█ t ≤ 0" in lines[0].text
    red = red_columns(lines)
    # 40 columns, 10 a bin: the first bin holds the zeros
    assert red[:10] == [True] * 10 and not any(red[10:])
    assert lines[-1].text.split() == ["0", "4"]  # its range's ends, not the tanh's -1 0 1


def test_a_function_with_no_measure_has_no_red_and_no_rule():
    other = layer(OTHER, "proj  Identity", edges=(-2.0, -1.0, 0.0, 1.0, 2.0))
    lines = histogram_lines(other, width=47, height=8)
    assert "█" not in lines[0].text and not any(red_columns(lines))
    assert lines[-1].text.split() == ["-2", "0", "2"]
    described = describe_layer(other)
    assert "no saturation or dead-unit measure" in described and "% over the run" not in described


def describe_layer(stats: ActivationStats) -> str:
    history = History()
    history.add(snapshot(10, layers=[stats]))
    return describe(history.run).plain


def test_the_saturation_panel_names_the_layer_and_says_flat_side_for_a_rectifier():
    text = describe_layer(layer(RECTIFIER, GELU))
    assert GELU in text and "40.0% of t on the flat side (t ≤ 0)" in text
    assert "white pixels" not in text  # a ReLU's white pixels are its flat side: said once
    assert "2 dead units of 8 (flat for the whole batch)" in text
    lecture = describe_layer(layer(BOUNDED))
    assert "40.0% of h saturated (|h| > 0.97)" in lecture and "white pixels (|h| > 0.99)" in lecture


def test_mixed_kinds_share_one_column_and_a_function_with_no_measure_shows_dashes():
    table = activation_table((layer(BOUNDED, "a  Tanh"), layer(RECTIFIER, "b  ReLU"),
                              layer(OTHER, "c  Identity")))
    header, tanh, relu, other = table.plain.splitlines()
    assert "in trouble" in header
    assert "40.00%" in tanh and "40.00%" in relu and "%" not in other and other.count("—") == 2
    assert "saturated" in activation_table((layer(BOUNDED),)).plain.splitlines()[0]  # the lecture's word
    assert "flat side" in activation_table((layer(RECTIFIER, "b  ReLU"),)).plain.splitlines()[0]


# ---- scalars and notes in the history

def test_a_scalar_series_stays_bounded_and_keeps_its_latest_reading():
    limit = 16
    series = ScalarSeries(limit)
    for step in range(10 * limit):
        series.add(Scalar("lr", step, 1.0 / (step + 1)))
    series.add(Scalar("lr", 10 * limit, math.nan))
    assert len(series.values) < limit and series.thinning.bucket > 1
    assert series.latest.step == 10 * limit and all(math.isfinite(v) for v in series.values)
    assert series.steps == sorted(series.steps) and series.steps[-1] > 9 * limit


def test_notes_are_kept_once_each_for_the_status_line_and_go_with_their_run():
    history = History()
    for step in range(3):
        history.add(snapshot(step, notes=(NO_LOSS,)))
    assert list(history.notes) == [NO_LOSS]
    # a run's notes are its own: the mlp's "building the compiled step" stayed on the rnn run after m
    history.add(replace(snapshot(3), run=replace(INFO, run_id=INFO.run_id + 1)))
    assert list(history.notes) == []


# ---- the lecture's words, on the lecture's runs alone

def lecture_info(model: str) -> RunInfo:
    """A run of the lecture's trainer as it describes itself: its config and the data's sizes."""
    settings = {**dataclasses.asdict(TrainConfig(model=model)), "num_words": 2000}
    return RunInfo(run_id=0, name=model, model=model, settings=settings, vocab_size=27,
                   expected_init_loss=math.log(27))


def status_of(info: RunInfo) -> str:
    return status_describe(StatusShown(replace(snapshot(10), run=info), 50.0)).plain


def test_the_status_line_says_a_lecture_runs_settings_where_its_model_uses_them():
    for model in ("mlp", "mlp-bn"):
        line = status_of(lecture_info(model))
        assert "init lecture" in line and "W1 x1" in line and "seed 2147483647" in line and "gain" not in line
    for model in ("deep", "deep-bn"):  # the gain is their experiment; they take no preset
        line = status_of(lecture_info(model))
        assert "gain 5/3" in line and "W1 x1" in line and "init" not in line
    for model in ("rnn", "gru"):  # the presets and [ ] act on the cell's weights; there is no gain
        line = status_of(lecture_info(model))
        assert "init lecture" in line and "cell weights x1" in line
        assert "gain" not in line and "W1" not in line


def test_a_watched_script_and_a_log_are_told_none_of_the_lectures_settings():
    script = RunInfo(run_id=0, name="train mlp", model="mlp",
                     settings={"model": "mlp", "script": "train", "init": "lecture", "gain": 5 / 3, "seed": 1,
                               "w1_scale": 1.0})
    log = RunInfo(run_id=0, name="version_0", model="", settings={"log": "TensorBoard", "gain": 5 / 3})
    for info, ran in ((script, "train · model mlp"), (log, "TensorBoard log")):
        line = status_of(info)
        assert ran in line
        assert not any(word in line for word in ("init", "gain", "W1", "seed")), line


def test_only_a_lecture_run_is_told_its_logits_are_too_large():
    warning = "confidently wrong at init: the logits are too large"
    script = RunInfo(run_id=0, name="train MLP", model="MLP", settings={"model": "MLP", "script": "train"},
                     vocab_size=27, expected_init_loss=math.log(27))
    for info, warned in ((lecture_info("mlp"), True), (lecture_info("rnn"), True), (script, False)):
        history = History()
        history.add(replace(snapshot(10), run=info, init_loss=27.0))
        text = describe(history.run).plain
        assert "step-0 loss 27.00, expected -ln(1/27) = 3.30" in text  # the figures, for every run
        assert (warning in text) == warned, info.model


# ---- on screen

def test_a_note_follows_the_step_and_the_speed_which_a_narrow_terminal_keeps():
    line = status_describe(StatusShown(snapshot(10), 50.0, note="compiled step in use from step 8")).plain
    assert line.index("step 10") < line.index("50 steps/s") < line.index("compiled step in use from step 8")
    assert line.startswith("running  ·  step 10")


def watched_snapshots(step: int, scalars=(), notes=()) -> Snapshot:
    layers = [replace(layer(RECTIFIER, f"transformer.h.{i}.mlp.act  NewGELU", layer_index=i + 1,
                            edges=(-0.2, 0.5, 1.2, 1.9, 2.6)), step=step) for i in range(3)]
    return snapshot(step, layers=layers, params=[weight(LONG_WEIGHT), weight("lm_head.weight")],
                    scalars=scalars, notes=notes)


async def test_a_watched_run_is_drawn_in_its_own_words_with_its_scalars_and_notes():
    source = ScriptedSource([watched_snapshots(10, scalars=[Scalar("lr", 10, 3e-4)], notes=(NO_LOSS,))],
                            commands=frozenset())
    app = MmtuiApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot,
                         lambda: shows(app, "Activations: transformer.h.0.mlp.act  NewGELU", "Scalars"))
        text = screen_text(app)
        assert "hidden tanh" not in text and "█ t ≤ 0" in text and "Dead units" in text
        status = next(line for line in text.splitlines() if line.strip().startswith("running"))
        assert "no loss seen: return it from forward" in status
        assert "Scalars" in text and "accuracy" not in text
        source.outbox += [watched_snapshots(11 + i, scalars=[Scalar("lr", 11 + i, 3e-4 * (1 - i / 10)),
                                                              Scalar("accuracy", 11 + i, 0.5 + i / 20)])
                          for i in range(5)]
        await wait_until(pilot, lambda: shows(app, "accuracy", "0.7 "))  # a row appears for a new scalar
        assert "0.00018 … 0.0003" in screen_text(app)  # lr's sparkline range
        await pilot.press("y")
        await wait_until(pilot,
                         lambda: shows(app, "Activations per layer", "transformer.h.2.mlp.act  NewGELU"))
        text = screen_text(app)
        assert "Tanh" not in text and "Dead neurons: t ≤ 0" in text and "flat side" in text
        assert "0.15" in text and "2.25" in text  # the axis spans the bins' centres, not [-1, 1]
        await pilot.press("p")
        await wait_until(pilot, lambda: shows(app, "h.11.attn.c_attn.weight", "the optimizer's real update"))


# ---- stepping back through statistics

def test_stepping_back_pins_older_statistics_and_newer_arrivals_leave_them_shown():
    history = History()
    for step in range(0, 100, 10):
        history.add(snapshot(step, layers=[replace(layer(RECTIFIER, GELU), step=step)]))
    history.step_through(-3)
    assert history.run.first_layer.step == 60 and "step 60" in history.run.looking_back
    history.add(snapshot(100, layers=[replace(layer(RECTIFIER, GELU), step=100)]))
    assert history.run.first_layer.step == 60  # what the user looks at does not move
    history.step_through(-100)
    assert history.run.first_layer.step == 0
    history.step_through(100)
    # following the latest again
    assert history.run.first_layer.step == 100 and history.run.looking_back is None


def test_the_statistics_kept_to_step_back_through_stay_bounded_and_span_the_run():
    history = History()
    for step in range(1000):
        history.add(snapshot(step, layers=[replace(layer(RECTIFIER, GELU), step=step)]))
    kept = [layers[0].step for layers in history.run.past_layers]
    assert len(kept) < STATS_KEPT and kept == sorted(kept)
    assert kept[-1] == 999 and kept[0] < 100  # the latest, and the run's start, thinned


async def test_comma_and_full_stop_step_the_panels_through_earlier_statistics():
    source = ScriptedSource([watched_snapshots(step) for step in (10, 20, 30)], commands=frozenset())
    app = MmtuiApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: shows(app, "step 30: mean"))
        await pilot.press("comma", "comma")
        await wait_until(pilot, lambda: shows(app, "step 10: mean", "statistics of step 10"))
        await pilot.press("full_stop", "full_stop")
        await wait_until(pilot,
                         lambda: shows(app, "step 30: mean") and "statistics of step" not in screen_text(app))


def test_a_histogram_axis_from_the_data_labels_its_middle_0_not_a_rounding_error():
    from mmtui.tui.diagnostics import Curve
    from mmtui.tui.widgets.histogram_overlay import HistogramOverlay

    overlay = HistogramOverlay("t", symmetric=False)
    overlay.draw([Curve(1, [-0.98, 0.0, 0.979], [0.1, 0.7, 0.1])], empty="")
    assert overlay.lines(80, 12)[-1].text.split() == ["-0.98", "-0.49", "0", "0.489", "0.979"]
