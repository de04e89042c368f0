"""The house's style where a test can hold it: lines within 110 characters, and every module starting with
what it owns."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINE = 110


def tracked(pattern: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:  # a copy that is not a git checkout (an unpacked sdist): its files as they lie
        return sorted(p for p in ROOT.rglob(pattern) if ".venv" not in p.parts)
    return [ROOT / name for name in listed.stdout.split()]


def test_python_lines_are_within_110_characters():
    long = [f"{path.relative_to(ROOT)}:{number}" for path in tracked("*.py")
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if len(line) > MAX_LINE]
    assert not long, f"{len(long)} lines over {MAX_LINE} characters: {', '.join(long[:10])}"


@pytest.mark.parametrize("path", sorted((ROOT / "mmtui").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_starts_with_what_it_owns(path):
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring, f"{path.relative_to(ROOT)} starts with no docstring"
