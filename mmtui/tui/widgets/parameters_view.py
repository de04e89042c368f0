"""The parameters view: every 2-D weight's gradient statistics, and update:data ratios over the run."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid

from mmtui.tui.diagnostics import param_curves, param_table
from mmtui.tui.history import History
from mmtui.tui.widgets.runs_table import title_selected_run
from mmtui.tui.widgets.stats_panel import StatsPanel
from mmtui.tui.widgets.update_ratio_plot import UpdateRatioPlot


class ParametersView(Grid):
    """The lecture's weight diagnostics: the output layer's outsized grad:data ratio at init, the learning
    rate judged by the update:data ratio."""

    DEFAULT_CSS = """
    ParametersView { grid-size: 1 2; grid-rows: 1fr 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.weights = StatsPanel("Weight gradients per 2-D parameter", "weight gradient", id="param-grads")
        self.update_ratios = UpdateRatioPlot(id="update-ratios")

    def compose(self) -> ComposeResult:
        yield self.weights
        yield self.update_ratios

    def draw(self, history: History) -> None:
        params = history.run.params if history.run else ()
        self.weights.draw(param_table(params), param_curves(params), "waiting for weight gradients…")
        self.update_ratios.draw(history.run)
        title_selected_run((self.weights, self.update_ratios), history)
