"""`jsonchat serve --redis` as a user runs it: the node id, the exit status when Redis is not
there, and a single node that does not load the Redis driver at all."""

from __future__ import annotations

import subprocess
import sys

from conformance.kit.target import free_port
from tests.cluster.redis_server import RedisServer
from transport.serve import EXIT_NO_REDIS

SERVE = [sys.executable, "-m", "transport.cli", "serve", "--port", "0"]


def test_unreachable_redis_at_start_is_said_and_exits_3() -> None:
    url = f"redis://127.0.0.1:{free_port()}"
    done = subprocess.run([*SERVE, "--redis", url], capture_output=True, text=True, timeout=30)
    assert done.returncode == EXIT_NO_REDIS == 3
    assert "cannot join the cluster" in done.stderr and url.split("//")[1] in done.stderr


def test_a_bad_url_or_node_id_exits_3(redis_server: RedisServer) -> None:
    for options in (["--redis", "http://x"], ["--redis", redis_server.url, "--node-id", "a b"]):
        done = subprocess.run([*SERVE, *options], capture_output=True, text=True, timeout=30)
        assert done.returncode == EXIT_NO_REDIS, done.stderr


def test_a_database_redis_does_not_have_exits_3(redis_server: RedisServer) -> None:
    url = f"{redis_server.url}/99"  # Redis has 16 databases unless told otherwise
    done = subprocess.run([*SERVE, "--redis", url], capture_output=True, text=True, timeout=30)
    assert done.returncode == EXIT_NO_REDIS, done.stderr
    assert "cannot join the cluster" in done.stderr and "SELECT 99" in done.stderr


def test_the_node_says_its_id(redis_server: RedisServer) -> None:
    command = [*SERVE, "--redis", redis_server.url, "--node-id", "n1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert first == f"jsonchat: node n1 of the cluster on {redis_server.url}\n"
        finally:
            process.terminate()
            process.wait(10)


def test_a_single_node_imports_nothing_of_the_cluster() -> None:
    code = (
        "import sys; from transport.server import ChatServer, ServerConfig; "
        "ChatServer(ServerConfig(port=0)); "
        "print(sorted(m for m in sys.modules if m.startswith(('transport.cluster', 'hiredis'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "[]", done.stderr
