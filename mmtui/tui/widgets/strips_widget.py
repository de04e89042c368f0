"""The plumbing of every panel drawn as strips: lines built once per data change or resize,
served by render_line."""

from __future__ import annotations

from textual.strip import Strip
from textual.widget import Widget


class StripsWidget(Widget):
    """Subclasses keep their data, call rebuild() when it changes, and return their lines from lines().

    A Rich Text with a style per cell, or a plotext figure sent through Rich, cost 30-70 ms a frame to lay
    out; strips of few segments, built only when something changed, cost a few.
    """

    DEFAULT_CSS = """
    StripsWidget { width: 1fr; height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._strips: list[Strip] = []

    def rebuild(self) -> None:
        width, height = self.size.width, self.size.height
        self._strips = [line.adjust_cell_length(width) for line in self.lines(width, height)]
        self.refresh()

    def on_resize(self) -> None:
        self.rebuild()  # with a refresh: a view just shown may have painted its lines before this event

    def render_line(self, y: int) -> Strip:
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width)

    def lines(self, width: int, height: int) -> list[Strip]:
        """The panel's lines for this size; padded or cropped to the width by rebuild()."""
        raise NotImplementedError
