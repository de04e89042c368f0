"""A lesson: cards read from a Markdown file, the live figures they quote, checks that a key did its work."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path

from mmtui.experiments import GAINS, MODELS, PRESETS, gain_label
from mmtui.records import ActivationStats, RunInfo, Snapshot
from mmtui.tui.fading import fade, faded_from
from mmtui.tui.history import History, RunHistory

BUNDLED_LESSON = "lecture.md"  # in the package's lessons/ folder: the lecture's own order
CARD_HEADING = "## "
DIRECTIVE = re.compile(r"(key|check):\s*(.*)")  # a card's own lines, right under its heading
FIGURE = re.compile(r"\{(\w+)\}")
VIEWS = ("overview", "layers", "parameters", "time")  # what `check: view NAME` may name: the app's views
INIT_LOSS_TOLERANCE = 0.1  # how near -ln(1/V) a step-0 loss is "as expected" (the lecture's fix-logits: 3.32)
UNKNOWN = "…"  # a figure the run has not reached yet
# keys a card cannot ask for: they move or end the lesson
LESSON_KEYS = frozenset({"left", "right", "q", "ctrl+q"})


class LessonError(ValueError):
    """A lesson file that cannot be taught from: one line naming the file, and the line in it where there
    is one."""


@dataclass(frozen=True)
class Card:
    """One step of a lesson: what to look at, the keys it asks for, and the check that they did it."""

    title: str
    text: str  # Markdown with {figure} placeholders, filled from the live run
    keys: tuple[str, ...]  # Textual key names; () asks for nothing and may be passed at once
    check: tuple[str, ...]  # the check's name and its arguments; () with keys: pressing one is enough
    line: int  # of its heading in the file, for messages


@dataclass(frozen=True)
class Lesson:
    name: str  # the file's name, as messages give it
    title: str
    cards: tuple[Card, ...]


# ---- reading a lesson file

def bundled_lesson_path() -> Path:
    return Path(str(resources.files("mmtui") / "lessons" / BUNDLED_LESSON))


def read_lesson(path: Path, keys: Collection[str]) -> Lesson:
    """The lesson in `path`, checked against the keys the app binds; LessonError names the first problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LessonError(f"{path}: no such lesson file") from None
    except IsADirectoryError:
        raise LessonError(f"{path}: a folder, not a lesson file") from None
    except OSError as error:
        raise LessonError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        text = data.decode("utf-8-sig")  # an editor's byte-order mark is no text before the first card
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise LessonError(f"{path}:{line}: not UTF-8 text") from None
    return parse_lesson(text, str(path), keys)


def parse_lesson(text: str, name: str, keys: Collection[str]) -> Lesson:
    """`# Title`, then cards: `## Card title`, its `key:` and `check:` lines, then its Markdown."""
    if not text.strip():
        raise LessonError(f"{name}: empty: a lesson is cards, each under a '## ' heading")
    title, cards, current = "", [], None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(CARD_HEADING):
            current = {"title": line[len(CARD_HEADING):].strip(), "line": number, "keys": (), "check": (),
                       "text": [], "in_text": False}
            cards.append(current)
        elif current is None:
            if line.startswith("# ") and not title:
                title = line[2:].strip()
            elif line.strip():
                raise LessonError(f"{name}:{number}: text before the first card (a card begins with '## ')")
        elif directive := DIRECTIVE.fullmatch(line.strip()):
            what, value = directive.group(1), directive.group(2).split()
            if current["in_text"] or current["keys" if what == "key" else "check"]:
                raise LessonError(f"{name}:{number}: a {what}: line belongs right under its card's heading, "
                                  f"once")
            if what == "key":
                unknown = [key for key in value if key not in keys or key in LESSON_KEYS]
                if not value or unknown:
                    named = " ".join(unknown) or "(none)"
                    raise LessonError(f"{name}:{number}: unknown key {named!r}: the keys "
                                      f"are those of the monitor's help (?), as Textual names them")
                current["keys"] = tuple(value)
            else:
                _check_check(value, f"{name}:{number}")
                current["check"] = tuple(value)
        else:
            current["in_text"] = current["in_text"] or bool(line.strip())
            for figure in FIGURE.findall(line):
                if figure not in FIGURES:
                    raise LessonError(f"{name}:{number}: unknown figure {{{figure}}}: the figures are "
                                      f"{', '.join(FIGURES)}")
            current["text"].append(line)
    if not cards:
        raise LessonError(f"{name}: no cards: a card begins with a '## ' heading")
    for card in cards:
        if card["check"] and not card["keys"]:
            raise LessonError(f"{name}:{card['line']}: a card with a check needs a key: line to ask for")
    return Lesson(name, title, tuple(Card(c["title"], "\n".join(c["text"]).strip(), c["keys"], c["check"],
                                          c["line"]) for c in cards))


def _check_check(value: list[str], where: str) -> None:
    if not value or value[0] not in CHECKS:
        known = ", ".join(f"{name} {check.usage}".strip() for name, check in CHECKS.items())
        raise LessonError(f"{where}: unknown check {' '.join(value) or '(none)'!r}: the checks are {known}")
    check = CHECKS[value[0]]
    problem = check.arguments_problem(value[1:])
    if problem:
        raise LessonError(f"{where}: check {value[0]}: {problem}")


