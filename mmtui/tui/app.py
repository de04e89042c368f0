"""The Textual app: panels fed by a source's snapshots, and keys for the commands that source takes."""

from __future__ import annotations

import gc
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from textual import events, work
from textual.actions import parse as parse_action
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Footer, ProgressBar, Static
from textual.worker import get_current_worker

from mmtui.experiments import BATCHNORM_TWIN, MODELS, gain_label, next_gain
from mmtui.records import (DIVERGED, EXIT_DIVERGED, TIME, Command, EngineFailure, Reinit, Save, ScriptExited,
                           ScriptOutput, Snapshot, Source, SourceStatus, TogglePause)
from mmtui.tui import actions
from mmtui.tui.export import run_csv, save_text
from mmtui.tui.history import NEW_DATA, NEW_RUN, NEW_STREAM, History
from mmtui.tui.key_script import ScriptedKey
from mmtui.tui.lesson import Lesson, LessonProgress
from mmtui.tui.messages import EngineFailed, ScriptReported, SnapshotsArrived, SourceStatusChanged
from mmtui.tui.plain import clean_arrival
from mmtui.tui.widgets.help_screen import HelpScreen
from mmtui.tui.widgets.layers_view import LayersView
from mmtui.tui.widgets.lesson_card import LessonCard
from mmtui.tui.widgets.overview_view import OverviewView
from mmtui.tui.widgets.parameters_view import ParametersView
from mmtui.tui.widgets.status_line import StatusLine, StatusShown
from mmtui.tui.widgets.time_view import TimeView

MIN_SIZE = (60, 16)  # columns, rows: below this the panels would draw garbage, so the app says so instead
FINISH_FRAMES = 2  # refreshes the unattended mode's last frame waits: what it shows is then laid out, drawn
FINISH_WAITS = 20  # the most refreshes it waits for mounted panels to settle (a script's output, a card)
POLL_TIMEOUT_S = 0.05  # the worker's wait for snapshots: also its latency to notice cancellation
# Garbage collection between frames, not in them: Python's young-generation threshold (700 allocations)
# started 5-10 collections inside every frame and, every few seconds, a 30-40 ms full one. The app raises it
# so that the collector rarely starts by itself, and collects fully after a painted frame at this interval.
GC_YOUNG_THRESHOLD = 50_000  # allocations; the app allocates ~9,000 a second while drawing
FULL_GC_INTERVAL_S = 2.0


@dataclass(frozen=True)
class DrawPace:
    """How often the app draws; a test that waits for a frame sets these small rather than wait them out."""

    tick_s: float = 0.25  # the status line redraws at most this often, on a timer; the visible view then too,
    # when view_s has passed since its last draw: at 4 a second the overview's ~40 ms frames took CPU from the
    # trainer, and twice a second is enough to read figures that change with each batch
    view_s: float = 0.5


