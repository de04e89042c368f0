"""Cells to segments: consecutive cells of one style merged into one Segment, for every
panel drawn as strips."""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style


def merged_segments(cells: Iterable[tuple[str, Style | None]]) -> list[Segment]:
    """One Segment per run of equal styles: a strip of few segments is what keeps a frame cheap."""
    segments: list[Segment] = []
    run_text: list[str] = []
    run_style: Style | None = None
    for text, style in cells:
        # `is` first: the panels reuse a few Style objects, and Style equality hashes both sides
        if style is not run_style and style != run_style and run_text:
            segments.append(Segment("".join(run_text), run_style))
            run_text = []
        run_style = style
        run_text.append(text)
    if run_text:
        segments.append(Segment("".join(run_text), run_style))
    return segments
