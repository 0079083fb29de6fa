"""Live progress of a conformance run on a terminal: cases done of total, the section being
checked, failures so far, and the case running, on one line rewritten in place.

Registered by `session.Active` when `--jsonchat-progress` is given, which `jsonchat conformance`
does only when its output is a terminal (and not with -v, whose line per case says as much):
piped output keeps pytest's dots and stays as it was. The dots would break the line, so on a
terminal the cases' letters are left out; the summary after the run is unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import TextIO

import pytest

from conformance.kit.statusline import StatusLine
from conformance.suite.run import Run
from conformance.suite.verdicts import case_ids

CATEGORY = {
    "pass": "passed",
    "fail": "failed",
    "non-strict": "non-strict",
    "informational": "informational",
    "error": "failed",
}


class Progress:
    def __init__(self, run: Run, stream: TextIO = sys.stdout) -> None:
        self.run = run
        self.line = StatusLine(stream)
        self.total = 0
        self.done = 0
        self.section = ""
        self.case = ""

    def text(self) -> str:
        failed = sum(r.verdict in ("fail", "error") for r in self.run.results)
        name = self.case.rsplit("/", 1)[-1]
        return (
            f"conformance  {self.done}/{self.total} cases  {self.section or '-':<10}"
            f"  {failed} failed  {name}"
        )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.total = len(session.items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        ids = case_ids(item)
        self.section = ids[0].rsplit("-", 1)[0] if ids else ""
        self.case = item.nodeid
        self.line.show(self.text())

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.done += 1
        self.line.show(self.text())

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, str] | None:
        verdict = getattr(report, "jsonchat_verdict", None)
        if verdict in CATEGORY and report.when in ("call", "setup"):
            return CATEGORY[verdict], "", ""
        if report.when in ("call", "setup") and not report.passed:
            return report.outcome, "", ""
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        try:
            return (yield)
        finally:
            self.line.clear()
