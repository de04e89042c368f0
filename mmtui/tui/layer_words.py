"""What a layer's figures are called, by its function's kind (the lecture's tanh words, a ReLU's, or none),
and how a long name is cut to fit."""

from __future__ import annotations

from dataclasses import dataclass
from os.path import commonprefix

from mmtui.records import BOUNDED, FLAT, NEAR_FLAT_SLOPE, RECTIFIER, ActivationStats

ELLIPSIS = "…"


@dataclass(frozen=True)
class MeasureWords:
    """How the panels speak of one kind of trouble measure."""

    title: str  # the overview's panel of the first layer's measure
    said: str  # what an output in trouble is: "12.0% of t saturated"
    heading: str  # the layers table's column
    units: str  # units in trouble for the whole batch
    whole_batch: str  # what such a unit is for every example
    # share % from which a reading is yellow, then red: a healthy GELU has ~10% near-flat outputs,
    # a healthy tanh layer few saturated ones
    warn_at: float
    alarm_at: float


WORDS = {BOUNDED: MeasureWords("Saturation", "saturated", "saturated", "dead units", "white", 10, 50),
         RECTIFIER: MeasureWords("Dead units", "on the flat side", "flat side", "dead units", "flat", 10, 50),
         FLAT: MeasureWords("Flat units", "near-flat", "near-flat", "flat units", "near-flat", 30, 60)}


def layer_label(stats: ActivationStats) -> str:
    """The lecture's nets number their layers; a watched model names them by module path and class."""
    return stats.name or f"layer {stats.layer}"


def symbol(stats: ActivationStats) -> str:
    """The lecture calls its one hidden layer's output h; any other layer's output is t."""
    return "h" if not stats.name and stats.layer == 1 else "t"


def bounds(stats: ActivationStats) -> tuple[float, float]:
    """A BOUNDED function's range: its histogram's span, which is fitted to it."""
    edges = stats.hist_edges
    return (edges[0], edges[-1]) if len(edges) > 1 else (-1.0, 1.0)


def in_trouble(stats: ActivationStats, value: float, white: bool = False) -> bool:
    """Whether an output of `value` counts as saturated (BOUNDED, past saturated_at or, `white`, past white_at
    on the range scaled to [-1, 1]) or on the flat side (RECTIFIER); never where the value alone does not
    tell: a FLAT function's near-flat outputs lie where its slope is, not at a value (a GELU's negative half
    is healthy), nor for a function with no measure."""
    if stats.kind == BOUNDED:
        low, high = bounds(stats)
        scaled = (value - low) * 2 / (high - low) - 1 if high > low else 0.0
        return abs(scaled) > (stats.white_at if white else stats.saturated_at)
    if stats.kind == RECTIFIER:
        return value <= stats.flat_below
    return False


def bin_in_trouble(stats: ActivationStats, low: float, high: float) -> bool:
    """Whether a histogram bin from `low` to `high` is drawn as trouble: its centre saturated, or reaching
    down to the flat side (a ReLU's first bin holds its zeros); never a FLAT function's."""
    if stats.kind == RECTIFIER:
        return low <= stats.flat_below
    return in_trouble(stats, (low + high) / 2)


def trouble_rule(stats: ActivationStats, white: bool = False) -> str | None:
    """The condition an output in trouble meets, as the panels print it: "|h| > 0.97",
    "t within 0.015 of 0 or 1", "t ≤ 0", "slope < 5.9% of its peak"; None for a function with no trouble
    measure."""
    name = symbol(stats)
    if stats.kind == BOUNDED:
        at = stats.white_at if white else stats.saturated_at
        low, high = bounds(stats)
        if (low, high) == (-1.0, 1.0):
            return f"|{name}| > {at:g}"
        return f"{name} within {(1 - at) / 2 * (high - low):.3g} of {low:g} or {high:g}"
    if stats.kind == RECTIFIER:
        return f"{name} ≤ {stats.flat_below:.3g}"
    if stats.kind == FLAT:
        return f"slope < {NEAR_FLAT_SLOPE:.1%} of its peak"
    return None


def trouble_word(kinds: set[str]) -> str:
    """The heading of the share in trouble, for layers of these kinds."""
    if len(kinds) == 1 and (kind := next(iter(kinds))) in WORDS:
        return WORDS[kind].heading
    return "in trouble" if kinds & WORDS.keys() else ""


def fitted(text: str, width: int) -> str:
    """`text` in at most `width` cells, its start elided: a module path's end (its block number, its class) is
    what tells two layers apart."""
    return text if len(text) <= width else ELLIPSIS + text[len(text) - width + 1:]


def cut_middle(text: str, width: int) -> str:
    """`text` in at most `width` cells, its middle elided: a run's or a scalar's name keeps how it begins and
    how it ends ("train/train_sam…_per_second", "version_1…_seed_3")."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    tail = (width - 1) // 2
    return text[:width - 1 - tail] + ELLIPSIS + (text[-tail:] if tail else "")


def cut_apart(names: list[str], width: int) -> list[str]:
    """Each name in at most `width` cells, cut where the names agree: what they share at the start and the end
    gives way first, so that what tells them apart stays ("…version_3_seed…" of
    "lightning_logs/version_3_seed_1"); a name that is different throughout is cut in the middle."""
    if all(len(name) <= width for name in names):
        return names
    if len(names) < 2:
        return [cut_middle(name, width) for name in names]
    start = len(commonprefix(names))
    end = min(len(commonprefix([name[::-1] for name in names])), min(map(len, names)) - start)
    cut = []
    for name in names:
        core = name[start:len(name) - end]
        room = width - len(core)
        if len(name) <= width:
            cut.append(name)
        elif room < 2:  # the part that differs alone is too long: its own middle goes
            cut.append(cut_middle(core, width))
        else:  # as much of the shared start and end around it as fits, each side elided where cut
            before = min(start, (room - 1) // 2)
            after = min(end, room - 1 - before - (before < start))
            head = (ELLIPSIS if before < start else "") + name[start - before:start]
            tail = name[len(name) - end:len(name) - end + after] + (ELLIPSIS if after < end else "")
            cut.append(head + core + tail)
    return cut
