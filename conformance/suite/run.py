"""One conformance run: the target, what the probe learned, and the verdict of every case.

Judging lives here, not in the pytest hooks, so that it reads as the rules say: the verdict of a
case is the level of the rule it broke.

A target that dies, resets or stops accepting connections at any stage (the probe, a case, or
the closing of a case's clients) is a verdict, never an error of the suite: the stage it died in
FAILs, and so does DISCONNECT-7 (a server goes on serving everyone else, whatever one client
does), in a row of its own that says what the clients did last, what the server printed last
(its traceback) and the last bytes of the transcript. A command target is then restarted and
the run goes on; a `tcp:` target that stops accepting cannot be restarted, so the cases left are
reported as not run. A death is noticed when it happens: after every stage the run watches the
process for a few round trips, because a server that crashes on a hang-up dies just after the
clients of a case closed, and blaming the next case for it would be false.

Several targets (a cluster's nodes, `Options.more`) are one server to the cases: each case's
clients are spread over them round-robin (`conformance.kit.cluster`), every target is probed and
the cases rely only on what all can do. Each `cmd:` target is started, watched, restarted and
stopped on its own, and a death is that target's (`Death.target`), named in its row as `#2`.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.kit import cluster
from conformance.kit.messages import Tokens
from conformance.kit.probe import PROBE_TIMEOUT_S, Capabilities, Timing, careful_probe, probe
from conformance.kit.target import STOP_SIGNAL, Target, TargetError, TargetSpec
from conformance.kit.transcript import Record, Transcript
from conformance.kit.wire import Closed
from conformance.suite.harness import Chat
from conformance.suite.verdicts import Verdict, Violation
from protocol import Profile, requirements_by_id


@dataclass(frozen=True)
class Options:
    spec: TargetSpec
    profile: Profile = "full"
    fresh: bool = False
    transcripts: Path = Path("jsonchat-transcripts")
    reply_timeout: float | None = None  # overrides the measured one
    slow: bool = False
    stop_signal: int = STOP_SIGNAL  # the first signal that stops a cmd: target, SHUTDOWN-1's
    more: tuple[TargetSpec, ...] = ()  # the other nodes of a cluster, after `spec`

    @property
    def specs(self) -> tuple[TargetSpec, ...]:
        return (self.spec, *self.more)

    @property
    def target_text(self) -> str:
        """The targets as the command line gave them, each quoted for a shell."""
        return cluster.command_line([spec.text for spec in self.specs])


SERVE_RULE = "DISCONNECT-7"  # a server goes on serving everyone else, whatever one client does
# After a stage: poll the target's threads every WATCH_POLL_S until they have all been blocked
# for WATCH_QUIET_S (it handled our closes), for at most WATCH_MAX_S (a server busy elsewhere);
# without /proc, wait WATCH_RTTS round trips, at most WATCH_FALLBACK_S.
WATCH_POLL_S, WATCH_QUIET_S, WATCH_MAX_S = 0.001, 0.003, 0.5
WATCH_RTTS, WATCH_FALLBACK_S = 10, 0.1
TAIL_RECORDS = 6  # of a transcript, shown when the target died
DYING_S = 1.0  # how long a target whose port closed gets to exit before it is called alive


@dataclass
class Death:
    """The target stopped working: how, what it printed last, and when that was noticed."""

    what: str  # "'python3 server.py ...' ended (exit 1)", "stopped accepting connections"
    output: str = ""
    noticed: float = field(default_factory=time.monotonic)
    blamed: bool = False  # its DISCONNECT-7 row is written
    target: int = 0  # which of the run's targets died (an index of `Run.targets`)

    @property
    def last_words(self) -> str:
        """The last line it printed (a Python traceback's exception), for one-line reports."""
        lines = [line for line in self.output.splitlines() if line.strip()]
        return f", last printing {lines[-1].strip()!r}" if lines else ""


@dataclass
class CaseResult:
    nodeid: str
    rules: tuple[str, ...]
    verdict: Verdict
    duration: float
    reason: str = ""
    broken: str = ""  # the rule a Violation named (the first cited one for a crash)
    transcript: str = ""
    stage: str = ""  # "" for the case itself; "after the case" once its clients had closed
    server_output: str = ""  # the last lines a dead target printed
    last_bytes: str = ""  # the end of the transcript when it died
    not_run: bool = False  # skipped because the target could no longer be reached
    placement: dict[str, int] = field(default_factory=dict)  # client: target number, if several

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "requirements": list(self.rules),
            "verdict": self.verdict,
            "broken": self.broken or None,
            "duration": round(self.duration, 4),
            "reason": self.reason,
            "transcript": self.transcript or None,
            "stage": self.stage or None,
            "server_output": self.server_output or None,
            "last_bytes": self.last_bytes or None,
            "not_run": self.not_run,
            **({"placement": self.placement} if self.placement else {}),
        }


