"""The conformance run as one HTML page (`jsonchat conformance ... --html FILE`).

What the text report says, laid out to be read and shared: a summary (the target, the profile,
what the probe found, restarts and crashes, and each section's requirement verdicts as a bar);
then every case that broke a rule, with the rule quoted, what was expected and what came instead,
what the server printed last, the exchange drawn as a sequence diagram with the failing point
marked, and the replay command; then the table of requirements, filterable by verdict and section
(a small script; with scripts off every row shows).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from conformance.kit.cluster import placement_text
from conformance.kit.page import (
    VERDICT_COLOURS,
    badge,
    data_script,
    document,
    esc,
    probe_list,
    prose,
    targets_html,
)
from conformance.kit.sequence import Mark, sequence_svg
from conformance.kit.transcript import Transcript
from conformance.suite.report import (
    COUNTED,
    DEATHS_IN_FULL,
    PLACEMENTS_SHOWN,
    RequirementResult,
    by_requirement,
)
from conformance.suite.run import SERVE_RULE, CaseResult, Run
from protocol import requirements_by_id

__all__ = ["expected_and_got", "render", "write_html"]

DETAILED = 40  # failures shown in full; a server that dies after every case would bury the rest
PROBLEMS = ("error", "fail", "non-strict", "informational")


def write_html(run: Run, path: Path, printed: Mapping[str, str] | None = None) -> None:
    """`printed`: by case, what a target that did not die had printed when the case failed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(run, printed), "utf-8")


def section_of(rule: str) -> str:
    return rule.rsplit("-", 1)[0]


def expected_and_got(reason: str) -> tuple[str, str, str] | None:
    """(who, expected, what came instead) from a case's reason, when it says so in the harness's
    words (`@a: expected X, got Y`, `@a: nothing within 0.30 s; expected X`,
    `@a: closed ...; expected X`); None for other reasons (a death, the suite's own error)."""
    match = re.match(r"(?P<who>[^\s:]+): (?P<rest>.*)", reason, re.DOTALL)
    if match is None or reason.startswith("the target"):
        return None
    who, rest = match["who"], match["rest"]
    if rest.startswith("expected ") and ", got " in rest:
        expected, got = rest[len("expected ") :].split(", got ", 1)
        return who, expected, got
    if "; expected " in rest:
        got, expected = rest.split("; expected ", 1)
        return who, expected, got
    return None


def render(run: Run, printed: Mapping[str, str] | None = None) -> str:
    rows = by_requirement(run.results)
    problems = [r for r in run.results if r.verdict in PROBLEMS]
    body = _header(run, rows, problems) + "<main>" + _summary(run, rows)
    first_case: dict[str, int] = {}
    for number, result in enumerate(shown_in_full(problems)[:DETAILED]):
        first_case.setdefault(result.broken, number)
    body += (
        _failures(run, problems, printed or {})
        + _rule_table(rows, first_case)
        + _footer()
        + "</main>"
    )
    data = [{"id": r.id, "section": section_of(r.id), "verdict": r.verdict} for r in rows]
    return document(
        f"jsonchat conformance: {' '.join(spec.text for spec in run.options.specs)}",
        body + data_script("rules-data", data),
        FILTER_SCRIPT,
    )


def _header(run: Run, rows: list[RequirementResult], problems: list[CaseResult]) -> str:
    broken = [r for r in rows if r.verdict in ("fail", "error")]
    if broken:
        outcome = f'<span class="outcome bad">{len(broken)} requirement'
        outcome += f"{'s' if len(broken) != 1 else ''} broken</span>"
    elif problems:
        outcome = '<span class="outcome good">every MUST holds (with remarks below)</span>'
    else:
        outcome = '<span class="outcome good">every selected requirement holds</span>'
    caps = run.caps
    timing = (
        f"<span>rtt {caps.timing.rtt * 1000:.1f} ms, reply timeout {caps.timing.reply:.2f} s</span>"
        if caps
        else ""
    )
    return (
        '<header class="top"><h1>jsonchat conformance report</h1><div class="meta">'
        f"<span>{targets_html([spec.text for spec in run.options.specs])}</span>"
        f"<span>profile <b>{esc(run.options.profile)}</b></span>{timing}"
        f"<span>{esc(time.strftime('%Y-%m-%d %H:%M'))}</span></div>{outcome}</header>"
    )


