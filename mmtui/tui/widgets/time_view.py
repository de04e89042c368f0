"""The through-time view: the gradient reaching a recurrent layer's hidden state by time step, now and over
the run, and its saturation by time step."""

from __future__ import annotations

import math
from functools import lru_cache

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Grid
from textual.strip import Strip

from mmtui.records import AT_INPUT, AT_OUTPUT, BOUNDED, TimeStats
from mmtui.tui.braille_plot import Axis, PlotLine, line_plot
from mmtui.tui.fading import FADED_BELOW, fade, faded_from
from mmtui.tui.history import History, RunHistory
from mmtui.tui.palette import GUIDE_GREY, SATURATED_RED, code_style, layer_color
from mmtui.tui.segments import merged_segments
from mmtui.tui.widgets.runs_table import title_selected_run
from mmtui.tui.widgets.strips_widget import StripsWidget

# The heat map's colour scale, low to high (viridis): a log10 gradient's place between the map's least and
# greatest.
HEAT = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e",
        "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725")
FADED_MARK = "·"  # on a heat-map cell whose gradient is below FADED_BELOW of its row's last step's
GUIDE = Style(color=GUIDE_GREY)
MARK = Style(color=SATURATED_RED)
AXIS = Style(dim=True)
STEP_LABEL = 8  # the heat map's training-step column: "200,000 "
WAITING = "no figures by time step yet: a recurrent layer's come with the next statistics"
WHERE = {AT_INPUT: "reaching each step's input x_t (the fused layer keeps h_t inside)",
         AT_OUTPUT: "from the layers above only, at each step's output"}


def layer_of(times: tuple[TimeStats, ...], index: int) -> TimeStats | None:
    return times[index % len(times)] if times else None


def _log10(value: float) -> float | None:
    return math.log10(value) if value > 0 and math.isfinite(value) else None


def _decades(low: float, high: float) -> list[tuple[float, str]]:
    return [(float(d), f"1e{d}") for d in range(math.ceil(low), math.floor(high) + 1)]


def _time_ticks(times: tuple[int, ...], count: int = 8) -> list[tuple[float, str]]:
    every = max(1, math.ceil(len(times) / count))
    picked = list(times[::every]) + ([times[-1]] if (len(times) - 1) % every else [])
    return [(float(t), str(t)) for t in picked]


class GradientByTime(StripsWidget):
    """The latest statistics' gradient by time step on a log axis, a grey line at FADED_BELOW of the last
    step's and a red one at the step from which it is below."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Gradient reaching the hidden state by time step, log10 std"
        self._stats: TimeStats | None = None

    def draw(self, stats: TimeStats | None) -> None:
        self._stats = stats
        if stats is not None and stats.grad_at in WHERE:
            self.border_title = f"Gradient by time step, log10 std, {WHERE[stats.grad_at]}"
        self.rebuild()

    def lines(self, width: int, height: int) -> list[Strip]:
        stats = self._stats
        points = [(t, _log10(g)) for t, g in zip(stats.times, stats.grad_std)] if stats else []
        points = [(t, v) for t, v in points if v is not None]
        if len(points) < 2:
            return [Strip([Segment(WAITING if stats is None else "no gradients in these statistics")])]
        floor = points[-1][1] + math.log10(FADED_BELOW)  # the last reached step's, on the log axis
        values = [v for _, v in points] + [floor]
        low, high = math.floor(min(values) - 0.1), math.ceil(max(values) + 0.1)
        x = Axis(stats.times[0], stats.times[-1], _time_ticks(stats.times), "time step")
        y = Axis(low, high, _decades(low, high), "grad std")
        lines = [PlotLine([t for t, _ in points], [v for _, v in points], code_style(layer_color(0)))]
        faded = faded_from(stats)
        if faded is not None:
            lines.append(PlotLine([faded, faded], [low, high], MARK))
        return line_plot(lines, width, height, x, y, _fade_words(stats, points[-1][0], faded),
                         guides=[(floor, GUIDE)])


def _fade_words(stats: TimeStats, last: int, faded: int | None) -> str:
    ratio = fade(stats)
    said = f"step {stats.times[0]}'s is {ratio:.1e} of step {last}'s" if ratio is not None else ""
    if faded is not None:
        return f"{said}; red: below {FADED_BELOW:.0%} (grey) from step {faded} back"
    return f"{said}; none below {FADED_BELOW:.0%} of the last (grey)"


class SaturationByTime(StripsWidget):
    """The latest statistics' share of outputs in trouble by time step, and their std."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Saturation by time step"
        self._stats: TimeStats | None = None

    def draw(self, stats: TimeStats | None) -> None:
        self._stats = stats
        self.rebuild()

    def lines(self, width: int, height: int) -> list[Strip]:
        stats = self._stats
        if stats is None:
            return [Strip([Segment(WAITING)])]
        x = Axis(stats.times[0], stats.times[-1], _time_ticks(stats.times), "time step")
        if not stats.saturation:  # a kind without a trouble measure: its std alone
            high = max([s for s in stats.std if math.isfinite(s)] + [1e-9]) * 1.1
            return line_plot([PlotLine(stats.times, stats.std, code_style(layer_color(1)))], width, height, x,
                             Axis(0, high, [(0, "0"), (high, f"{high:.2g}")], "std"),
                             "output std by time step")
        title = "% |t| > 0.97" if stats.kind == BOUNDED else "% on the flat side"
        mean_std = sum(stats.std) / len(stats.std)
        return line_plot([PlotLine(stats.times, stats.saturation, Style(color=SATURATED_RED))], width, height,
                         x, Axis(0, 100, [(0, "0"), (50, "50"), (100, "100")], "%"),
                         f"{title}; output std {mean_std:.2f} on average")


