"""Text from outside mmtui (a run file, a word list, a script's output) made safe for a terminal to draw."""

from __future__ import annotations

import re

# Escape sequences a terminal would act on: CSI (colours, cursor moves: tqdm's nested bars), OSC (titles,
# links, the clipboard's OSC 52), DCS/SOS/PM/APC strings, and the two-character ones.
ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?"
                    r"|[ -/]*[0-~])")
# What is left that a terminal acts on or hides: C0 and C1 controls (C1's CSI and OSC among them), and the
# invisible format characters (bidirectional overrides reorder what follows them, on the screen only).
INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


def safe_text(raw: str) -> str:
    """A line as it may be drawn: escape sequences and control characters removed, tabs expanded."""
    if not INVISIBLE.search(raw):  # every escape sequence starts with ESC, one of them
        return raw  # the common case, no copy
    return INVISIBLE.sub("", ESCAPE.sub("", raw).expandtabs(8))