def _summary(run: Run, rows: list[RequirementResult]) -> str:
    totals = Counter(r.verdict for r in run.results if not r.not_run)
    not_run = sum(r.not_run for r in run.results)
    tally = "".join(f"<li>{totals[v]} {esc(v)}</li>" for v in COUNTED if totals[v]) + (
        f"<li>{not_run} not run</li>" if not_run else ""
    )
    caps = run.caps
    probe = "<p class='muted'>the probe did not run</p>" if caps is None else probe_list(caps)
    deaths = [
        r for r in run.results if r.broken == SERVE_RULE and r.reason.startswith("the target")
    ]
    life = f"<div class='big'>{len(deaths)}</div><div>crash{'es' if len(deaths) != 1 else ''}"
    life += f", {len(run.restarts)} restart{'s' if len(run.restarts) != 1 else ''}</div>"
    if run.restarts:
        life += f"<div class='small'>first {esc(run.restarts[0])}</div>"
    if run.stopped:
        life += f"<div class='no'>stopped: {esc(run.stopped)}</div>"
    cards = (
        '<div class="cards">'
        f'<div class="card"><h3>cases</h3><div class="big">{len(run.results)}</div>'
        f"<ul>{tally}</ul></div>"
        f'<div class="card"><h3>requirements</h3><div class="big">{len(rows)}</div>'
        "<ul>"
        + "".join(
            f"<li>{n} {esc(v)}</li>"
            for v, n in sorted(
                Counter(r.verdict for r in rows).items(), key=lambda kv: COUNTED.index(kv[0])
            )
        )
        + "</ul></div>"
        f'<div class="card"><h3>the probe found</h3>{probe}</div>'
        f'<div class="card"><h3>the server process</h3>{life}</div></div>'
    )
    return "<h2>Summary</h2>" + cards + "<h2>Requirements by section</h2>" + _section_bars(rows)


def _section_bars(rows: list[RequirementResult]) -> str:
    sections: dict[str, Counter[str]] = {}
    for row in rows:
        sections.setdefault(section_of(row.id), Counter())[row.verdict] += 1
    lines = []
    for name, counts in sections.items():
        total = sum(counts.values())
        spans = "".join(
            f'<span class="v-{v}" style="width:{100 * counts[v] / total:.2f}%" '
            f'title="{counts[v]} {esc(v)}"></span>'
            for v in COUNTED
            if counts[v]
        )
        tally = ", ".join(f"{counts[v]} {v}" for v in COUNTED if counts[v])
        lines.append(
            f'<div class="secrow"><span class="name">{esc(name)}</span>'
            f'<div class="bar" role="img" aria-label="{esc(tally)}">{spans}</div>'
            f'<span class="tally">{esc(tally)}</span></div>'
        )
    legend = '<div class="legend">' + "".join(
        f'<span><i style="background:{colour}"></i>{esc(v)}</span>'
        for v, colour in VERDICT_COLOURS.items()
    )
    return f'<div class="sections">{"".join(lines)}{legend}</div></div>'


