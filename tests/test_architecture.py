"""The layers the architecture promises, arrows down only: records <- measure <- engine, watcher; records <-
tui; engine <- sources <- cli."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mmtui"
ENGINE = sorted((PACKAGE / "engine").glob("*.py"))
MEASURE = sorted((PACKAGE / "measure").glob("*.py"))
SOURCES = sorted((PACKAGE / "sources").glob("*.py"))
WATCHER = sorted((PACKAGE / "watcher").glob("*.py"))
TUI = sorted((PACKAGE / "tui").rglob("*.py"))
INTEGRATIONS = sorted((PACKAGE / "integrations").glob("*.py"))
# The records, the lecture's names, what scalars' names mean, files written safely, children's lives tied to
# mmtui's, text from outside made safe to draw
BASE = [PACKAGE / "records.py", PACKAGE / "experiments.py", PACKAGE / "scalar_names.py", PACKAGE / "paths.py",
        PACKAGE / "processes.py", PACKAGE / "text.py"]
UI_LIBRARIES = {"textual", "textual_plotext", "plotext", "rich"}


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imports(path)}


def mmtui_modules(path: Path) -> set[str]:
    return {name for name in imports(path) if name == "mmtui" or name.startswith("mmtui.")}


def within(modules: set[str], *allowed: str) -> set[str]:
    """The modules outside every allowed module and package."""
    return {m for m in modules if not any(m == a or m.startswith(a + ".") for a in allowed)}


@pytest.mark.parametrize("path", BASE, ids=lambda p: p.name)
def test_the_records_import_nothing_of_mmtui_nor_torch_nor_a_ui(path):
    assert not mmtui_modules(path)
    assert not roots(path) & (UI_LIBRARIES | {"torch"})


def test_the_run_file_needs_only_the_records():
    path = PACKAGE / "runfile.py"
    assert within(mmtui_modules(path), "mmtui.records") <= {"mmtui"}  # the package: its version
    assert not roots(path) & (UI_LIBRARIES | {"torch"})


@pytest.mark.parametrize("path", MEASURE, ids=lambda p: p.name)
def test_measuring_imports_the_records_only_and_no_ui(path):
    assert not roots(path) & UI_LIBRARIES
    assert not within(mmtui_modules(path), "mmtui.measure", "mmtui.records")


def test_the_pace_reads_without_torch():
    # The CLI reads Pacing's defaults for --help; measure/__init__ and the pace must load no torch for it.
    assert run_python("import sys, mmtui.measure.pacing; print('torch' in sys.modules)") == "False"


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_no_engine_module_imports_a_ui_or_mmtui_outside_the_engine_measuring_and_the_records(path):
    assert not roots(path) & UI_LIBRARIES
    assert not within(mmtui_modules(path), "mmtui.engine", "mmtui.measure", "mmtui.records",
                      "mmtui.experiments", "mmtui.paths", "mmtui.processes")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_source_imports_a_ui_library_nor_the_front_ends(path):
    assert not roots(path) & UI_LIBRARIES
    assert not within(mmtui_modules(path), "mmtui.engine", "mmtui.measure", "mmtui.records",
                      "mmtui.experiments", "mmtui.runfile", "mmtui.sources", "mmtui.scalar_names",
                      "mmtui.processes", "mmtui.text")


def test_the_tensorboard_export_reads_run_files_and_writes_with_torch_only():
    path = PACKAGE / "tensorboard_export.py"
    assert not roots(path) & UI_LIBRARIES
    assert not within(mmtui_modules(path), "mmtui.records", "mmtui.runfile")
    # the checks above would pass on a file that read nothing
    assert "torch.utils.tensorboard" in imports(path)


def test_the_sources_mmtui_view_reads_load_no_torch():
    # mmtui view starts fast: the snapshot builder they share with the trainer loads the measuring statistics
    # (torch) only where statistics are measured.
    code = "import sys, mmtui.sources.run_file, mmtui.sources.tensorboard; print('torch' in sys.modules)"
    assert run_python(code) == "False"
    assert "mmtui.measure.snapshots" in mmtui_modules(PACKAGE / "sources" / "tensorboard.py")


def test_importing_mmtui_or_the_tensorboard_source_loads_no_tensorboard():
    assert run_python("import sys, mmtui, mmtui.sources.tensorboard; "
                      "print('tensorboard' in sys.modules)") == "False"


@pytest.mark.parametrize("path", WATCHER, ids=lambda p: p.name)
def test_watch_runs_in_the_users_process_with_no_ui_no_front_end_and_no_lecture(path):
    assert not roots(path) & UI_LIBRARIES
    assert not within(mmtui_modules(path), "mmtui.measure", "mmtui.records", "mmtui.runfile",
                      "mmtui.scalar_names", "mmtui.paths", "mmtui.watcher")


@pytest.mark.parametrize("path", INTEGRATIONS, ids=lambda p: p.name)
def test_the_integrations_sit_on_the_watcher_with_no_ui_and_no_engine(path):
    assert not roots(path) & UI_LIBRARIES
    assert not within(mmtui_modules(path), "mmtui.integrations", "mmtui.watcher", "mmtui.measure",
                      "mmtui.records", "mmtui.scalar_names")


def test_each_framework_is_watched_through_watch():
    # The rule above would pass on modules that imported nothing of mmtui.
    for name in ("lightning.py", "transformers.py"):
        assert "mmtui.watcher" in mmtui_modules(PACKAGE / "integrations" / name)


def test_importing_mmtui_loads_neither_torch_nor_textual_until_watch_is_used():
    assert run_python("import sys, mmtui; "
                      "print(sorted(m for m in ('torch', 'textual') if m in sys.modules))") == "[]"
    assert run_python("import sys, mmtui; mmtui.watch; "
                      "print('torch' in sys.modules, 'textual' in sys.modules)") == "True False"


@pytest.mark.parametrize("path", TUI, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_tui_module_imports_torch_nor_where_snapshots_come_from(path):
    assert "torch" not in roots(path)
    assert not within(mmtui_modules(path), "mmtui.tui", "mmtui.records", "mmtui.experiments", "mmtui.paths",
                      "mmtui.text")


def test_an_arrow_up_is_caught():
    # The checks above would pass vacuously if imports() saw nothing: a module known to
    # import the engine lazily.
    assert "mmtui.sources.trainer" in mmtui_modules(PACKAGE / "cli.py")
    assert within({"mmtui.engine.trainer", "mmtui.tui.app"}, "mmtui.tui") == {"mmtui.engine.trainer"}
    assert "mmtui.measure.snapshots" in mmtui_modules(PACKAGE / "engine" / "trainer.py")
    assert "mmtui.measure.snapshots" in mmtui_modules(PACKAGE / "watcher" / "run.py")


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_loading_the_whole_engine_and_every_source_loads_no_textual():
    modules = ", ".join([f"mmtui.engine.{p.stem}" for p in ENGINE if p.stem != "__init__"]
                        + [f"mmtui.sources.{p.stem}" for p in SOURCES if p.stem != "__init__"])
    assert run_python(f"import sys, {modules}; "
                      "print(sorted(m for m in sys.modules if m.startswith(('textual', 'rich'))))") == "[]"


def test_loading_the_app_and_every_widget_loads_no_torch():
    modules = ", ".join("mmtui." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in TUI
                        if p.stem != "__init__")
    assert run_python(f"import sys, {modules}; print('torch' in sys.modules)") == "False"
