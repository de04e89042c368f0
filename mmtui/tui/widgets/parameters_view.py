"""The parameters view: every 2-D weight's gradient statistics and update:data ratios over the run, or the
histograms of weights' values a log holds."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid

from mmtui.tui.diagnostics import param_curves, param_table, weight_curves, weight_table
from mmtui.tui.history import History
from mmtui.tui.widgets.runs_table import title_selected_run
from mmtui.tui.widgets.stats_panel import StatsPanel
from mmtui.tui.widgets.update_ratio_plot import UpdateRatioPlot

GRADIENTS = ("Weight gradients per 2-D parameter", "weight gradient")  # title, x label
LOGGED = ("Weights, as the log's histograms of their values", "weight value")


class ParametersView(Grid):
    """The lecture's weight diagnostics: the output layer's outsized grad:data ratio at init, the learning
    rate judged by the update:data ratio. A log's weight histograms carry no gradient or update: their values'
    histograms take the whole view."""

    DEFAULT_CSS = """
    ParametersView { grid-size: 1 2; grid-rows: 1fr 1fr; }
    ParametersView.logged { grid-size: 1 1; grid-rows: 1fr; }
    ParametersView.logged > UpdateRatioPlot { display: none; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.weights = StatsPanel(*GRADIENTS, id="param-grads")
        self.update_ratios = UpdateRatioPlot(id="update-ratios")

    def compose(self) -> ComposeResult:
        yield self.weights
        yield self.update_ratios

    def draw(self, history: History) -> None:
        run = history.run
        params = run.params if run else ()
        logged = run.weights if run and not params else ()
        self.set_class(bool(logged), "logged")
        self.weights.border_title, self.weights.plot.xlabel = LOGGED if logged else GRADIENTS
        if logged:
            self.weights.draw(weight_table(logged), weight_curves(logged), "")
        else:
            self.weights.draw(param_table(params), param_curves(params), "waiting for weight gradients…")
            self.update_ratios.draw(run)
        title_selected_run((self.weights, self.update_ratios), history)