def _failures(run: Run, problems: list[CaseResult], printed: Mapping[str, str]) -> str:
    if not problems:
        return "<h2>What broke</h2><p class='muted'>Nothing: no case broke a rule.</p>"
    out = [f"<h2>What broke, and how to replay it ({len(problems)})</h2>"]
    deaths = 0
    for number, result in enumerate(shown_in_full(problems)[:DETAILED]):
        deaths += bool(result.server_output)
        out.append(
            _failure(run, result, number, printed.get(result.nodeid, ""), deaths <= DEATHS_IN_FULL)
        )
    rest = shown_in_full(problems)[DETAILED:] + repeated_deaths(problems)
    if rest:
        # As in the text report: a server that died after case after case (of their closes)
        # would bury the cases under the same traceback; the first is shown in full.
        items = "".join(
            f"<li><span class='mono'>{esc(r.nodeid)}</span>"
            + (f" <span class='muted'>({esc(r.stage)})</span>" if r.stage else "")
            + (f"<br><code>{esc(run.replay_command(r.transcript))}</code>" if r.transcript else "")
            + "</li>"
            for r in rest
        )
        rules = ", ".join(sorted({r.broken for r in rest if r.broken}))
        out.append(
            f"<details class='more'><summary>{esc(rules)} also failed in {len(rest)} more "
            f"cases, each with a transcript (all in --json)</summary><ul>{items}</ul></details>"
        )
    return "".join(out)


def shown_in_full(problems: list[CaseResult]) -> list[CaseResult]:
    """The failed cases, then the first death blamed after a case's clients had closed."""
    after = [r for r in problems if r.stage]
    return [r for r in problems if not r.stage] + after[:1]


def repeated_deaths(problems: list[CaseResult]) -> list[CaseResult]:
    return [r for r in problems if r.stage][1:]


def _failure(
    run: Run, result: CaseResult, number: int, printed: str, open_output: bool = True
) -> str:
    stage = f" <span class='muted'>({esc(result.stage)})</span>" if result.stage else ""
    rule = requirements_by_id().get(result.broken)
    head = (
        f'<section class="failure v-{esc(result.verdict)}-box" id="case-{number}">'
        f"<h3>{badge(result.verdict)} <span>{esc(result.broken or 'the suite')}</span></h3>"
        f'<div class="case mono">{esc(result.nodeid)}{stage}</div>'
    )
    if rule is not None:
        head += f"<blockquote><b>{esc(rule.id)}</b> ({esc(rule.level)}, {esc(rule.profile)}) "
        head += f"{prose(rule.text)}</blockquote>"
    parsed = expected_and_got(result.reason)
    if parsed is not None:
        who, expected, got = parsed
        head += (
            f'<div class="eg"><div class="exp"><b>expected <span>by {esc(who)}</span></b>'
            f'<span class="mono">{esc(expected)}</span></div>'
            f'<div class="got"><b>came instead</b><span class="mono">{esc(got)}</span></div></div>'
        )
    else:
        head += '<div class="eg"><div class="got" style="grid-column:1/-1"><b>what happened</b>'
        head += f"{esc(result.reason)}</div></div>"
    if result.placement:
        head += '<div class="label">which target each client was on</div>'
        head += f'<div class="mono">{esc(placement_text(result.placement, PLACEMENTS_SHOWN))}</div>'
    if result.server_output and open_output:
        head += '<div class="label">what the server printed last</div>'
        head += f"<pre>{esc(result.server_output)}</pre>"
    elif result.server_output:  # the same traceback again, most likely: folded
        head += "<details><summary class='label'>what the server printed last "
        head += "(folded: as above, most likely)"
        head += f"</summary><pre>{esc(result.server_output)}</pre></details>"
    elif printed:  # it lives: its output may say what it made of the case
        head += "<details><summary class='label'>what the server had printed by then</summary>"
        head += f"<pre>{esc(printed)}</pre></details>"
    head += _diagram(result, parsed[0] if parsed else None, number)
    if result.transcript:
        head += '<div class="label">replay it</div>'
        head += f"<pre>{esc(run.replay_command(result.transcript))}</pre>"
    return head + "</section>"


