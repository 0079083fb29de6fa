"""`jsonchat serve` and `jsonchat client`: the transport package's commands.

`jsonchat` finds them through their entry points (protocol/commands.py), as it finds the other
packages' commands; nothing here knows of those. `python -m transport.cli serve ...` runs these
two alone, without the entry points, as `transport/chatServer.py` does from a checkout that was
never installed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from protocol import commands
from transport import client as client_command
from transport import serve as serve_command


def serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `jsonchat serve`: the reference server."""
    serve_command.add_parser(subparsers)


def client(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `jsonchat client`: the interactive client."""
    client_command.add_parser(subparsers)


def main(argv: Sequence[str] | None = None) -> int:
    """`serve` or `client`, with `jsonchat`'s own options and error handling."""
    return commands.run([serve, client], argv)


if __name__ == "__main__":
    sys.exit(main())
