"""A fuzz run as one HTML page (`jsonchat fuzz ... --html FILE`): above all, its finding.

The page the conformance report makes, for the fuzzer: what the run did (the target, profile,
probe, steps, examples, restarts, the requirements it exercised), and for a finding, the shortest
failing program, what differed from the engine, the requirements involved (quoted), what the
server printed last, the exchange as a sequence diagram with the failing point marked, and the
replay commands.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from conformance.fuzz.run import FuzzResult
from conformance.kit.cluster import command_line, placement_text
from conformance.kit.page import badge, document, esc, probe_list, prose, targets_html
from conformance.kit.probe import Capabilities
from conformance.kit.sequence import Mark, sequence_svg
from protocol import Profile, requirements, requirements_by_id

__all__ = ["render", "write_html"]


def write_html(
    result: FuzzResult, target: str, profile: Profile, caps: Capabilities, seed: int, path: Path
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, target, profile, caps, seed), "utf-8")


def render(result: FuzzResult, target: str, profile: Profile, caps: Capabilities, seed: int) -> str:
    record = result.record
    failure = result.failure
    outcome = (
        '<span class="outcome bad">a finding</span>'
        if failure
        else '<span class="outcome good">no finding</span>'
    )
    header = (
        '<header class="top"><h1>jsonchat fuzz report</h1><div class="meta">'
        f"<span>{targets_html(result.targets)}</span>"
        f"<span>profile <b>{esc(profile)}</b></span><span>seed {seed}</span>"
        f"<span>{esc(time.strftime('%Y-%m-%d %H:%M'))}</span></div>{outcome}</header>"
    )
    everything = [r for r in requirements() if r.in_profile(profile)]
    exercised = [r for r in everything if r.id in record.hits]
    probe = probe_list(caps)
    ended = f"<div class='no'>ended early: {esc(result.ended)}</div>" if result.ended else ""
    cards = (
        "<h2>Summary</h2><div class='cards'>"
        f"<div class='card'><h3>steps</h3><div class='big'>{record.steps}</div>"
        f"<div>in {result.seconds:.1f} s ({result.steps_per_second:.0f}/s), "
        f"{record.examples} examples</div></div>"
        f"<div class='card'><h3>requirements exercised</h3><div class='big'>{len(exercised)}"
        f"</div><div>of {len(everything)} in {esc(profile)}</div></div>"
        f"<div class='card'><h3>the probe found</h3>{probe}</div>"
        f"<div class='card'><h3>the server process</h3><div class='big'>{result.restarts}</div>"
        f"<div>restart{'s' if result.restarts != 1 else ''} after it died</div>{ended}</div>"
        "</div>"
    )
    body = header + "<main>" + cards + _finding(result, target)
    rows = "".join(
        f"<tr><td class='id'>{esc(r.id)}</td><td>{esc(r.level)}</td>"
        f"<td class='cases'>{record.hits[r.id]}</td><td>{prose(r.text)}</td></tr>"
        for r in exercised
    )
    body += (
        "<h2>Requirements exercised</h2><table class='rules'><thead><tr><th>rule</th>"
        "<th>level</th><th>steps</th><th>what it says</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        "<footer>Made by <code>jsonchat fuzz --html</code>. The rules are quoted from "
        "PROTOCOL.md; a transcript replays with <code>jsonchat replay</code>.</footer></main>"
    )
    return document(f"jsonchat fuzz: {target}", body)


def _finding(result: FuzzResult, target: str) -> str:
    failure = result.failure
    if failure is None:
        return "<h2>Finding</h2><p class='muted'>None: the target agreed with the engine.</p>"
    first = result.record.first or failure
    finding = failure.finding
    out = [
        "<h2>The finding</h2><section class='failure'>",
        f"<h3>{badge('fail')} <span>{esc(', '.join(finding.requirements))}</span></h3>",
        f"<div class='case'>found after {first.found_after:.1f} s; the shortest failing "
        f"program seen was at {failure.found_after:.1f} s</div>",
    ]
    known = requirements_by_id()
    for rule in finding.requirements:
        if rule in known:
            req = known[rule]
            out.append(
                f"<blockquote><b>{esc(req.id)}</b> ({esc(req.level)}, {esc(req.profile)}) "
                f"{prose(req.text)}</blockquote>"
            )
    out.append(
        "<div class='eg'><div class='got' style='grid-column:1/-1'><b>what differed from the "
        "engine</b>"
        + "".join(f"<div class='mono'>{esc(problem)}</div>" for problem in finding.problems)
        + "</div></div>"
    )
    out.append("<div class='label'>the program</div>")
    out.append(f"<pre>{esc(chr(10).join(failure.program))}</pre>")
    spread = result.placement
    if spread:
        said = placement_text(spread)
        out.append("<div class='label'>which target each client was on</div>")
        out.append(f"<div class='mono'>{esc(said)}</div>")
    death = finding.death
    if death is not None and death.output:
        out.append("<div class='label'>what the server printed last</div>")
        out.append(f"<pre>{esc(chr(10).join(death.output))}</pre>")
    records = failure.transcript.records
    if records:
        clients = {r.client for r in records}
        who = next(
            (p.split(":", 1)[0] for p in finding.problems if p.split(":", 1)[0] in clients), None
        )
        mark = Mark(finding.problems[0] if finding.problems else "the finding", None, who)
        svg = sequence_svg(records, mark, title="the shortest failing example", ident="f-")
        out.append(f"<div class='label'>the exchange</div><div class='diagram'>{svg}</div>")
    if result.transcripts:
        out.append("<div class='label'>replay it</div>")
        commands = [
            f"jsonchat replay {shlex.quote(str(path))} {command_line(result.targets)}"
            for path in result.transcripts
        ]
        out.append(f"<pre>{esc(chr(10).join(commands))}</pre>")
    out.append("</section>")
    return "".join(out)
