"""The Loss panel: raw and smoothed training loss, val points, and the previous run as a ghost."""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from mmtui.tui.history import History, RunHistory

RAW_COLOR = "gray"
SMOOTH_COLOR = "cyan"
VAL_COLOR = "orange"
GHOST_COLOR = "magenta"
LOG_TICKS = (1.5, 2, 2.5, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100, 1000)  # loss values labelled on the log axis


class LossPlot(PlotextPlot):
    """Redrawn only by draw(), from series already downsampled to the plot's width."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Loss"
        self.log_scale = True

    def draw(self, history: History) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        width = max(self.size.width - 10, 10)
        scale = (lambda v: math.log10(v)) if self.log_scale else (lambda v: v)
        plt.xlabel("step")
        if history.ghost is not None:
            self._series(history.ghost, width, scale, ghost=True)
        if history.run is not None:
            self._series(history.run, width, scale, ghost=False)
            if history.run.init_loss is not None:
                expected = history.run.info.expected_init_loss
                plt.hline(scale(expected), "green")
                plt.title(f"step-0 loss {history.run.init_loss:.2f}, expected -ln(1/V) = {expected:.2f} (green line)")
        if history.run is not None and history.run.losses.steps:
            last = max(history.run.losses.steps[-1], history.ghost.losses.steps[-1] if history.ghost else 0)
            ticks = step_ticks(last)
            plt.xticks(ticks, [f"{t:,}" for t in ticks])
        if self.log_scale:
            plt.yticks([math.log10(v) for v in LOG_TICKS], [f"{v:g}" for v in LOG_TICKS])
        plt.ylabel("loss (log axis)" if self.log_scale else "loss")
        self.refresh()

    def _series(self, run: RunHistory, width: int, scale, ghost: bool) -> None:
        plt = self.plt
        steps, raw, smooth = run.losses.downsampled(width)
        keep = [i for i, (r, s) in enumerate(zip(raw, smooth)) if r > 0 and s > 0]  # log10 needs positive values
        steps = [steps[i] for i in keep]
        if not steps:
            return
        if ghost:
            plt.plot(steps, [scale(smooth[i]) for i in keep], color=GHOST_COLOR, marker="dot",
                     label=f"previous: {run.info.init} x{run.info.w1_scale:g}")
            return
        plt.plot(steps, [scale(raw[i]) for i in keep], color=RAW_COLOR, marker="dot")
        plt.plot(steps, [scale(smooth[i]) for i in keep], color=SMOOTH_COLOR, marker="braille",
                 label=f"{run.info.init} x{run.info.w1_scale:g} (smoothed)")
        evals = [e for e in run.evals if math.isfinite(e.val_loss) and e.val_loss > 0]
        if evals:
            plt.scatter([e.step for e in evals], [scale(e.val_loss) for e in evals], color=VAL_COLOR,
                        marker="●", label="val")


def step_ticks(last: int, count: int = 5) -> list[int]:
    """About `count` round step numbers from 0 to last."""
    raw = max(last / count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    spacing = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [int(i * spacing) for i in range(int(last // spacing) + 1)]