@dataclass
class Run:
    options: Options
    targets: list[Target] = field(init=False)
    caps: Capabilities | None = None  # what every target can do (`cluster.common`)
    tokens: Tokens = field(default_factory=Tokens)
    results: list[CaseResult] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)
    stopped: str = ""  # why no more case can run: a tcp: target that stopped accepting
    death: Death | None = None  # of the current target process (or of a tcp: target)
    last_stage: str = "the start"

    def __post_init__(self) -> None:
        signum = self.options.stop_signal
        self.targets = [Target(spec, stop_signal=signum) for spec in self.options.specs]

    @property
    def several(self) -> bool:
        return len(self.targets) > 1

    def named(self, index: int) -> str:
        """`#2 ` for the second of several targets, to start a phrase; "" for a lone target."""
        return f"{cluster.name(index + 1)} " if self.several else ""

    # -- the probe ----------------------------------------------------------------------------

    def start(self) -> Capabilities:
        """Bring every target up and probe it; TargetError only if one never accepted a
        connection. The cases then rely only on what every target can do.

        A target that dies during the probe gets its verdict, is restarted and probed again one
        step at a time; what could not be learnt is assumed absent, and the cases say the rest.
        """
        for target in self.targets:
            target.ensure_up()
        caps = cluster.common([self._start(index) for index in range(len(self.targets))])
        if self.options.reply_timeout is not None:
            timing = Timing(caps.timing.rtt, self.options.reply_timeout)
            caps = dataclasses.replace(caps, timing=timing)
        self.caps = caps
        return caps

    def _start(self, index: int) -> Capabilities:
        """The probe of one target (of `targets[index]`)."""
        target = self.targets[index]
        try:
            first = target.take_held() or socket.create_connection(target.address, PROBE_TIMEOUT_S)
        except OSError as error:
            raise TargetError(
                f"cannot talk to {target.spec.text}: {error}{self._output_note(index)}"
            ) from error
        target.ever_accepted = True
        caps = self._probe(index, first)
        if caps is None and not self.stopped:
            caps = self._probe(index, None)
        if caps is None:
            timing = Timing.from_rtt(PROBE_TIMEOUT_S / 30)
            note = "the probe learnt nothing: the target closed or dropped its connections"
            caps = Capabilities(False, False, False, timing, (note,))
        return caps

    def _probe(self, index: int, first: socket.socket | None) -> Capabilities | None:
        """The pipelined probe on `first`, or the careful one; None if the target broke it."""
        transcript = Transcript()
        stage = "probe" if first is not None else "careful probe"
        stage = f"{stage} of {cluster.name(index + 1)}" if self.several else stage
        address = self.targets[index].address
        caps: Capabilities | None = None
        try:
            if first is not None:
                caps = probe(address, self.tokens, first, transcript)
            else:
                caps = careful_probe(address, self.tokens, transcript)
        except (Closed, OSError) as error:
            self._check_accepting(error)
        self.last_stage = stage
        death = self.watch(caps)
        if death is None:
            return caps
        rules = ("FRAME-4",) if first is not None and self.options.profile == "full" else ()
        if rules and caps is None:
            self._record_row(
                CaseResult(
                    stage,
                    rules,
                    "fail",
                    0.0,
                    f"the target {death.what} when a connect and a message arrived in one go",
                    rules[0],
                    server_output=death.output,
                    last_bytes=transcript_tail(transcript),
                ),
                transcript,
            )
        self.blame_death(stage, transcript, "")
        self._revive(stage)
        return caps

    # -- around each case ---------------------------------------------------------------------

    def before_case(self, nodeid: str) -> None:
        """Restart the target if a case stopped it, or if it died since the last stage (which is
        then blamed: it died after that stage's clients closed). Skips a case that cannot run."""
        if self.stopped:
            pytest.skip(f"not run: {self.stopped}")
        for index, target in enumerate(self.targets):
            process = target.process
            if process is not None and (process.stopped_on_purpose or self.options.fresh):
                target.restart()  # a case stopped it, and it may still be shutting down
                if self.death is not None and self.death.target == index:
                    self.death = None
        while self.notice(0.0) is not None:  # each dead target in turn (one death at a time)
            self.blame_death(self.last_stage, None, "after it")
            self._revive(self.last_stage)
            if self.stopped:
                pytest.skip(f"not run: {self.stopped}")
        for target in self.targets:
            target.ensure_up()

    def after_case(self, nodeid: str, chat: Chat | None) -> None:
        """Once a case's clients are closed: watch the target a moment, blame a death on it."""
        self.last_stage = nodeid
        if self.watch(self.caps) is not None:
            placement = chat.spreader.placement if chat else None
            self.blame_death(nodeid, chat.transcript if chat else None, "after the case", placement)

    def chat(self, rules: tuple[str, ...]) -> Chat:
        assert self.caps is not None
        chat = Chat(
            self.targets,
            self.caps,
            self.tokens,
            rules,
            slow=self.options.slow,
            profile=self.options.profile,  # what a case may skip for depends on it
        )
        chat.stop_signal = self.options.stop_signal
        return chat

    def finish(self) -> None:
        for target in self.targets:
            target.retire()

    # -- deaths -------------------------------------------------------------------------------

    def notice(self, wait: float) -> Death | None:
        """The target's death, if it died (waiting up to `wait` seconds for one): a command that
        exited, or a command whose port no longer listens; for `tcp:`, what a case saw."""
        if self.death is not None:
            return self.death
        for index, target in enumerate(self.targets):
            process = target.process
            if process is None or process.stopped_on_purpose:
                continue
            if wait > 0 and process.alive():
                process.wait_exit(wait)
            if not process.alive():
                what = f"{self.named(index)}{process.describe_exit()}"
                self.death = Death(what, process.last_output(), target=index)
                break
        return self.death

    def blame_death(
        self,
        stage: str,
        transcript: Transcript | None,
        when: str,
        placement: dict[str, int] | None = None,
    ) -> None:
        """The DISCONNECT-7 row of the current death (once), for `stage`; `placement` is that
        of the case's clients, when `transcript` is a case's."""
        death = self.death
        if death is None or death.blamed:
            return
        death.blamed = True
        transcript = transcript or Transcript()
        reason = f"the target {death.what}{death.last_words}; {last_event(transcript)}"
        row = CaseResult(
            stage,
            (SERVE_RULE,),
            "fail",
            0.0,
            reason,
            SERVE_RULE,
            stage=when,
            server_output=death.output,
            last_bytes=transcript_tail(transcript),
        )
        self._record_row(row, transcript, placement)

    def _record_row(
        self, row: CaseResult, transcript: Transcript, placement: dict[str, int] | None = None
    ) -> None:
        if self.several and placement:
            row.placement = dict(placement)
        if transcript.records:
            row.transcript = str(self._write(row, transcript, suffix=f"-{row.broken}"))
        self.results.append(row)

    def _revive(self, stage: str) -> None:
        """Restart a dead command target; a tcp: one cannot be: no case can run after it."""
        death = self.death
        if death is None:
            return
        target = self.targets[death.target]
        if not target.spec.owns_process:
            self.stopped = f"the target {death.what}"
            return
        try:
            target.restart()
        except TargetError as error:
            self.stopped = f"the target {death.what} after {stage}; restarting it failed: {error}"
            return
        self.restarts.append(f"after {stage}: {death.what}; restarted")
        self.death = None

    def watch(self, caps: Capabilities | None) -> Death | None:
        """After a stage closed its clients: wait until the target has handled that, or died.

        Nothing on the wire says a server has handled a close, but its process does: once every
        thread of it is blocked again (in select(), epoll_wait(), accept()) it has done all it
        had to, and a healthy server is let go after a few milliseconds. A crashing one runs
        until it exits. Without /proc, a fixed wait of a few round trips stands in.
        """
        if self.death is not None:
            return self.death
        for target in self.targets:
            process = target.process
            if process is None or process.stopped_on_purpose:
                continue
            idle = process.wait_idle(WATCH_MAX_S, WATCH_QUIET_S, WATCH_POLL_S)
            if idle is None:
                rtt = caps.timing.rtt if caps is not None else WATCH_FALLBACK_S / WATCH_RTTS
                process.wait_exit(min(max(WATCH_RTTS * rtt, WATCH_POLL_S), WATCH_FALLBACK_S))
        return self.notice(0.0)

    def last_output(self) -> str:
        """What the living `cmd:` targets printed last, each under its name if there are
        several (for a case that failed without a death)."""
        parts = []
        for index, target in enumerate(self.targets):
            process = target.process
            output = process.last_output() if process is not None else ""
            if output and self.several:
                output = f"{cluster.name(index + 1)} {target.spec.text}:\n{output}"
            parts.append(output)
        return "\n".join(part for part in parts if part)

    def _output_note(self, index: int = 0) -> str:
        process = self.targets[index].process
        if process is None:
            return ""
        state = "it still runs" if process.alive() else process.describe_exit()
        return f"; {state}{process.output_note()}"

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
            self._check_accepting(error)
        else:
            verdict, broken = "error", ""
            reason = f"the suite itself failed: {type(error).__name__}: {error}"
        note = self.death_note(waited=verdict in ("fail", "error"))
        if note:
            if verdict in ("pass", "skipped", "non-strict", "informational"):
                verdict, broken = "fail", broken or primary
            elif isinstance(error, Violation) and error.cause in CLOSED_CAUSES:
                # The connection closed because the target died: what the case waited for is
                # not what broke, so the case is charged as any case the target died in.
                verdict, broken = "fail", primary
            reason = f"{note} (what the case saw: {reason})" if reason else note
        return verdict, broken, reason

    def _check_accepting(self, error: BaseException) -> None:
        """A refused connection means the target stopped accepting (or is dying); for `tcp:`,
        whose process the suite cannot watch, a connection closed under a case is followed by a
        check. (Not /proc/net/tcp before every case: on a busy host it takes 80 ms to read.)"""
        if self.death is not None or isinstance(error, TimeoutError):
            return
        refused = isinstance(error, ConnectionRefusedError)
        for index, target in enumerate(self.targets):
            process = target.process
            named = self.named(index)
            if process is not None:
                # Of several, the one that refused is the one whose port no longer listens.
                suspect = not self.several or process.listening() is not True
                if refused and suspect and process.alive():
                    process.wait_exit(DYING_S)  # a dying process closes its port, then exits
                    if process.alive():
                        what = (
                            f"{named}stopped accepting connections after {self.last_stage}; "
                            "it still runs"
                        )
                        self.death = Death(what, process.last_output(), target=index)
                        return
            elif (refused and not self.several) or not target.still_accepts():
                what = f"{named}stopped accepting connections after {self.last_stage}"
                self.death = Death(what, target=index)
                return

    def death_note(self, waited: bool) -> str:
        """Why the target is gone, if it died during the case. A crash takes a moment, and a
        case that saw its connection closed may end (skipped, say) before the process exits: the
        target is watched until it is idle again or dead, for failures and passes alike."""
        death = self.watch(self.caps)
        if death is None or death.blamed:  # none, or an earlier stage's (a tcp: target's)
            return ""
        return f"the target died during this case: {death.what}{death.last_words}"

    def after_call(self, result: CaseResult, chat: Chat | None) -> None:
        """A death during the case: its DISCONNECT-7 row, the output on the case's own row, and
        a restart (or, for tcp:, the end of the run)."""
        death = self.death
        if death is None or death.blamed:
            return
        transcript = chat.transcript if chat is not None else Transcript()
        result.server_output = death.output
        result.last_bytes = transcript_tail(transcript)
        if result.broken == SERVE_RULE:
            death.blamed = True
        else:
            placement = chat.spreader.placement if chat is not None else None
            self.blame_death(result.nodeid, transcript, "", placement)
        self._revive(result.nodeid)

    def record(self, result: CaseResult, chat: Chat | None) -> None:
        if chat is not None and self.several:
            result.placement = dict(chat.spreader.placement)
        if chat is not None and result.verdict in ("fail", "non-strict", "error"):
            result.transcript = str(self.write_transcript(result, chat))
        self.results.append(result)

    def write_transcript(self, result: CaseResult, chat: Chat) -> Path:
        return self._write(result, chat.transcript)

    def _write(self, result: CaseResult, transcript: Transcript, suffix: str = "") -> Path:
        folder = self.options.transcripts
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", result.nodeid.split("::", 1)[-1]).strip("_")
        path = folder / f"{name[:150]}{suffix}.jsonl"
        header: dict[str, Any] = {
            "case": result.nodeid,
            "requirements": list(result.rules),
            "verdict": result.verdict,
            "reason": result.reason,
            "target": self.options.spec.text,
            "profile": self.options.profile,
            "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if self.several:  # which client was on which target, for a replay on as many
            header["targets"] = [spec.text for spec in self.options.specs]
            header["placement"] = dict(result.placement)
        transcript.write(path, header)
        return path

    def replay_command(self, path: str) -> str:
        return f"jsonchat replay {shlex.quote(path)} {self.options.target_text}"


def last_event(transcript: Transcript) -> str:
    """What the clients did last before the target died, in words: the blame of a death."""
    mine = [r for r in transcript.records if r.event in ("open", "send", "close", "reset")]
    if not mine:
        return "no client of this stage had done anything yet"
    last = mine[-1]
    ago = (time.monotonic() - transcript.start - last.t) * 1000
    when = f"{ago:.0f} ms before the death was noticed"
    if last.event in ("close", "reset"):
        said = any(r.client == last.client and r.event == "send" for r in mine)
        how = "closed" if last.event == "close" else "reset"
        early = "" if said else " before sending anything"
        return f"after {last.client} {how} its connection without `disconnect`{early} ({when})"
    if last.event == "open":
        return f"after {last.client} opened a connection ({when})"
    burst = 0  # its sends since it last heard from the server: frames that arrived together
    for record in reversed(transcript.records):
        if record.client == last.client and record.event == "recv":
            break
        if record.client == last.client and record.event == "send":
            burst += max(record.data.count(b"\n"), 1)
    what = show_bytes(last.data)
    if burst > 1:
        what = f"{burst} frames without waiting for an answer, the last {what}"
    return f"after {last.client} sent {what} ({when})"


def show_bytes(data: bytes, limit: int = 80) -> str:
    text = repr(data[:limit])
    return text + ("..." if len(data) > limit else "")


def transcript_tail(transcript: Transcript, count: int = TAIL_RECORDS) -> str:
    """The last records of a transcript, one a line: `client > bytes`, `client < bytes`, ..."""
    lines = []
    for record in transcript.records[-count:]:
        lines.append(_record_line(record))
    return "\n".join(lines)


def _record_line(record: Record) -> str:
    client = record.client if len(record.client) <= 24 else record.client[:23] + "…"
    arrow = {"send": ">", "recv": "<"}.get(record.event)
    if arrow:
        return f"{client} {arrow} {show_bytes(record.data)}"
    names = {"closed": "(closed by the server)", "close": "(closed by the client)"}
    return f"{client} {names.get(record.event, '(' + record.event + ')')}"


# Violation causes that are a closed connection: when the target died, the death is the cause.
CLOSED_CAUSES = frozenset({"closed", "coalesced", "hangup"})


def rule_text(rule: str) -> str:
    requirement = requirements_by_id().get(rule)
    if requirement is None:
        return rule
    return f"{rule} ({requirement.level}, {requirement.profile}) {requirement.text}"
