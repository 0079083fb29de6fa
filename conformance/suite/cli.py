"""`jsonchat conformance TARGET`: the suite, run as a command.

`conformance` is pytest underneath: this turns its options into the plugin's and runs the cases
shipped in `conformance.cases`, so `pytest --jsonchat-target=... --pyargs conformance.cases`
does the same. The plugin is loaded explicitly and no entry point is (`--disable-plugin-autoload`),
so the command works whether or not the entry point is installed, without loading it twice.
Several TARGETs are one server made of nodes (a cluster): each becomes one `--jsonchat-target`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from conformance.kit.exitcodes import TABLE, ExitStatus
from conformance.kit.target import STOP_SIGNAL, TargetError, parse_target, stop_signal


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "conformance",
        help="check a server against PROTOCOL.md, rule by rule",
        description="Run the conformance suite against TARGET: tcp:HOST:PORT (a running server) "
        "or cmd:'python3 server.py {host} {port}' (started, restarted and stopped by the suite). "
        "A target that dies or stops accepting during the run fails the case that was running "
        "and DISCONNECT-7, and a cmd: one is restarted. Several TARGETs are the nodes of one "
        "server (a cluster): each case's clients go to them round-robin (the first client to "
        "the first target, the second to the second, ...), so that every routing rule crosses "
        "nodes; every target is probed and the cases rely only on what all of them do; each "
        "cmd: target is started, restarted and stopped on its own, and the report says which "
        "target each client of a failing case was on.",
        epilog=TABLE,
    )
    parser.add_argument(
        "target",
        nargs="*",
        help="tcp:HOST:PORT or cmd:'COMMAND {host} {port}'; several: the nodes of one cluster",
    )
    parser.add_argument(
        "--profile",
        choices=["core", "full"],
        default="full",
        help="core: what every course server agrees on; full: all of v1",
    )
    parser.add_argument(
        "--select",
        default="",
        help="requirement IDs (ROUTE-3), sections (ROUTE) or levels (MUST), comma-separated",
    )
    parser.add_argument("-k", dest="keyword", help="pytest's -k expression on case names")
    parser.add_argument("--list", action="store_true", help="list the selected cases; run none")
    parser.add_argument(
        "--fresh", action="store_true", help="restart a cmd: target before every case"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="one line per case")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument(
        "--html", metavar="FILE", help="write the report as one self-contained HTML page"
    )
    parser.add_argument("--junit-xml", metavar="FILE", help="write a JUnit XML report")
    parser.add_argument(
        "--transcripts",
        metavar="DIR",
        default="jsonchat-transcripts",
        help="where transcripts of failed cases go (default %(default)s)",
    )
    parser.add_argument(
        "--reply-timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for an answer (default: 20 round trips, between 0.3 and 5 s)",
    )
    parser.add_argument("--slow", action="store_true", help="also run cases that take minutes")
    parser.add_argument(
        "--stop-signal",
        default=STOP_SIGNAL.name,
        metavar="SIGNAL",
        help="the first signal that stops a cmd: target (then SIGTERM, then SIGKILL) and the one "
        "SHUTDOWN-1 is checked with (default %(default)s, what Ctrl-C sends)",
    )
    parser.set_defaults(run=run)


def pytest_args(args: argparse.Namespace) -> list[str]:
    # The suite is the same wherever it is installed and whatever folder it is run from: case
    # names are relative to the folder that holds the `conformance` package (as in the
    # repository), and the working folder's pytest configuration (-c: an empty one instead) and
    # conftest.py are not read. Installed plugins are not loaded either, the suite's own plugin
    # excepted; that also spares the user pytest's warnings about rewriting modules this
    # command has already imported.
    argv = ["--pyargs", "conformance.cases", "--rootdir", str(Path(__file__).resolve().parents[2])]
    argv += ["-c", os.devnull, "--noconftest", "--disable-plugin-autoload"]
    argv += ["-p", "conformance.suite.plugin"]
    # --tb=no: the suite's own summary already says what broke and how to replay it.
    argv += ["-p", "no:cacheprovider", "-q", "-rN", "--no-header", "--tb=no"]
    argv += ["--jsonchat-profile", args.profile, "--jsonchat-transcripts", args.transcripts]
    for target in args.target:
        argv += ["--jsonchat-target", target]
    if args.list:
        argv.append("--jsonchat-list")
    if args.select:
        argv += ["--jsonchat-select", args.select]
    if args.keyword:
        argv += ["-k", args.keyword]
    if args.fresh:
        argv.append("--jsonchat-fresh")
    if args.json:
        argv += ["--jsonchat-json", args.json]
    if args.html:
        argv += ["--jsonchat-html", args.html]
    if args.junit_xml:
        argv += ["--junit-xml", args.junit_xml]
    if args.reply_timeout is not None:
        argv += ["--jsonchat-reply-timeout", str(args.reply_timeout)]
    if args.slow:
        argv.append("--jsonchat-slow")
    if args.stop_signal != STOP_SIGNAL.name:
        argv += ["--jsonchat-stop-signal", args.stop_signal]
    argv += ["-v"] * (args.verbose + 1 if args.verbose else 0)  # the first one undoes -q
    if getattr(args, "progress", False):
        # The live line replaces pytest's dots and its percentage (conformance.suite.progress).
        argv += ["--jsonchat-progress", "-o", "console_output_style=classic"]
    return argv


def run(args: argparse.Namespace) -> int:
    if not args.target and not args.list:
        print("jsonchat conformance: give a TARGET (tcp:HOST:PORT or cmd:'COMMAND {port}')")
        return ExitStatus.USAGE
    try:
        stop_signal(args.stop_signal)
        for target in args.target:
            parse_target(target)
    except (TargetError, ValueError) as error:
        print(f"jsonchat conformance: {error}")
        return ExitStatus.USAGE
    import pytest  # here, not at the top: other `jsonchat` commands start without it

    # A live status line only on a terminal (and not with -v): piped output stays as it was.
    args.progress = sys.stdout.isatty() and not args.verbose and not args.list

    return int(pytest.main(pytest_args(args)))