def _diagram(result: CaseResult, who: str | None, number: int) -> str:
    if not result.transcript:
        if result.last_bytes:
            return (
                '<div class="label">the last bytes of the transcript</div>'
                f"<pre>{esc(result.last_bytes)}</pre>"
            )
        return ""
    try:
        _, transcript = Transcript.read(Path(result.transcript))
    except (OSError, ValueError) as error:
        return f"<p class='muted'>transcript {esc(result.transcript)} unreadable: {esc(error)}</p>"
    if not transcript.records:
        return ""
    reason = result.reason.splitlines()[0] if result.reason else result.verdict
    records = transcript.records
    if result.placement:  # a cluster: each lane says its client's target
        lane = {label: f"{label} on #{n}" for label, n in result.placement.items()}
        records = [dataclasses.replace(r, client=lane.get(r.client, r.client)) for r in records]
        who = lane.get(who, who) if who is not None else None
    mark = Mark(f"{result.broken}: {reason}" if result.broken else reason, None, who)
    svg = sequence_svg(records, mark, title=result.nodeid, ident=f"c{number}-")
    return f'<div class="label">the exchange</div><div class="diagram">{svg}</div>'


def _rule_table(rows: list[RequirementResult], first_case: dict[str, int]) -> str:
    sections = sorted({section_of(r.id) for r in rows}, key=[section_of(r.id) for r in rows].index)
    verdicts = [v for v in COUNTED if any(r.verdict == v for r in rows)]
    filters = (
        '<div class="filters" id="filters" hidden>'
        + "".join(
            f'<label><input type="checkbox" name="verdict" value="{esc(v)}" checked> '
            f"{badge(v)}</label>"
            for v in verdicts
        )
        + '<label>section <select id="section"><option value="">all</option>'
        + "".join(f'<option value="{esc(s)}">{esc(s)}</option>' for s in sections)
        + "</select></label><span class='muted' id='shown'></span></div>"
    )
    body = "".join(
        f'<tr class="v-row-{esc(r.verdict)}" data-id="{esc(r.id)}">'
        f'<td class="id">{_rule_link(r.id, first_case)}</td><td>{esc(r.level)}</td>'
        f"<td>{badge(r.verdict)}</td><td>{prose(r.text)}</td>"
        f'<td class="cases">{esc(", ".join(f"{n} {v}" for v, n in r.counts.items()))}</td></tr>'
        for r in rows
    )
    return (
        "<h2>Every requirement the run checked</h2>"
        + filters
        + '<table class="rules"><thead><tr><th>rule</th><th>level</th><th>verdict</th>'
        "<th>what it says</th><th>cases</th></tr></thead>"
        f'<tbody id="rules">{body}</tbody></table>'
    )


def _rule_link(rule: str, first_case: dict[str, int]) -> str:
    """A failed rule's ID links to the first case that broke it."""
    if rule in first_case:
        return f'<a href="#case-{first_case[rule]}">{esc(rule)}</a>'
    return esc(rule)


def _footer() -> str:
    return (
        "<footer>Made by <code>jsonchat conformance --html</code>. The rules are quoted from "
        "PROTOCOL.md; a transcript replays with <code>jsonchat replay</code>.</footer>"
    )


# Filters the rule table by verdict and section; the data is the JSON block the page embeds.
FILTER_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("rules-data").textContent);
  var byId = {};
  data.forEach(function (r) { byId[r.id] = r; });
  var filters = document.getElementById("filters");
  var section = document.getElementById("section");
  var shown = document.getElementById("shown");
  var boxes = filters.querySelectorAll("input[name=verdict]");
  function apply() {
    var wanted = {};
    boxes.forEach(function (b) { wanted[b.value] = b.checked; });
    var count = 0;
    document.querySelectorAll("#rules tr").forEach(function (tr) {
      var r = byId[tr.getAttribute("data-id")];
      var ok = r && wanted[r.verdict] && (!section.value || section.value === r.section);
      tr.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + data.length + " shown";
  }
  boxes.forEach(function (b) { b.addEventListener("change", apply); });
  section.addEventListener("change", apply);
  filters.hidden = false;
  apply();
})();
""".strip()
