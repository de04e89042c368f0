"""The boundary the architecture promises: the engine never imports textual, the TUI never imports torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mmtui"
ENGINE = sorted((PACKAGE / "engine").glob("*.py"))
TUI = sorted((PACKAGE / "tui").rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    """Top-level package of every import in a module, at any depth (lazy imports inside functions too)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_no_engine_module_imports_a_ui_library(path):
    assert not imported_roots(path) & {"textual", "textual_plotext", "plotext", "rich"}


@pytest.mark.parametrize("path", TUI, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_tui_module_imports_torch(path):
    assert "torch" not in imported_roots(path)


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_loading_the_whole_engine_loads_no_textual():
    modules = ", ".join(f"mmtui.engine.{p.stem}" for p in ENGINE if p.stem != "__init__")
    assert run_python(f"import sys, {modules}; print(sorted(m for m in sys.modules if m.startswith(('textual', 'rich'))))") == "[]"


def test_loading_the_app_and_every_widget_loads_no_torch():
    modules = ", ".join("mmtui." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in TUI
                        if p.stem != "__init__")
    assert run_python(f"import sys, {modules}; print('torch' in sys.modules)") == "False"
