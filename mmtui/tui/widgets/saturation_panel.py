"""The Saturation panel: how much of the first layer is stuck (tanh at +-1, a ReLU at 0, a GELU near flat),
its trend, dead units, and the step-0 loss."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from mmtui.experiments import lecture_run
from mmtui.records import BOUNDED, OTHER, ActivationStats
from mmtui.tui.history import RunHistory
from mmtui.tui.layer_words import WORDS, layer_label, symbol, trouble_rule, trouble_word
from mmtui.tui.palette import ALARM, OK_GREEN, SATURATED_RED, WARN_YELLOW
from mmtui.tui.widgets.trend_sparkline import TrendSparkline

CONFIDENTLY_WRONG = 1.0  # step-0 loss this far above -ln(1/V) earns the lecture's warning
OK_STYLE, WARN_STYLE, ALARM_STYLE = (Style(color=c, bold=True)
                                     for c in (OK_GREEN, WARN_YELLOW, SATURATED_RED))


def saturation_style(percent: float, kind: str = BOUNDED) -> Style:
    """The colour of a share in trouble, by the kind's own thresholds: a GELU's near-flat 10% is no alarm."""
    words = WORDS.get(kind, WORDS[BOUNDED])
    return ALARM_STYLE if percent > words.alarm_at else WARN_STYLE if percent > words.warn_at else OK_STYLE


class SaturationPanel(Vertical):
    """Figures of the latest batch, with a sparkline of saturation % over the run."""

    DEFAULT_CSS = """
    SaturationPanel TrendSparkline { height: 3; margin: 0 1; }
    SaturationPanel Static { padding: 0 1; height: 7; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = WORDS[BOUNDED].title
        self.kind = BOUNDED  # the first layer's measure, which colours the trend

    def compose(self) -> ComposeResult:
        yield Static(id="saturation-figures")
        yield TrendSparkline(lambda percent: saturation_style(percent, self.kind), unit="%",
                             id="saturation-trend")

    def draw(self, run: RunHistory | None) -> None:
        figures = self.query_one("#saturation-figures", Static)  # a fixed height: no layout pass needed
        if run is None:
            figures.update("waiting for the first step…", layout=False)
            return
        kind = self.kind = run.first_layer.kind if run.first_layer is not None else BOUNDED
        self.border_title = WORDS[kind].title if kind in WORDS else "Layer statistics"
        figures.update(describe(run), layout=False)
        trend = self.query_one("#saturation-trend", TrendSparkline)
        if trend.display != (kind != OTHER):
            trend.display = kind != OTHER  # a layer with no trouble measure has no trend of it to draw
        trend.draw(run.saturation)


def describe(run: RunHistory) -> Text:
    """The panel's text: saturation now, white share, dead units, step-0 loss against -ln(1/V)."""
    text = Text()
    stats = run.first_layer
    if stats is not None:
        _layer_figures(stats, text)
    expected = run.info.expected_init_loss
    if run.init_loss is not None and expected is not None:
        text.append(f"step-0 loss {run.init_loss:.2f}, "
                    f"expected -ln(1/{run.info.vocab_size}) = {expected:.2f}\n")
        # the lecture's cause, its nets' own: another model's high step-0 loss may have another
        if run.init_loss > expected + CONFIDENTLY_WRONG and lecture_run(run.info.model, run.info.settings):
            text.append("⚠ confidently wrong at init: the logits are too large", ALARM)
    if stats is None or stats.kind != OTHER:
        word = trouble_word({stats.kind}) if stats is not None else ""
        text.append(f"\n{word or 'saturation'} % over the run:", "dim")
    return text


def _layer_figures(stats: ActivationStats, text: Text) -> None:
    """The share in trouble, the white pixels (a tanh's stricter bound) and the dead units, as the layer's
    kind has them; a watched model's layer is named first, since it need not be the one the user thinks of."""
    if stats.name:
        text.append(f"{layer_label(stats)}\n", "bold")
    if stats.kind == OTHER:
        text.append(f"mean {stats.mean:+.2f}, std {stats.std:.2f}\n")
        text.append("no saturation or dead-unit measure for these values\n", "dim")
        return
    name, words = symbol(stats), WORDS[stats.kind]
    text.append(f"{stats.saturation:5.1f}%", saturation_style(stats.saturation, stats.kind))
    text.append(f" of {name} {words.said} ({trouble_rule(stats)})\n")
    if stats.kind == BOUNDED:
        text.append(f"{stats.share_99:5.1f}%", "bold")
        text.append(f" white pixels ({trouble_rule(stats, white=True)})\n")
    text.append(f"{stats.dead_units:5d}", ALARM if stats.dead_units else "bold")
    text.append(f" {words.units} of {stats.units} ({words.whole_batch} for the whole batch)\n")
