"""The overview: loss, the first layer's histogram and saturation, sampled names, logged scalars, compared runs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid

from mmtui.tui.history import History
from mmtui.tui.widgets.activation_histogram import ActivationHistogram
from mmtui.tui.widgets.loss_plot import LossPlot
from mmtui.tui.widgets.runs_table import RunsTable, title_selected_run
from mmtui.tui.widgets.samples_panel import SamplesPanel
from mmtui.tui.widgets.saturation_panel import SaturationPanel
from mmtui.tui.widgets.scalars_panel import ScalarsPanel


class OverviewView(Grid):
    """The lecture's first experiments at a glance; the view the app starts in."""

    # The Runs table, shown only while runs are compared, and the Scalars, only for a run that logs some, span
    # the width between the two rows of panels.
    DEFAULT_CSS = """
    OverviewView { grid-size: 2 2; grid-columns: 3fr 2fr; grid-rows: 2fr 1fr; }
    OverviewView > RunsTable, OverviewView > ScalarsPanel { display: none; column-span: 2; }
    OverviewView.comparing, OverviewView.scalars { grid-size: 2 3; grid-rows: 2fr auto 1fr; }
    OverviewView.comparing.scalars { grid-size: 2 4; grid-rows: 2fr auto auto 1fr; }
    OverviewView.comparing > RunsTable, OverviewView.scalars > ScalarsPanel { display: block; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.loss_plot = LossPlot(id="loss")
        self.activations = ActivationHistogram(id="activations")
        self.saturation = SaturationPanel(id="saturation")
        self.samples = SamplesPanel(id="samples")
        self.runs = RunsTable(id="runs")
        self.scalars = ScalarsPanel(id="scalars")
        self._drawn_samples = -1

    def compose(self) -> ComposeResult:
        yield self.loss_plot
        yield self.activations
        yield self.runs
        yield self.scalars
        yield self.saturation
        yield self.samples

    def draw(self, history: History) -> None:
        run = history.run
        self.set_class(history.comparing, "comparing")
        self.loss_plot.draw(history)
        if history.comparing:
            self.runs.draw(history)
        self.set_class(bool(run and run.scalars), "scalars")
        if run and run.scalars:
            self.scalars.draw(run)
        title_selected_run((self.activations, self.saturation, self.samples, self.scalars), history)
        self.activations.draw(run.first_layer if run else None)
        self.saturation.draw(run)
        if history.samples_version != self._drawn_samples:
            self._drawn_samples = history.samples_version
            self.samples.draw(history.samples)
