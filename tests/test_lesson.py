"""`mmtui lesson`: the bundled lesson walked on the real trainer by pressing what its cards ask, its checks,
its live figures, a teacher's own lesson file, and bad lesson files refused in one line."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest

from app_sources import screen_text, shows, svg_text, trainer_app
from mmtui.engine.words import read_words
from mmtui.records import RUNNING, RunInfo, Snapshot
from mmtui.tui.app import MmtuiApp
from mmtui.tui.history import History
from mmtui.tui.lesson import (LessonError, LessonProgress, bundled_lesson_path, filled, parse_lesson,
                              read_lesson)
from pilot_wait import wait_until
from test_headless_cli import assert_one_line_error, mmtui
from test_tui_diagnostics import layer_stats

SIZE = (160, 48)
KEYS = {binding.key for binding in MmtuiApp.BINDINGS}
CHECK_TIMEOUT_S = 60  # a reinit and its first statistics, on a loaded machine


@pytest.fixture(scope="module")
def words() -> list[str]:
    return read_words(None)[:1000]


def bundled():
    return read_lesson(bundled_lesson_path(), KEYS)


def test_the_bundled_lesson_follows_the_lecture_and_asks_for_its_keys():
    lesson = bundled()
    assert lesson.title == "Activations & gradients, BatchNorm"
    assert [card.keys for card in lesson.cards] == [("2",), ("3",), ("4",), ("b",), ("m", "g"), ("p",),
                                                    ("m",), ("left_square_bracket",), ("m",), ()]
    assert [card.check[:1] for card in lesson.cards] == [("init-loss-expected",), ("init-saturation-below",),
                                                         ("init",), ("model",), ("gains",), ("view",),
                                                         ("model",), ("time-fade",), ("time-fade",), ()]


def test_a_figure_the_run_has_not_reached_is_an_ellipsis_and_a_card_moves_within_the_lesson():
    lesson = parse_lesson("## one\n\nloss {init_loss} of {expected_loss}\n\n## two\nkey: 2\n", "t.md", KEYS)
    assert filled(lesson.cards[0].text, History()) == "loss … of …"
    progress = LessonProgress(lesson)
    assert progress.done(History(), "overview")  # a card that asks for nothing
    assert not progress.move(-1) and progress.move(1) and not progress.move(1) and progress.last
    assert not progress.done(History(), "overview")  # its key not pressed


# ---- the checks, on hand-built runs: what passes a card and what does not

def run_snapshot(run_id: int, *, init_loss: float = 27.0, saturation: float = 70.0, step: int = 0,
                 stream: str = "", model: str = "mlp", **settings) -> Snapshot:
    """A lecture run's snapshot: its step-0 loss, and its first layer's saturation at `step`."""
    settings = {"init": "lecture", "gain": 5 / 3, **settings}
    info = RunInfo(run_id=run_id, name=f"run {run_id}", model=model, settings=settings, total_steps=1000,
                   vocab_size=27, expected_init_loss=math.log(27), stream=stream)
    layers = (replace(layer_stats(), saturation=saturation, step=step),)
    return Snapshot(run=info, state=RUNNING, step=step, first_loss_step=step, losses=(init_loss,), lr=0.1,
                    steps_per_s=100.0, init_loss=init_loss, layers=layers, params=(), evals=(), samples=(),
                    last_finite_loss=init_loss, diverged_loss=None)


def one_card(key: str, check: str) -> LessonProgress:
    return LessonProgress(parse_lesson(f"## one\nkey: {key}\ncheck: {check}\n", "t.md", KEYS))


def press_then_run(key: str, check: str, *runs: Snapshot, view: str = "overview") -> bool:
    """Whether a card asking for `key` and `check` is done once the key is pressed on a lecture run and `runs`
    follow."""
    progress, history = one_card(key, check), History()
    history.add(run_snapshot(0))
    progress.key_pressed(key, history)
    for snapshot in runs:
        history.add(snapshot)
        progress.observe(snapshot)
    return progress.done(history, view)


# key, check, runs that pass it, runs that do not
CHECK_CASES = {
    "init-loss-expected": ("2", "init-loss-expected", [run_snapshot(1, init_loss=3.32)],
                           [run_snapshot(1, init_loss=3.45)]),
    # the run's first statistics count, not those that training saturates again later
    "init-saturation-below": ("3", "init-saturation-below 10", [run_snapshot(1, saturation=4.0),
                                                                run_snapshot(1, saturation=40.0, step=500)],
                              [run_snapshot(1, saturation=12.0)]),
    "init": ("4", "init kaiming", [run_snapshot(1, init="kaiming")], [run_snapshot(1, init="fix-tanh")]),
    "model": ("b", "model mlp-bn", [run_snapshot(1, model="mlp-bn")], [run_snapshot(1, model="mlp")]),
    # every gain asked for, on the deep net without BatchNorm, in any order
    "gains": ("g", "gains 1 0.5 3",
              [run_snapshot(i, model="deep", gain=g) for i, g in enumerate((3, 1, 0.5), 1)],
              [run_snapshot(i, model=m, gain=g) for i, (m, g) in enumerate((("deep", 1), ("deep", 0.5),
                                                                           ("deep-bn", 3)), 1)]),
}


@pytest.mark.parametrize("name", list(CHECK_CASES))
def test_each_check_holds_on_the_runs_that_do_what_it_asks_and_on_no_others(name):
    key, check, passing, failing = CHECK_CASES[name]
    assert press_then_run(key, check, *passing)
    assert not press_then_run(key, check, *failing)
    assert not press_then_run(key, check)  # no new run yet


def test_the_view_check_holds_while_that_view_is_shown():
    assert press_then_run("y", "view layers", view="layers")
    assert not press_then_run("y", "view layers", view="overview")


def test_a_card_counts_only_its_own_key_and_only_the_runs_begun_after_it():
    progress, history = one_card("2", "init-loss-expected"), History()
    history.add(run_snapshot(0, init_loss=3.3))  # the right result before the key: not a pass
    progress.key_pressed("3", history)  # another key with the same effect: not a pass either
    assert not progress.pressed and not progress.done(history, "overview")
    progress.key_pressed("2", history)
    assert not progress.done(history, "overview")  # pressed on the run that was there already
    for snapshot in (run_snapshot(1, init_loss=3.3), run_snapshot(0, init_loss=3.3, stream="other.jsonl")):
        history.add(snapshot)
        progress.observe(snapshot)
    assert progress.done(history, "overview")
    assert {run.run_id for run in progress.seen.values()} == {1, 0}  # a new run of another stream counts too
    assert progress.move(-1) is False and progress.pressed  # the first card: nothing before it


async def walk(pilot, app: MmtuiApp, key: str) -> None:
    await pilot.press(key)
    await wait_until(pilot, lambda: app.lesson.done(app.history, app.views.current), CHECK_TIMEOUT_S)


async def test_pilot_walks_the_bundled_lesson_by_pressing_what_each_card_asks(words):
    app = trainer_app(words, process=True, hidden=20, lesson=bundled())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.history.run is not None and app.history.run.init_loss is not None,
                         30)
        screen = screen_text(app)
        assert "Lesson 1/10" in screen and "press 2" in screen
        await pilot.press("right")  # shown, dimmed, until the card's check holds: it does not move yet
        assert app.lesson.index == 0
        await walk(pilot, app, "2")
        # the card quotes the live run: its step-0 loss is the Saturation panel's
        await wait_until(pilot, lambda: "✓ 2 did it" in screen_text(app), 10)
        panel = re.search(r"step-0 loss (\d+\.\d\d), expected", screen_text(app)).group(1)
        assert 3.2 < float(panel) < 3.4
        await pilot.press("right")
        await wait_until(pilot, lambda: shows(app, "Lesson 2/10", "tanh saturation"))
        await wait_until(pilot, lambda: f"starts at a loss of **{panel}**" in app.lesson_card.text.source, 10)
        for keys in (["3"], ["4"], ["b"], ["m", "g", "g", "g"], ["p"], ["m", "m"],
                     ["left_square_bracket", "left_square_bracket"], ["m"]):
            for key in keys[:-1]:
                shown = app.history.run.info.run_id
                await pilot.press(key)  # g steps from the gain of the run shown: the next key waits for it
                await wait_until(pilot, lambda: app.history.run.info.run_id != shown, CHECK_TIMEOUT_S)
            await walk(pilot, app, keys[-1])
            await pilot.press("right")
        assert app.lesson.last and "That's the lecture" in app.lesson.card.title
        assert app.history.run.info.model == "gru" and app.history.run.info.settings["w1_scale"] == 0.25
        await pilot.press("left")
        assert app.lesson.index == 8 and not app.lesson.pressed  # a card shown again starts afresh


def test_a_teachers_lesson_file_runs_in_the_unattended_mode(small_words_path, tmp_path):
    lesson = tmp_path / "mine.md"
    lesson.write_text("# Mine\n\n## Pause it\nkey: space\n\nPress space at step {step}.\n", encoding="utf-8")
    shot = tmp_path / "shot.svg"
    result = mmtui("lesson", "--file", str(lesson), "--no-terminal", "--data", str(small_words_path),
                   "--steps", "300", "--eval-every", "0", "--hidden", "20", "--screenshot", str(shot))
    assert result.returncode == 0, result.stderr
    screen = svg_text(shot.read_text())
    assert "Lesson 1/1" in screen and "Pause it" in screen and "press space" in screen


BAD_LESSONS = {
    "missing": (None, "no such lesson file"),
    "empty": (b"\n\n", "empty: a lesson is cards"),
    "not-utf8": (b"## one\n\xff\xfe\n", ":2: not UTF-8 text"),
    "unknown-key": (b"## one\nkey: ctrl+z\n", ":2: unknown key 'ctrl+z'"),
    "unknown-check": (b"## one\nkey: 2\ncheck: loss-is-low\n", ":3: unknown check 'loss-is-low'"),
    "bad-argument": (b"## one\nkey: m\ncheck: model gpt\n", ":3: check model: takes one of mlp, mlp-bn"),
    "unknown-figure": (b"## one\nkey: 2\n\nthe {accuracy}\n", ":4: unknown figure {accuracy}"),
    "check-without-key": (b"## one\ncheck: view layers\n", ":1: a card with a check needs a key"),
    "key-after-text": (b"## one\n\nPress it.\nkey: 2\n", ":4: a key: line belongs right under its card's"),
    "key-twice": (b"## one\nkey: 2\nkey: 3\n", ":3: a key: line belongs right under"),
    "lesson-key": (b"## one\nkey: right\n", ":2: unknown key 'right'"),
    "gain-not-offered": (b"## one\nkey: g\ncheck: gains 2\n", ":3: check gains: takes gains the g key gives"),
    "text-before-cards": (b"# T\nhello\n## one\n", ":2: text before the first card"),
}


@pytest.mark.parametrize("kind", list(BAD_LESSONS))
def test_a_bad_lesson_file_is_refused_in_one_line_naming_the_file_and_line(kind, tmp_path):
    data, phrase = BAD_LESSONS[kind]
    path = tmp_path / "lesson.md"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(LessonError) as refused:
        read_lesson(path, KEYS)
    message = str(refused.value)
    assert message.startswith(str(path)) and phrase in message and "\n" not in message


def test_the_lesson_command_says_why_a_lesson_file_is_refused_in_one_line_with_exit_2(tmp_path):
    path = tmp_path / "lesson.md"
    path.write_bytes(b"## one\nkey: ctrl+z\n")
    result = mmtui("lesson", "--file", str(path), "--no-terminal")
    assert_one_line_error(result, f"{path}:2: unknown key 'ctrl+z'")


def test_a_byte_order_mark_and_crlf_lines_read_as_plain_utf8(tmp_path):
    path = tmp_path / "bom.md"
    path.write_bytes("\ufeff# T\r\n\r\n## one\r\nkey: 2\r\ncheck: init-loss-expected\r\n\r\nText\r\n"
                     .encode())
    lesson = read_lesson(path, KEYS)
    assert lesson.title == "T" and lesson.cards[0].keys == ("2",) and lesson.cards[0].text == "Text"


def test_parse_errors_name_the_file_as_given():
    with pytest.raises(LessonError, match=r"^given\.md:2: unknown key"):
        parse_lesson("## one\nkey: nope\n", "given.md", KEYS)
