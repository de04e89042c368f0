"""Strings from outside mmtui as the TUI draws them: plain text, never markup, with no escape sequences.

A run file, a TensorBoard log or a word list may hold "[/]", "[link=...]" or an OSC 52 sequence in a name, a
sample or a note; drawn as markup the first breaks the frame and the second draws a link, and sent to the
terminal the third writes the user's clipboard. Every snapshot and source status is cleaned once as it arrives
(clean_arrival), and every widget that draws a string from one draws it through plain(), never as markup.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace

from rich.style import Style
from rich.text import Text

from mmtui.records import Snapshot, SourceStatus
from mmtui.text import safe_text


def plain(raw: str, style: str | Style = "") -> Text:
    """`raw` as a Text to draw as it is: no markup parsed, escape sequences and control characters removed."""
    return Text(safe_text(raw), style=style)


def clean_arrival(item: Snapshot | SourceStatus) -> Snapshot | SourceStatus:
    """A snapshot or a source status with every string in it made safe to draw; the same object when none
    needed it (the common case), so what compares by identity still does."""
    return _cleaned(item)


def _cleaned(value):
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, tuple):
        if not value or isinstance(value[0], (int, float)):  # a record's tuple holds one type: losses, edges
            return value
        items = tuple(_cleaned(item) for item in value)
        return value if all(a is b for a, b in zip(items, value)) else items
    if isinstance(value, dict):  # a run's settings: JSON values
        items = {_cleaned(key): _cleaned(item) for key, item in value.items()}
        same = all(a is b for a, b in zip(items, value)) and all(items[k] is value[k] for k in value)
        return value if same and len(items) == len(value) else items
    if isinstance(value, list):
        items = [_cleaned(item) for item in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    if is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in fields(value):
            item = getattr(value, f.name)
            if isinstance(item, (str, tuple, dict, list)) or is_dataclass(item):
                cleaned = _cleaned(item)
                if cleaned is not item:
                    changes[f.name] = cleaned
        return replace(value, **changes) if changes else value
    return value
