"""The Activations panel: a histogram of the hidden tanh values, saturated tails in red."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from mmtui.engine.snapshot import ActivationStats

SATURATED = 0.97  # the lecture's |h| > 0.97; bins beyond it are the tails
BODY_COLOR = "cyan"
TAIL_COLOR = "red"


class ActivationHistogram(PlotextPlot):
    """Counts of h per bin on [-1, 1], as the lecture's plt.hist(h.view(-1).tolist(), 50)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Activations: hidden tanh h"

    def draw(self, stats: ActivationStats | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("h")
        if stats is None:
            self.refresh()
            return
        edges, counts = stats.hist_edges, stats.hist_counts
        centers = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
        tail = [abs(c) > SATURATED for c in centers]
        width = edges[1] - edges[0]
        body = [(c, n) for c, n, t in zip(centers, counts, tail) if not t]
        tails = [(c, n) for c, n, t in zip(centers, counts, tail) if t]
        if body:
            plt.bar([c for c, _ in body], [n for _, n in body], color=BODY_COLOR, width=width, marker="█")
        if tails:
            plt.bar([c for c, _ in tails], [n for _, n in tails], color=TAIL_COLOR, width=width, marker="█",
                    label=f"|h| > {SATURATED}")
        plt.xlim(-1, 1)
        plt.xticks([-1, -0.5, 0, 0.5, 1], ["-1", "-0.5", "0", "0.5", "1"])
        plt.title(f"step {stats.step:,}: mean {stats.mean:+.2f}  std {stats.std:.2f}")
        self.refresh()
