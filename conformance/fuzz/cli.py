"""`jsonchat fuzz TARGET`: fuzz a live server against the engine; exit 1 on a finding.

The exit statuses are those of `jsonchat conformance` and `jsonchat replay` (conformance/
exitcodes.py): a target that accepted connections and then misbehaved, died or went silent is a
finding (1), never "unreachable" (3), which is kept for a target that never accepted one.

Hypothesis is imported when the command runs, not when the parser is built, so that every other
`jsonchat` command starts without it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from conformance.kit.cluster import command_line, common, placement_text
from conformance.kit.exitcodes import TABLE, ExitStatus
from conformance.kit.target import TargetError, parse_target
from protocol import Profile, requirements

if TYPE_CHECKING:
    from conformance.fuzz.run import FuzzResult
    from conformance.kit.probe import Capabilities


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fuzz",
        help="compare a live server with the reference engine on generated sessions",
        description="Clients connect, post, leave and misbehave at random against TARGET while "
        "the reference engine predicts every packet; a difference shrinks to a short program "
        "and a transcript that `jsonchat replay` plays back. A target that dies is a finding, "
        f"and a cmd: target is restarted to shrink it. {TABLE[:1].upper()}{TABLE[1:]}.",
    )
    parser.add_argument(
        "target",
        nargs="+",
        help="tcp:HOST:PORT or cmd:'COMMAND {host} {port}'; several: the nodes of one cluster, "
        "over which each example's clients spread round-robin (one engine still predicts all)",
    )
    parser.add_argument(
        "--profile",
        choices=["core", "full"],
        default="full",
        help="core: compare only what every course server agrees on; full: all of v1",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to search (60)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed replays the same run")
    parser.add_argument("--clients", type=int, default=4, help="clients per example (4)")
    parser.add_argument(
        "--shrink-seconds", type=float, default=30.0, help="time allowed to shrink a finding (30)"
    )
    parser.add_argument(
        "--transcripts",
        type=Path,
        default=Path("jsonchat-transcripts"),
        help="where a finding's transcripts go",
    )
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="write the run and its finding as one self-contained HTML page",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from conformance.fuzz.lifeline import Lifeline, TargetGone
    from conformance.fuzz.run import fuzz, wait_limit

    try:
        first, *more = [parse_target(text) for text in args.target]
        lifeline = Lifeline(first, more=more)
    except TargetError as error:
        print(f"jsonchat fuzz: {error}", file=sys.stderr)
        return ExitStatus.USAGE
    try:
        try:
            lifeline.up()
        except (TargetError, TargetGone) as error:
            print(f"jsonchat fuzz: {error}", file=sys.stderr)
            return ExitStatus.UNREACHABLE
        caps = common([probe(node.address) for node in lifeline.nodes])
        print(
            f"fuzz: {' '.join(args.target)}  profile {args.profile}  "
            f"round trip {caps.timing.rtt * 1000:.2f} ms  timeout {wait_limit(caps):.2f} s  "
            f"seed {args.seed}\n{describe(caps)}",
            file=sys.stderr,
        )
        result = fuzz(
            lifeline,
            caps,
            args.seconds,
            args.seed,
            args.clients,
            args.transcripts,
            args.shrink_seconds,
            profile=args.profile,
        )
    finally:
        lifeline.close()
    print("\n".join(report(result, args.target, args.profile)))
    if args.html is not None:
        from conformance.fuzz.html import write_html

        shown = " ".join(args.target)
        write_html(result, shown, args.profile, caps, args.seed, args.html)
    if result.failure:
        return ExitStatus.FAILED
    return ExitStatus.OK if result.record.steps else ExitStatus.NOTHING_RAN


def probe(address: tuple[str, int]) -> Capabilities:
    """The suite's probe. A probe that the target broke (it closed or refused the connection)
    still lets the fuzz run, which then finds out why with a transcript to show for it."""
    from conformance.kit.messages import Tokens
    from conformance.kit.probe import Capabilities, Timing
    from conformance.kit.probe import probe as suite_probe
    from conformance.kit.wire import Closed

    try:
        return suite_probe(address, Tokens())
    except (Closed, OSError) as error:
        note = f"the probe failed: {error}"
        return Capabilities(
            echoes_self=False,
            answers_connect=False,
            sends_welcome=False,
            timing=Timing.from_rtt(0.0),
            notes=(note,),
        )


def describe(caps: Capabilities) -> str:
    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    line = (
        f"probe: welcome {yes(caps.sends_welcome)}, answers connect {yes(caps.answers_connect)}, "
        f"echoes a message to oneself {yes(caps.echoes_self)}"
    )
    return "\n".join([line, *(f"probe: {note}" for note in caps.notes)])


def report(result: FuzzResult, target: str | Sequence[str], profile: Profile = "full") -> list[str]:
    record = result.record
    lines = [
        f"{record.steps} steps in {result.seconds:.1f} s ({result.steps_per_second:.0f}/s), "
        f"{record.examples} examples"
    ]
    everything = [r for r in requirements() if r.in_profile(profile)]
    exercised = [r for r in everything if r.id in record.hits]  # in the spec's order
    lines.append(f"requirements of {profile} exercised ({len(exercised)} of {len(everything)}):")
    lines += [f"  {r.id:<14} {record.hits[r.id]:>7}  {r.text[:70]}" for r in exercised]
    ways = ", ".join(f"{how} {count}" for how, count in record.deliveries.most_common())
    lines.append(f"writes (steps): {ways}")
    failure = result.failure
    if result.restarts:
        lines.append(f"the target died and was restarted {result.restarts} times")
    if result.ended:
        lines.append(f"the search ended early: {result.ended}")
    if failure is None:
        lines.append("no finding")
        return lines
    first = record.first or failure
    lines.append(
        f"FINDING after {first.found_after:.1f} s; the shortest failing program seen "
        f"(at {failure.found_after:.1f} s):"
    )
    lines += [f"  {step}" for step in failure.program]
    if result.placement:
        lines.append(f"clients: {placement_text(result.placement)}")
    lines += [f"  {problem}" for problem in failure.finding.problems]
    lines.append(f"requirements involved: {', '.join(failure.finding.requirements)}")
    death = failure.finding.death
    if death is not None and death.output:
        lines.append("what the target printed last:")
        lines += [f"  {line}" for line in death.output]
    for path in result.transcripts:
        lines.append(f"replay: jsonchat replay {shlex.quote(str(path))} {command_line(target)}")
    if len(result.transcripts) > 1:
        lines.append(
            "(the -history transcript holds all the traffic up to the first failure, "
            "for bugs that need the target's earlier state: replay it on a fresh start)"
        )
    return lines
