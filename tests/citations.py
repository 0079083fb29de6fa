"""Which rules each test cites, as pytest itself collects them.

Every repository test and every conformance case names the rules it checks with one marker,
`requirement` (declared once, `conformance.suite.verdicts.requirement`). Reading the marker off
collected items sees every test module, however it was written, parametrized or generated; a list
of modules to import would not see the ones added after it. Collection runs in a child pytest, so
that the answer does not depend on which tests the current run happens to select.

Loaded as a plugin (`-p tests.citations`), this module writes what the child collected to the
file named by `JSONCHAT_CITATIONS`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pytest

from conformance.suite.verdicts import case_ids

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_ENV = "JSONCHAT_CITATIONS"


def pytest_collection_finish(session: pytest.Session) -> None:
    output = os.environ.get(OUTPUT_ENV)
    if output:
        cited = {item.nodeid: case_ids(item) for item in session.items}
        Path(output).write_text(json.dumps(cited), encoding="utf-8")


def collect(*paths: str) -> Mapping[str, tuple[str, ...]]:
    """Node ID to the rule IDs it cites, for every item pytest collects under `paths`."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "cited.json"
        command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        result = subprocess.run(
            [*command, "-p", "tests.citations", *paths],
            cwd=ROOT,
            env={**os.environ, OUTPUT_ENV: str(output)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0 or not output.exists():
            raise RuntimeError(f"collecting {paths} failed:\n{result.stdout}\n{result.stderr}")
        return {node: tuple(ids) for node, ids in json.loads(output.read_text("utf-8")).items()}


@cache
def repository_tests() -> Mapping[str, tuple[str, ...]]:
    """Every test of tests/ and the rules it cites (empty for a test that cites none)."""
    return collect("tests")


@cache
def conformance_cases() -> Mapping[str, tuple[str, ...]]:
    """Every published conformance case and the rules it cites."""
    return collect("conformance/cases")


__all__ = ["collect", "conformance_cases", "repository_tests"]
