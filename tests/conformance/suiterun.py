"""Run `jsonchat conformance` (and `replay`) as a user does: a separate process, real servers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = f"cmd:{sys.executable} -m transport.cli serve {{host}} {{port}}"
LIMIT_S = 120  # far above any run here: a hung suite fails the test instead of hanging it


def broken(variant: str) -> str:
    return f"cmd:{sys.executable} -m tests.conformance.broken.{variant} {{host}} {{port}}"


@dataclass(frozen=True)
class SuiteRun:
    code: int
    output: str
    report: dict[str, Any]

    def ids(self, verdict: str) -> set[str]:
        return {k for k, v in self.report["requirements"].items() if v["verdict"] == verdict}

    def cases(self, verdict: str) -> list[dict[str, Any]]:
        return [c for c in self.report["cases"] if c["verdict"] == verdict]


def jsonchat(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "protocol.commands", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=LIMIT_S,
    )


def plugin_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    """pytest with the plugin loaded as the entry point would load it (blocked, then by module)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:jsonchat",
            "-p",
            "conformance.suite.plugin",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=LIMIT_S,
    )


def conformance(target: str | Sequence[str], tmp: Path, *args: str) -> SuiteRun:
    """The suite against `target`, or against several targets (a cluster's nodes)."""
    report = tmp / "report.json"
    targets = [target] if isinstance(target, str) else list(target)
    done = jsonchat(
        "conformance", *targets, "--json", str(report), "--transcripts", str(tmp / "tr"), *args
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    return SuiteRun(done.returncode, done.stdout + done.stderr, data)