# ---- what a check sees

@dataclass
class Observed:
    """What happened since a card's key was pressed: the run begun since (None until one is), every run seen
    since, and the view shown."""

    fresh: RunHistory | None
    seen: list[RunInfo]
    view: str


@dataclass(frozen=True)
class Check:
    """One kind of check: what its arguments must be, and whether it holds."""

    usage: str  # its arguments, as the README documents them
    holds: Callable[[Observed, list[str]], bool]
    arguments_problem: Callable[[list[str]], str | None]


def _no_arguments(args: list[str]) -> str | None:
    return "takes no arguments" if args else None


def _one_of(choices: Collection[str]) -> Callable[[list[str]], str | None]:
    def problem(args: list[str]) -> str | None:
        return None if len(args) == 1 and args[0] in choices else f"takes one of {', '.join(choices)}"
    return problem


def _number(text: str) -> float | None:
    try:
        number = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _gains(args: list[str]) -> str | None:
    ok = args and all((g := _number(a)) is not None and any(math.isclose(g, gain) for gain in GAINS)
                      for a in args)
    return None if ok else f"takes gains the g key gives: {', '.join(gain_label(g) for g in GAINS)}"


def _init_loss_expected(seen: Observed, args: list[str]) -> bool:
    run = seen.fresh
    return (run is not None and run.init_loss is not None and run.info.expected_init_loss is not None
            and abs(run.init_loss - run.info.expected_init_loss) < INIT_LOSS_TOLERANCE)


def _init_first_layer(run: RunHistory) -> ActivationStats | None:
    """The first layer at the run's first statistics (its init, for a live run): training saturates a layer
    again later, so the lecture's figures of an init are read there."""
    return run.init_layers[0] if run.init_layers else None


def _init_saturation_below(seen: Observed, args: list[str]) -> bool:
    first = _init_first_layer(seen.fresh) if seen.fresh is not None else None
    return first is not None and first.saturation < _number(args[0])


def _init_is(seen: Observed, args: list[str]) -> bool:
    return seen.fresh is not None and seen.fresh.info.settings.get("init") == args[0]


def _model_is(seen: Observed, args: list[str]) -> bool:
    return seen.fresh is not None and seen.fresh.info.model == args[0]


def _gains_seen(seen: Observed, args: list[str]) -> bool:
    # deep only: with BatchNorm every layer sits at the same std whatever the gain, which is not what a card
    # shows
    tried = [info.settings.get("gain") for info in seen.seen if info.model == "deep"]
    return all(any(g is not None and math.isclose(g, _number(a)) for g in tried) for a in args)


def _view_is(seen: Observed, args: list[str]) -> bool:
    return seen.view == args[0]


def _time_fade(seen: Observed, args: list[str]) -> bool:
    """The fresh run is of model args[0], and at its first figures by time step the first step's gradient over
    the last's is below or above args[2]: what the through-time view showed of its init."""
    run = seen.fresh
    if run is None or run.info.model != args[0] or not run.first_times:
        return False
    ratio = fade(run.first_times[0])
    bound = _number(args[2])
    return ratio is not None and (ratio < bound if args[1] == "below" else ratio > bound)


def _time_fade_arguments(args: list[str]) -> str | None:
    ok = (len(args) == 3 and args[0] in MODELS and args[1] in ("below", "above")
          and _number(args[2]) is not None)
    return None if ok else "takes a model, below or above, and a ratio"


CHECKS: dict[str, Check] = {
    "init-loss-expected": Check("", _init_loss_expected, _no_arguments),
    "init-saturation-below": Check("PERCENT", _init_saturation_below,
                              lambda args: None if len(args) == 1 and _number(args[0]) is not None
                              else "takes one number, a percentage"),
    "init": Check("PRESET", _init_is, _one_of(PRESETS)),
    "model": Check("MODEL", _model_is, _one_of(MODELS)),
    "gains": Check("GAIN ...", _gains_seen, _gains),
    "view": Check("VIEW", _view_is, _one_of(VIEWS)),
    "time-fade": Check("MODEL below|above RATIO", _time_fade, _time_fade_arguments),
}


# ---- the live figures a card quotes

def _run_figure(read: Callable[[RunHistory], object]) -> Callable[[History], str | None]:
    def figure(history: History) -> str | None:
        run = history.run
        return None if run is None else _text(read(run))
    return figure


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _stats(read: Callable) -> Callable[[History], str | None]:
    return _run_figure(lambda run: read(run.first_layer) if run.first_layer is not None else None)


def _update_ratios(run: RunHistory) -> list[float]:
    return [p.update_ratio_log10 for p in run.params if math.isfinite(p.update_ratio_log10)]


