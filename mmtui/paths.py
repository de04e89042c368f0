"""The check made on a file mmtui will write, before the work that would write it: a typo costs no run."""

from __future__ import annotations

import os
from pathlib import Path


def unwritable(given: str | os.PathLike) -> str | None:
    """Why the file `given` cannot be created, appended to or replaced, in words that name it; None if it can."""
    name, path = repr(os.fspath(given)), Path(given)
    if path.is_dir():
        return f"{name} is a directory"
    folder = path.parent
    if not folder.is_dir():
        return f"{name}: directory {str(folder)!r} does not exist"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{name} is not writable"
    return None
