"""The Textual app: panels fed by the trainer's snapshots, keys that send it commands."""

from __future__ import annotations

import gc
import time
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Footer
from textual.worker import get_current_worker

from mmtui.engine.commands import Command, Reinit, TogglePause
from mmtui.engine.config import PRESETS, TrainConfig
from mmtui.engine.host import EngineFailure, TrainerHost
from mmtui.engine.snapshot import DONE
from mmtui.tui.history import History
from mmtui.tui.key_script import ScriptedKey
from mmtui.tui.settings import tui_config
from mmtui.tui.messages import EngineFailed, SnapshotsArrived
from mmtui.tui.widgets.activation_histogram import ActivationHistogram
from mmtui.tui.widgets.help_screen import HelpScreen
from mmtui.tui.widgets.loss_plot import LossPlot
from mmtui.tui.widgets.samples_panel import SamplesPanel
from mmtui.tui.widgets.saturation_panel import SaturationPanel
from mmtui.tui.widgets.status_line import StatusLine

REDRAW_INTERVAL_S = 0.25  # plots redraw at most this often, and only when their data changed
POLL_TIMEOUT_S = 0.05  # the worker's wait for snapshots: also its latency to notice cancellation


class MmtuiApp(App[int]):
    """Trains in a TrainerHost; the worker thread is the app's one contact with it."""

    TITLE = "mmtui"
    CSS = """
    Screen { layout: vertical; }
    #panels { grid-size: 2 2; grid-columns: 3fr 2fr; grid-rows: 2fr 1fr; height: 1fr; }
    #panels > * { border: round $primary; border-title-color: $accent; border-title-style: bold; }
    .narrow #panels { grid-size: 1; grid-columns: 1fr; grid-rows: 2fr 2fr 1fr 1fr; }
    """
    BINDINGS = [Binding(str(number), f"preset('{name}')", name) for number, name in enumerate(PRESETS, 1)] + [
        Binding("left_square_bracket", "scale(0.5)", "W1 ÷2", key_display="["),
        Binding("right_square_bracket", "scale(2)", "W1 ×2", key_display="]"),
        Binding("r", "reseed", "new seed"),
        Binding("space", "toggle_pause", "pause"),
        Binding("l", "toggle_log", "log/lin"),
        Binding("s", "screenshot", "screenshot"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+q", "quit", "quit", show=False),
    ]
    HELP_ROWS = [
        ("1 2 3 4", "reinit with the presets lecture / fix-logits / fix-tanh / kaiming"),
        ("[  ]", "halve / double the hidden weight scale W1 and reinit"),
        ("r", "reinit with the current setting and the next seed"),
        ("space", "pause / resume"),
        ("l", "log10 or linear loss axis"),
        ("s", "save an SVG screenshot"),
        ("?", "this help"),
        ("q, ctrl+q", "quit"),
    ]

    def __init__(self, config: TrainConfig, words: list[str], *, host: TrainerHost | None = None,
                 in_process: bool = False, key_script: list[ScriptedKey] | None = None,
                 screenshot: Path | None = None):
        """`host`: a trainer already started for tui_config(config), or None to start one here (in a child
        process, or in a thread with in_process)."""
        super().__init__()
        self.config = tui_config(config)
        self.host = host or TrainerHost(self.config, words, process=not in_process)
        if host is None:
            self.host.start()
        self.history = History()
        self.key_script = list(key_script or [])
        self.final_screenshot = screenshot
        self._drawn_version = -1
        self._drawn_samples = -1
        self._pending: str | None = None  # a command sent and not yet seen in a snapshot
        self._state_when_sent: str | None = None  # the trainer's state when that command was sent
        # Held, not queried: queries search the active screen, which is the help screen while it is open.
        self.loss_plot = LossPlot(id="loss")
        self.activations = ActivationHistogram(id="activations")
        self.saturation = SaturationPanel(id="saturation")
        self.samples = SamplesPanel(id="samples")
        self.status_line = StatusLine(id="status")
        self._steps_before_run = 0  # steps trained by the runs before the current one: the key script's clock

    def compose(self) -> ComposeResult:
        with Grid(id="panels"):
            yield self.loss_plot
            yield self.activations
            yield self.saturation
            yield self.samples
        yield self.status_line
        yield Footer()

    def on_mount(self) -> None:
        gc.freeze()  # Textual's long-lived objects leave the collector's scans: fewer pauses mid-frame
        self.pump_snapshots()
        self.set_interval(REDRAW_INTERVAL_S, self.redraw)
        self.redraw(force=True)

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "narrow")

    # ---- the worker: the app's one contact with the trainer

    @work(thread=True, exclusive=True, name="trainer-link")
    def pump_snapshots(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            items = self.host.receive(POLL_TIMEOUT_S)
            snapshots = [item for item in items if not isinstance(item, EngineFailure)]
            if snapshots:
                self.post_message(SnapshotsArrived(snapshots))
            failures = [item for item in items if isinstance(item, EngineFailure)]
            if failures:
                self.post_message(EngineFailed(failures[0]))
                return

    def on_snapshots_arrived(self, message: SnapshotsArrived) -> None:
        run_version = self.history.run_version
        for snapshot in message.snapshots:
            if self.history.latest is not None and snapshot.run.run_id != self.history.latest.run.run_id:
                self._steps_before_run += self.history.latest.step
            self.history.add(snapshot)
        if self.history.run_version != run_version:
            self._pending = None
            self.redraw(force=True)  # a reinit shows at once, not at the next tick
        elif self._pending and self.history.latest.state != self._state_when_sent:
            self._pending = None
            self.status_line.draw(self.history.latest, self.history.steps_per_s)  # paused or resumed: at once
        self._run_key_script()

    def on_engine_failed(self, message: EngineFailed) -> None:
        self.exit(1, message=f"mmtui: the trainer failed: {message.failure.message}\n{message.failure.details}")

    async def action_quit(self) -> None:
        self.host.cancel()  # the trainer winds down while Textual tears the screen down
        await super().action_quit()

    def on_unmount(self) -> None:
        self.host.close()

    # ---- drawing

    def redraw(self, force: bool = False) -> None:
        if not self.loss_plot.is_attached:  # a tick during shutdown
            return
        if not force and self.history.version == self._drawn_version:
            return
        self._drawn_version = self.history.version
        run = self.history.run
        self.loss_plot.draw(self.history)
        self.activations.draw(run.stats if run else None)
        self.saturation.draw(run)
        if self.history.samples_version != self._drawn_samples:
            self._drawn_samples = self.history.samples_version
            self.samples.draw(self.history.samples)
        self.status_line.draw(self.history.latest, self.history.steps_per_s, self._pending)

    # ---- keys

    def _send(self, command: Command, pending: str) -> None:
        self.host.send(command)
        self._pending = pending
        self._state_when_sent = self.history.latest.state if self.history.latest else None
        self.status_line.draw(self.history.latest, self.history.steps_per_s, pending)

    def action_preset(self, preset: str) -> None:
        self._send(Reinit(init=preset), f"reinit: {preset}…")

    def action_scale(self, factor: float) -> None:
        self._send(Reinit(w1_factor=factor), f"reinit: W1 scale ×{factor:g}…")

    def action_reseed(self) -> None:
        self._send(Reinit(new_seed=True), "reinit: next seed…")

    def action_toggle_pause(self) -> None:
        self._send(TogglePause(), "pause/resume…")

    def action_toggle_log(self) -> None:
        self.loss_plot.log_scale = not self.loss_plot.log_scale
        self.loss_plot.draw(self.history)

    def action_screenshot(self) -> None:
        path = self.save_screenshot(filename=f"mmtui-{time.strftime('%Y%m%d-%H%M%S')}.svg", path=".")
        self.notify(f"screenshot saved: {path}")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.HELP_ROWS))

    # ---- the headless app mode's key script

    def _run_key_script(self) -> None:
        latest = self.history.latest
        while self.key_script and self._steps_before_run + latest.step >= self.key_script[0].step:
            self.simulate_key(self.key_script.pop(0).key)
        if self.final_screenshot is not None and latest.state == DONE and not self.key_script:
            self.redraw(force=True)
            self.call_after_refresh(self._save_final_screenshot)

    def _save_final_screenshot(self) -> None:
        path = self.final_screenshot
        self.save_screenshot(filename=path.name, path=str(path.parent or "."))
        self.exit(0)

