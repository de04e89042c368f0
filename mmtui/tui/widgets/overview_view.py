"""The overview: loss, the first layer's histogram and saturation, sampled names or a script's output, logged
scalars and compared runs, each panel laid out only where its source sends its data."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget

from mmtui.records import LAYERS, LOSS, OTHER, OUTPUT, SAMPLES
from mmtui.tui.history import History
from mmtui.tui.widgets.activation_histogram import ActivationHistogram
from mmtui.tui.widgets.loss_plot import LossPlot
from mmtui.tui.widgets.output_panel import OutputPanel
from mmtui.tui.widgets.runs_table import RunsTable, title_selected_run
from mmtui.tui.widgets.samples_panel import SamplesPanel
from mmtui.tui.widgets.saturation_panel import SaturationPanel
from mmtui.tui.widgets.scalars_panel import ScalarsPanel


class OverviewView(Vertical):
    """The lecture's first experiments at a glance; the view the app starts in.

    Two columns, the Loss over the Saturation panel and the Activations over the Samples (or a script's
    Output), then the Runs table and the Scalars across the width. A panel whose data has not come and is not
    promised is not laid out: its neighbour in the column takes its place, and a column left empty
    gives its width away.
    """

    DEFAULT_CSS = """
    OverviewView #overview-top { height: 1fr; }
    OverviewView #overview-left { width: 3fr; }
    OverviewView #overview-right { width: 2fr; }
    OverviewView.halves #overview-left, OverviewView.halves #overview-right { width: 1fr; }
    OverviewView LossPlot, OverviewView ActivationHistogram { height: 2fr; }
    OverviewView SaturationPanel, OverviewView SamplesPanel, OverviewView OutputPanel { height: 1fr; }
    OverviewView RunsTable { height: auto; max-height: 40%; }
    OverviewView ScalarsPanel { height: auto; max-height: 50%; }
    """

    def __init__(self, produces: frozenset[str], promised: frozenset[str], **kwargs) -> None:
        """`produces`, `promised`: what the source may send, and what it sends from its start
        (records.Source)."""
        super().__init__(**kwargs)
        self.produces, self.promised = produces, promised
        self.loss_plot = LossPlot(id="loss", classes="panel")
        self.activations = ActivationHistogram(id="activations", classes="panel")
        self.saturation = SaturationPanel(id="saturation", classes="panel")
        self.samples = SamplesPanel(id="samples", classes="panel")
        self.output = OutputPanel(id="output", classes="panel") if OUTPUT in produces else None
        self.runs = RunsTable(id="runs", classes="panel")
        self.scalars = ScalarsPanel(id="scalars", classes="panel")
        self._drawn_samples = -1
        self._shown: frozenset[str] | None = None  # the panels laid out, by id

    def compose(self) -> ComposeResult:
        with Horizontal(id="overview-top"):
            with Vertical(id="overview-left"):
                yield self.loss_plot
                yield self.saturation
            with Vertical(id="overview-right"):
                yield self.activations
                yield self.samples
                if self.output is not None:
                    yield self.output
        yield self.runs
        yield self.scalars

    def on_mount(self) -> None:
        self.lay_out(History())

    def shown(self, history: History) -> frozenset[str]:
        """The ids of the panels that have data, or whose data the source promises."""
        def has(kind: str, arrived: bool) -> bool:
            return kind in self.promised or (kind in self.produces and arrived)

        run = history.run
        layers = has(LAYERS, LAYERS in history.seen)
        first = run.first_layer if run is not None else None
        measured = LAYERS in self.promised or (first is not None and first.kind != OTHER)
        panels = {"loss": has(LOSS, history.latest is not None), "activations": layers,
                  "saturation": layers and measured, "samples": has(SAMPLES, SAMPLES in history.seen),
                  "output": OUTPUT in self.promised, "runs": history.comparing,
                  "scalars": bool(run and run.scalars)}
        return frozenset(name for name, shown in panels.items() if shown)

    def lay_out(self, history: History) -> None:
        """Lay out the panels that have something to show; a layout pass only when that set changed."""
        shown = self.shown(history)
        if shown == self._shown:
            return
        self._shown = shown
        for panel in (self.loss_plot, self.saturation, self.activations, self.samples, self.output, self.runs,
                      self.scalars):
            if panel is not None:
                _show(panel, panel.id in shown)
        left = bool(shown & {"loss", "saturation"})
        right = bool(shown & {"activations", "samples", "output"})
        _show(self.query_one("#overview-left"), left)
        _show(self.query_one("#overview-right"), right)
        # a run's loss beside a script's output: half each, the output's lines being as
        # long as the plot is wide
        self.set_class(left and shown & {"activations", "samples", "output"} == {"output"}, "halves")

    def draw(self, history: History) -> None:
        self.lay_out(history)
        run = history.run
        shown = self._shown
        self.loss_plot.draw(history)
        if "runs" in shown:
            self.runs.draw(history)
        if "scalars" in shown:
            self.scalars.draw(run)
        title_selected_run((self.activations, self.saturation, self.samples, self.scalars), history)
        if "activations" in shown:
            self.activations.draw(run.first_layer if run else None)
        if "saturation" in shown:
            self.saturation.draw(run)
        if "samples" in shown and history.samples_version != self._drawn_samples:
            self._drawn_samples = history.samples_version
            self.samples.draw(history.samples)


def _show(widget: Widget, shown: bool) -> None:
    if widget.display != shown:  # setting it lays the screen out again
        widget.display = shown
