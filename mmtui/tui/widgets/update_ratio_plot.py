"""The Update:data ratio panel: log10 of each 2-D weight's update size over its data size, over the run."""

from __future__ import annotations

import math

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from mmtui.experiments import MODELS
from mmtui.tui.braille_plot import Axis, PlotLine, line_plot
from mmtui.tui.history import RunHistory
from mmtui.tui.palette import GUIDE_GREY, code_style, layer_color
from mmtui.tui.widgets.plot_strips import Y_LABEL_WIDTH, step_ticks
from mmtui.tui.widgets.strips_widget import StripsWidget

GUIDE = -3.0  # the lecture's rough healthy level: updates about 1/1000 of the data
GUIDE_STYLE = Style(color=GUIDE_GREY)
MARGIN = 0.25  # log10 units above and below the lines and the guide
MAX_TICKS = 12  # y ticks at most
# the lecture's formula, its SGD's update
SGD_TITLE = "Update:data ratio, log10 ((lr · grad).std() / data.std())"
MEASURED_TITLE = "Update:data ratio, log10 (update.std() / data.std()), the optimizer's real update"


class UpdateRatioPlot(StripsWidget):
    """One line per weight, in its colour in the parameter table, and a guide line at -3."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = SGD_TITLE
        self._run: RunHistory | None = None

    def draw(self, run: RunHistory | None) -> None:
        self._run = run
        self.border_title = SGD_TITLE if run is None or run.info.model in MODELS else MEASURED_TITLE
        self.rebuild()

    def lines(self, width: int, height: int) -> list[Strip]:
        lines = ratio_lines(self._run, max(width - Y_LABEL_WIDTH, 10) * 2)  # a point per braille dot column
        if not lines:
            return [Strip([Segment("waiting for update:data ratios…")])]
        values = [v for _, _, line in lines for v in line]
        # the guide always in view
        low, high = min(min(values), GUIDE) - MARGIN, max(max(values), GUIDE) + MARGIN
        last = max(steps[-1] for _, steps, _ in lines)
        x = Axis(0, last, [(t, f"{t:,}") for t in step_ticks(last)], "step")
        every = max(math.ceil((high / 2 - low / 2) / (MAX_TICKS / 2)), 1)  # fewer ticks over a range of 1e308
        y = Axis(low, high, [(v, f"{v:g}") for v in range(math.ceil(low), math.floor(high) + 1, every)],
                 "log10 update:data")
        plotted = [PlotLine(steps, values, code_style(color)) for color, steps, values in lines]
        return line_plot(plotted, width, height, x, y,
                         f"grey line: {GUIDE:g} (updates ~1/1000 of the data); far "
                         "above: lr too high, far below: too low", guides=[(GUIDE, GUIDE_STYLE)])


def ratio_lines(run: RunHistory | None, width: int) -> list[tuple[int, list[int], list[float]]]:
    """(colour, steps, values) per weight with finite readings, downsampled to `width` points."""
    if run is None:
        return []
    steps, series = run.update_ratios.downsampled(width)
    lines = []
    for index, values in enumerate(series.values()):
        # the plot cannot place NaN and inf
        kept = [(s, v) for s, v in zip(steps, values) if math.isfinite(v)]
        if kept:
            lines.append((layer_color(index), [s for s, _ in kept], [v for _, v in kept]))
    return lines
