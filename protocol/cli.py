"""`jsonchat spec ...`: print or refresh what is generated from the protocol data.

The protocol package's one command; `jsonchat` finds `spec` through its entry point
(protocol/commands.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from protocol import LEVELS, PROFILES, requirements


def spec(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `jsonchat spec` and its own subcommands."""
    parser = subparsers.add_parser("spec", help="the protocol as data: diagram, AsyncAPI, rules")
    sub = parser.add_subparsers(dest="spec_command", required=True)
    diagram = sub.add_parser("diagram", help="print the session state machine as a Mermaid diagram")
    diagram.add_argument(
        "--svg", action="store_true", help="as an SVG picture instead, for readers without Mermaid"
    )
    sub.add_parser("asyncapi", help="print an AsyncAPI 3.0 document built from the schemas")
    render = sub.add_parser("render", help="rewrite the generated blocks of PROTOCOL.md")
    render.add_argument("--check", action="store_true", help="exit 1 if PROTOCOL.md is stale")
    rules = sub.add_parser("rules", help="list the requirements")
    rules.add_argument("--profile", choices=PROFILES, default="full")
    rules.add_argument("--level", choices=LEVELS)
    where = sub.add_parser(
        "where",
        help="where a rule is defined, enforced and tested",
        description="Print a rule's text, the protocol data that defines it, the engine and "
        "transport lines that enforce it (a `# ID` comment), and the conformance cases and "
        "repository tests that cite it.",
    )
    where.add_argument("ids", nargs="*", metavar="ID", help="rule IDs, e.g. ROUTE-3")
    where.add_argument("--all", action="store_true", help="every rule, in spec order")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.spec_command == "diagram" and args.svg:
        from protocol.svg import state_svg

        sys.stdout.write(state_svg())
    elif args.spec_command == "diagram":
        from protocol.statemachine import mermaid

        sys.stdout.write(mermaid())
    elif args.spec_command == "asyncapi":
        from protocol.asyncapi import document

        print(json.dumps(document(), indent=2, ensure_ascii=False))
    elif args.spec_command == "render":
        from protocol import render

        if args.check:
            if not render.is_current():
                print(f"{render.SPEC_PATH} is stale: run `jsonchat spec render`", file=sys.stderr)
                return 1
            return 0
        changed = render.write()
        print(f"{render.SPEC_PATH}: {'updated' if changed else 'already current'}")
    elif args.spec_command == "where":
        return run_where(args.ids, args.all)
    elif args.spec_command == "rules":
        for r in requirements():
            if r.in_profile(args.profile) and args.level in (None, r.level):
                print(f"{r.id:<14} {r.level:<6} {r.profile:<4} {r.text}")
    return 0


def run_where(ids: list[str], every: bool) -> int:
    """Print where each rule is; exit 2 (usage) on an unknown ID, with the closest known one."""
    from protocol.where import UnknownRule, report, where

    if every == bool(ids):
        print("jsonchat spec where: give rule IDs or --all", file=sys.stderr)
        return 2
    chosen = [r.id for r in requirements()] if every else ids
    try:
        found = [where(rule) for rule in chosen]
    except UnknownRule as unknown:
        hint = f"; did you mean {unknown.suggestion}?" if unknown.suggestion else ""
        print(f"jsonchat spec where: no rule {unknown.rule}{hint}", file=sys.stderr)
        return 2
    print("\n".join(report(f) for f in found), end="")
    return 0