FIGURES: dict[str, Callable[[History], str | None]] = {
    "step": lambda history: f"{history.latest.step:,}" if history.latest else None,
    "init_loss": _run_figure(lambda run: run.init_loss),
    "expected_loss": _run_figure(lambda run: run.info.expected_init_loss),
    "vocab_size": _run_figure(lambda run: run.info.vocab_size),
    "loss": _run_figure(lambda run: run.losses.latest_smooth),
    "val_loss": _run_figure(lambda run: run.evals[-1].val_loss if run.evals else None),
    "model": _run_figure(lambda run: run.info.model),
    "init": _run_figure(lambda run: run.info.settings.get("init")),
    "gain": _run_figure(lambda run: gain_label(run.info.settings["gain"]) if "gain" in run.info.settings
                        else None),
    "num_params": _run_figure(lambda run: f"{run.info.num_params:,}" if run.info.num_params else None),
    "saturation": _stats(lambda stats: f"{stats.saturation:.1f}"),
    "init_saturation": _run_figure(lambda run: f"{first.saturation:.1f}" if (first := _init_first_layer(run))
                                   else None),
    "white": _stats(lambda stats: f"{stats.share_99:.1f}"),
    "dead_units": _stats(lambda stats: stats.dead_units),
    "units": _stats(lambda stats: stats.units),
    "layer_stds": _run_figure(lambda run: " ".join(f"{s.std:.2f}" for s in run.layers) or None),
    "layer_saturations": _run_figure(lambda run: " ".join(f"{s.saturation:.0f}%" for s in run.layers)
                                     or None),
    "init_layer_stds": _run_figure(lambda run: " ".join(f"{s.std:.2f}" for s in run.init_layers) or None),
    "init_layer_saturations": _run_figure(
        lambda run: " ".join(f"{s.saturation:.0f}%" for s in run.init_layers) or None),
    "update_ratio": _run_figure(lambda run: f"{statistics.median(r):.1f}" if (r := _update_ratios(run))
                                else None),
    "update_range": _run_figure(lambda run: f"{min(r):.1f} to {max(r):.1f}" if (r := _update_ratios(run))
                                else None),
    "w1_scale": _run_figure(lambda run: f"{run.info.settings['w1_scale']:g}"
                            if "w1_scale" in run.info.settings else None),
    "init_time_fade": _run_figure(lambda run: _fade_text(run.first_times)),
    "time_fade": _run_figure(lambda run: _fade_text(run.shown_times)),
    "faded_from": _run_figure(lambda run: _faded_text(run.shown_times)),
}


def _fade_text(times) -> str | None:
    ratio = fade(times[0]) if times else None
    return f"{ratio:.1e}" if ratio is not None else None


def _faded_text(times) -> str | None:
    if not times or not times[0].grad_std:
        return None
    step = faded_from(times[0])
    return "no step" if step is None else f"step {step} and every earlier one"


def filled(text: str, history: History) -> str:
    """A card's text with its figures from the run shown now."""
    return FIGURE.sub(lambda match: FIGURES[match.group(1)](history) or UNKNOWN, text)


# ---- a learner's way through a lesson

@dataclass
class LessonProgress:
    """Which card is shown, and what was done since: a card's key counts only once pressed on that card,
    and its check only on what followed, so a wrong key, or the right result by another way, does not pass
    it."""

    lesson: Lesson
    index: int = 0
    pressed: bool = False  # one of the card's keys was pressed since it was shown
    run_at_press: tuple[str, int] | None = None  # (stream, run_id) of the run shown when it was pressed
    # every run begun since, by (stream, id)
    seen: dict[tuple[str, int], RunInfo] = field(default_factory=dict)

    @property
    def card(self) -> Card:
        return self.lesson.cards[self.index]

    @property
    def last(self) -> bool:
        return self.index == len(self.lesson.cards) - 1

    def key_pressed(self, key: str, history: History) -> None:
        if key in self.card.keys and not self.pressed:
            self.pressed = True
            run = history.run
            self.run_at_press = (run.info.stream, run.info.run_id) if run is not None else None

    def observe(self, snapshot: Snapshot) -> None:
        """Every snapshot that arrives: the runs begun since the key was pressed."""
        run = (snapshot.run.stream, snapshot.run.run_id)
        if self.pressed and self._begun_since(run):
            self.seen.setdefault(run, snapshot.run)

    def _begun_since(self, run: tuple[str, int]) -> bool:
        return self.run_at_press is None or run[0] != self.run_at_press[0] or run[1] > self.run_at_press[1]

    def done(self, history: History, view: str) -> bool:
        card = self.card
        if not card.keys:
            return True
        if not self.pressed:
            return False
        if not card.check:
            return True
        run = history.run
        fresh = run if run is not None and self._begun_since((run.info.stream, run.info.run_id)) else None
        observed = Observed(fresh, list(self.seen.values()), view)
        return CHECKS[card.check[0]].holds(observed, list(card.check[1:]))

    def move(self, delta: int) -> bool:
        """To the next (delta 1) or previous card; False at either end. A card shown again starts afresh."""
        index = self.index + delta
        if not 0 <= index < len(self.lesson.cards):
            return False
        self.index, self.pressed, self.run_at_press, self.seen = index, False, None, {}
        return True
