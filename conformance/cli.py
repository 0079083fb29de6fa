"""`jsonchat conformance`, `replay` and `fuzz`: the commands of the conformance package.

`jsonchat` finds each through its entry point (protocol/commands.py) and loads only the one it
runs. Each command's options and behaviour live next to what it runs: `suite/cli.py`,
`replay.py` and `fuzz/cli.py`.
"""

from __future__ import annotations

import argparse

from conformance import replay as replay_command
from conformance.fuzz import cli as fuzz_command
from conformance.suite import cli as suite_command


def conformance(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `jsonchat conformance TARGET`: the suite, rule by rule."""
    suite_command.add_parser(subparsers)


def replay(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `jsonchat replay FILE TARGET`: is a recorded failure fixed?"""
    replay_command.add_parser(subparsers)


def fuzz(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `jsonchat fuzz TARGET`: a live server against the engine."""
    fuzz_command.add_parser(subparsers)
