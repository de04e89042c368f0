"""The deep-net diagnostics in the TUI: model and gain keys, the layers and parameters views,
their pure parts."""

from __future__ import annotations

import math

import pytest

from mmtui.engine.words import read_words
from mmtui.experiments import GAINS, MODELS, gain_label, next_gain
from mmtui.records import RUNNING, ActivationStats, ParamStats, Reinit, RunInfo, Snapshot
from mmtui.tui.app import MmtuiApp
from mmtui.tui.diagnostics import (activation_table, gradient_curves, gradient_table, histogram_curve,
                                   param_table)
from mmtui.tui.history import History, LossSeries, RatioSeries
from mmtui.tui.widgets.dead_map import DEAD, WHITE, dead_columns, dead_map_lines
from mmtui.tui.widgets.update_ratio_plot import ratio_lines
from app_sources import ScriptedSource, StandInTrainer, shows, trainer_app
from pilot_wait import wait_until

SIZE = (160, 48)


# ---- hand-built records

def layer_stats(layer: int = 1, *, std: float = 0.5, units: int = 6, white_rows: tuple[int, ...] = (),
                grads: bool = True, step: int = 0) -> ActivationStats:
    edges = tuple(-1 + i * 0.5 for i in range(5))
    grad_edges = tuple(-0.01 + i * 0.005 for i in range(5))
    return ActivationStats(step=step, saturation=10.0 * layer, share_99=5.0, dead_units=0, units=units,
                           mean=0.01, std=std, hist_edges=edges, hist_counts=(1, 4, 4, 1), layer=layer,
                           grad_mean=1e-5 if grads else None, grad_std=1e-3 * layer if grads else None,
                           grad_hist_edges=grad_edges if grads else (),
                           grad_hist_counts=(2, 8, 8, 2) if grads else (), white_rows=white_rows)


def param_stats(name: str, ratio: float, update: float = -3.0,
                shape: tuple[int, ...] = (100, 100)) -> ParamStats:
    return ParamStats(name, shape, grad_mean=1e-6, grad_std=1e-3, grad_data_ratio=ratio,
                      update_ratio_log10=update, grad_hist_edges=(-0.01, 0.0, 0.01), grad_hist_counts=(5, 5))


def run_info(run_id: int = 0, model: str = "deep", gain: float = 5 / 3) -> RunInfo:
    return RunInfo(run_id=run_id, name=f"{model} gain {gain_label(gain)}", model=model,
                   settings={"init": "kaiming", "gain": gain, "w1_scale": 1.0, "seed": 1}, total_steps=1000,
                   vocab_size=27, num_params=47_024, expected_init_loss=math.log(27))


def snapshot(step: int, *, layers=(), params=(), info: RunInfo | None = None) -> Snapshot:
    return Snapshot(run=info or run_info(), state=RUNNING, step=step, first_loss_step=max(step - 1, 0),
                    losses=(3.3,), lr=0.1, steps_per_s=100.0, init_loss=3.3, layers=tuple(layers),
                    params=tuple(params), evals=(), samples=(), last_finite_loss=3.3, diverged_loss=None)


DEAD_UNIT = 2
# four examples of six units; unit 2 is white in all of them, units 0 and 5 in some
WHITE_ROWS = (0b000101, 0b100100, 0b000100, 0b100101)


def deep_snapshot(step: int, info: RunInfo | None = None) -> Snapshot:
    layers = [layer_stats(i, std=0.8 / i, white_rows=WHITE_ROWS, step=step) for i in range(1, 6)]
    params = [param_stats("C", 0.001, shape=(27, 10))] + [param_stats(f"W{i}", 0.002 * i)
                                                          for i in range(1, 6)]
    params.append(param_stats("W6", 0.05, update=-1.5, shape=(100, 27)))
    return snapshot(step, layers=layers, params=params, info=info)


# ---- history

def test_ratio_series_keeps_every_weight_aligned_and_bounded():
    limit = 64
    series = RatioSeries(limit)
    names = ("C", "W1")
    for step in range(1, 10 * limit):
        params = [param_stats(name, 0.01, update=-3.0 - step / 1e5) for name in names]
        series.add(step, tuple(params[:1] if step == 5 else params))  # W1 missing once
    assert len(series.steps) < limit and series.thinning.bucket > 1
    assert list(series.values) == list(names)
    assert all(len(values) == len(series.steps) for values in series.values.values())
    assert series.steps[-1] > 9 * limit  # the latest readings are kept
    steps, values = series.downsampled(10)
    assert len(steps) <= 10 and steps[-1] == series.steps[-1]
    assert all(len(line) == len(steps) for line in values.values())


