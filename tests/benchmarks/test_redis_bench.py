"""redis_bench's controls. Its padding: Redis given a message that many bytes longer delivers
exactly as many bytes as our server does for the original, measured on the wire of both (a real
server, a real redis-server), so that `redis_padded` stays a fair control if either framing
changes. Its chatload at our protocol's costs (`redis_chat_costs`): the same bytes sent, our
request encoded once per message, a real run against a real redis-server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from benchmarks.chatload_chat_costs import charge_chat_encoding, chat_request, load_chatload
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


def test_chat_costs_sends_chatloads_bytes_and_encodes_each_message_as_our_request() -> None:
    """`redis_chat_costs` changes what chatload spends, not what it sends: the same RESP bytes as
    chatload's own `resp`, and one `frame` per PUBLISH of the request it sends our server."""
    chatload = load_chatload()
    own_resp = chatload.resp
    framed: list[tuple[object, ...]] = []
    own_frame = chatload.frame

    def frame(*args: object) -> bytes:
        framed.append(args)
        data: bytes = own_frame(*args)
        return data

    vars(chatload)["frame"] = frame  # before the wrapper takes chatload's `frame`
    charge_chat_encoding(chatload)
    for text in ("MSG:1:2;" + "x" * 60, 'MSG:3:4;é ✓ \\ "'):
        framed.clear()
        assert chatload.resp("PUBLISH", "bench", text) == own_resp("PUBLISH", "bench", text)
        assert len(framed) == 1, framed
        request, framing = framed[0]
        assert own_frame(request, framing) == chat_request(load_chatload(), text)
    framed.clear()
    assert chatload.resp("SUBSCRIBE", "bench") == own_resp("SUBSCRIBE", "bench")
    assert framed == []


def test_chat_costs_runs_chatload_against_redis(redis_server: RedisServer) -> None:
    """The wrapper runs the vendored chatload whole: every delivery arrives."""
    command = [sys.executable, "-m", "benchmarks.chatload_chat_costs", "--proto", "redis"]
    command += ["--port", str(redis_server.port), "--messages", "50", "--window", "8"]
    command += ["--receivers", "3", "--size", str(SIZE)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out
    result = json.loads(out.stdout)
    assert (result["deliveries"], result["lost"]) == (150, 0), result
