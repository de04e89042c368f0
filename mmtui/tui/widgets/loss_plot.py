"""The Loss panel: raw and smoothed training loss, val points, the previous run as a ghost, compared runs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual_plotext.plot import Plot

from mmtui.tui.history import History
from mmtui.tui.palette import EXPECTED_LOSS, GHOST_LOSS, RAW_LOSS, VAL_LOSS, run_color
from mmtui.tui.widgets.plot_strips import Y_LABEL_WIDTH, PlotStrips, step_ticks

# loss values labelled on the log axis: fine steps where the lecture's losses lie, 1-2-5 below them, where a
# watched classifier's loss ends
LOG_TICKS = tuple(m * 10.0 ** k for k in range(-6, 0) for m in (1, 2, 5)) + (
    1, 1.5, 2, 2.5, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100, 1000)
MAX_LOG_LABELS = 9  # more would crowd a 20-row plot
PLACEABLE = 1e100  # losses at or past this (a file's 1e308, inf, NaN) are not drawn: plotext's axes overflow


@dataclass(frozen=True)
class Series:
    """One plotted line or point set, already scaled for the axis."""

    steps: list[int]
    values: list[float]
    color: str | int  # a plotext colour name or 256-colour code
    marker: str
    label: str | None = None
    points: bool = False  # scatter instead of a line


class LossPlot(PlotStrips):
    """Loss against step on a log10 or linear axis, with the expected step-0 loss as a green guide line."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Loss"
        self.log_scale = True
        self._history: History | None = None

    def draw(self, history: History) -> None:
        self._history = history
        self.rebuild()

    def plot(self, plt: Plot, width: int, height: int) -> None:
        series = loss_series(self._history, max(width - Y_LABEL_WIDTH, 10), self.log_scale)
        for line in series:
            plot = plt.scatter if line.points else plt.plot
            plot(line.steps, line.values, color=line.color, marker=line.marker, label=line.label)
        run = self._history.run
        expected = run.info.expected_init_loss if run is not None else None
        if run is not None and run.init_loss is not None and expected is not None and math.isfinite(expected) \
                and (expected > 0 or not self.log_scale):  # a file's negative expected loss has no log
            plt.hline(math.log10(expected) if self.log_scale else expected, EXPECTED_LOSS)
            plt.title(f"step-0 loss {run.init_loss:.2f}, expected -ln(1/V) = {expected:.2f} (green line)")
        if series:
            ticks = step_ticks(max(line.steps[-1] for line in series))
            plt.xticks(ticks, [f"{t:,}" for t in ticks])
            if self.log_scale:
                low = min(min(line.values) for line in series)
                high = max(max(line.values) for line in series)
                labels = [v for v in LOG_TICKS if low <= math.log10(v) <= high] or [10 ** low]
                if len(labels) > MAX_LOG_LABELS:  # decades of a classifier's loss: the powers of 10 alone
                    labels = [v for v in labels if abs(math.log10(v) - round(math.log10(v))) < 1e-9] or labels
                plt.yticks([math.log10(v) for v in labels], [f"{v:.3g}" for v in labels])
        plt.xlabel("step")
        plt.ylabel("loss (log axis)" if self.log_scale else "loss")


def loss_series(history: History, width: int, log_scale: bool) -> list[Series]:
    """Beneath, the ghost's smoothed curve (one stream only) and the selected run's raw points; then every stream's
    smoothed curve in its colour, and the selected run's val points on top. No NaN or inf."""
    series = []
    run = history.run
    if history.ghost is not None and not history.comparing:
        steps, _, smooth = history.ghost.losses.downsampled(width)
        series.append(_scaled(steps, smooth, log_scale, GHOST_LOSS, "dot", f"previous: {history.ghost.info.name}"))
    if run is not None:
        steps, raw, _ = run.losses.downsampled(width)
        series.append(_scaled(steps, raw, log_scale, RAW_LOSS, "dot"))
    for index, (name, stream) in enumerate(history.streams.items()):
        if not history.comparing:
            label = f"{stream.run.info.name} (smoothed)"
        else:
            label = ("▶ " if name == history.selected else "") + history.label(name)
        steps, _, smooth = stream.run.losses.downsampled(width)
        series.append(_scaled(steps, smooth, log_scale, run_color(index), "braille", label))
    if run is not None:
        evals = [e for e in run.evals if math.isfinite(e.val_loss)]
        # "o", not "●": a two-cell glyph in some terminals would shift the rest of its row
        series.append(_scaled([e.step for e in evals], [e.val_loss for e in evals], log_scale, VAL_LOSS, "o", "val",
                              points=True))
    return [line for line in series if line.steps]


def _scaled(steps: list[int], values: list[float], log_scale: bool, color: str, marker: str,
            label: str | None = None, points: bool = False) -> Series:
    kept = [(s, v) for s, v in zip(steps, values) if abs(v) < PLACEABLE and (v > 0 or not log_scale)]
    return Series([s for s, _ in kept], [math.log10(v) if log_scale else v for _, v in kept], color, marker,
                  label, points)
