"""Files mmtui writes: checked before the work that would write them (a typo costs no run), then written
whole."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def unwritable(given: str | os.PathLike) -> str | None:
    """Why the file `given` cannot be created, appended to or replaced, in words that name it; None if it
    can."""
    name, path = repr(os.fspath(given)), Path(given)
    if path.is_dir():
        return f"{name} is a directory"
    folder = path.parent
    if not folder.is_dir():
        return f"{name}: directory {str(folder)!r} does not exist"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{name} is not writable"
    return None


def write_whole(given: str | os.PathLike, data: bytes | str) -> Path:
    """Write `data` (str as UTF-8) to a new temporary file beside `given`, flush it to disk, then rename it
    over `given`: a crash or a full disk leaves what was there whole and no temporary file behind, and a
    symlink planted at the name is replaced, never written through. Returns the absolute path; raises
    OSError."""
    path = Path(given).absolute()
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # O_EXCL and O_NOFOLLOW: a name nobody prepared; the umask's mode, as open() gives
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data.encode("utf-8") if isinstance(data, str) else data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def write_failure(path: str | os.PathLike, error: OSError) -> str:
    """A failed write in one line that names the file: "cannot write run.csv: No space left on device"."""
    return f"cannot write {os.fspath(path)}: {error.strerror or error}"
