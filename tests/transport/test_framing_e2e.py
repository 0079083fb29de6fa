"""Framing through the real server: how bytes arrive must not change what happens."""

from __future__ import annotations

import json
import time

from conformance.suite.verdicts import requirement
from tests.transport.netutil import connect, delivery, running_server, settle

PACE_S = 0.01  # gap between writes, so that the server gets them in separate reads


def message(sender: str, target: str, text: str) -> bytes:
    document = {"action": "message", "user_name": sender, "target": target, "message": text}
    return json.dumps(document, ensure_ascii=False).encode()


@requirement("FRAME-1", "FRAME-2", "FRAME-3", "FRAME-4")
def test_split_coalesced_and_bare_frames() -> None:
    with running_server() as server:
        alice, bob = connect(server.address, "@alice", "#a"), connect(server.address, "@bob", "#a")
        frame = message("@alice", "#a", "ünïcödé")
        alice.send_bytes(frame)  # bare
        cut = frame.index("ü".encode()) + 1
        alice.send_bytes(frame[:cut])  # split inside a two-byte character
        time.sleep(PACE_S)
        alice.send_bytes(frame[cut:] + b"\n")
        for byte in frame + b"\n":  # one byte per write
            alice.send_bytes(bytes([byte]))
        alice.send_bytes(frame + b"\n" + frame + frame)  # coalesced
        assert settle(alice) == []
        assert settle(bob) == [delivery("#a", "@alice", "ünïcödé")] * 6


@requirement("FRAME-6", "FRAME-7", "FRAME-8", "ERROR-1", "ERROR-2")
def test_bad_frames_get_their_error_and_the_connection_goes_on() -> None:
    with running_server() as server:
        alice, bob = connect(server.address, "@alice", "#a"), connect(server.address, "@bob", "#a")
        good = message("@alice", "#a", "ok") + b"\n"
        alice.send_bytes(b'{"action":"message","message":"' + b"x" * 5000 + b'"}\n' + good)
        alice.send_bytes(b'{"action":"\xff\xfe"}\n' + good)
        alice.send_bytes(b"not json\n" + good)
        alice.send_bytes(b"y" * 100_000)  # a huge line, no newline yet
        time.sleep(PACE_S)
        alice.send_bytes(b"\n" + good)
        assert settle(alice) == [
            {"status": "error", "message": text}
            for text in (
                "Message Longer Than 4096 Bytes",
                "Malformed UTF-8 Data",
                "Malformed JSON",
                "Message Longer Than 4096 Bytes",
            )
        ]
        assert settle(bob) == [delivery("#a", "@alice", "ok")] * 4


@requirement("FRAME-9")
def test_every_packet_is_compact_json_ended_by_one_newline() -> None:
    with running_server(welcome=True) as server:
        alice, bob = connect(server.address, "@alice", "#a"), connect(server.address, "@bob", "#a")
        alice.send_bytes(message("@alice", "#a", 'spaces, "quotes"\nand ünïcödé') + b"\n")
        alice.send_bytes(b"{}\n")
        settle(alice)
        for client in (alice, bob):
            stream = client.transcript.received(client.label)
            lines = stream.split(b"\n")
            assert lines[-1] == b""
            for line in lines[:-1]:
                compact = json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False)
                assert line == compact.encode()
