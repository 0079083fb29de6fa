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
    sub.add_parser("diagram", help="print the session state machine as a Mermaid diagram")
    sub.add_parser("asyncapi", help="print an AsyncAPI 3.0 document built from the schemas")
    render = sub.add_parser("render", help="rewrite the generated blocks of PROTOCOL.md")
    render.add_argument("--check", action="store_true", help="exit 1 if PROTOCOL.md is stale")
    rules = sub.add_parser("rules", help="list the requirements")
    rules.add_argument("--profile", choices=PROFILES, default="full")
    rules.add_argument("--level", choices=LEVELS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.spec_command == "diagram":
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
    elif args.spec_command == "rules":
        for r in requirements():
            if r.in_profile(args.profile) and args.level in (None, r.level):
                print(f"{r.id:<14} {r.level:<6} {r.profile:<4} {r.text}")
    return 0
