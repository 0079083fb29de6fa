"""Run the reference server with an engine of the caller's choosing, as `jsonchat serve` would."""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping
from types import FrameType

from engine.engine import Engine
from tests.transport.netutil import TEST_FLUSH_TIMEOUT_MS
from transport.server import ChatServer, ServerConfig


def serve(
    engine_class: type[Engine], welcome: bool = True, limits: Mapping[str, int] | None = None
) -> None:
    """Serve on argv's HOST PORT; `limits` as `jsonchat serve`'s limit flags would set them."""
    host, port = sys.argv[1], int(sys.argv[2])
    config = ServerConfig(
        host=host,
        port=port,
        welcome=welcome,
        limits={"flush_timeout_ms": TEST_FLUSH_TIMEOUT_MS, **(limits or {})},
    )
    server = ChatServer(config)
    server.engine = engine_class(config.engine_config())

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop(wait=False)

    signal.signal(signal.SIGINT, stop)  # as `jsonchat serve`: the suite stops with Ctrl-C
    signal.signal(signal.SIGTERM, stop)
    print(f"broken server listening on {host}:{port}", flush=True)
    server.serve_forever()
