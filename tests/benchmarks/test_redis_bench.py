"""redis_bench's padding: Redis given a message that many bytes longer delivers exactly as many
bytes as our server does for the original, measured on the wire of both (a real server, a real
redis-server), so that `redis_padded` stays a fair control if either framing changes."""

from __future__ import annotations

import socket

from benchmarks.redis_bench import extra_delivery_bytes
from benchmarks.redisproc import RedisServer
from tests.cluster.redis_server import redis_server as redis_server
from tests.transport.netutil import TIMEOUT, connect, running_server, say

SIZE = 100


def _read_through(sock: socket.socket, ending: bytes) -> bytes:
    """What `sock` receives until it ends with `ending` (the peer sends nothing after it)."""
    data = b""
    while not data.endswith(ending):
        chunk = sock.recv(4096)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def test_redis_padded_by_the_extra_bytes_delivers_as_many_bytes_as_we_do(
    redis_server: RedisServer,
) -> None:
    text = "x" * SIZE
    with running_server() as server, socket.create_connection(server.address, TIMEOUT) as reader:
        reader.sendall(b'{"action":"connect","user_name":"@reader","targets":["#bench"]}\n')
        _read_through(reader, b"\n")  # the reply to connect
        sender = connect(server.address, "@sender", "#bench")
        say(sender, "#bench", text)
        ours = _read_through(reader, b"\n")
        sender.close()
    assert text.encode() in ours, ours
    padded = "x" * (SIZE + extra_delivery_bytes(SIZE))
    address = ("127.0.0.1", redis_server.port)
    with socket.create_connection(address, timeout=TIMEOUT) as subscriber:
        subscriber.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nbench\r\n")
        _read_through(subscriber, b":1\r\n")  # subscribed to 1 channel
        redis_server.call("PUBLISH", "bench", padded)
        theirs = _read_through(subscriber, padded.encode() + b"\r\n")
    assert theirs.startswith(b"*3\r\n$7\r\nmessage\r\n"), theirs
    assert len(theirs) == len(ours), (theirs, ours)
