"""Where a watched run writes: the run file's path, the rank that writes it, and the
checks made at watch()."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mmtui.paths import unwritable

LOG_ENV = "MMTUI_LOG"  # `mmtui run` sets it: the run file the monitor follows
RUNS_FOLDER = "runs"


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the job's size, as torchrun sets them (0 and 1 outside a distributed job)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def writing_ranks(ranks: int | str | list[int], world: int) -> set[int]:
    """The ranks that write a run file: one rank (0 by default), a list of them, or "all"."""
    if ranks == "all":
        return set(range(world))
    if isinstance(ranks, int):
        return {ranks}
    if isinstance(ranks, (list, tuple, set)) and all(isinstance(r, int) for r in ranks):
        return set(ranks)
    raise ValueError(f"mmtui.watch: ranks={ranks!r}: give a rank, a list of ranks, or \"all\"")


def script_name() -> str:
    """The running script's name without .py; "python" in a notebook or the interactive interpreter."""
    main = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else ""
    return Path(main).stem or "python"


def run_file_path(log: str | os.PathLike | None, rank: int, per_rank: bool) -> Path:
    """The file to write: `log`, else $MMTUI_LOG, else runs/<script>-<time>.jsonl; with a file per rank, the
    rank goes before the suffix (run.rank1.jsonl)."""
    given = log if log is not None else os.environ.get(LOG_ENV)
    if given is not None:
        path = Path(given)
    else:
        path = Path(RUNS_FOLDER) / f"{script_name()}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
        path.parent.mkdir(exist_ok=True)
    if per_rank:
        path = path.with_name(f"{path.stem}.rank{rank}{path.suffix or '.jsonl'}")
    check_writable(path)
    return path


def check_writable(path: Path) -> None:
    """Raise at watch() rather than at the first write: a run that cannot be recorded should not start."""
    reason = unwritable(path)
    if reason is not None:
        raise ValueError(f"mmtui.watch: log={reason}")
