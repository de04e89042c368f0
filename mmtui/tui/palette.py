"""The app's named colours: one red for "saturated", one cycle for layers and one for runs,
used by every widget."""

from __future__ import annotations

from functools import lru_cache

from rich.color import Color
from rich.style import Style

# RGB, not ANSI names: Textual re-maps ANSI colours to RGB on every frame.
SATURATED_RED = "#ff3b3b"  # saturated units, dead neurons, alarms: the lecture's warning colour
OK_GREEN = "#00c853"
WARN_YELLOW = "#ffd600"
CYAN = "#00b8d4"  # the activation histogram's bars, a finished run
WHITE_PIXEL = "#ffffff"  # the saturation image: white = saturated, on black, as the lecture's imshow
BLACK = "#000000"
GUIDE_GREY = "#bcbcbc"  # guide lines drawn under the data

ALARM = Style(color=SATURATED_RED, bold=True)

# The Loss panel, in plotext's colour names: its raw points, val points, the expected
# step-0 loss and the ghost.
RAW_LOSS = "gray"
VAL_LOSS = "orange"
EXPECTED_LOSS = "green"
GHOST_LOSS = "magenta"

# 256-colour codes (plotext and the braille canvas take them). Layers and weights: near matplotlib's default
# cycle as the lecture's plots use it. Runs: the first is plotext's cyan, the one run's colour when nothing is
# compared; none is the Loss panel's grey, orange, green or magenta, which mean something else there.
LAYER_CODES = (33, 208, 40, 196, 135, 130, 212, 245, 142, 44)
RUN_CODES = (6, 33, 201, 226, 196, 135, 212, 130, 255, 51)


def layer_color(index: int) -> int:
    """The colour of the index-th layer or weight, the same in its table row and its plotted lines."""
    return LAYER_CODES[index % len(LAYER_CODES)]


def run_color(index: int) -> int:
    """The colour of the index-th compared run, the same in the Loss panel and the runs table."""
    return RUN_CODES[index % len(RUN_CODES)]


@lru_cache(maxsize=64)
def code_style(code: int) -> Style:
    """A 256-colour code as fixed RGB: Textual would otherwise map ANSI colours to RGB
    again on every frame."""
    return Style(color=Color.from_triplet(Color.from_ansi(code).get_truecolor()))
