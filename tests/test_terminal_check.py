"""The TUI refuses to start where it could not be seen: no terminal, or stderr (where it draws) redirected."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from test_headless_cli import TIMEOUT_S


def run_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """mmtui with stdin and stdout on a pseudo-terminal and stderr on a pipe, as `mmtui 2>err.log` runs it."""
    main, child = pty.openpty()
    try:
        process = subprocess.run([sys.executable, "-m", "mmtui", *args], stdin=child, stdout=child,
                                 stderr=subprocess.PIPE, text=True, timeout=TIMEOUT_S)
        os.close(child)
        child = -1
        seen = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal's other side is closed: all was read
                break
            if not chunk:
                break
            seen += chunk
        return process.returncode, seen.decode(), process.stderr
    finally:
        if child >= 0:
            os.close(child)
        os.close(main)


def test_a_redirected_stderr_is_refused_in_one_line_on_the_terminal_and_in_the_file(small_words_path):
    code, terminal, stderr = run_on_a_terminal("--data", str(small_words_path), "--steps", "10")
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("mmtui: error: stderr is not a terminal")
    assert "--headless" in stderr
    assert terminal.strip().splitlines() == [stderr.strip()]  # the person at the terminal sees it too


def test_without_a_terminal_the_tui_says_so_and_exits_2(small_words_path):
    result = subprocess.run([sys.executable, "-m", "mmtui", "--data", str(small_words_path)],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["mmtui: error: the TUI needs a terminal; use --headless "
                                                  "for JSON lines or --no-terminal"]
    assert result.stdout == ""
