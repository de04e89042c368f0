"""The `mmtui` command: options, their checks, and the choice between the TUI and the headless runner."""

from __future__ import annotations

import math
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from mmtui.engine.config import (AUTO_COMPILE_MIN_STEPS, COMPILE_MODES, CUDA_MIN_STEP_MACS, DEVICES,
                                 RUN_FIELDS, STEPS_PER_CALL, DeviceError, RunFiles, TrainConfig)
from mmtui.engine.resume import read_run
from mmtui.measure.pacing import Pacing
from mmtui.experiments import LECTURE_SEED, MODELS, PRESETS
from mmtui.paths import unwritable
from mmtui.serve import MAX_TABS
from mmtui.shutdown import ShutdownWatch, StopSignals, exit_now, finish_script, say
from mmtui.tui.key_script import parse_key_script

if TYPE_CHECKING:  # Textual, which --help and option errors must not wait for
    from mmtui.tui.lesson import Lesson

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


class WritableFile(click.ParamType):
    """A file mmtui may create, append to or replace: checked before training, so a typo costs no run."""

    name = "FILE"

    def convert(self, value, param, ctx):
        reason = unwritable(value)
        if reason is not None:
            self.fail(reason, param, ctx)
        return value


POSITIVE_FLOAT = PositiveFloat()
# The unattended screen's size, which the training, view and run commands all take.
size_option = click.option("--size", type=Size(), default="160x48", show_default=True,
                           help="With --no-terminal: the screen's columns x rows.")


@click.command("train", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--data", type=click.Path(path_type=str), default=None,
              help="Word list to learn, one word per line (UTF-8). Default: the bundled US first names.")
@click.option("--model", type=click.Choice(MODELS), default="mlp", show_default=True,
              help="mlp (the lecture's), mlp-bn (with BatchNorm), deep (5 tanh layers of 100), deep-bn.")
@click.option("--init", "init", type=click.Choice(PRESETS), default="lecture", show_default=True,
              help="Init preset of the MLPs: lecture (raw randn), fix-logits, fix-tanh or kaiming.")
@click.option("--gain", type=POSITIVE_FLOAT, default=5 / 3, show_default="5/3",
              help="Deep nets: factor on the hidden weights (randn / sqrt(fan_in)); the lecture tries 5/3, "
                   "1, 0.5, 3.")
@click.option("--w1-scale", type=POSITIVE_FLOAT, default=1.0, show_default=True,
              help="Further factor on the hidden weights W1, on top of the preset.")
@click.option("--steps", type=POSITIVE_INT, default=200_000, show_default=True,
              help="SGD steps (1 or more); the learning rate drops to lr/10 for the second half (deep nets: "
                   "the last quarter). With --load: a new total above the saved step (default: the "
                   "checkpoint's); the lr schedule follows it.")
@click.option("--stop-at", type=POSITIVE_INT, default=None,
              help="Stop after this many steps (1 to --steps), as Ctrl-C would: final eval, samples and "
                   "--save checkpoint; the lr schedule still follows --steps. A run stopped at 50000 of "
                   "100000 and resumed with --load ends with the uninterrupted run's numbers.")
@click.option("--batch-size", type=POSITIVE_INT, default=32, show_default=True,
              help="Examples per minibatch.")
@click.option("--lr", type=POSITIVE_FLOAT, default=0.1, show_default=True, help="Learning rate.")
@click.option("--embed", type=POSITIVE_INT, default=10, show_default=True,
              help="Embedding dimensions per character.")
@click.option("--hidden", type=POSITIVE_INT, default=200, show_default=True, help="Hidden tanh units.")
@click.option("--block-size", type=POSITIVE_INT, default=3, show_default=True,
              help="Characters of context that predict the next one.")
@click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=LECTURE_SEED, show_default=True,
              help="Seed of the generator that draws the weights and then every minibatch.")
@click.option("--threads", type=POSITIVE_INT, default=1, show_default=True,
              help="Torch CPU threads; one is fastest for this small net.")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True,
              help="Where to train: cpu, cuda, or auto: the faster for the net, and said in a note. These "
                   "nets are small enough that a step is bound by kernel launches, so auto picks the CPU "
                   f"unless a step reaches {CUDA_MIN_STEP_MACS:,} multiply-adds (batch size x parameters) "
                   "and torch finds a CUDA device.")
