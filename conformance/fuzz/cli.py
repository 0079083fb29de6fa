"""`jsonchat fuzz TARGET`: fuzz a live server against the engine; exit 1 on a finding.

Hypothesis is imported when the command runs, not when the parser is built, so that every other
`jsonchat` command starts without it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from conformance.target import Target, TargetError, parse_target
from protocol import requirements

if TYPE_CHECKING:
    from conformance.fuzz.run import FuzzResult

EXIT_FINDING, EXIT_TARGET = 1, 3


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fuzz",
        help="compare a live server with the reference engine on generated sessions",
        description="Clients connect, post, leave and misbehave at random against TARGET while "
        "the reference engine predicts every packet; a difference shrinks to a short program "
        "and a transcript that `jsonchat replay` plays back. Exit status: 0 nothing found, "
        "1 a finding, 3 the target cannot be used.",
    )
    parser.add_argument("target", help="tcp:HOST:PORT or cmd:'COMMAND {host} {port}'")
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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from conformance.fuzz.probe import TargetUnusable, probe
    from conformance.fuzz.run import fuzz

    try:
        target = Target(parse_target(args.target))
        target.ensure_up()
    except TargetError as error:
        print(f"jsonchat fuzz: {error}", file=sys.stderr)
        return EXIT_TARGET
    try:
        found = probe(target.address)
        print(
            f"fuzz: {args.target}  round trip {found.rtt * 1000:.2f} ms  "
            f"timeout {found.timeout:.2f} s  seed {args.seed}",
            file=sys.stderr,
        )
        result = fuzz(
            found, args.seconds, args.seed, args.clients, args.transcripts, args.shrink_seconds
        )
    except TargetUnusable as error:
        print(f"jsonchat fuzz: {error}", file=sys.stderr)
        return EXIT_TARGET
    finally:
        target.retire()
    print("\n".join(report(result, args.target)))
    return EXIT_FINDING if result.failure else 0


def report(result: FuzzResult, target: str) -> list[str]:
    record = result.record
    lines = [
        f"{record.steps} steps in {result.seconds:.1f} s ({result.steps_per_second:.0f}/s), "
        f"{record.examples} examples"
    ]
    everything = requirements()
    exercised = [r for r in everything if r.id in record.hits]  # in the spec's order
    lines.append(f"requirements exercised ({len(exercised)} of {len(everything)}):")
    lines += [f"  {r.id:<14} {record.hits[r.id]:>7}  {r.text[:70]}" for r in exercised]
    ways = ", ".join(f"{how} {count}" for how, count in record.deliveries.most_common())
    lines.append(f"writes (steps): {ways}")
    failure = result.failure
    if failure is None:
        lines.append("no finding")
        return lines
    lines.append(f"FINDING after {failure.found_after:.1f} s; the shortest failing program seen:")
    lines += [f"  state.{step}" for step in failure.program]
    lines += [f"  {problem}" for problem in failure.finding.problems]
    lines.append(f"requirements involved: {', '.join(failure.finding.requirements)}")
    for path in result.transcripts:
        lines.append(f"replay: jsonchat replay {shlex.quote(str(path))} {shlex.quote(target)}")
    if len(result.transcripts) > 1:
        lines.append(
            "(the -history transcript holds all the traffic up to the first failure, "
            "for bugs that need the target's earlier state: replay it on a fresh start)"
        )
    return lines
