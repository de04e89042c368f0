"""The Loss panel: raw and smoothed training loss, val points, the previous run as a ghost, compared runs."""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, replace

from rich.segment import Segment
from textual.strip import Strip
from textual_plotext.plot import Plot

from mmtui.tui.history import History, LossSeries
from mmtui.tui.layer_words import cut_apart, cut_middle
from mmtui.tui.palette import EXPECTED_LOSS, GHOST_LOSS, RAW_LOSS, VAL_LOSS, run_color
from mmtui.tui.plotext_strips import plotext_style
from mmtui.tui.smoothing import SmoothedCurves
from mmtui.tui.widgets.plot_strips import Y_LABEL_WIDTH, PlotStrips, step_ticks

# loss values labelled on the log axis: fine steps where the lecture's losses lie, 1-2-5 below them, where a
# watched classifier's loss ends
LOG_TICKS = tuple(m * 10.0 ** k for k in range(-6, 0) for m in (1, 2, 5)) + (
    1, 1.5, 2, 2.5, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100, 1000)
MAX_LOG_LABELS = 9  # more would crowd a 20-row plot
# fewer say nothing of the scale: a narrow range gets even steps instead (3.4, 3.6, 3.8, 4)
MIN_LOG_LABELS = 3
NICE_STEPS = (5, 2, 1)  # times a power of 10: the spacing of those even steps
LEGEND_ROWS_FROM = 12  # panel rows from which the legend may take two rows, not one
LEGEND_GAP = "  "
# figure rows from which the axes are named ("step", "loss (log axis)"): a row below them the curves need more
AXIS_LABELS_FROM = 12
MIN_NAME = 12  # cells a run's name keeps in the legend before runs are left out ("+3 more")
MARK = "▶ "  # the selected run, as the Runs table marks it
PLACEABLE = 1e100  # losses at or past this (a file's 1e308, inf, NaN) are not drawn: plotext's axes overflow


@dataclass(frozen=True)
class Series:
    """One plotted line or point set, already scaled for the axis."""

    steps: list[int]
    values: list[float]
    color: str | int  # a plotext colour name or 256-colour code
    marker: str
    label: str | None = None  # its legend entry
    points: bool = False  # scatter instead of a line


@dataclass(frozen=True)
class LegendEntry:
    """A swatch in its series' colour and what it names."""

    swatch: str
    color: str | int
    label: str
    short: str | None = None  # the label where room is short
    run: bool = False  # a compared run's curve: cut or left out before the rest when room is short


