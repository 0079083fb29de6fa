"""`jsonchat serve`: run the reference server until SIGINT or SIGTERM.

Its limit options are generated from the server and cluster limits of protocol/limits.json, so
the command line, the spec's limits table and the server cannot disagree. With `--redis` the
server is one node of a cluster (transport/CLUSTER.md); without it, the Redis driver
(transport.cluster, and hiredis with it) is not even imported.
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
# --redis given, and that Redis cannot be reached at start (or a bad URL/id, or a database of
# the URL that Redis does not have)
EXIT_NO_REDIS = 3

CLUSTER_HELP = """\
With --redis, several nodes started on the same Redis behave to every client as one server:
names, rooms, history and direct messages are shared (transport/CLUSTER.md). A node that cannot
reach that Redis when it starts says so and exits with status 3 (and 2 when it cannot listen);
once started, it keeps serving when Redis goes away, answers `unavailable` to what needs Redis,
and reconnects by itself."""


def server_limits(scope: str = "server") -> dict[str, str]:
    """Limit name to its documentation, for the limits a deployment may change (`server`, or
    `cluster`: those of a node of a cluster)."""
    return {
        name: entry["doc"]
        for name, entry in protocol.limit_table().items()
        if entry["scope"] == scope
    }


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the reference server",
        description="Run the reference server. The course's form `jsonchat serve HOST PORT` works.",
        epilog=CLUSTER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("address", nargs="*", metavar="HOST PORT", help="where to listen")
    serve.add_argument("--host", default=None, help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="TCP port (7775; 0 picks one)")
    serve.add_argument("--no-welcome", action="store_true", help="send no welcome on connect")
    serve.add_argument("--log-format", choices=["text", "json"], default="text")
    serve.add_argument("-v", "--verbose", action="count", default=0, help="also log user names")
    cluster = serve.add_argument_group("cluster")
    cluster.add_argument(
        "--redis",
        metavar="redis://HOST:PORT[/DB]",
        help="be one node of a cluster that shares this Redis (7 or newer)",
    )
    cluster.add_argument(
        "--node-id",
        metavar="ID",
        help="this node's id in the cluster: 1 to 64 of A-Z a-z 0-9 . _ : - , unique among the "
        "nodes (default: host name, process id and a random part)",
    )
    limits = serve.add_argument_group("limits (defaults from protocol/limits.json)")
    defaults = {**protocol.limits(), **protocol.cluster_limits()}
    for scope in ("server", "cluster"):
        for name, doc in server_limits(scope).items():
            limits.add_argument(
                f"--{name.replace('_', '-')}",
                dest=f"limit_{name}",
                type=int,
                metavar="N",
                help=f"{doc} (default {defaults[name]})".replace("%", "%%"),
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


def _given(args: argparse.Namespace, scope: str) -> dict[str, int]:
    """The limits of a scope given on the command line."""
    values = {name: getattr(args, f"limit_{name}") for name in server_limits(scope)}
    return {name: value for name, value in values.items() if value is not None}


def run(args: argparse.Namespace) -> int:
    host, port = address(args)
    logs.configure(args.log_format, args.verbose)
    config = ServerConfig(
        host=host,
        port=port,
        limits=_given(args, "server"),
        welcome=not args.no_welcome,
        redis=args.redis,
        node_id=args.node_id,
        cluster_limits=_given(args, "cluster"),
    )
    try:
        server = ChatServer(config)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        print(f"jsonchat serve: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    except Exception as error:  # only with --redis: BrokerUnreachable, or a bad URL or id
        if args.redis is None:
            raise
        print(f"jsonchat serve: cannot join the cluster: {error}", file=sys.stderr)
        return EXIT_NO_REDIS

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop(wait=False)

    signal.signal(signal.SIGINT, stop)  # SHUTDOWN-1: Ctrl-C stops the server cleanly
    signal.signal(signal.SIGTERM, stop)  # SHUTDOWN-2: SIGTERM stops it the same way
    if server.node_id is not None:
        print(f"jsonchat: node {server.node_id} of the cluster on {args.redis}", flush=True)
    print(f"jsonchat: listening on {server.address[0]}:{server.address[1]}", flush=True)
    server.serve_forever()
    return 0
