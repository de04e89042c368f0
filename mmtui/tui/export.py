"""What the TUI writes to files: the e key's CSV of the current run, and any file written
whole or said to fail."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mmtui.paths import write_failure, write_whole
from mmtui.tui.history import RunHistory


def save_text(path: Path, text: str, what: str) -> tuple[str, str]:
    """Write `text` whole to `path` (never through a symlink there); the notice to show and its severity:
    where it was saved, or why not (a full disk) in one line; the app stays up either way."""
    try:
        written = write_whole(path, text)
    except OSError as error:
        return f"{what} not saved: {write_failure(path, error)}", "error"
    return f"{what} saved: {written}", "information"


def run_csv(run: RunHistory) -> str:
    """Columns step, loss, smoothed_loss, val_loss, then log10 update:data per weight; blank where unknown.

    Rows are the steps the bounded histories kept (every step of a short run, a thinning
    sample of a long one).
    """
    rows: dict[int, dict[str, float]] = {}
    for step, loss, smooth in zip(run.losses.steps, run.losses.raw, run.losses.smooth):
        rows.setdefault(step, {}).update(loss=loss, smoothed_loss=smooth)
    for result in run.evals:
        rows.setdefault(result.step, {})["val_loss"] = result.val_loss
    ratio_names = [f"update_ratio_log10_{name}" for name in run.update_ratios.values]
    for index, step in enumerate(run.update_ratios.steps):
        rows.setdefault(step, {}).update(
            {column: values[index] for column, values in zip(ratio_names, run.update_ratios.values.values())})
    out = io.StringIO()
    writer = csv.DictWriter(out, ["step", "loss", "smoothed_loss", "val_loss", *ratio_names], restval="",
                            lineterminator="\n")
    writer.writeheader()
    for step in sorted(rows):
        writer.writerow({"step": step, **rows[step]})
    return out.getvalue()
