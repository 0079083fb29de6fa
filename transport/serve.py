"""`jsonchat serve`: run the reference server until SIGINT or SIGTERM.

Its limit options are generated from the server limits of protocol/limits.json, so the command
line, the spec's limits table and the server cannot disagree.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

import protocol
from transport import logs
from transport.server import ChatServer, ServerConfig

EXIT_CANNOT_LISTEN = 2


def server_limits() -> dict[str, str]:
    """Limit name to its documentation, for the limits a deployment may change."""
    return {
        name: entry["doc"]
        for name, entry in protocol.limit_table().items()
        if entry["scope"] == "server"
    }


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the reference server",
        description="Run the reference server. The course's form `jsonchat serve HOST PORT` works.",
    )
    serve.add_argument("address", nargs="*", metavar="HOST PORT", help="where to listen")
    serve.add_argument("--host", default=None, help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="TCP port (7775; 0 picks one)")
    serve.add_argument("--no-welcome", action="store_true", help="send no welcome on connect")
    serve.add_argument("--log-format", choices=["text", "json"], default="text")
    serve.add_argument("-v", "--verbose", action="count", default=0, help="also log user names")
    limits = serve.add_argument_group("limits (defaults from protocol/limits.json)")
    for name, doc in server_limits().items():
        default = protocol.limits()[name]
        limits.add_argument(
            f"--{name.replace('_', '-')}",
            dest=f"limit_{name}",
            type=int,
            metavar="N",
            help=f"{doc} (default {default})".replace("%", "%%"),
        )
    serve.set_defaults(run=run)


def address(args: argparse.Namespace) -> tuple[str, int]:
    if len(args.address) > 2:
        raise SystemExit("jsonchat serve: give at most HOST and PORT")
    positional = list(args.address) + [None] * (2 - len(args.address))
    if (positional[0] and args.host) or (positional[1] and args.port is not None):
        raise SystemExit("jsonchat serve: give the address once, as HOST PORT or as options")
    host = positional[0] or args.host or "127.0.0.1"
    port = args.port if args.port is not None else int(positional[1] or 7775)
    return host, port


def run(args: argparse.Namespace) -> int:
    host, port = address(args)
    logs.configure(args.log_format, args.verbose)
    limits = {
        name: getattr(args, f"limit_{name}")
        for name in server_limits()
        if getattr(args, f"limit_{name}") is not None
    }
    config = ServerConfig(host=host, port=port, limits=limits, welcome=not args.no_welcome)
    try:
        server = ChatServer(config)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        print(f"jsonchat serve: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop(wait=False)

    signal.signal(signal.SIGINT, stop)  # SHUTDOWN-1: Ctrl-C stops the server cleanly
    signal.signal(signal.SIGTERM, stop)  # SHUTDOWN-2: SIGTERM stops it the same way
    print(f"jsonchat: listening on {server.address[0]}:{server.address[1]}", flush=True)
    server.serve_forever()
    return 0
