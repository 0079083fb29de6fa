"""The `jsonchat` command: one name, and each package's own subcommands under it.

Every package registers its subcommands in the `jsonchat.commands` entry-point group of
pyproject.toml, one entry per command, each a function that adds that command's parser:
`serve` and `client` (transport/cli.py), `spec` (protocol/cli.py), `conformance`, `replay` and
`fuzz` (conformance/cli.py). This module knows none of them by name. So the server does not
import the suite to be reachable under the same command, and the dependency arrows keep pointing
one way (README, "Architecture"): everything may import `protocol`, and `protocol` imports
nothing of the others.

Only the command being run is loaded, so `jsonchat serve` starts without the suite, pytest or
Hypothesis; `--help`, no command at all or an unknown one loads them all, to list them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from typing import TYPE_CHECKING

from protocol import load_json

GROUP = "jsonchat.commands"
EXIT_USAGE = 2

if TYPE_CHECKING:
    # What an entry point of the group is: it adds one command's parser, with `run` (parsed
    # arguments -> exit status) as its default.
    Registrar = Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]


def installed() -> dict[str, metadata.EntryPoint]:
    """Command name to its entry point, by name (the installed metadata keeps no other order).
    The first of a name wins: two installs of jsonchat on one path would register it twice."""
    found: dict[str, metadata.EntryPoint] = {}
    for entry in metadata.entry_points(group=GROUP):
        found.setdefault(entry.name, entry)
    return found


def version() -> str:
    """`jsonchat 0.1.0 (protocol version 1)`: the installed package, and the protocol it speaks."""
    try:
        package = metadata.version("jsonchat")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        package = "(not installed)"
    return f"jsonchat {package} (protocol version {load_json('requirements.json')['version']})"


def build_parser(registrars: Iterable[Registrar]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jsonchat", description="JSON-over-TCP chat: spec, reference server, conformance"
    )
    parser.add_argument("--version", action="version", version=version())
    subparsers = parser.add_subparsers(dest="command", required=True)
    for register in registrars:
        register(subparsers)
    return parser


def run(registrars: Iterable[Registrar], argv: Sequence[str] | None = None) -> int:
    """Parse `argv` with the commands `registrars` add, and run the one it names."""
    args = build_parser(registrars).parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:
        # `jsonchat conformance --list | head`: the reader left, which is no error of ours. The
        # rest of stdout goes nowhere, so that flushing it at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """`jsonchat ARGS`: load the command ARGS names (or, to list them, every command) and run it."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    commands = installed()
    if not commands:
        print(
            f"jsonchat: no commands are registered (entry points {GROUP!r}): "
            "install jsonchat, e.g. `pip install -e .` in its checkout",
            file=sys.stderr,
        )
        return EXIT_USAGE
    named = commands.get(arguments[0]) if arguments else None
    chosen = [named] if named is not None else list(commands.values())
    return run([entry.load() for entry in chosen], arguments)


if __name__ == "__main__":
    sys.exit(main())
