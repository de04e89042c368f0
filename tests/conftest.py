"""Shared fixtures: children that take Ctrl-C, one thread a process under two workers, the session's own
compile cache, the bundled names (loaded once per session), a small real word list, the char transformer
example's run file, and bad data files."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

SMALL_WORDS = 1000  # the most popular bundled names: real data that trains and evaluates in milliseconds


@pytest.fixture(scope="session", autouse=True)
def interruptible_children():
    """Children that take SIGINT as Ctrl-C: a suite started in the background by a non-interactive shell
    inherits SIGINT ignored, which every child it starts would keep across exec, and the tests of Ctrl-C and
    of mmtui's stop escalation would then see a script ignore SIGINT. A handler, unlike SIG_IGN, is reset by
    exec."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


@pytest.fixture(scope="session", autouse=True)
def compile_cache(tmp_path_factory):
    """torch's compile cache of this session alone, for the test process and the children it starts: the
    compiled-step tests take the same time whatever the user's own cache holds, and leave it as it is.

    Its cold cache would make torch check that each vector instruction set the CPU reports builds and loads
    (six C++ builds, ~7 s of the session's first compile); the tests take the CPU's word. Where a check would
    have failed, the compile fails and the test with it: no test passes on code it would not have run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("torchinductor")))
        patch.setenv("TORCHINDUCTOR_VEC_ISA_OK", "1")
        yield


@pytest.fixture(scope="session", autouse=True)
def one_thread_a_worker():
    """Under pytest-xdist's two workers each test process, and each child it starts, computes on one thread:
    two workers already share the two cores, and torch's threads wait on each other where the other core is
    busy (one thread is also what the lecture's nets train fastest on)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    import torch

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def bundled_words() -> list[str]:
    from mmtui.engine.words import read_words

    return read_words(None)


@pytest.fixture(scope="session")
def names_dataset():
    """The bundled names as the lecture prepares them: block size 3."""
    from mmtui.engine.data import load_dataset

    return load_dataset(None, 3)


@pytest.fixture(scope="session")
def small_words_path(tmp_path_factory, bundled_words) -> Path:
    path = tmp_path_factory.mktemp("data") / "small_names.txt"
    path.write_text("\n".join(bundled_words[:SMALL_WORDS]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def char_transformer_run(tmp_path_factory, small_words_path) -> Path:
    """The char transformer example run as a user runs it, 40 steps on the small names: its run file, which
    two test files read (the example's child costs ~4 s, most of it importing torch)."""
    from screen_sources import transformer_run

    return transformer_run(tmp_path_factory.mktemp("transformer"), small_words_path, steps=40)


@pytest.fixture(scope="session")
def small_dataset(small_words_path):
    from mmtui.engine.data import load_dataset

    return load_dataset(small_words_path, 3)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


NINE_WORDS = b"\n".join(b"name%c" % c for c in b"abcdefghi") + b"\n"
ELEVEN_WORDS_ONE_DOTTED = b"\n".join([b"emma", b"olivia", b"ava", b"mary.ann"]
                                     + [b"liam%c" % c for c in b"abcdefg"])

# kind -> (how to make it under a folder, a phrase the one-line error must hold)
BAD_DATA = {
    "missing": (lambda d: d / "absent.txt", "not found"),
    "directory": (lambda d: d, "directory"),
    "empty": (lambda d: _write(d / "empty.txt", b""), "no words"),
    "blank-only": (lambda d: _write(d / "blank.txt", b"\n   \n\t\n\r\n"), "no words"),
    "binary": (lambda d: _write(d / "model.bin", b"PK\x03\x04\x00\x00emma\nliam\n" * 20), "NUL"),
    "non-utf8": (lambda d: _write(d / "latin1.txt", "zoë\nrené\n".encode("latin-1") * 10), "UTF-8"),
    "fewer-than-10-words": (lambda d: _write(d / "nine.txt", NINE_WORDS), "at least 10"),
    "word-with-dot": (lambda d: _write(d / "dotted.txt", ELEVEN_WORDS_ONE_DOTTED), "'.'"),
}


@pytest.fixture(params=list(BAD_DATA))
def bad_data(request, tmp_path) -> tuple[Path, str]:
    """A data path that cannot be trained on, and a phrase its error message must contain."""
    make, phrase = BAD_DATA[request.param]
    return make(tmp_path), phrase
