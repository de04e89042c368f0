"""The deep-net diagnostics as the panels show them: tables and histogram curves built from a
snapshot's stats."""

from __future__ import annotations

import math
from dataclasses import dataclass
from rich.style import Style
from rich.text import Text

from mmtui.records import OTHER, ActivationStats, Histogram, ParamStats
from mmtui.tui.layer_words import WORDS, fitted, layer_label, trouble_word
from mmtui.tui.palette import ALARM, code_style, layer_color

HEADER = Style(bold=True, dim=True)
# a name column's least and most cells: a watched model's module paths are long, and their
# ends tell layers apart
NAME_WIDTHS = {"layer": (9, 34), "weight": (16, 34)}


@dataclass(frozen=True)
class Curve:
    """One histogram as a line: bin centres against density, so layers of any size compare. No plot legend: it
    would hide the saturated tails at the top left; each table row, in its line's colour, is the legend."""

    color: int  # a 256-colour code
    x: list[float]
    y: list[float]


def swatch(index: int) -> Style:
    return code_style(layer_color(index)) + Style(bold=True)


def histogram_curve(edges: tuple[float, ...], counts: tuple[int, ...], color: int) -> Curve | None:
    """Density per bin centre, as the lecture's torch.histogram(t, density=True); None when there is nothing
    to draw (NaN and inf have no place on a plot)."""
    total = sum(counts)
    if not counts or len(edges) != len(counts) + 1 or total <= 0:
        return None
    points = [((lo + hi) / 2, n / (total * (hi - lo)))
              for lo, hi, n in zip(edges, edges[1:], counts) if hi > lo]
    points = [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]
    if not points:
        return None
    return Curve(color, [x for x, _ in points], [y for _, y in points])


def _curves(candidates: list[Curve | None]) -> list[Curve]:
    return [curve for curve in candidates if curve is not None]


def name_column(names: list[str], heading: str) -> int:
    least, most = NAME_WIDTHS[heading]
    return min(max([least - 1, *map(len, names)]) + 1, most)


# ---- activations of every layer

def activation_curves(layers: tuple[ActivationStats, ...]) -> list[Curve]:
    return _curves([histogram_curve(s.hist_edges, s.hist_counts, layer_color(i))
                    for i, s in enumerate(layers)])


def activation_table(layers: tuple[ActivationStats, ...]) -> Text:
    """mean, std and saturated % per layer, as the lecture prints them (a ReLU's share on its flat side), and
    dead units; a function with no trouble measure shows a dash."""
    labels = [layer_label(s) for s in layers]
    width = name_column(labels, "layer")
    trouble = trouble_word({s.kind for s in layers}) or "saturated"
    text = Text(f"   {'layer':<{width}}{'mean':>8}{'std':>7}{trouble:>11}{'dead units':>12}", HEADER)
    for i, (s, label) in enumerate(zip(layers, labels)):
        text.append("\n━━ ", swatch(i))
        text.append(f"{fitted(label, width - 1):<{width}}{s.mean:>+8.2f}{s.std:>7.2f}")
        if s.kind == OTHER:
            text.append(f"{'—':>11}{'—':>12}")
            continue
        text.append(f"{s.saturation:>10.2f}%", ALARM if s.saturation > WORDS[s.kind].alarm_at else None)
        text.append(f"{f'{s.dead_units}/{s.units}':>12}", ALARM if s.dead_units else None)
    return text


# ---- gradients reaching every layer's output

def gradient_curves(layers: tuple[ActivationStats, ...]) -> list[Curve]:
    return _curves([histogram_curve(s.grad_hist_edges, s.grad_hist_counts, layer_color(i))
                    for i, s in enumerate(layers)])


def gradient_table(layers: tuple[ActivationStats, ...]) -> Text:
    labels = [layer_label(s) for s in layers]
    width = name_column(labels, "layer")
    text = Text(f"   {'layer':<{width}}{'grad mean':>12}{'grad std':>11}", HEADER)
    for i, (s, label) in enumerate(zip(layers, labels)):
        text.append("\n━━ ", swatch(i))
        text.append(f"{fitted(label, width - 1):<{width}}"
                    f"{_sci(s.grad_mean, signed=True):>12}{_sci(s.grad_std):>11}")
    return text


# ---- every 2-D weight

def param_curves(params: tuple[ParamStats, ...]) -> list[Curve]:
    return _curves([histogram_curve(p.grad_hist_edges, p.grad_hist_counts, layer_color(i))
                    for i, p in enumerate(params)])


def param_table(params: tuple[ParamStats, ...]) -> Text:
    """Shape, gradient mean and std, grad:data ratio (the largest flagged: the output layer's at init) and the
    latest log10 update:data ratio per weight."""
    ratios = [p.grad_data_ratio for p in params if math.isfinite(p.grad_data_ratio)]
    largest = max(ratios) if ratios else None
    width = name_column([p.name for p in params], "weight")
    text = Text(f"   {'weight':<{width}}{'shape':>11}{'grad mean':>12}{'grad std':>11}{'grad:data':>11}"
                f"{'log10 update:data':>19}", HEADER)
    for i, p in enumerate(params):
        text.append("\n━━ ", swatch(i))
        shape = " x ".join(str(n) for n in p.shape)
        text.append(f"{fitted(p.name, width - 1):<{width}}{shape:>11}"
                    f"{_sci(p.grad_mean, signed=True):>12}{_sci(p.grad_std):>11}")
        flagged = len(ratios) > 1 and p.grad_data_ratio == largest
        text.append(f"{_sci(p.grad_data_ratio):>11}", ALARM if flagged else None)
        text.append(f"{p.update_ratio_log10:>+19.2f}")
        if flagged:
            text.append("  ◀ largest grad:data", ALARM)
    return text


# ---- weights' values, as a log holds them

def weight_curves(weights: tuple[Histogram, ...]) -> list[Curve]:
    return _curves([histogram_curve(h.hist_edges, h.hist_counts, layer_color(i))
                    for i, h in enumerate(weights)])


def weight_table(weights: tuple[Histogram, ...]) -> Text:
    """Each logged weight's mean and std and the step it was logged at."""
    width = name_column([h.name for h in weights], "weight")
    text = Text(f"   {'weight':<{width}}{'mean':>12}{'std':>11}{'step':>10}", HEADER)
    for i, h in enumerate(weights):
        text.append("\n━━ ", swatch(i))
        text.append(f"{fitted(h.name, width - 1):<{width}}{_sci(h.mean, signed=True):>12}{_sci(h.std):>11}"
                    f"{h.step:>10,}")
    return text


def _sci(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.2e}" if signed else f"{value:.2e}"
