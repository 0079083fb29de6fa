"""Real servers and real clients for the end-to-end tests: in-process or as a subprocess.

A subprocess is `conformance.kit.target.ServerProcess`, the kit's one way to run any server;
`serve_process` starts the reference server with it, as a user starts `jsonchat serve`.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from conformance.kit.barrier import Barrier, read_to_echo
from conformance.kit.shapes import delivery as delivery
from conformance.kit.target import ServerProcess, TargetError
from conformance.kit.wire import WireClient
from transport.server import ChatServer, ServerConfig

TIMEOUT = 5.0
# A closing connection (and, at shutdown, every one) gets this long to take its last messages
# (the server's default is 1.5 s); tests leave many connections half-open, and the server's fds
# only return to their baseline after it.
TEST_FLUSH_TIMEOUT_MS = 300
# `jsonchat serve`, by module: the installed script may be another checkout's.
SERVE = f"{shlex.quote(sys.executable)} -m transport.cli serve --host {{host}} --port {{port}}"


@contextmanager
def running_server(
    welcome: bool = False,
    *,
    redis: str | None = None,
    node_id: str | None = None,
    cluster_limits: Mapping[str, int] | None = None,
    **limits: int,
) -> Iterator[ChatServer]:
    """A `ChatServer` in a thread of this process, on a free port; a node of a cluster with
    `redis` (ServerConfig's fields of the same names), the one way tests run one in-process."""
    limits = {"flush_timeout_ms": TEST_FLUSH_TIMEOUT_MS, **limits}
    config = ServerConfig(
        port=0,
        welcome=welcome,
        limits=limits,
        redis=redis,
        node_id=node_id,
        cluster_limits=cluster_limits or {},
    )
    server = ChatServer(config).start()
    try:
        yield server
    finally:
        server.stop()


def connect(
    address: tuple[str, int], name: str, *rooms: str, timeout: float = TIMEOUT
) -> WireClient:
    """A client that has connected as `name` (its label too, as `say` and `settle` expect) and
    read the reply to its `connect` (after a welcome, if one came first)."""
    client = WireClient(address, label=name, timeout=timeout)
    client.send({"action": "connect", "user_name": name, "targets": list(rooms)})
    reply = client.recv_value()
    if reply is not None and reply["status"] == "welcome":
        reply = client.recv_value()
    assert reply is not None and reply["status"] == "chat", reply
    return client


def say(client: WireClient, target: str, text: str) -> None:
    client.send({"action": "message", "user_name": client.label, "target": target, "message": text})


def settle(client: WireClient) -> list[Any]:
    """Everything `client` got before a direct message to itself comes back (a round trip)."""
    barrier = Barrier(client.label, "barrier")
    client.send_bytes(barrier.frame)
    return read_to_echo(client, barrier, client.timeout)


def serve_process(*options: str, stderr: int | None = None) -> ServerProcess:
    """`jsonchat serve OPTIONS` in a process of its own on a free port, once it listens."""
    server = ServerProcess(f"{SERVE} {shlex.join(options)}".rstrip(), stderr=stderr)
    try:
        server.wait_ready()
    except TargetError:
        server.close()
        raise
    return server
