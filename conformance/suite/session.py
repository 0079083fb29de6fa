"""The conformance run as pytest sees it: selection, the probe, judging and the report.

Registered by conformance.suite.plugin only when `--jsonchat-target` or `--jsonchat-list` is given,
and imported only then: everything here needs the jsonchat packages (`protocol` above all),
which the plugin first checks are not shadowed by a user's own files.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from conformance.kit.exitcodes import ExitStatus
from conformance.kit.target import TargetError, parse_target, stop_signal
from conformance.suite.plugin import CHAT_KEY, RUN_KEY
from conformance.suite.report import summary_lines, write_json
from conformance.suite.run import CaseResult, Options, Run, rule_text
from conformance.suite.verdicts import case_ids, in_profile, matches, unknown_ids
from protocol import Profile

STATUS = {
    "pass": ("passed", ".", "PASS"),
    "fail": ("failed", "F", "FAIL"),
    "non-strict": ("non-strict", "N", "NON-STRICT"),
    "informational": ("informational", "I", "INFORMATIONAL"),
    "error": ("failed", "E", "ERROR"),
}


class Active:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.listing = bool(config.getoption("jsonchat_list"))
        texts = config.getoption("jsonchat_target") or ["tcp:127.0.0.1:7775"]
        try:
            spec, *more = [parse_target(text) for text in texts]
            signum = stop_signal(config.getoption("jsonchat_stop_signal"))
        except (TargetError, ValueError) as error:
            raise pytest.UsageError(str(error)) from None
        profile: Profile = config.getoption("jsonchat_profile")
        terms = config.getoption("jsonchat_select").split(",")
        self.select = [t.strip() for t in terms if t.strip()]
        self.run = Run(
            Options(
                spec=spec,
                profile=profile,
                fresh=bool(config.getoption("jsonchat_fresh")),
                transcripts=config.getoption("jsonchat_transcripts"),
                reply_timeout=config.getoption("jsonchat_reply_timeout"),
                slow=bool(config.getoption("jsonchat_slow")),
                stop_signal=signum,
                more=tuple(more),
            )
        )
        config.stash[RUN_KEY] = self.run
        self.ran = 0
        # What a living cmd: target had printed when a case failed, for the HTML report (a dead
        # one's last words are on the case's row already, and in the text report).
        self.printed: dict[str, str] = {}
        if config.getoption("jsonchat_progress") and not self.listing:
            from conformance.suite.progress import Progress

            config.pluginmanager.register(Progress(self.run), "jsonchat-progress")

    # -- selection ----------------------------------------------------------------------------

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            ids = case_ids(item)
            bad = unknown_ids(ids)
            if bad or not ids:
                cited = f"cites unknown requirement IDs {bad}" if bad else "cites no requirement"
                raise pytest.UsageError(f"conformance case {item.nodeid} {cited}")
            wanted = in_profile(ids, self.run.options.profile) and (
                not self.select or matches(ids, self.select)
            )
            (keep if wanted else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep

    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if self.listing:
            for item in session.items:
                print(f"{item.nodeid}  [{', '.join(case_ids(item))}]")
            print(f"{len(session.items)} cases selected")
            if not session.items:
                session.testsfailed = 1
            return True
        if not session.items:
            return None
        try:
            self.run.start()
        except TargetError as error:
            self.run.finish()
            raise pytest.exit(f"jsonchat: {error}", returncode=ExitStatus.UNREACHABLE) from None
        return None

    # -- judging ------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._judge(item, call, report)
        return report

    def _judge(self, item: pytest.Item, call: pytest.CallInfo[None], report: Any) -> None:
        rules = case_ids(item)
        error = call.excinfo.value if call.excinfo is not None else None
        skipped = None
        if report.skipped:
            longrepr = report.longrepr
            skipped = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
            skipped = skipped.removeprefix("Skipped: ")
            error = None
        verdict, broken, reason = self.run.judge(rules, error, skipped)
        result = CaseResult(item.nodeid, rules, verdict, call.duration, reason, broken)
        result.not_run = verdict == "skipped" and reason.startswith("not run: ")
        chat = item.stash.get(CHAT_KEY, None)
        self.run.record(result, chat)
        self.run.after_call(result, chat)
        if verdict not in ("pass", "skipped") and not result.server_output:
            printed = self.run.last_output()
            if printed:
                self.printed[result.nodeid] = printed
        report.jsonchat_verdict = verdict
        if verdict != "skipped":
            self.ran += 1
        if verdict in ("non-strict", "informational", "pass"):
            report.outcome = "passed"
            report.longrepr = None
        elif verdict == "fail":
            report.outcome = "failed"
            report.longrepr = f"{rule_text(broken)}\n{reason}" + (
                f"\ntranscript: {result.transcript}" if result.transcript else ""
            )

    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, str] | None:
        verdict = getattr(report, "jsonchat_verdict", None)
        if verdict in STATUS and report.when in ("call", "setup"):
            return STATUS[verdict]
        return None

    # -- reporting ----------------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.run.finish()
        json_path = self.config.getoption("jsonchat_json")
        if json_path is not None and not self.listing:
            write_json(self.run, json_path)
        html_path = self.config.getoption("jsonchat_html")
        if html_path is not None and not self.listing:
            from conformance.suite.html import write_html

            write_html(self.run, html_path, self.printed)
        if self.listing or session.exitstatus not in (0, ExitStatus.NOTHING_RAN):
            return
        # A target that died after a case passed, or during the probe, fails in a row of its own
        # that pytest never saw: the exit status says so all the same.
        if any(r.verdict in ("fail", "error") for r in self.run.results):
            session.exitstatus = ExitStatus.FAILED
        elif self.ran == 0:
            session.exitstatus = ExitStatus.NOTHING_RAN

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.listing or not self.run.results:
            return
        terminalreporter.section("jsonchat conformance")
        for line in summary_lines(self.run, self.config.getoption("verbose") > 0):
            terminalreporter.write_line(line)
        if self.ran == 0:
            terminalreporter.write_line("no case ran: this run proves nothing (exit status 5)")