class MmtuiApp(App[int]):
    """Draws what a Source sends; the worker thread is the app's one reader of it."""

    TITLE = "mmtui"
    CSS = """
    Screen { layout: vertical; }
    #too-small { display: none; height: 1fr; content-align: center middle; text-style: bold; }
    .too-small #too-small { display: block; }
    .too-small #views, .too-small #lesson, .too-small #status, .too-small Footer { display: none; }
    #body { height: 1fr; }
    #views { width: 1fr; height: 1fr; }
    #loading { display: none; height: 1; padding: 0 1; }
    .loading #loading { display: block; }
    #views > * > *, #overview .panel { border: round $primary; border-title-color: $accent;
                                        border-title-style: bold; }
    #views #overview-top { border: none; }
    """
    BINDINGS = actions.BINDINGS

    def __init__(self, source: Source, *, key_script: list[ScriptedKey] | None = None,
                 screenshot: Path | None = None, exit_when_done: bool = False, lesson: Lesson | None = None,
                 writes: bool = True, pace: DrawPace = DrawPace()):
        """`source`: started already; the app closes it. `exit_when_done`: the unattended mode (--no-terminal)
        ends when the source says nothing more will come, after the key script and with the screenshot, if one
        is asked for. `lesson`: its cards beside the panels (`mmtui lesson`). `writes`: whether the keys that
        write files (w, s, e) are offered: not to a browser tab served without --allow-writes. `pace`: how
        often it draws."""
        super().__init__()
        self.source = source
        self.pace = pace
        self.source_status: SourceStatus | None = None  # the latest the source said of itself
        self.failure: EngineFailure | None = None  # why the source broke, when it did
        self.history = History()
        self.key_script = list(key_script or [])
        self.final_screenshot = screenshot
        self.exit_when_done = exit_when_done
        self.writes = writes
        self._drawn_version = -1  # the history version, view and time last drawn
        self._drawn_view: Widget | None = None
        self._status_version = -1  # the history version the status line shows
        self._drawn_at = 0.0
        self._collected_at = 0.0  # time.monotonic() of the latest full garbage collection
        self._pending: str | None = None  # a command sent and not yet seen in a snapshot
        self._timed = False  # whether the run shown had figures by time step when the keys were last checked
        self._state_when_sent: str | None = None  # the trainer's state when that command was sent
        # Held, not queried: queries search the active screen, which is the help screen while it is open.
        self.overview = OverviewView(source.produces, source.promised, id="overview")
        self.layers_view = LayersView(id="layers")
        self.parameters_view = ParametersView(id="parameters")
        self.time_view = TimeView(id="time")
        self.views = ContentSwitcher(self.overview, self.layers_view, self.parameters_view, self.time_view,
                                     id="views", initial="overview")
        self.loss_plot = self.overview.loss_plot
        self.status_line = StatusLine(id="status")
        self.output_panel = self.overview.output  # a script's output, for a source that runs one
        self._steps_before_run = 0  # steps trained by the runs before the current one: the key script's clock
        self._finishing = False  # the unattended mode's last frame is being drawn
        self._finish_waits = 0  # refreshes the last one has waited
        self._settled_frames = 0  # of those, the refreshes since every mounted panel settled
        # set when the app is asked to end: a caller may time the shutdown
        self.exit_requested = threading.Event()
        self.lesson = LessonProgress(lesson) if lesson is not None else None
        self.lesson_card = LessonCard(id="lesson") if lesson is not None else None
        self._lesson_done = False  # the card's check held when the footer's keys were last checked

    def compose(self) -> ComposeResult:
        yield Static(f"mmtui needs at least {MIN_SIZE[0]}x{MIN_SIZE[1]}: make the terminal larger",
                     id="too-small")
        with Horizontal(id="body"):
            yield self.views
            if self.lesson_card is not None:
                yield self.lesson_card
        yield ProgressBar(total=1.0, show_eta=False, id="loading")
        yield self.status_line
        # ctrl+p still opens the palette; the footer's room goes to mmtui's keys, compact with a lesson's
        yield Footer(show_command_palette=False, compact=self.lesson is not None)

    def on_mount(self) -> None:
        gc.freeze()  # Textual's long-lived objects leave the collector's scans: shorter collections
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        self.pump_snapshots()
        self.set_interval(self.pace.tick_s, self.redraw)
        self.redraw(force=True)

    def on_resize(self, event: events.Resize) -> None:
        size = event.size  # self.size still holds the old size while this runs
        self.set_class(size.width < MIN_SIZE[0] or size.height < MIN_SIZE[1], "too-small")

    # ---- the worker: the app's one reader of the source

    @work(thread=True, exclusive=True, name="source-link")
    def pump_snapshots(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            snapshots = []
            for item in self.source.receive(POLL_TIMEOUT_S):
                if isinstance(item, Snapshot):
                    snapshots.append(clean_arrival(item))  # names and notes from files: no escapes
                    continue
                if snapshots:  # in order: a status after snapshots describes them
                    self.post_message(SnapshotsArrived(snapshots))
                    snapshots = []
                if isinstance(item, EngineFailure):
                    self.post_message(EngineFailed(item))
                    return
                if isinstance(item, (ScriptOutput, ScriptExited)):
                    self.post_message(ScriptReported(item))
                    continue
                self.post_message(SourceStatusChanged(clean_arrival(item)))
            if snapshots:
                self.post_message(SnapshotsArrived(snapshots))

    def on_source_status_changed(self, message: SourceStatusChanged) -> None:
        self.source_status = message.status
        progress = message.status.progress
        self.set_class(progress is not None, "loading")
        if progress is not None:
            self.query_one("#loading", ProgressBar).update(progress=progress)
        self._draw_status()
        self._finish_if_unattended()

    def _draw_status(self, pending: str | None = None) -> None:
        history = self.history
        selected = None
        if history.comparing:
            names = list(history.streams)
            place = names.index(history.selected) + 1
            selected = f"run {place}/{len(names)}: {history.label(history.selected)}"
        self.status_line.draw(StatusShown(
            history.latest, history.steps_per_s, self.source_status, pending,
            reinit_hint=Reinit in self.source.commands, selected=selected,
            note=history.notes[-1] if history.notes else None,
            looking_back=history.run.looking_back if history.run else None))

    def on_snapshots_arrived(self, message: SnapshotsArrived) -> None:
        began = set()
        for snapshot in message.snapshots:
            # the key script runs on the selected stream's clock: the trainer's only
            latest = self.history.latest
            same_stream = latest is not None and snapshot.run.stream == latest.run.stream
            if same_stream and snapshot.run.run_id != latest.run.run_id:
                self._steps_before_run += latest.step
            began |= self.history.add(snapshot)
            if self.lesson is not None:
                self.lesson.observe(snapshot)
        timed = self._has_time()
        # no screen while the app shuts down
        if (began & {NEW_STREAM, NEW_DATA} or timed != self._timed) and self.screen_stack:
            self._timed = timed
            self.refresh_bindings()  # the second stream brings the c key, the first layers the layers view's,
            # a run with figures by time step the through-time view's
        run = self.history.run
        if self.views.current == "time" and run is not None and run.layers and not run.past_times:
            self.views.current = "overview"  # this run's statistics came without figures by time step
        if began & {NEW_STREAM, NEW_RUN}:
            self._pending = None
            self.redraw(force=True)  # a reinit shows at once, not at the next tick
        elif self._pending and self.history.latest.state != self._state_when_sent:
            self._pending = None
            self._draw_status()  # paused or resumed: at once
        for snapshot in message.snapshots:
            if snapshot.saved:
                self.notify(f"checkpoint saved: {snapshot.saved}", markup=False)
            if snapshot.save_error:
                self.notify(f"checkpoint not saved: {snapshot.save_error}", severity="error", markup=False)
        self._run_key_script()

    def on_script_reported(self, message: ScriptReported) -> None:
        if isinstance(message.report, ScriptExited):
            self.output_panel.show_exit(message.report)
        else:
            self.output_panel.show(message.report)

    def on_engine_failed(self, message: EngineFailed) -> None:
        self.failure = message.failure  # the command says it once the terminal is restored: Textual's exit
        self.exit(self.failure.exit_code)  # message would wrap its lines at the terminal's width

    def exit(self, *args, **kwargs) -> None:
        self.exit_requested.set()
        super().exit(*args, **kwargs)

    def on_exit_app(self) -> None:
        self.exit_requested.set()  # a served tab closed: textual-serve's quit does not go through exit()

    async def action_quit(self) -> None:
        self.source.cancel()  # the source winds down while Textual tears the screen down
        await super().action_quit()

    def on_unmount(self) -> None:
        self.source.close()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A key whose command the source does not take is neither bound nor shown in the Footer; nor is
        the key that picks the next run, while there is one."""
        if action in actions.WRITING_ACTIONS and not self.writes:
            return False
        if action == "next_run":
            return self.history.comparing
        if action == "lesson_card":
            if self.lesson is None:
                return False
            forward = parameters[0] == 1
            can_move = (self._lesson_done and not self.lesson.last) if forward else self.lesson.index > 0
            return True if can_move else None  # shown, dimmed, until the card's check holds
        if action == "view":
            offered = [name for name in ("layers", "parameters") if self._sends(actions.ACTION_DATA[name])]
            offered += ["time"] if self._has_time() else []
            return parameters[0] in offered or (parameters[0] == "overview" and bool(offered))
        if action in actions.ACTION_DATA and not self._sends(actions.ACTION_DATA[action]):
            return False
        command = actions.ACTION_COMMANDS.get(action)
        return command is None or command in self.source.commands

    def _has_time(self) -> bool:
        """Whether the run shown has figures by time step: the through-time view is offered for it alone."""
        run = self.history.run
        return TIME in self.source.produces and run is not None and bool(run.past_times)

    def _sends(self, kind: str) -> bool:
        """Whether the source promises this kind of data, or has sent some."""
        return kind in self.source.promised or (kind in self.source.produces and kind in self.history.seen)

    # ---- drawing

    def redraw(self, force: bool = False) -> bool:
        """Every tick the status line, when the data changed; the visible view when, besides, the pace's
        view_s has passed (the hidden views catch up when shown). Returns whether the view drew."""
        if not self.status_line.is_attached:  # a tick during shutdown
            return False
        if force or self.history.version != self._status_version:
            self._status_version = self.history.version
            self._draw_status(self._pending)
        self._draw_lesson()
        view = self.views.visible_content
        now = time.monotonic()
        drawn = self.history.version == self._drawn_version and view is self._drawn_view
        due = now - self._drawn_at >= self.pace.view_s - self.pace.tick_s / 2  # half a tick of timer jitter
        if not force and (drawn or not due):
            return False
        self._drawn_version, self._drawn_view, self._drawn_at = self.history.version, view, now
        view.draw(self.history)
        self.call_after_refresh(self._collect_garbage_if_due)
        return True

    def _collect_garbage_if_due(self) -> None:
        """Textual's strips keep themselves in their own caches, so every frame leaves reference cycles
        that only a full collection frees (~25 ms): run one after a painted frame, where it delays none."""
        now = time.monotonic()
        if now - self._collected_at >= FULL_GC_INTERVAL_S:
            self._collected_at = now
            self.call_later(gc.collect)  # after this refresh's other callbacks

    def _draw_lesson(self) -> None:
        if self.lesson is None:
            return
        done = self.lesson.done(self.history, self.views.current)
        if done != self._lesson_done:
            self._lesson_done = done
            self.refresh_bindings()  # the next card's key, live once the card's check holds
        self.lesson_card.draw(self.lesson, self.history, done)

    # ---- keys

    def on_key(self, event: events.Key) -> None:
        """Every key, before its binding acts: a lesson card counts the keys it asks for."""
        if self.lesson is not None and len(self.screen_stack) == 1:  # not a key the help screen took
            self.lesson.key_pressed(event.key, self.history)
            self._draw_lesson()

    def action_lesson_card(self, delta: int) -> None:
        if self.lesson.move(delta):
            self._lesson_done = False
            self.refresh_bindings()
            self._draw_lesson()

    def _send(self, command: Command, pending: str) -> None:
        self.source.send(command)
        self._pending = pending
        self._state_when_sent = self.history.latest.state if self.history.latest else None
        self._draw_status(pending)

    def action_preset(self, preset: str) -> None:
        self._send(Reinit(init=preset), f"reinit: {preset}…")

    def action_scale(self, factor: float) -> None:
        self._send(Reinit(w1_factor=factor), f"reinit: W1 scale ×{factor:g}…")

    def action_reseed(self) -> None:
        self._send(Reinit(new_seed=True), "reinit: next seed…")

    def action_batchnorm(self) -> None:
        model = BATCHNORM_TWIN.get(self._run_setting()[0], MODELS[0])
        self._send(Reinit(model=model), f"reinit: {model}…")

    def action_gain(self) -> None:
        gain = next_gain(self._run_setting()[1] or 0.0)
        self._send(Reinit(gain=gain), f"reinit: gain {gain_label(gain)}…")

    def action_model(self) -> None:
        model = self._run_setting()[0]
        model = MODELS[(MODELS.index(model) + 1) % len(MODELS)] if model in MODELS else MODELS[0]
        self._send(Reinit(model=model), f"reinit: {model}…")

    def _run_setting(self) -> tuple[str, float | None]:
        """The current run's model and gain: the keys step from what is training, not from what was asked."""
        info = self.history.run.info if self.history.run else None
        return (info.model, info.settings.get("gain")) if info else ("", None)

    def action_toggle_pause(self) -> None:
        self._send(TogglePause(), "pause/resume…")

    def action_toggle_log(self) -> None:
        self.loss_plot.log_scale = not self.loss_plot.log_scale
        self.loss_plot.draw(self.history)

    def action_view(self, name: str) -> None:
        # The footer stays as it is: hiding the keys of other views' panels (check_action) rebuilt it on
        # every switch, ~100 ms.
        self.views.current = name
        self.redraw(force=True)

    def action_next_run(self) -> None:
        self.history.select_next()
        self.redraw(force=True)

    def action_step_through(self, delta: int) -> None:
        self.history.step_through(delta)
        self.redraw(force=True)

    def action_next_map_layer(self) -> None:
        if self.views.current == "time":
            self.time_view.next_layer(self.history)
        else:
            self.layers_view.next_map_layer(self.history)

    def action_screenshot(self) -> None:
        path = Path(f"mmtui-{time.strftime('%Y%m%d-%H%M%S')}.svg")
        message, severity = save_text(path, self.screenshot_svg(), "screenshot")
        self.notify(message, severity=severity)

    def screenshot_svg(self) -> str:
        """The screen as SVG, its cells' spaces kept as written (xml:space="preserve"): renderers that
        collapse them (rsvg-convert) ran a right-aligned figure into the name before ("version_102,999")."""
        return self.export_screenshot().replace("<svg ", '<svg xml:space="preserve" ', 1)

    def action_save_checkpoint(self) -> None:
        self.source.send(Save())  # the trainer answers in a snapshot: saved, or why not

    def action_export_csv(self) -> None:
        if self.history.run is None:
            return
        model = self.history.run.info.model or "run"  # a log names no model
        path = Path(f"mmtui-{model}-{time.strftime('%Y%m%d-%H%M%S')}.csv")
        message, severity = save_text(path, run_csv(self.history.run), "CSV")
        self.notify(message, severity=severity)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(actions.help_rows(self._offers),
                                    experiments=Reinit in self.source.commands))

    def _offers(self, binding: Binding) -> bool:
        """Whether the app offers a key now, by check_action's rule: the help lists the keys that work."""
        _, action, parameters = parse_action(binding.action)
        return self.check_action(action, parameters) is not False

    # ---- the headless app mode's key script

    def _run_key_script(self) -> None:
        latest = self.history.latest
        while self.key_script and self._steps_before_run + latest.step >= self.key_script[0].step:
            self.simulate_key(self.key_script.pop(0).key)

    def _finish_if_unattended(self) -> None:
        """Once the source has nothing more to send; keys at steps the runs never reached stay unpressed (and
        are named on stderr): no more snapshots will come to reach them."""
        ended = self.source_status is not None and self.source_status.ended
        if self.exit_when_done and ended and not self._finishing:
            self._finishing = True
            self.redraw(force=True)
            self.call_after_refresh(self._finish_unattended)

    def _finish_unattended(self) -> None:
        # A panel shown by the last frame (the Runs table of a second run) is laid out in one refresh and
        # drawn at its size in the next. A script's last lines and a lesson card's Markdown are mounted, not
        # drawn: their frames count once those are in place (unless a hidden view holds them: not forever).
        if self._finish_waits < FINISH_WAITS:
            self._finish_waits += 1
            unsettled = [panel for panel in (self.output_panel, self.lesson_card)
                         if panel is not None and not panel.laid_out]
            self._settled_frames = 0 if unsettled else self._settled_frames + 1
            if self._settled_frames <= FINISH_FRAMES:
                self.call_after_refresh(self._finish_unattended)
                return
        if self.key_script:
            steps = ", ".join(f"{key.step:,}" for key in self.key_script)
            print(f"mmtui: the runs ended before step {steps}: those keys were not pressed", file=sys.stderr)
        if self.final_screenshot is not None:
            message, severity = save_text(self.final_screenshot, self.screenshot_svg(), "screenshot")
            if severity == "error":
                print(f"mmtui: {message}", file=sys.stderr)
        latest = self.history.latest
        self.exit(EXIT_DIVERGED if latest is not None and latest.state == DIVERGED else 0)

