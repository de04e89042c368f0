"""plotext's ANSI output as Textual strips: its few colour codes parsed directly, without Rich's markup pipeline.

Textual turned a plotext plot's Text into lines at about 40 ms a frame; this parse takes a few.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

SGR = re.compile(r"\x1b\[([0-9;]*)m")  # plotext emits only Select Graphic Rendition codes


@lru_cache(maxsize=256)
def _style(foreground: int | None, background: int | None, bold: bool) -> Style:
    return Style(color=_truecolor(foreground), bgcolor=_truecolor(background), bold=bold or None)


def _truecolor(code: int | None) -> Color | None:
    """Fixed RGB: Textual would otherwise map every ANSI-coloured segment to RGB again on every frame."""
    return None if code is None else Color.from_triplet(Color.from_ansi(code).get_truecolor())


@lru_cache(maxsize=1024)  # a plot repeats a handful of codes thousands of times: parse each once
def _apply(codes: str, state: tuple[int | None, int | None, bool]) -> tuple[int | None, int | None, bool]:
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


def ansi_to_strips(text: str, width: int) -> list[Strip]:
    """One strip per line, each cropped or padded to `width` cells."""
    strips = []
    state: tuple[int | None, int | None, bool] = (None, None, False)
    for line in text.split("\n"):
        segments = []
        position = 0
        for match in SGR.finditer(line):
            if match.start() > position:
                segments.append(Segment(line[position:match.start()], _style(*state)))
            state = _apply(match.group(1), state)
            position = match.end()
        if position < len(line):
            segments.append(Segment(line[position:], _style(*state)))
        strips.append(Strip(segments).adjust_cell_length(width))
    return strips
