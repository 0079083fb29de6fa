"""hiredis.Reader on our own sockets against redis-py, for the cluster driver's two jobs.

    python -m benchmarks.resp_bench [--messages N] [--rounds N]

The cluster driver (transport/cluster/) reads pub/sub messages and sends pipelined EVALSHA
commands inside the server's one epoll loop. Two ways to do it were measured side by side,
against one throw-away redis-server, taking turns within one run (as in redis_bench.py, the
ratio is the figure: absolute times move with the load of a shared machine):

1. `pubsub`: N messages published while the subscriber does not read (they wait in Redis's
   output buffer), then the time to read and decode all N: a non-blocking socket fed to
   `hiredis.Reader`, against redis-py's `PubSub.get_message()` with its pure-Python parser and
   with its hiredis parser.
2. `evalsha`: N EVALSHA of a small script written at once and their N replies read: commands
   built by `hiredis.pack_command` on a plain socket, against a redis-py pipeline.

CPU time of this process (thread time) is reported with the wall time: the driver's cost is
what it takes from the loop that also serves the clients.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any, cast

import hiredis

from benchmarks.redisproc import RedisServer

try:
    import redis
    from redis._parsers import _HiredisParser, _RESP2Parser
except ImportError:  # pragma: no cover - redis-py is only needed to repeat this measurement
    redis = None  # type: ignore[assignment]

PAYLOAD = json.dumps(
    [17, 4242, "node-1", 3, {"target": "#general", "from": "@alice", "message": "x" * 80}]
).encode()
SCRIPT = "return redis.call('INCR', KEYS[1])"


def pack(*parts: str | bytes | int) -> bytes:
    """One command in RESP (hiredis's stub types its argument as a tuple of one element)."""
    packed: bytes = hiredis.pack_command(cast(Any, parts))
    return packed


def _publish(port: int, channel: bytes, count: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        command = pack("PUBLISH", channel, PAYLOAD)
        reader = hiredis.Reader()
        for start in range(0, count, 1000):
            batch = min(1000, count - start)
            sock.sendall(command * batch)
            got = 0
            while got < batch:
                reader.feed(sock.recv(65536))
                while reader.gets() is not False:
                    got += 1


def _timed(run: Callable[[], int]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.thread_time()
    count = run()
    return time.perf_counter() - wall, time.thread_time() - cpu, count


def pubsub_hiredis(port: int, count: int) -> tuple[float, float, int]:
    sock = socket.create_connection(("127.0.0.1", port))
    reader = hiredis.Reader()
    sock.sendall(pack("SUBSCRIBE", "bench"))
    reader.feed(sock.recv(4096))
    assert reader.gets() is not False
    _publish(port, b"bench", count)
    sock.setblocking(False)
    poller = select.epoll()
    poller.register(sock.fileno(), select.EPOLLIN)

    def run() -> int:
        got = 0
        while got < count:
            poller.poll(1.0)
            try:
                reader.feed(sock.recv(65536))
            except BlockingIOError:
                continue
            while (reply := reader.gets()) is not False:
                json.loads(reply[2])
                got += 1
        return got

    try:
        return _timed(run)
    finally:
        poller.close()
        sock.close()


def pubsub_redis_py(port: int, count: int, parser: Any) -> tuple[float, float, int]:
    client = redis.Redis(connection_pool=redis.ConnectionPool(port=port, parser_class=parser))
    pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.subscribe("bench")
    pubsub.get_message(timeout=1.0)
    _publish(port, b"bench", count)

    def run() -> int:
        got = 0
        while got < count:
            message = pubsub.get_message(timeout=1.0)
            if message is not None:
                json.loads(message["data"])
                got += 1
        return got

    try:
        return _timed(run)
    finally:
        pubsub.close()
        client.close()


def evalsha_hiredis(port: int, count: int) -> tuple[float, float, int]:
    sock = socket.create_connection(("127.0.0.1", port))
    reader = hiredis.Reader()
    sock.sendall(pack("SCRIPT", "LOAD", SCRIPT))
    reader.feed(sock.recv(4096))
    sha = reader.gets()

    def run() -> int:
        out = b"".join(pack("EVALSHA", sha, 1, "bench:n") for _ in range(count))
        sock.sendall(out)
        got = 0
        while got < count:
            reader.feed(sock.recv(65536))
            while reader.gets() is not False:
                got += 1
        return got

    try:
        return _timed(run)
    finally:
        sock.close()


def evalsha_redis_py(port: int, count: int, parser: Any) -> tuple[float, float, int]:
    client = redis.Redis(connection_pool=redis.ConnectionPool(port=port, parser_class=parser))
    sha = client.script_load(SCRIPT)

    def run() -> int:
        pipe = client.pipeline(transaction=False)
        for _ in range(count):
            pipe.evalsha(sha, 1, "bench:n")
        return len(pipe.execute())

    try:
        return _timed(run)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if redis is None:
        raise SystemExit("resp_bench compares with redis-py: pip install redis")
    runs: dict[str, Callable[[int, int], tuple[float, float, int]]] = {
        "pubsub hiredis.Reader": pubsub_hiredis,
        "pubsub redis-py (Python parser)": lambda p, n: pubsub_redis_py(p, n, _RESP2Parser),
        "pubsub redis-py (hiredis parser)": lambda p, n: pubsub_redis_py(p, n, _HiredisParser),
        "evalsha hiredis.pack_command": evalsha_hiredis,
        "evalsha redis-py (Python parser)": lambda p, n: evalsha_redis_py(p, n, _RESP2Parser),
        "evalsha redis-py (hiredis parser)": lambda p, n: evalsha_redis_py(p, n, _HiredisParser),
    }
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    wall: dict[str, list[float]] = {name: [] for name in runs}
    with RedisServer() as server:
        port = server.port
        for i in range(args.rounds):
            order = list(runs) if i % 2 == 0 else list(reversed(runs))
            for name in order:
                w, c, n = runs[name](port, args.messages)
                assert n == args.messages, (name, n)
                wall[name].append(w * 1e6 / n)
                cpu[name].append(c * 1e6 / n)
    result: dict[str, Any] = {"messages": args.messages, "rounds": args.rounds}
    for name in runs:
        result[name] = {
            "us_per_op_wall": round(statistics.median(wall[name]), 2),
            "us_per_op_cpu": round(statistics.median(cpu[name]), 2),
        }
    for job in ("pubsub", "evalsha"):
        ours = statistics.median(cpu[next(n for n in runs if n.startswith(job))])
        for name in runs:
            if name.startswith(job) and "redis-py" in name:
                result[f"{name}: cpu ratio to hiredis"] = round(
                    statistics.median(cpu[name]) / ours, 2
                )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
