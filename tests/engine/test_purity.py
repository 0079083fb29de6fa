"""The engine is sans-IO: no module of it imports I/O, threads, clocks, randomness or logging.

The fuzzer uses the engine as its oracle and a finding must replay, so the same
events must always give the same outputs; a clock, a thread or a random source inside would break
that quietly. Time reaches the engine as an event field (`DataReceived.now`, `Tick`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
FORBIDDEN = {
    *("socket", "select", "selectors", "ssl", "asyncio", "threading", "multiprocessing"),
    *("concurrent", "subprocess", "time", "datetime", "random", "secrets", "logging", "os"),
    *("sys", "io", "signal"),
}


def imported_modules(path: Path) -> set[str]:
    """The top-level names of every module `path` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def called_builtins(path: Path) -> set[str]:
    calls = (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call))
    return {c.func.id for c in calls if isinstance(c.func, ast.Name)}


SOURCES = sorted(ENGINE.glob("*.py"))


def test_the_engine_has_modules_to_check() -> None:
    assert {p.name for p in SOURCES} >= {"engine.py", "framing.py", "rooms.py", "validation.py"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_engine_module_imports_io_threads_clocks_or_logging(path: Path) -> None:
    assert imported_modules(path) & FORBIDDEN == set()


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_engine_module_prints_opens_files_or_reads_input(path: Path) -> None:
    assert called_builtins(path) & {"print", "open", "input", "breakpoint"} == set()


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def now():\n    from time import monotonic\n    return monotonic()\n")
    assert imported_modules(sneaky) & FORBIDDEN == {"time"}
