"""The layers view: activations and gradients of every Tanh layer, and one layer's dead-neuron map."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid

from mmtui.records import ActivationStats
from mmtui.tui.diagnostics import activation_curves, activation_table, gradient_curves, gradient_table
from mmtui.tui.history import History
from mmtui.tui.widgets.dead_map import DeadNeuronMap
from mmtui.tui.widgets.runs_table import title_selected_run
from mmtui.tui.widgets.stats_panel import StatsPanel

MAP_HEIGHT = 20  # a batch of 32 at two examples per row, a title and an axis line, and the border


class LayersView(Grid):
    """The lecture's per-layer diagnostics of the deep net: a shrinking or saturating gain shows layer by layer."""

    DEFAULT_CSS = f"""
    LayersView {{ grid-size: 2 2; grid-columns: 1fr 1fr; grid-rows: 1fr {MAP_HEIGHT}; }}
    LayersView > DeadNeuronMap {{ column-span: 2; }}
    """
    REDRAW_S = 0.5  # twice a second is enough to read figures that change with each batch

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.activations = StatsPanel("Activations per Tanh layer", "tanh output t", x_range=(-1, 1),
                                      id="layer-activations")
        self.gradients = StatsPanel("Gradients reaching each Tanh output, dloss/dt", "gradient",
                                    id="layer-gradients")
        self.dead_map = DeadNeuronMap(id="dead-map")
        self.map_layer = 0  # index into the run's layers; the n key cycles it

    def compose(self) -> ComposeResult:
        yield self.activations
        yield self.gradients
        yield self.dead_map

    def draw(self, history: History) -> None:
        layers = history.run.layers if history.run else ()
        self.activations.draw(activation_table(layers), activation_curves(layers), "waiting for the first step…")
        self.gradients.draw(gradient_table(layers), gradient_curves(layers), "no gradients in the latest snapshot")
        self._draw_map(layers)
        title_selected_run((self.activations, self.gradients, self.dead_map), history)

    def next_map_layer(self, history: History) -> None:
        self.map_layer += 1
        self._draw_map(history.run.layers if history.run else ())  # the map alone: the plots did not change

    def _draw_map(self, layers: tuple[ActivationStats, ...]) -> None:
        self.map_layer %= max(len(layers), 1)  # a reinit may bring fewer layers
        self.dead_map.draw(layers[self.map_layer] if layers else None)
