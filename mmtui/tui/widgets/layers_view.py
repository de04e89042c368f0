"""The layers view: activations and gradients of every activation layer, and one layer's dead-neuron map."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid

from mmtui.records import BOUNDED, OTHER, ActivationStats
from mmtui.tui.diagnostics import activation_curves, activation_table, gradient_curves, gradient_table
from mmtui.tui.history import History
from mmtui.tui.layer_words import bounds
from mmtui.tui.widgets.dead_map import DeadNeuronMap
from mmtui.tui.widgets.runs_table import title_selected_run
from mmtui.tui.widgets.stats_panel import StatsPanel

MAP_HEIGHT = 20  # a batch of 32 at two examples per row, a title and an axis line, and the border
TANH_TITLES = ("Activations per Tanh layer", "tanh output t", "Gradients reaching each Tanh output, dloss/dt")
NAMED_TITLES = ("Activations per layer", "output t", "Gradients reaching each layer's output, dloss/dt")


class LayersView(Grid):
    """The lecture's per-layer diagnostics of the deep net: a shrinking or saturating gain
    shows layer by layer."""

    DEFAULT_CSS = f"""
    LayersView {{ grid-size: 2 2; grid-columns: 1fr 1fr; grid-rows: 1fr {MAP_HEIGHT}; }}
    LayersView > DeadNeuronMap {{ column-span: 2; }}
    LayersView.unmeasured {{ grid-size: 2 1; grid-rows: 1fr; }}
    LayersView.unmeasured > DeadNeuronMap {{ display: none; }}
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.activations = StatsPanel(TANH_TITLES[0], TANH_TITLES[1], x_range=(-1, 1), symmetric=False,
                                      id="layer-activations")
        self.gradients = StatsPanel(TANH_TITLES[2], "gradient", id="layer-gradients")
        self.dead_map = DeadNeuronMap(id="dead-map")
        self.map_layer = 0  # index into the run's layers; the n key cycles it

    def on_resize(self) -> None:
        """Half the view at most for the map: at 24 rows its full 20 would leave the plots none."""
        self.styles.grid_rows = f"1fr {min(MAP_HEIGHT, max(self.size.height // 2, 4))}"

    def compose(self) -> ComposeResult:
        yield self.activations
        yield self.gradients
        yield self.dead_map

    def draw(self, history: History) -> None:
        layers = history.run.shown_layers if history.run else ()
        # a log's histograms, or functions with no measure, have no image of units in trouble: no empty panel
        self.set_class(bool(layers) and all(s.kind == OTHER for s in layers), "unmeasured")
        self._title(layers)
        self.activations.draw(activation_table(layers), activation_curves(layers),
                              "waiting for the first step…")
        self.gradients.draw(gradient_table(layers), gradient_curves(layers),
                            "no gradients in the latest snapshot")
        self._draw_map(layers)
        title_selected_run((self.activations, self.gradients, self.dead_map), history)

    def _title(self, layers: tuple[ActivationStats, ...]) -> None:
        """The lecture's words for its tanh nets; a watched model's layers are of any function, each on its
        own range: one shared axis spans a shared bound, else the data."""
        titles = NAMED_TITLES if any(s.name for s in layers) else TANH_TITLES
        self.activations.border_title, self.activations.plot.xlabel, self.gradients.border_title = titles
        ranges = {bounds(s) if s.kind == BOUNDED else None for s in layers}
        self.activations.plot.x_range = ranges.pop() if len(ranges) == 1 else None

    def next_map_layer(self, history: History) -> None:
        self.map_layer += 1
        # the map alone: the plots did not change
        self._draw_map(history.run.shown_layers if history.run else ())

    def _draw_map(self, layers: tuple[ActivationStats, ...]) -> None:
        self.map_layer %= max(len(layers), 1)  # a reinit may bring fewer layers
        self.dead_map.draw(layers[self.map_layer] if layers else None)
