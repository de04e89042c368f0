"""Panels' drawing functions, without an app: what each line shows."""

from __future__ import annotations

import re

from rich.style import Style
from textual_plotext.plot import Plot

from mmtui.tui.braille_plot import Axis, PlotLine, line_plot
from mmtui.tui.plotext_strips import figure_strips
from mmtui.tui.widgets.saturation_panel import ALARM_STYLE, OK_STYLE, WARN_STYLE, saturation_style
from mmtui.tui.widgets.trend_sparkline import BLOCKS, LABEL_WIDTH, sparkline_lines


def test_sparkline_scales_to_its_largest_reading_and_colours_each_column():
    lines = sparkline_lines([80.0, 40.0, 2.0, 0.0], width=LABEL_WIDTH + 10, height=2,
                            style_of=saturation_style, unit="%")
    assert [line.text for line in lines] == ["  80% █" + BLOCKS[0] * 3, " " * LABEL_WIDTH + "██▁ "]
    label, alarm, warn, ok = list(lines[1])
    assert (alarm.text, alarm.style) == ("█", ALARM_STYLE)  # 80%
    assert (warn.text, warn.style) == ("█", WARN_STYLE)  # 40%
    assert (ok.text, ok.style) == ("▁ ", OK_STYLE)  # 2% still shows; 0% is blank


def test_sparkline_shows_the_latest_readings_that_fit_and_draws_nothing_without_any():
    lines = sparkline_lines([100.0, 0.0, 50.0, 100.0], width=LABEL_WIDTH + 3, height=1,
                            style_of=lambda _: Style())
    assert lines[0].text == "  100  ▄█"  # the last three readings, scaled to the largest of them
    assert sparkline_lines([], width=40, height=3, style_of=lambda _: Style()) == []
    assert all(set(line.text[LABEL_WIDTH:]) == {" "} for line in
               sparkline_lines([0.0, 0.0], width=20, height=2, style_of=lambda _: Style()))


def test_figure_strips_read_the_same_characters_and_colours_as_plotexts_own_text():
    plt = Plot()
    plt.theme("clear")
    plt.plotsize(60, 15)
    plt.plot([0, 100, 200, 300], [3.3, 2.6, 2.4, 2.3], color="cyan", marker="braille", label="smoothed")
    plt.scatter([150], [2.5], color="orange", marker="o", label="val")
    plt.hline(3.3, "green")
    plt.title("step-0 loss")
    built = plt.build()
    strips = figure_strips(plt, 60)
    assert [strip.text for strip in strips] == re.sub(r"\x1b\[[0-9;]*m", "", built).splitlines()
    assert all(strip.cell_length == 60 for strip in strips)
    colours = {tuple(segment.style.color.triplet)
               for strip in strips for segment in strip if segment.style.color}
    assert {(0, 128, 128), (0, 128, 0)} <= colours  # plotext's cyan and green, as Rich's standard RGB


def test_figure_strips_pad_and_crop_to_the_panel_width():
    plt = Plot()
    plt.plotsize(30, 8)
    plt.plot([1, 2, 3], [1, 4, 9])
    assert {strip.cell_length for strip in figure_strips(plt, 40)} == {40}
    assert {strip.cell_length for strip in figure_strips(plt, 20)} == {20}


def test_braille_line_runs_corner_to_corner_with_its_ticks_and_colour():
    red = Style(color="#ff0000")
    strips = line_plot([PlotLine([0.0, 1.0], [0.0, 1.0], red)], width=12, height=6,
                       x=Axis(0.0, 1.0, [(0.0, "0"), (1.0, "1")], "x"),
                       y=Axis(0.0, 1.0, [(0.0, "0"), (1.0, "1")]), title="diagonal")
    title, top, middle, bottom, axis, labels = strips
    assert "diagonal" in title.text
    # 12 columns: a y label and a space, the axis, then 9 braille cells (18 x 12 dots)
    assert top.text.startswith("1 ┤") and bottom.text.startswith("0 ┤") and middle.text.startswith("  │")
    assert (ord(bottom.text[3]) - 0x2800) & 0x40  # the start: the bottom-left dot of the bottom-left cell
    assert (ord(top.text[-1]) - 0x2800) & 0x08  # the end: the top-right dot of the top-right cell
    assert top.text[3] == " " and bottom.text[-1] == " "  # and nothing in the other corners
    assert axis.text == "  └┬───────┬"
    assert labels.text.startswith("   0") and labels.text.rstrip().endswith("1")
    assert {segment.style for segment in list(bottom)[1:] if segment.text.strip()} == {red}


def test_braille_points_outside_the_axes_are_clipped_and_guides_cross_the_canvas():
    grey = Style(color="#bcbcbc")
    strips = line_plot([PlotLine([-5.0, 5.0], [9.0, 9.0], Style())], width=10, height=5, x=Axis(0.0, 1.0),
                       y=Axis(0.0, 1.0), guides=[(0.0, grey)])
    top, bottom = (strip.text[3:] for strip in strips[1:-2])  # two rows of 7 cells
    assert top == " " * 7  # the line lies above the range: nothing drawn
    assert set(bottom) == {chr(0x2800 + 0x40 + 0x80)}  # the guide at 0, on the bottom dot row