def test_a_loss_series_keeps_evenly_spread_raw_losses_and_a_smoothed_loss_of_all_of_them():
    series = LossSeries(limit=16)
    series.extend(0, (math.nan,) + tuple(float(step) for step in range(1, 1000)))  # a ramp: loss = step
    bucket = series.thinning.bucket
    assert 8 <= len(series.steps) < 16 and bucket > 1
    assert {b - a for a, b in zip(series.steps, series.steps[1:])} == {bucket}  # evenly spread over the run
    assert series.raw == [float(step) for step in series.steps]  # samples, not means
    # from the start to the latest bucket
    assert series.steps[0] <= bucket and series.steps[-1] > 999 - bucket
    # the debiased EMA of every finite loss: on a ramp it lags about 1 / (1 - EMA_DECAY) = 100 steps behind
    assert 999 - 105 < series.latest_smooth < 999 - 95 and series.smooth[-1] < series.steps[-1]


def test_a_missing_weight_reads_nan_and_the_plot_skips_it():
    history = History()
    history.add(snapshot(1, params=[param_stats("C", 0.01), param_stats("W1", 0.02)]))
    history.add(snapshot(2, params=[param_stats("C", 0.01)]))
    history.add(snapshot(3))  # no stats in this snapshot: no reading
    assert history.run.update_ratios.steps == [1, 2]
    assert math.isnan(history.run.update_ratios.values["W1"][1])
    lines = ratio_lines(history.run, 50)
    assert [len(steps) for _, steps, _ in lines] == [2, 1]


def test_history_keeps_the_latest_layers_and_params_per_run():
    history = History()
    history.add(deep_snapshot(1))
    history.add(snapshot(2))  # losses only: the panels keep the previous stats
    assert len(history.run.layers) == 5 and len(history.run.params) == 7
    history.add(snapshot(3, layers=[layer_stats()], info=run_info(run_id=1, model="mlp")))
    assert len(history.run.layers) == 1 and history.run.params == ()
    assert history.run.update_ratios.steps == []


# ---- the dead-neuron map

def test_dead_columns_are_the_units_white_for_every_example():
    assert dead_columns(WHITE_ROWS) == 1 << DEAD_UNIT
    assert dead_columns(()) == 0


def test_dead_map_draws_two_examples_per_row_and_the_dead_unit_in_red():
    lines = dead_map_lines(layer_stats(3, white_rows=WHITE_ROWS), width=40)
    title, *image, axis = lines
    assert "layer 3" in title.text and "1 dead unit of 6" in title.text
    assert [line.text for line in image] == ["▀ █  ▄", "▄ █  ▄"]
    dead_segments = [seg for seg in image[0] if seg.style == DEAD]
    assert [seg.text for seg in dead_segments] == ["█"]
    assert all(seg.style in (WHITE, DEAD) for line in image for seg in line)
    assert len(list(image[0])) == 3  # live, dead, live: one segment per run, not per cell
    assert "units 0 → 5" in axis.text


def test_dead_map_packs_two_units_per_column_when_too_wide():
    title, *image, axis = dead_map_lines(layer_stats(white_rows=WHITE_ROWS), width=4)
    assert [line.text for line in image] == ["▘▌▗", "▖▌▗"]
    assert "2 units per column" in axis.text


# ---- tables and curves

def test_histogram_curve_is_a_density_and_skips_what_plotext_cannot_draw():
    curve = histogram_curve((-1.0, 0.0, 1.0), (3, 1), 33)
    assert curve.x == [-0.5, 0.5] and sum(curve.y) == pytest.approx(1.0)
    assert histogram_curve((), (), 33) is None
    assert histogram_curve((0.0, 1.0), (0,), 33) is None
    assert histogram_curve((0.0, math.inf), (4,), 33) is None


def test_layer_tables_list_every_layer_and_tolerate_missing_gradients():
    layers = (layer_stats(1, std=0.75), layer_stats(2, std=0.5, grads=False))
    activations = activation_table(layers).plain
    assert "layer 1" in activations and "0.75" in activations and "20.00%" in activations
    gradients = gradient_table(layers).plain
    assert "1.00e-03" in gradients and "—" in gradients
    assert len(gradient_curves(layers)) == 1


def test_param_table_flags_the_largest_grad_data_ratio():
    params = (param_stats("C", 0.001, shape=(27, 10)), param_stats("W2", 0.05, shape=(100, 27)))
    rows = param_table(params).plain.splitlines()
    assert "27 x 10" in rows[1] and "largest" not in rows[1]
    assert "100 x 27" in rows[2] and "◀ largest" in rows[2]