@click.option("--compile", "compile", type=click.Choice(COMPILE_MODES), default=TrainConfig.compile,
              show_default=True,
              help=f"Run the CPU's training steps through torch.compile, {STEPS_PER_CALL} to a call (~3x "
                   "eager). auto: start at once on the eager path and switch when the compiled step is built "
                   f"in the background (runs of {AUTO_COMPILE_MIN_STEPS:,} steps or more); on: build it "
                   "before the first step; off: eager only. Same numbers either way; a failed build stays on "
                   "the eager path with one line.")
@click.option("--eval-every", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Steps between full train/val evaluations (0: only at the end).")
@click.option("--diverge-at", type=POSITIVE_FLOAT, default=None,
              help="A loss above this stops the run as diverged. Default: 100 x -ln(1/V).")
@click.option("--num-samples", type=POSITIVE_INT, default=10, show_default=True,
              help="Names sampled at the end (and, in the TUI, every few seconds).")
@click.option("--headless", is_flag=True,
              help="No terminal UI: print JSON lines to stdout (for scripts and CI).")
@click.option("--every", type=POSITIVE_INT, default=1000, show_default=True,
              help="Headless: print a \"step\" line every this many steps.")
@click.option("--trainer", type=click.Choice(["process", "thread"]), default="process", show_default=True,
              help="TUI: train in a child process (drawing never slows training) or in a thread of the app.")
@click.option("--no-terminal", is_flag=True,
              help="TUI without a terminal (Textual's headless mode), for demos and CI; ends with --steps.")
@click.option("--keys", "key_script", type=KeyScript(), default="",
              help="With --no-terminal: keys to press at steps trained, e.g. \"2000:3 4000:space\".")
@click.option("--screenshot", type=click.Path(dir_okay=False, writable=True), default=None,
              help="With --no-terminal: save an SVG screenshot here when training ends.")
@size_option
@click.option("--save", type=WritableFile(), default=None,
              help="Checkpoint file (net, config, step, generator states), replaced atomically when the run "
                   "ends, when it stops (--stop-at, Ctrl-C, SIGTERM, SIGHUP, quitting the TUI) and on the "
                   "TUI's w key; not after divergence.")
@click.option("--load", type=click.Path(path_type=str), default=None, metavar="FILE",
              help="Resume the checkpoint's run with the same numbers: its model, init, gain, sizes, seed, "
                   "batch size and lr (giving those too is an error); --data defaults to the checkpoint's "
                   "and must hold the same words; --steps may raise the total.")
@click.option("--log", type=WritableFile(), default=None,
              help="Append the JSON lines of --headless to this file as they happen, in the TUI too; each "
                   "run (a TUI reinit too) begins with a \"start\" line.")
@click.option("--serve", is_flag=True,
              help="Serve the monitor to a web browser (textual-serve; pip install 'mmtui[serve]'): for a "
                   "projector or a room. Bound to --host, localhost unless given.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="With --serve: the address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="With --serve: the port to listen on.")
@click.option("--max-tabs", type=POSITIVE_INT, default=MAX_TABS, show_default=True,
              help="With --serve: browser tabs served at once (each trains in processes of its own); one "
                   "more gets a page that says so.")
@click.option("--allow-writes", is_flag=True,
              help="With --serve: let browser tabs use w, s and e, which write files on this machine (off: "
                   "anyone with the link could fill its disk or replace the --save checkpoint).")
@click.pass_context
def train(ctx: click.Context, **options) -> None:
    """Train the makemore MLP and watch its activations and gradients live.

    Keys in the TUI re-run the lecture's experiments: 1-4 init presets, [ ] weight scale, space pause,
    ? help, q quit. With --headless, print JSON lines instead (one per event) for scripts and CI.

    `mmtui view PATH...` opens run files (--log's) or TensorBoard logs instead: see `mmtui view --help`.
    `mmtui run SCRIPT.py` runs a training loop of your own with the monitor: see `mmtui run --help`.
    `mmtui lesson` walks through the lecture with a card that says what to press and what to look for.
    `mmtui export --tensorboard RUN.jsonl OUTDIR` writes a run file as TensorBoard logs.
    """
    _train(ctx, **options)


def _train(ctx: click.Context, headless: bool, every: int, trainer: str, no_terminal: bool, key_script,
           screenshot: str | None, size: tuple[int, int], save: str | None, load: str | None, log: str | None,
           serve: bool, host: str, port: int, max_tabs: int, allow_writes: bool, lesson: Lesson | None = None,
           **options) -> None:
    """What `mmtui` and `mmtui lesson` run: the options checked, then the server, the headless runner or the
    TUI (with the lesson's card, if given)."""
    given = {name for name in options if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}
    clashing = [f"--{name.replace('_', '-')}" for name in RUN_FIELDS if name in given]
    if load is not None and clashing:
        raise click.UsageError(f"{', '.join(clashing)} cannot be combined with --load: the checkpoint's "
                               "config defines the run (only --steps may change it)")
    files = RunFiles(save=save, load=load, log=log)
    config = TrainConfig(**options)
    if serve:
        _serve_to_browsers(config, files, given, host, port, max_tabs, headless, no_terminal)
    if headless:
        sys.exit(_run_engine_safely(lambda: _headless(config, files, given, Pacing(snapshot_every=every))))
    writes = allow_writes or not _served_to_a_browser()  # a served tab writes files only when told it may
    exit_now(_run_engine_safely(lambda: _tui(config, files, given, trainer == "thread", no_terminal,
                                             key_script, screenshot, size, lesson, writes)))


LESSON_FILE = click.Option(["--file", "lesson_file"], type=click.Path(path_type=str), default=None,
                           metavar="LESSON.md",
                           help="A lesson of your own, in the format the README's 'A lesson of your own' "
                                "gives. Default: the bundled lesson through the lecture.")


@click.pass_context
def _lesson(ctx: click.Context, lesson_file: str | None, **options) -> None:
    """The monitor with a lesson card beside it, as `mmtui` is otherwise: its options are mmtui's."""
    from mmtui.tui.app import MmtuiApp
    from mmtui.tui.lesson import LessonError, bundled_lesson_path, read_lesson

    keys = {binding.key for binding in MmtuiApp.BINDINGS}
    try:
        lesson = read_lesson(Path(lesson_file) if lesson_file else bundled_lesson_path(), keys)
    except LessonError as error:
        raise click.UsageError(str(error)) from None
    _train(ctx, headless=False, every=None, lesson=lesson, **options)  # every: headless only


lesson = click.Command(
    "lesson", callback=_lesson, context_settings=train.context_settings,
    params=[LESSON_FILE] + [option for option in train.params if option.name not in ("headless", "every")],
    help="A guided lesson through the lecture: a card beside the panels says what to press and what to "
         "look for, with the live figures, and checks that the key did it before it offers the next (→; ← "
         "goes back). Takes mmtui's options (--data, --serve, ...).")


def _serve_to_browsers(config: TrainConfig, files: RunFiles, given: set[str], host: str, port: int,
                       max_tabs: int, headless: bool, no_terminal: bool) -> None:
    """Serve this command line, less its serve options, to every browser tab that opens host:port."""
    if headless or no_terminal:
        raise click.UsageError("--serve cannot be combined with "
                               f"{'--headless' if headless else '--no-terminal'}: each browser tab runs the "
                               "monitor")

    def check_run() -> int:
        # bad data or a bad checkpoint: one line now, not one in every tab
        read_run(config, files.load, given)
        return 0

    if code := _run_engine_safely(check_run):
        sys.exit(code)
    from mmtui.serve import ServeError, run_server

    try:
        sys.exit(run_server(sys.argv[1:], host, port, max_tabs))
    except ServeError as error:
        raise click.UsageError(str(error)) from None


def _tui(config: TrainConfig, files: RunFiles, given: set[str], in_process: bool, no_terminal: bool,
         key_script, screenshot: str | None, size: tuple[int, int], lesson: Lesson | None = None,
         writes: bool = True) -> int:
    from mmtui.sources.trainer import TrainerSource

    # Bad data or a bad checkpoint is reported before the screen changes; the trainer reads the checkpoint
    # again in its own process.
    config, words, _ = read_run(config, files.load, given)
    if not no_terminal:
        _check_terminal()
    source = TrainerSource(config, words, process=not in_process, files=files)
    signals = StopSignals()
    source.start()  # the trainer imports torch (~2 s) while this process imports Textual
    code = _run_app(source, no_terminal, screenshot, size, key_script, lesson, signals, writes)
    return signals.code or code  # a signal's code, whatever the app ended with


def _run_app(source, no_terminal: bool, screenshot: str | None, size: tuple[int, int], key_script=(),
             lesson: Lesson | None = None, signals: StopSignals | None = None, writes: bool = True) -> int:
    """The app on a started source, in the terminal or, with no_terminal, unattended until the source ends.
    `signals`: caught since before the source started (else from now); `writes`: the keys that write files."""
    from mmtui.tui.app import MmtuiApp

    app = MmtuiApp(source, key_script=list(key_script), screenshot=Path(screenshot) if screenshot else None,
                   exit_when_done=no_terminal, lesson=lesson, writes=writes)
    # The terminal, whose hang-up ends the app; a served tab's stdin is the server's pipe, which hangs up when
    # the server is gone (killed too): the tab's mmtui and its trainer end with it.
    terminal = None if no_terminal else sys.stdin.fileno()
    watch = ShutdownWatch(app, signals or StopSignals(), terminal)
    try:
        result = app.run(headless=no_terminal, size=size if no_terminal else None)
    finally:
        watch.returned.set()
    if app.failure is not None:
        say(f"mmtui: {app.failure.message}")
        if app.failure.details:
            say(app.failure.details.rstrip())
    return app.return_code or result or 0


def _check_terminal() -> None:
    """The TUI reads keys on stdin and draws on stderr: a redirected stderr would take the whole screen into a
    file and leave the terminal blank, so that is refused too."""
    if _served_to_a_browser():
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise click.UsageError("the TUI needs a terminal; use --headless for JSON lines or --no-terminal")
    if not sys.stderr.isatty():
        raise click.UsageError("stderr is not a terminal, and the TUI draws its screen there: leave stderr "
                               "on the terminal, or use --headless for JSON lines (--log FILE keeps a run "
                               "file)")


def _served_to_a_browser() -> bool:
    """textual-serve runs each tab's mmtui on pipes and names Textual's web driver in TEXTUAL_DRIVER: that
    driver reads keys on stdin and draws on stdout through the server, so the pipes are the terminal."""
    return os.environ.get("TEXTUAL_DRIVER", "").partition(":")[0] == "textual.drivers.web_driver"


def _headless(config: TrainConfig, files: RunFiles, given: set[str], pacing: Pacing) -> int:
    # Without --load the words are read before torch's import: a bad file is reported at once.
    config, words, checkpoint = read_run(config, files.load, given)
    from mmtui.headless import run_headless

    return run_headless(config, words, files=files, resume=checkpoint, pacing=pacing)


def _run_engine_safely(run) -> int:
    """Run with torch's import-time chatter silenced and bad data reported in one line."""
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch runs fine without numpy
    from mmtui.engine.words import DataError

    try:
        return run()
    except (DataError, DeviceError) as error:
        click.echo(f"mmtui: error: {error}", err=True)
        return 2
    except BrokenPipeError:  # the reader of stdout went away (`| head`): not an error of ours
        sys.stderr.close()
        return 0


@click.command("view", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--wait", is_flag=True, help="Wait for a path that does not exist yet instead of refusing it.")
@click.option("--no-follow", is_flag=True,
              help="Read the files as they are and stop: do not follow what is appended to them.")
@click.option("--tag", default=None, metavar="TAG",
              help="TensorBoard logs: the scalar tag drawn as the loss curve (default: the first tag named "
                   "as a training loss: loss, train/loss, Loss/train, train_loss, ...). Implies TensorBoard "
                   "logs.")
@click.option("--no-terminal", is_flag=True,
              help="Without a terminal (Textual's headless mode): read the files, draw them, exit.")
@click.option("--screenshot", type=click.Path(dir_okay=False, writable=True), default=None,
              help="With --no-terminal: save an SVG screenshot here once the files are read.")
@size_option
def view(paths: tuple[str, ...], wait: bool, no_follow: bool, tag: str | None, no_terminal: bool,
         screenshot: str | None, size: tuple[int, int]) -> None:
    """Open run files (what --log writes) or TensorBoard logs in the monitor: PATH is a run file or a folder
    of them, or an event file (events.out.tfevents.*) or a log folder, each run folder in it a run.

    A file that grows is followed as `tail -f` does; several files or runs overlay their losses, and c picks
    the run the other panels show.
    """
    from mmtui.sources.follow import ViewPathError
    from mmtui.sources.run_file import RunFileSource, check_paths
    from mmtui.sources.tensorboard import (TensorBoardMissing, TensorBoardSource, check_log_paths,
                                           is_tensorboard_path)

    logs = [is_tensorboard_path(p) or tag is not None for p in paths]
    if any(logs) and not all(logs):
        raise click.UsageError("run files and TensorBoard logs cannot be viewed together: give one kind")
    try:
        if any(logs):
            checked = check_log_paths(list(paths), wait)
            source = TensorBoardSource(checked, follow=not (no_follow or no_terminal), tag=tag)
        else:
            source = RunFileSource(check_paths(list(paths), wait), follow=not (no_follow or no_terminal))
    except (ViewPathError, TensorBoardMissing) as error:
        raise click.UsageError(str(error)) from None
    if not no_terminal:
        _check_terminal()
    exit_now(_run_app(source, no_terminal, screenshot, size))


@click.command("export", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--tensorboard", is_flag=True, help="Write TensorBoard event files (the one format there is).")
@click.argument("run_file", metavar="RUN.jsonl")
@click.argument("outdir", metavar="OUTDIR")
def export(tensorboard: bool, run_file: str, outdir: str) -> None:
    """Write a run file as TensorBoard logs in OUTDIR (created if missing; it must hold no event files yet),
    one run folder per run of the file: losses, evaluations, lr and logged scalars as scalars, each layer's
    activations and gradients and each weight's gradients as histograms, saturation, grad:data and update:data
    as scalars, samples as text.

    `mmtui export --tensorboard run.jsonl out/`, then `tensorboard --logdir out/`.
    """
    if not tensorboard:
        raise click.UsageError("say which format to write: --tensorboard")
    from mmtui.sources.follow import ViewPathError
    from mmtui.sources.run_file import check_paths
    from mmtui.sources.tensorboard import TensorBoardMissing, require_tensorboard, run_folders

    path = Path(run_file)
    if path.is_dir():
        raise click.UsageError(f"{run_file}: a folder; give one run file")
    try:
        check_paths([run_file], wait=False)
    except ViewPathError as error:
        raise click.UsageError(str(error)) from None
    out = Path(outdir)
    if out.is_dir():
        if not os.access(out, os.W_OK | os.X_OK):
            raise click.UsageError(f"{outdir!r} is not writable")
        if run_folders(out):
            raise click.UsageError(f"{outdir!r} already holds TensorBoard event files: export into a new or "
                                   f"empty folder")
    elif out.exists():
        raise click.UsageError(f"{outdir!r} is not a folder")
    elif (reason := unwritable(outdir)) is not None:
        raise click.UsageError(reason)
    try:
        require_tensorboard()
    except TensorBoardMissing as error:
        raise click.UsageError(str(error)) from None
    from mmtui.tensorboard_export import export_run_file

    result = export_run_file(path, out)
    for line in result.lines():
        click.echo(f"mmtui: {line}", err=True)


@click.command("run", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100,
                                        "ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-m", "as_module", is_flag=True, help="Run the first argument as a module, as python -m does.")
@click.option("--no-terminal", is_flag=True,
              help="Without a terminal (Textual's headless mode): run the script to its end, draw it, exit.")
@click.option("--screenshot", type=click.Path(dir_okay=False, writable=True), default=None,
              help="With --no-terminal: save an SVG screenshot here once the script has ended.")
@click.option("--no-watch", is_flag=True,
              help="Do not watch the script's model and optimizer unasked: only its own mmtui.watch() does.")
@size_option
@click.argument("script_and_args", nargs=-1, required=True, type=click.UNPROCESSED,
                metavar="SCRIPT [ARGS]...")
def run_script(as_module: bool, no_terminal: bool, screenshot: str | None, no_watch: bool,
               size: tuple[int, int], script_and_args: tuple[str, ...]) -> None:
    """Run a Python training script with the monitor: its output in a panel, and its loss and activations
    live: the model it trains and its optimizer are found and watched, no line of it changed (or, where it
    calls `run = mmtui.watch(model, optimizer)`, as that call says).

    Everything after SCRIPT (or -m MODULE) goes to the script. q stops it (SIGINT, then SIGTERM, then
    SIGKILL); mmtui exits with the script's exit code (when mmtui stopped it: 130 after q, 143 after SIGTERM,
    129 after SIGHUP), printing its traceback again if it crashed. The run file is kept in runs/.
    """
    from mmtui.sources.script import ScriptSource, new_run_file, python_command

    target, args = script_and_args[0], script_and_args[1:]
    _check_runnable(target, as_module)
    if not no_terminal:
        _check_terminal()
    argv, name, stem = python_command(None if as_module else target, target if as_module else None, args,
                                      watch=not no_watch)
    source = ScriptSource(argv, name, new_run_file(stem))
    signals = StopSignals()
    source.start()
    app_code = _run_app(source, no_terminal, screenshot, size, signals=signals)
    exit_now(finish_script(source, signals.code or app_code))  # a signal's code, whatever the app ended with


def _check_runnable(target: str, as_module: bool) -> None:
    """Refuse, before the screen changes, a script that is not there or a module Python would not find."""
    if as_module:
        from importlib.machinery import PathFinder

        top = target.partition(".")[0]
        # python -m searches the current folder first; the package itself is not imported here.
        found = top in sys.builtin_module_names or PathFinder.find_spec(top, [os.getcwd(), *sys.path])
        if not found:
            raise click.UsageError(f"-m {target}: no module named {top!r}")
        return
    path = Path(target)
    if path.is_dir() and not (path / "__main__.py").is_file():
        raise click.UsageError(f"{target}: a folder with no __main__.py, not a script")
    if not path.exists():
        raise click.UsageError(f"{target}: no such file")


class DefaultGroup(click.Group):
    """mmtui's commands, `train` when the first argument names none: `mmtui --steps 10` is `mmtui train
    --steps 10`, and `mmtui --help` is train's help, which names the others."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = [train.name, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter) -> None:  # never shown: every line goes to a command
        formatter.write_usage(ctx.command_path, "[COMMAND] [OPTIONS]")


cli = DefaultGroup("mmtui", commands=[train, lesson, view, run_script, export],
                   context_settings={"help_option_names": [], "max_content_width": 100})


def main() -> None:
    """Entry point: usage errors as one line on stderr, exit 2, as click's code but without the usage banner.
    Every command ends with exit_now: no interpreter teardown, during which a thread still in torch's C++ (the
    compiled step's build, when a run diverged or stopped before it finished) aborted the process
    (SIGABRT)."""
    code = 0
    try:
        cli.main(sys.argv[1:], prog_name="mmtui", standalone_mode=False)
    except SystemExit as end:
        if isinstance(end.code, str):
            say(end.code)
        code = end.code if isinstance(end.code, int) else int(end.code is not None)
    except click.UsageError as error:
        line = f"mmtui: error: {error.format_message()}"
        click.echo(line, err=True)
        if sys.stdout.isatty() and not sys.stderr.isatty():  # a person at the terminal would miss stderr's
            click.echo(line)
        code = 2
    except click.Abort:
        code = 130
    exit_now(code)