@lru_cache(maxsize=len(HEAT))
def _heat_style(level: int) -> Style:
    return Style(color="#000000", bgcolor=Color.parse(HEAT[level]))


class GradientHeatMap(StripsWidget):
    """The gradient by time step over the run: time steps across, training steps down, colour on a log scale;
    a dot where it is below FADED_BELOW of that row's last step's."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Gradient by time step over the run: time across, training step down, log colour"
        self._rows: list[TimeStats] = []

    def draw(self, rows: list[TimeStats]) -> None:
        self._rows = rows
        self.rebuild()

    def lines(self, width: int, height: int) -> list[Strip]:
        rows = [row for row in self._rows if row.grad_std]
        if not rows:
            return [Strip([Segment(WAITING)])]
        room = max(height - 2, 1)  # the legend, the time axis
        if len(rows) > room:  # the whole run, evenly thinned, the latest last
            rows = ([rows[round(i * (len(rows) - 1) / (room - 1))] for i in range(room)]
                    if room > 1 else rows[-1:])
        logs = [v for row in rows for v in map(_log10, row.grad_std) if v is not None]
        if not logs:
            return [Strip([Segment("no gradients in these statistics")])]
        low, high = min(logs), max(logs)
        times = rows[-1].times
        cell = max(1, (width - STEP_LABEL) // max(len(times), 1))
        shown = max(1, min(len(times), (width - STEP_LABEL) // cell))
        every = math.ceil(len(times) / shown)
        strips = [self._legend(low, high, width)]
        for row in rows:
            reached = [grad for grad in row.grad_std if grad > 0]
            floor = FADED_BELOW * reached[-1] if reached else 0.0
            cells: list[tuple[str, Style | None]] = [(f"{row.step:>{STEP_LABEL - 1},} ", AXIS)]
            for grad in row.grad_std[::every]:
                value = _log10(grad)
                if value is None:  # no gradient reached it (a padded step), or none could be read
                    cells.append(((" " if grad == 0 else "?") * cell, AXIS))
                    continue
                level = round((value - low) / (high - low) * (len(HEAT) - 1)) if high > low else len(HEAT) - 1
                mark = FADED_MARK if grad < floor else " "
                cells.append((mark.center(cell), _heat_style(level)))
            strips.append(Strip(merged_segments(cells)))
        axis = [" " * STEP_LABEL] + [str(t).center(cell)[:cell] for t in times[::every]]
        strips.append(Strip([Segment("".join(axis), AXIS)]))
        return strips

    def _legend(self, low: float, high: float, width: int) -> Strip:
        bar = [(" ", _heat_style(level)) for level in range(len(HEAT))]
        return Strip([Segment(f"{'step':>{STEP_LABEL - 1}} ", AXIS), Segment(f"1e{low:.1f} ", AXIS),
                      *merged_segments(bar), Segment(f" 1e{high:.1f}", AXIS),
                      Segment(f"   {FADED_MARK} below {FADED_BELOW:.0%} of the row's last step", AXIS)])


class TimeView(Grid):
    """The gradient through time (Pascanu et al. 2013's picture, live): a tanh RNN's fades going back in time,
    a GRU's or LSTM's gates keep more of it. The n key picks the next layer that runs through time."""

    DEFAULT_CSS = """
    TimeView { grid-size: 2 2; grid-columns: 3fr 2fr; grid-rows: 1fr 1fr; }
    TimeView > GradientHeatMap { column-span: 2; }
    """
    REDRAW_S = 0.5  # twice a second is enough to read figures that change with each batch

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.curve = GradientByTime(id="time-gradient")
        self.saturation = SaturationByTime(id="time-saturation")
        self.heat_map = GradientHeatMap(id="time-heat-map")
        self.shown = 0  # index into the run's layers that run through time; the n key cycles it

    def compose(self) -> ComposeResult:
        yield self.curve
        yield self.saturation
        yield self.heat_map

    def draw(self, history: History) -> None:
        run = history.run
        times = run.shown_times if run else ()
        stats = layer_of(times, self.shown)
        self.curve.draw(stats)
        self.saturation.draw(stats)
        self.heat_map.draw(_rows_of(run, stats.name) if stats is not None else [])
        named = f"{stats.name} · {stats.calls} time steps" if stats is not None else ""
        self.saturation.border_title = "Saturation by time step" + (f" · {named}" if named else "")
        title_selected_run((self.curve, self.saturation, self.heat_map), history)

    def next_layer(self, history: History) -> None:
        self.shown += 1
        self.draw(history)


def _rows_of(run: RunHistory, name: str) -> list[TimeStats]:
    """The named layer's figures of every statistics snapshot the run keeps, oldest first."""
    return [stats for times in run.past_times for stats in times if stats.name == name]
