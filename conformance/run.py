"""One conformance run: the target, what the probe learned, and the verdict of every case.

Judging lives here, not in the pytest hooks, so that it reads as the rules say: the verdict of a
case is the level of the rule it broke; a target that died during a case fails that case whatever
else happened, and is restarted before the next one (or before every case with `--fresh`).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.harness import Chat
from conformance.target import Target, TargetError, TargetSpec
from conformance.timing import Capabilities, Timing, Tokens, probe
from conformance.verdicts import Verdict, Violation
from conformance.wire import Closed
from protocol import Profile, requirements_by_id


@dataclass(frozen=True)
class Options:
    spec: TargetSpec
    profile: Profile = "full"
    fresh: bool = False
    transcripts: Path = Path("jsonchat-transcripts")
    reply_timeout: float | None = None  # overrides the measured one
    slow: bool = False


@dataclass
class CaseResult:
    nodeid: str
    rules: tuple[str, ...]
    verdict: Verdict
    duration: float
    reason: str = ""
    broken: str = ""  # the rule a Violation named (the first cited one for a crash)
    transcript: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "requirements": list(self.rules),
            "verdict": self.verdict,
            "broken": self.broken or None,
            "duration": round(self.duration, 4),
            "reason": self.reason,
            "transcript": self.transcript or None,
        }


@dataclass
class Run:
    options: Options
    target: Target = field(init=False)
    caps: Capabilities | None = None
    tokens: Tokens = field(default_factory=Tokens)
    results: list[CaseResult] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.target = Target(self.options.spec)

    def start(self) -> Capabilities:
        """Bring the target up and probe it; TargetError if it cannot be reached at all."""
        self.target.ensure_up()
        try:
            caps = probe(self.target.address, self.tokens)
        except OSError as error:
            raise TargetError(f"cannot talk to {self.options.spec.text}: {error}") from error
        if self.options.reply_timeout is not None:
            timing = Timing(caps.timing.rtt, self.options.reply_timeout)
            caps = dataclasses.replace(caps, timing=timing)
        self.caps = caps
        return caps

    def before_case(self, nodeid: str) -> None:
        process = self.target.process
        if process is not None and (process.stopped_on_purpose or self.options.fresh):
            self.target.restart()  # a case stopped it, and it may still be shutting down
            return
        if process is not None and not process.alive():
            self.restarts.append(f"before {nodeid}: {process.describe_exit()}; restarted")
        self.target.ensure_up()

    def chat(self, rules: tuple[str, ...]) -> Chat:
        assert self.caps is not None
        return Chat(
            self.target,
            self.caps,
            self.tokens,
            rules,
            slow=self.options.slow,
            profile=self.options.profile,  # what a case may skip for depends on it
        )

    def finish(self) -> None:
        self.target.retire()

    # -- judging ------------------------------------------------------------------------------

    def judge(
        self, rules: tuple[str, ...], error: BaseException | None, skipped: str | None
    ) -> tuple[Verdict, str, str]:
        """(verdict, broken rule, reason) of a case from how it ended."""
        primary = rules[0] if rules else ""
        verdict: Verdict
        if skipped is not None:
            verdict, broken, reason = "skipped", "", skipped
        elif error is None:
            verdict, broken, reason = "pass", "", ""
        elif isinstance(error, Violation):
            verdict, broken, reason = error.verdict, error.rule, error.message
        elif isinstance(error, Closed | OSError | TimeoutError):
            verdict, broken = "fail", primary
            reason = f"{type(error).__name__}: {error}"
        else:
            verdict, broken = "error", ""
            reason = f"the suite itself failed: {type(error).__name__}: {error}"
        note = self.death_note(waited=verdict in ("fail", "error"))
        if note:
            if verdict in ("pass", "skipped", "non-strict", "informational"):
                verdict, broken = "fail", broken or primary
            reason = f"{reason}; {note}" if reason else note
        return verdict, broken, reason

    def death_note(self, waited: bool) -> str:
        """Why the target is gone, if it died during the case (a crash may take a moment)."""
        process = self.target.process
        if process is None or process.stopped_on_purpose:
            return ""
        if waited and process.alive():
            process.wait_exit(min(0.5, self.caps.timing.reply if self.caps else 0.5))
        if process.alive():
            return ""
        return f"the target died during this case: {process.describe_exit()}{process.stderr_note()}"

    def record(self, result: CaseResult, chat: Chat | None) -> None:
        if chat is not None and result.verdict in ("fail", "non-strict", "error"):
            result.transcript = str(self.write_transcript(result, chat))
        self.results.append(result)

    def write_transcript(self, result: CaseResult, chat: Chat) -> Path:
        folder = self.options.transcripts
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", result.nodeid.split("::", 1)[-1]).strip("_")
        path = folder / f"{name[:150]}.jsonl"
        header = {
            "case": result.nodeid,
            "requirements": list(result.rules),
            "verdict": result.verdict,
            "reason": result.reason,
            "target": self.options.spec.text,
            "profile": self.options.profile,
            "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        chat.transcript.write(path, header)
        return path

    def replay_command(self, path: str) -> str:
        return f"jsonchat replay {shlex.quote(path)} {shlex.quote(self.options.spec.text)}"


def rule_text(rule: str) -> str:
    requirement = requirements_by_id().get(rule)
    if requirement is None:
        return rule
    return f"{rule} ({requirement.level}, {requirement.profile}) {requirement.text}"