class LossPlot(PlotStrips):
    """Loss against step on a log10 or linear axis, with the expected step-0 loss as a green guide line; the
    legend above the figure, never over the curves."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Loss"
        self.log_scale = True
        self._history: History | None = None
        self._series: list[Series] = []
        self._smoothed = SmoothedCurves()

    def draw(self, history: History) -> None:
        self._history = history
        self.rebuild()

    def lines(self, width: int, height: int) -> list[Strip]:
        if width < 10 or height < 5:
            return []
        self._series = loss_series(self._history, max(width - Y_LABEL_WIDTH, 10), self.log_scale,
                                   self._smoothed)
        entries = legend_entries(self._history, self._series)
        legend = legend_lines(entries, width, 2 if height >= LEGEND_ROWS_FROM else 1)
        return legend + super().lines(width, height - len(legend))

    def plot(self, plt: Plot, width: int, height: int) -> None:
        series = self._series
        for line in series:
            plot = plt.scatter if line.points else plt.plot
            plot(line.steps, line.values, color=line.color, marker=line.marker)  # named in the legend above
        run = self._history.run
        expected = run.info.expected_init_loss if run is not None else None
        guide = []  # the green line's height, where drawn: the axis spans it too
        # a file's negative expected loss has no log
        if (run is not None and run.init_loss is not None and expected is not None
                and math.isfinite(expected) and (expected > 0 or not self.log_scale)):
            guide = [math.log10(expected) if self.log_scale else expected]
            plt.hline(guide[0], EXPECTED_LOSS)
        if series:
            ticks = step_ticks(max(line.steps[-1] for line in series))
            plt.xticks(ticks, [f"{t:,}" for t in ticks])
            if self.log_scale:
                low = min(min(line.values) for line in series)
                high = max(max(line.values) for line in series)
                low, high = min([low, *guide]), max([high, *guide])
                labels = log_ticks(10 ** low, 10 ** high)
                plt.yticks([math.log10(v) for v in labels], [f"{v:.3g}" for v in labels])
        if height >= AXIS_LABELS_FROM:
            plt.xlabel("step")
            plt.ylabel("loss (log axis)" if self.log_scale else "loss")


def log_ticks(low: float, high: float) -> list[float]:
    """At least MIN_LOG_LABELS loss values from `low` to `high` (both > 0) to label a log axis with: the round
    values of LOG_TICKS where enough lie in the range (the powers of 10 alone over
    decades), else even steps."""
    labels = [v for v in LOG_TICKS if low <= v <= high]
    # decades of a classifier's loss: the powers of 10 alone, else every other
    if len(labels) > MAX_LOG_LABELS:
        decades = [v for v in labels if abs(math.log10(v) - round(math.log10(v))) < 1e-9]
        labels = (decades if len(decades) >= MIN_LOG_LABELS
                  else labels[::math.ceil(len(labels) / MAX_LOG_LABELS)])
    if len(labels) >= MIN_LOG_LABELS:
        return labels
    if not high > low:  # one value: it alone
        return [low]
    magnitude = 10 ** math.floor(math.log10(high - low))
    for spacing in (m * magnitude * scale for scale in (1, 0.1, 0.01) for m in NICE_STEPS):
        first = math.ceil(low / spacing - 1e-9)
        steps = [round(i * spacing, 12) for i in range(first, math.floor(high / spacing + 1e-9) + 1)]
        if len(steps) >= MIN_LOG_LABELS:
            return [v for v in steps if v > 0]
    return labels or [low]


def loss_series(history: History, width: int, log_scale: bool,
                smoothed: SmoothedCurves | None = None) -> list[Series]:
    """Beneath, the ghost's smoothed curve (one stream only) and the selected run's raw points; then every
    stream's smoothed curve in its colour, and the selected run's val points on top. No NaN or inf."""
    smoothed = smoothed or SmoothedCurves()
    series = []
    run = history.run
    if history.ghost is not None and not history.comparing:
        steps, smooth = smoothed_curve(history.ghost.losses, width, smoothed)
        series.append(_scaled(steps, smooth, log_scale, GHOST_LOSS, "dot",
                              f"previous: {history.ghost.info.name}"))
    if run is not None:
        steps, raw, _ = run.losses.downsampled(width)
        label = "raw loss" if not history.comparing else f"raw loss of {history.label(history.selected)}"
        # a log's 30 points: 30 dots, not a dotted line between them
        series.append(_scaled(steps, raw, log_scale, RAW_LOSS, "dot", label, points=True))
    for index, (name, stream) in enumerate(history.streams.items()):
        if not history.comparing:
            label = f"{stream.run.info.name} (smoothed)"
        else:
            label = (MARK if name == history.selected else "") + history.label(name)
        steps, smooth = smoothed_curve(stream.run.losses, width, smoothed)
        series.append(_scaled(steps, smooth, log_scale, run_color(index), "braille", label))
    if run is not None:
        evals = [e for e in run.evals if math.isfinite(e.val_loss)]
        # "o", not "●": a two-cell glyph in some terminals would shift the rest of its row
        series.append(_scaled([e.step for e in evals], [e.val_loss for e in evals], log_scale, VAL_LOSS, "o",
                              "val", points=True))
    return [line for line in series if line.steps]


def smoothed_curve(losses: LossSeries, width: int, smoothed: SmoothedCurves) -> tuple[list[int], list[float]]:
    """Every kept loss smoothed (the EMA's weight fitted to their number), at the `width` points drawn."""
    smooth = smoothed.of(losses)
    steps = losses.downsampled(width)[0]
    return steps, [smooth[bisect_left(losses.steps, step)] for step in steps]  # the kept steps are in order


def legend_entries(history: History, series: list[Series]) -> list[LegendEntry]:
    """What the figure draws, in its order, and the green line where the run knows its
    expected step-0 loss."""
    swatches = {"dot": "••", "braille": "⣀⣀", "o": "o"}
    # a run's curve: "smoothed", alone
    shorts = {RAW_LOSS: "raw", GHOST_LOSS: "previous run", VAL_LOSS: "val"}
    entries = [LegendEntry(swatches[line.marker], line.color, line.label,
                           shorts.get(line.color) or (None if history.comparing else "smoothed"),
                           run=line.marker == "braille" and history.comparing)
               for line in series if line.label]
    run = history.run
    expected = run.info.expected_init_loss if run is not None else None
    if run is not None and run.init_loss is not None and expected is not None:
        entries.append(LegendEntry("──", EXPECTED_LOSS,
                                   f"step-0 loss {run.init_loss:.2f}, expected -ln(1/V) = "
                                                       f"{expected:.2f} (green line)",
                                   f"expected {expected:.2f}, step 0: {run.init_loss:.2f}"))
    return entries


def legend_lines(entries: list[LegendEntry], width: int, rows: int) -> list[Strip]:
    """The entries in at most `rows` lines of `width` cells: names whole where they fit, then compared runs'
    names cut in the middle, then the last runs left out for a "+N more"."""
    if not entries:
        return []
    short = _shortened(entries)
    for attempt in (entries, short):
        packed = _packed(attempt, width, rows)
        if packed is not None:
            return packed
    runs = [e for e in short if e.run]
    for left_out in range(1, len(runs) + 1):
        kept = [e for e in short if e not in runs[len(runs) - left_out:]]
        more = LegendEntry("", "default", f"+{left_out} more (c: next run)")
        at = max((i for i, e in enumerate(kept) if e.run), default=len(kept) - 1) + 1
        packed = _packed(kept[:at] + [more] + kept[at:], width, rows)
        if packed is not None:
            return packed
    return _packed([replace(short[0], label=cut_middle(short[0].label, width - 3))], width, 1) or []


def _shortened(entries: list[LegendEntry]) -> list[LegendEntry]:
    """Short labels, and compared runs' names cut to MIN_NAME where they agree, keeping what
    tells them apart."""
    entries = [replace(e, label=e.short or e.label) for e in entries]
    runs = [e for e in entries if e.run]
    marks = [MARK if e.label.startswith(MARK) else "" for e in runs]
    names = cut_apart([e.label.removeprefix(MARK) for e in runs], MIN_NAME)
    cut = {id(e): replace(e, label=mark + name) for e, mark, name in zip(runs, marks, names)}
    return [cut.get(id(e), e) for e in entries]


def _packed(entries: list[LegendEntry], width: int, rows: int) -> list[Strip] | None:
    """The entries laid out in rows, or None when they need more than `rows`."""
    lines: list[list[Segment]] = [[]]
    used = 0
    for entry in entries:
        text = f"{entry.swatch} {entry.label}".lstrip()
        if used and used + len(LEGEND_GAP) + len(text) > width:
            lines.append([])
            used = 0
        if len(lines) > rows or len(text) > width:
            return None
        if used:
            lines[-1].append(Segment(LEGEND_GAP))
            used += len(LEGEND_GAP)
        swatch, _, label = text.partition(" ") if entry.swatch else ("", "", text)
        if swatch:
            lines[-1] += [Segment(swatch, plotext_style(entry.color)), Segment(" ")]
        lines[-1].append(Segment(label))
        used += len(text)
    return [Strip(segments) for segments in lines]


def _scaled(steps: list[int], values: list[float], log_scale: bool, color: str, marker: str,
            label: str | None = None, points: bool = False) -> Series:
    kept = [(s, v) for s, v in zip(steps, values) if abs(v) < PLACEABLE and (v > 0 or not log_scale)]
    return Series([s for s, _ in kept], [math.log10(v) if log_scale else v for _, v in kept], color, marker,
                  label, points)
