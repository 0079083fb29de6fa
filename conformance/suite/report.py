"""What a run tells a server author: per requirement, per case, and as JSON for tools.

A requirement's verdict is the worst of its cases' (`verdicts.rule_verdict`): it passes only when
every case citing it ran and passed; one skipped, or ended by another rule first, makes it
`skipped`, and one that broke it makes it fail (or non-strict, informational).

Against several targets (a cluster) the report numbers them (`#1`, `#2`) and says, for every
case that broke a rule, which target each of its clients was on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from conformance.kit.cluster import placement_text, targets_text
from conformance.suite.run import CaseResult, Run, rule_text
from conformance.suite.verdicts import Verdict, rule_verdict, skip_tag
from protocol import requirements

COUNTED: tuple[Verdict, ...] = get_args(Verdict)  # in the order the summary shows them
RESTARTS_SHOWN = 3
PLACEMENTS_SHOWN = 12  # clients of a failed case whose target is named in the text report
DEATHS_IN_FULL = 2  # a server that dies after every case would bury the report in tracebacks


@dataclass(frozen=True)
class RequirementResult:
    id: str
    level: str
    profile: str
    text: str
    verdict: Verdict
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "profile": self.profile,
            "text": self.text,
            "verdict": self.verdict,
            "cases": self.counts,
        }


def by_requirement(results: Iterable[CaseResult]) -> list[RequirementResult]:
    """Every server requirement some case cited, in spec order."""
    results = list(results)
    out: list[RequirementResult] = []
    for rule in requirements():
        # A case may break a rule it does not cite (a refused connect breaks CONNECT-1).
        citing = [r for r in results if rule.id in r.rules or r.broken == rule.id]
        if not citing:
            continue
        verdict = rule_verdict(rule.id, ((r.verdict, r.broken) for r in citing))
        counts = Counter(r.verdict for r in citing)
        out.append(
            RequirementResult(
                rule.id,
                rule.level,
                rule.profile,
                rule.text,
                verdict,
                {v: counts[v] for v in COUNTED if counts[v]},
            )
        )
    return out


def summary_lines(run: Run, verbose: bool) -> list[str]:
    lines: list[str] = []
    caps = run.caps
    if caps is not None:
        targets = targets_text([spec.text for spec in run.options.specs])
        lines.append(
            f"{targets}  profile {run.options.profile}  "
            f"rtt {caps.timing.rtt * 1000:.1f} ms  reply timeout {caps.timing.reply:.2f} s"
        )
        if run.several:
            lines.append("each case's clients spread over the targets round-robin")
        lines.append(
            f"probe: welcome {_yes(caps.sends_welcome)}, answers connect "
            f"{_yes(caps.answers_connect)}, echoes a message to oneself {_yes(caps.echoes_self)}"
        )
        lines.extend(f"probe: {note}" for note in caps.notes)
    lines.append("")
    lines.append(f"{'requirement':<14}{'level':<8}{'verdict':<15}cases")
    for req in by_requirement(run.results):
        counts = ", ".join(f"{n} {v}" for v, n in req.counts.items())
        lines.append(f"{req.id:<14}{req.level:<8}{req.verdict.upper():<15}{counts}")
    if verbose:
        lines.append("")
        for result in run.results:
            lines.append(f"{result.verdict.upper():<14}{result.nodeid} [{', '.join(result.rules)}]")
            if result.reason:
                lines.append(f"{'':<14}{result.reason}")
    problems = [r for r in run.results if r.verdict not in ("pass", "skipped")]
    # The cases first; a target that died after case after case (of their closes) would bury
    # them: the first such death is shown in full, the others in one paragraph.
    after = [r for r in problems if r.stage]
    problems = [r for r in problems if not r.stage] + after[:1]
    if problems:
        lines.append("")
        lines.append("what broke, and how to replay it:")
    deaths = 0
    for result in problems:
        stage = f" ({result.stage})" if result.stage else ""
        lines.append(f"{result.verdict.upper()} {result.nodeid}{stage}")
        if result.broken:
            lines.append(f"  {rule_text(result.broken)}")
        lines.append(f"  {result.reason.splitlines()[0] if result.reason else ''}".rstrip())
        if result.placement:
            lines.append(f"  clients: {placement_text(result.placement, PLACEMENTS_SHOWN)}")
        died = bool(result.server_output or result.last_bytes)
        deaths += died
        if died and deaths > DEATHS_IN_FULL:
            lines.append("  (what the server printed and the last bytes: as above; all in --json)")
        else:
            if result.server_output:
                lines.append("  what the server printed last:")
                lines.extend(f"    {line}" for line in result.server_output.splitlines())
            if result.last_bytes:
                lines.append("  the last bytes of the transcript:")
                lines.extend(f"    {line}" for line in result.last_bytes.splitlines())
        if result.transcript:
            lines.append(f"  replay: {run.replay_command(result.transcript)}")
    if len(after) > 1:
        rules = sorted({r.broken for r in after[1:]})
        lines.append(
            f"FAIL {', '.join(rules)} also after {len(after) - 1} more cases, each time their "
            "clients had closed (each has a transcript; all in --json):"
        )
        lines.extend(f"  {r.nodeid}" for r in after[1:])
    lines.extend(f"note: {restart}" for restart in run.restarts[:RESTARTS_SHOWN])
    if len(run.restarts) > RESTARTS_SHOWN:
        more = len(run.restarts) - RESTARTS_SHOWN
        lines.append(f"note: and {more} more restarts, each after it died again (all in --json)")
    not_run = [r for r in run.results if r.not_run]
    if run.stopped:
        lines.append(f"note: {len(not_run)} cases not run: {run.stopped}")
    totals = Counter(r.verdict for r in run.results if not r.not_run)
    lines.append("")
    tally = [f"{totals[v]} {v}" for v in COUNTED if totals[v]]
    tally += [f"{len(not_run)} not run"] if not_run else []
    lines.append("cases: " + ", ".join(tally))
    lines.extend(skip_lines(run.results))
    return lines


def skip_lines(results: Iterable[CaseResult]) -> list[str]:
    """Why cases were skipped, by the `verdicts.Skip` reason (each a capability the profile
    lets a target lack, or a choice of the run): a skip is never silent."""
    tags = Counter(skip_tag(r.reason) for r in results if r.verdict == "skipped")
    if not tags:
        return []
    return ["skipped: " + ", ".join(f"{n} {tag}" for tag, n in sorted(tags.items()))]


def write_json(run: Run, path: Path) -> None:
    caps = run.caps
    document = {
        "target": run.options.spec.text,
        "targets": [spec.text for spec in run.options.specs],
        "profile": run.options.profile,
        "timing": None
        if caps is None
        else {"rtt_s": round(caps.timing.rtt, 6), "reply_timeout_s": caps.timing.reply},
        "capabilities": None
        if caps is None
        else {
            "sends_welcome": caps.sends_welcome,
            "answers_connect": caps.answers_connect,
            "echoes_self": caps.echoes_self,
        },
        "cases": [r.to_json() for r in run.results],
        "requirements": {r.id: r.to_json() for r in by_requirement(run.results)},
        "restarts": run.restarts,
        "stopped": run.stopped or None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
