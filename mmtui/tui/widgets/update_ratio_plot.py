"""The Update:data ratio panel: log10 of each 2-D weight's update size over its data size, over the run."""

from __future__ import annotations

import math

from textual_plotext.plot import Plot

from mmtui.tui.diagnostics import line_color
from mmtui.tui.history import RunHistory
from mmtui.tui.widgets.plot_strips import Y_LABEL_WIDTH, PlotStrips, step_ticks

GUIDE = -3.0  # the lecture's rough healthy level: updates about 1/1000 of the data
GUIDE_COLOR = 250  # light grey, a 256-colour code
COLUMNS_PER_POINT = 3  # plotext's cost grows with the pixels its lines cross: 7 noisy lines of one point per
# column in half-block cells cost ~70 ms a figure, of one point per 3 columns ~20 ms


class UpdateRatioPlot(PlotStrips):
    """One line per weight, in its colour in the parameter table, and a guide line at -3."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Update:data ratio, log10 ((lr · grad).std() / data.std())"
        self._run: RunHistory | None = None

    def draw(self, run: RunHistory | None) -> None:
        self._run = run
        self.rebuild()

    def plot(self, plt: Plot, width: int, height: int) -> None:
        lines = ratio_lines(self._run, max(width - Y_LABEL_WIDTH, 10) // COLUMNS_PER_POINT)
        if not lines:
            plt.title("waiting for update:data ratios…")
            return
        for color, steps, values in lines:
            plt.plot(steps, values, color=color, marker="hd")  # braille cost half as much again
        values = [v for _, _, line in lines for v in line]
        plt.hline(GUIDE, GUIDE_COLOR)
        plt.ylim(min(min(values), GUIDE) - 0.25, max(max(values), GUIDE) + 0.25)  # the guide always in view
        ticks = step_ticks(max(line[1][-1] for line in lines))
        plt.xticks(ticks, [f"{t:,}" for t in ticks])
        plt.title(f"grey line: {GUIDE:g} (updates ~1/1000 of the data); far above: lr too high, far below: too low")
        plt.xlabel("step")
        plt.ylabel("log10 update:data")


def ratio_lines(run: RunHistory | None, width: int) -> list[tuple[int, list[int], list[float]]]:
    """(colour, steps, values) per weight with finite readings, downsampled to `width` points."""
    if run is None:
        return []
    steps, series = run.update_ratios.downsampled(width)
    lines = []
    for index, values in enumerate(series.values()):
        kept = [(s, v) for s, v in zip(steps, values) if math.isfinite(v)]  # plotext raises on NaN and inf
        if kept:
            lines.append((line_color(index), [s for s, _ in kept], [v for _, v in kept]))
    return lines
