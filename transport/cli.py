"""The `jsonchat` command: one entry point, a subcommand per package."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from conformance.fuzz import cli as fuzz_cli
from conformance.suite import cli as conformance_cli
from protocol import cli as spec_cli
from protocol import load_json
from transport import client, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jsonchat", description="JSON-over-TCP chat: spec, reference server, conformance"
    )
    parser.add_argument("--version", action="version", version=version())
    subparsers = parser.add_subparsers(dest="command", required=True)
    serve.add_parser(subparsers)
    client.add_parser(subparsers)
    spec_cli.add_parser(subparsers)
    conformance_cli.add_parser(subparsers)  # `conformance` and `replay`
    fuzz_cli.add_parser(subparsers)
    return parser


def version() -> str:
    """`jsonchat 0.1.0 (protocol version 1)`: the installed package, and the protocol it speaks."""
    try:
        package = metadata.version("jsonchat")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        package = "(not installed)"
    return f"jsonchat {package} (protocol version {load_json('requirements.json')['version']})"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:
        # `jsonchat conformance --list | head`: the reader left, which is no error of ours. The
        # rest of stdout goes nowhere, so that flushing it at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
