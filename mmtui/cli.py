"""The `mmtui` command: options, their checks, and the choice between the TUI and the headless runner."""

from __future__ import annotations

import math
import os
import sys
import warnings
from pathlib import Path

import click

from mmtui.engine.config import LECTURE_SEED, MODELS, PRESETS, TrainConfig
from mmtui.tui.key_script import parse_key_script

POSITIVE_INT = click.IntRange(min=1)


class PositiveFloat(click.FloatRange):
    """A finite float above 0: click's FloatRange lets nan through, and inf is no setting."""

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number




class KeyScript(click.ParamType):
    """"STEP:KEY STEP:KEY ...", keys as Textual names them (3, space, l, left_square_bracket)."""

    name = "STEP:KEY ..."

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        try:
            return parse_key_script(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


class Size(click.ParamType):
    """"COLUMNSxROWS"."""

    name = "WxH"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        columns, _, rows = value.lower().partition("x")
        if not (columns.isdigit() and rows.isdigit() and int(columns) >= 20 and int(rows) >= 8):
            self.fail(f"{value!r} is not COLUMNSxROWS of at least 20x8 (for example 160x48)", param, ctx)
        return int(columns), int(rows)
POSITIVE_FLOAT = PositiveFloat()


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--data", type=click.Path(path_type=str), default=None,
              help="Word list to learn, one word per line (UTF-8). Default: the bundled US first names.")
@click.option("--model", type=click.Choice(MODELS), default="mlp", show_default=True,
              help="mlp (the lecture's), mlp-bn (with BatchNorm), deep (5 tanh layers of 100), deep-bn.")
@click.option("--init", "init", type=click.Choice(PRESETS), default="lecture", show_default=True,
              help="Init preset of the MLPs: lecture (raw randn), fix-logits, fix-tanh or kaiming.")
@click.option("--gain", type=POSITIVE_FLOAT, default=5 / 3, show_default="5/3",
              help="Deep nets: factor on the hidden weights (randn / sqrt(fan_in)); the lecture tries 5/3, 1, 0.5, 3.")
@click.option("--w1-scale", type=POSITIVE_FLOAT, default=1.0, show_default=True,
              help="Further factor on the hidden weights W1, on top of the preset.  [x>0]")
@click.option("--steps", type=POSITIVE_INT, default=200_000, show_default=True,
              help="SGD steps; the learning rate drops to lr/10 for the second half.  [x>=1]")
@click.option("--batch-size", type=POSITIVE_INT, default=32, show_default=True, help="Examples per minibatch.  [x>=1]")
@click.option("--lr", type=POSITIVE_FLOAT, default=0.1, show_default=True, help="Learning rate.  [x>0]")
@click.option("--embed", type=POSITIVE_INT, default=10, show_default=True,
              help="Embedding dimensions per character.  [x>=1]")
@click.option("--hidden", type=POSITIVE_INT, default=200, show_default=True, help="Hidden tanh units.  [x>=1]")
@click.option("--block-size", type=POSITIVE_INT, default=3, show_default=True,
              help="Characters of context that predict the next one.  [x>=1]")
@click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=LECTURE_SEED, show_default=True,
              help="Seed of the generator that draws the weights and then every minibatch.")
@click.option("--threads", type=POSITIVE_INT, default=1, show_default=True,
              help="Torch CPU threads; one is fastest for this small net.  [x>=1]")
@click.option("--eval-every", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Steps between full train/val evaluations (0: only at the end).  [x>=0]")
@click.option("--diverge-at", type=POSITIVE_FLOAT, default=None,
              help="A loss above this stops the run as diverged. Default: 100 x -ln(1/V).  [x>0]")
@click.option("--num-samples", type=POSITIVE_INT, default=10, show_default=True,
              help="Names sampled at the end (and, in the TUI, every few seconds).  [x>=1]")
@click.option("--headless", is_flag=True, help="No terminal UI: print JSON lines to stdout (for scripts and CI).")
@click.option("--every", type=POSITIVE_INT, default=1000, show_default=True,
              help="Headless: print a \"step\" line every this many steps.  [x>=1]")
@click.option("--trainer", type=click.Choice(["process", "thread"]), default="process", show_default=True,
              help="TUI: train in a child process (drawing never slows training) or in a thread of the app.")
@click.option("--no-terminal", is_flag=True,
              help="TUI without a terminal (Textual's headless mode), for demos and CI; ends with --steps.")
@click.option("--keys", "key_script", type=KeyScript(), default="",
              help="With --no-terminal: keys to press at steps trained, e.g. \"2000:3 4000:space\".")
@click.option("--screenshot", type=click.Path(dir_okay=False, writable=True), default=None,
              help="With --no-terminal: save an SVG screenshot here when training ends.")
@click.option("--size", type=Size(), default="160x48", show_default=True,
              help="With --no-terminal: the screen's columns x rows.")
def cli(headless: bool, every: int, trainer: str, no_terminal: bool, key_script, screenshot: str | None,
        size: tuple[int, int], **options) -> None:
    """Train the makemore MLP and watch its activations and gradients live.

    Keys in the TUI re-run the lecture's experiments: 1-4 init presets, [ ] weight scale, space pause,
    ? help, q quit. With --headless, print JSON lines instead (one per event) for scripts and CI.
    """
    if headless:
        config = TrainConfig(**options, snapshot_every=every)
        sys.exit(_run_engine_safely(lambda: _headless(config)))
    config = TrainConfig(**options)
    _exit_now(_run_engine_safely(lambda: _tui(config, trainer == "thread", no_terminal, key_script, screenshot, size)))


def _tui(config: TrainConfig, in_process: bool, no_terminal: bool, key_script, screenshot: str | None,
         size: tuple[int, int]) -> int:
    from mmtui.engine.host import TrainerHost
    from mmtui.engine.words import read_words
    from mmtui.tui.settings import tui_config

    words = read_words(config.data)  # bad data is reported before the screen changes
    if not no_terminal and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise click.UsageError("the TUI needs a terminal; use --headless for JSON lines or --no-terminal")
    host = TrainerHost(tui_config(config), words, process=not in_process)
    host.start()  # the trainer imports torch (~2 s) while this process imports Textual
    from mmtui.tui.app import MmtuiApp

    app = MmtuiApp(config, words, host=host, key_script=key_script,
                   screenshot=Path(screenshot) if screenshot else None)
    result = app.run(headless=no_terminal, size=size if no_terminal else None)
    return app.return_code or result or 0


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown of Textual's and Rich's objects: it took ~0.3 s after quitting."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _headless(config: TrainConfig) -> int:
    from mmtui.engine.words import read_words

    words = read_words(config.data)  # before torch's import: a bad file is reported at once
    from mmtui.headless import run_headless

    return run_headless(config, words)


def _run_engine_safely(run) -> int:
    """Run with torch's import-time chatter silenced and bad data reported in one line."""
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch runs fine without numpy
    from mmtui.engine.words import DataError

    try:
        return run()
    except DataError as error:
        click.echo(f"mmtui: error: {error}", err=True)
        return 2
    except BrokenPipeError:  # the reader of stdout went away (`| head`): not an error of ours
        sys.stderr.close()
        return 0


def main() -> None:
    """Entry point: usage errors as one line on stderr, exit 2, as click's code but without the usage banner."""
    try:
        cli.main(standalone_mode=False)
    except click.UsageError as error:
        click.echo(f"mmtui: error: {error.format_message()}", err=True)
        sys.exit(2)
    except click.Abort:
        sys.exit(130)