def test_gain_key_cycles_the_lecture_gains_and_labels_5_3():
    assert [next_gain(g) for g in GAINS] == list(GAINS[1:] + GAINS[:1])
    assert next_gain(2.5) == GAINS[0]
    assert gain_label(5 / 3) == "5/3" and gain_label(0.5) == "0.5"


# ---- the app on hand-built snapshots

async def test_views_switch_and_draw_tables_map_and_ratios():
    host = ScriptedSource([deep_snapshot(1), deep_snapshot(2)])
    app = MmtuiApp(host)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None and app.history.latest.step == 2)
        assert app.views.current == "overview"
        await pilot.press("y")
        await wait_until(pilot, lambda: shows(app, "Activations per Tanh layer", "layer 5", "50.00%",
                                              "1 dead unit of 6", "layer 1 · step"))
        assert app.layers_view.dead_map.region.area > 0 and app.overview.loss_plot.region.area == 0
        await pilot.press("n", "n")
        await wait_until(pilot, lambda: shows(app, "layer 3 · step"))
        await pilot.press("p")
        await wait_until(pilot, lambda: shows(app, "◀ largest grad:data", "100 x 27", "log10 update:data"))
        await pilot.press("o")
        await wait_until(pilot, lambda: app.overview.loss_plot.region.area > 0)
        assert app.views.current == "overview"


async def test_only_the_visible_view_draws():
    host = ScriptedSource([deep_snapshot(1)])
    app = MmtuiApp(host)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None)
        drawn = []
        for view in (app.overview, app.layers_view, app.parameters_view):
            view.draw = lambda history, name=view.id: drawn.append(name)
        # Two snapshots, each drawn by the visible view: a hidden view had the ticks between them to draw too.
        host.outbox.append(deep_snapshot(2))
        await wait_until(pilot, lambda: "overview" in drawn)
        host.outbox.append(deep_snapshot(3))
        await wait_until(pilot, lambda: drawn.count("overview") == 2)
        assert set(drawn) == {"overview"}
        drawn.clear()
        await pilot.press("p")
        assert drawn == ["parameters"]


async def test_help_lists_the_new_keys_and_the_models():
    app = MmtuiApp(ScriptedSource([deep_snapshot(1)]))
    async with app.run_test(size=(160, 80)) as pilot:  # tall enough for every row, none scrolled away
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: shows(app, "toggle BatchNorm", "next tanh gain", "deep-bn", "kaiming",
                                              "escape, ? or q closes this screen"))


@pytest.mark.parametrize("key, expected", [("b", Reinit(model="deep-bn")), ("g", Reinit(gain=1.0)),
                                           ("m", Reinit(model="deep-bn"))])
async def test_model_keys_step_from_the_current_run(key, expected):
    host = ScriptedSource([deep_snapshot(1)])
    app = MmtuiApp(host)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.latest is not None)
        await pilot.press(key)
        assert host.sent == [expected]


# ---- the app on the real trainer

@pytest.fixture(scope="module")
def words() -> list[str]:
    return read_words(None)[:2000]


def status_text(app: MmtuiApp) -> str:
    return str(app.status_line.render())


async def test_b_m_g_step_from_the_run_shown_and_the_status_line_names_the_model_and_gain():
    source = StandInTrainer(model="mlp")
    app = MmtuiApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "model mlp" in status_text(app))
        assert "gain" not in status_text(app)  # the MLPs take no gain: the status line says none
        for key, model in (("b", "mlp-bn"), ("m", MODELS[2])):
            await pilot.press(key)
            await wait_until(pilot, lambda: app.history.run.info.model == model)
        await pilot.press("g")
        await wait_until(pilot,
                         lambda: f"model {MODELS[2]}" in status_text(app) and "gain 1 " in status_text(app))
        assert source.sent == [Reinit(model="mlp-bn"), Reinit(model=MODELS[2]), Reinit(gain=GAINS[1])]


async def test_a_deep_run_shows_every_layer_and_weight(words):
    app = trainer_app(words, model="deep", gain=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("y")
        await wait_until(pilot, lambda: app.history.run is not None and len(app.history.run.layers) == 5)
        await wait_until(pilot,
                         lambda: shows(app, *(f"layer {i}" for i in range(1, 6)), " of 100 (red: white"))
        await pilot.press("p")
        await wait_until(pilot, lambda: len(app.history.run.update_ratios.steps) > 2)
        await wait_until(pilot, lambda: shows(app, "◀ largest grad:data"))
