"""The headless app mode's key script: "STEP:KEY ..." parsed into keys to press at steps trained."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScriptedKey:
    """A key to press once the app has trained this many steps, over all runs."""

    step: int
    key: str  # a Textual key name: "3", "space", "l", "left_square_bracket"


def parse_key_script(text: str) -> list[ScriptedKey]:
    """"2000:3 4000:space" (or comma-separated) in order; raises ValueError naming a bad item."""
    script = []
    for item in text.replace(",", " ").split():
        step, _, key = item.partition(":")
        if not step.isdigit() or not key:
            raise ValueError(f"{item!r} is not STEP:KEY (for example 2000:3)")
        script.append(ScriptedKey(int(step), key))
    return script
