"""A plotext figure as Textual strips, read from its character and colour matrices instead of its ANSI text.

plotext's build() joins its matrices into one ANSI string (~5 ms for the Loss panel) that had to be parsed
back into segments (~3 ms); reading the matrices skips both. The colours stay plotext's own: each cell's
(foreground, style, background) goes through plotext's colour-to-ANSI table, parsed once per combination.
"""

from __future__ import annotations

import re
from functools import lru_cache

from plotext import _utility as plotext_utility
from rich.color import Color
from rich.style import Style
from textual.strip import Strip
from textual_plotext.plot import Plot

from mmtui.tui.segments import merged_segments

SGR = re.compile(r"\x1b\[([0-9;]*)m")  # plotext emits only Select Graphic Rendition codes


def figure_strips(plt: Plot, width: int) -> list[Strip]:
    """The figure laid out at its plotsize, one strip per row, each cropped or padded to `width` cells.

    Leans on plotext 5's figure internals (_set_sizes, _build_matrix, monitor.matrix); textual-plotext pins
    plotext below 6, and a test compares the result with build()'s text.
    """
    plt._set_sizes()
    plt._build_matrix()
    matrix = plt.monitor.matrix
    strips = []
    for row in range(matrix.rows - 1, -1, -1):  # plotext's row 0 is the bottom one
        styles = map(_cell_style, matrix.fullground[row], matrix.style[row], matrix.background[row])
        strips.append(Strip(merged_segments(zip(matrix.marker[row], styles))).adjust_cell_length(width))
    return strips


def plotext_style(color: str | int) -> Style:
    """A plotext colour (a name or a 256-colour code) as the figure draws it: a legend beside
    the figure matches."""
    return _cell_style(color, "default", "default")


@lru_cache(maxsize=256)  # a figure repeats a handful of colour combinations thousands of times
def _cell_style(foreground, style, background) -> Style:
    state: tuple[int | None, int | None, bool] = (None, None, False)
    for match in SGR.finditer(plotext_utility.colors_to_ansi(foreground, style, background)):
        state = _apply(match.group(1), state)
    return _style(*state)


def _style(foreground: int | None, background: int | None, bold: bool) -> Style:
    return Style(color=_truecolor(foreground), bgcolor=_truecolor(background), bold=bold or None)


def _truecolor(code: int | None) -> Color | None:
    """Fixed RGB: Textual would otherwise map every ANSI-coloured segment to RGB again on every frame."""
    return None if code is None else Color.from_triplet(Color.from_ansi(code).get_truecolor())


def _apply(codes: str, state: tuple[int | None, int | None, bool]) -> tuple[int | None, int | None, bool]:
    """The colour state after one SGR code list: reset, bold, and 256-colour foreground and background."""
    foreground, background, bold = state
    parts = [int(p) for p in codes.split(";") if p] or [0]
    i = 0
    while i < len(parts):
        code = parts[i]
        if code == 0:
            foreground, background, bold = None, None, False
        elif code == 1:
            bold = True
        elif code in (38, 48) and i + 2 < len(parts) and parts[i + 1] == 5:
            if code == 38:
                foreground = parts[i + 2]
            else:
                background = parts[i + 2]
            i += 2
        i += 1
    return foreground, background, bold
