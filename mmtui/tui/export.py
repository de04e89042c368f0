"""The e key's CSV: the current run's loss history, val losses and update:data ratios, one row per step."""

from __future__ import annotations

import csv
import io

from mmtui.tui.history import RunHistory


def run_csv(run: RunHistory) -> str:
    """Columns step, loss, smoothed_loss, val_loss, then log10 update:data per weight; blank where unknown.

    Rows are the steps the bounded histories kept (every step of a short run, a thinning sample of a long one).
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
