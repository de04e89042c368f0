"""The lesson card beside the panels: the card's text with the live run's figures, and what it waits for."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Markdown, Static

from mmtui.tui.history import History
from mmtui.tui.lesson import LessonProgress, filled
from mmtui.tui.palette import OK_GREEN, WARN_YELLOW

# a card's figures follow the run at most this often: the Markdown widget rebuilds on each
RENDER_EVERY_S = 1.0


class LessonCard(Vertical):
    """A card's Markdown with its figures filled in, and a line saying what it waits for."""

    DEFAULT_CSS = """
    LessonCard { width: 30%; min-width: 32; max-width: 56; border: round $primary;
                 border-title-color: $accent; border-title-style: bold; }
    LessonCard > VerticalScroll { height: 1fr; scrollbar-size-vertical: 1; }
    LessonCard Markdown { margin: 0; padding: 0 1 0 0; }
    LessonCard #lesson-status { height: auto; padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text = Markdown()
        self.status = Static(id="lesson-status")
        self._shown: tuple[int, str] | None = None  # the card and text rendered
        self._rendered_at = 0.0  # time.monotonic() of that rendering
        self._rendering = None  # the Markdown's update: its blocks are mounted once it is done
        self._status: Text | None = None  # the status line shown

    @property
    def laid_out(self) -> bool:
        """Whether the latest card's text is mounted as Markdown blocks (the unattended mode's
        screenshot waits)."""
        return self._rendering is not None and self._rendering.is_done

    def compose(self) -> ComposeResult:
        with VerticalScroll(can_focus=False):
            yield self.text
        yield self.status

    def draw(self, progress: LessonProgress, history: History, done: bool) -> None:
        card, cards = progress.card, len(progress.lesson.cards)
        self.border_title = f"Lesson {progress.index + 1}/{cards}"
        self.border_subtitle = progress.lesson.title
        text = f"### {card.title}\n\n{filled(card.text, history)}"
        new_card = self._shown is None or self._shown[0] != progress.index
        now = time.monotonic()
        if new_card or (self._shown[1] != text and now - self._rendered_at >= RENDER_EVERY_S):
            if new_card:
                self.query_one(VerticalScroll).scroll_home(animate=False)
            self._shown, self._rendered_at = (progress.index, text), now
            self._rendering = self.text.update(text)
        status = status_text(progress, done)
        if status != self._status:
            self._status = status
            self.status.update(status)


def status_text(progress: LessonProgress, done: bool) -> Text:
    """What the card waits for, or that it is done and which key goes on."""
    card = progress.card
    keys = " or ".join(card.keys)
    if done and progress.last:
        return Text("the last card · ← back", style=f"bold {OK_GREEN}")
    if done:
        said = f"✓ {keys} did it · " if card.keys else ""
        return Text(f"{said}→ next", style=f"bold {OK_GREEN}")
    if not progress.pressed:
        return Text(f"press {keys}", style=f"bold {WARN_YELLOW}")
    return Text(f"{keys} pressed: watching for what the card describes…", style=WARN_YELLOW)
