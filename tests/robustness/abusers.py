"""Clients that abuse the server without breaking the protocol: they send and never read."""

from __future__ import annotations

import json
import threading
from typing import Any

from conformance.kit.shapes import DISCONNECTED, error
from conformance.kit.wire import Closed, WireClient
from tests.robustness.watched import WatchedServer
from tests.transport.netutil import TIMEOUT, connect


def self_message(name: str, text: str) -> bytes:
    post = {"action": "message", "user_name": name, "target": name, "message": text}
    return json.dumps(post).encode() + b"\n"


def hog_until_cut_off(target: WatchedServer, name: str, size: int) -> str | None:
    """One client sends direct messages to itself and never reads them, until the server cuts
    it off; then it reads what is left. A description of what went wrong, or None."""
    client = connect(target.address, name)
    try:
        return _hog(target, client, name, size)
    finally:
        client.close()


def _hog(target: WatchedServer, client: WireClient, name: str, size: int) -> str | None:
    sent, conn = 0, target.conn_of(client)
    while (reason := target.close_reason(conn)) is None:
        if sent > 1_000_000:
            return f"{name}: never cut off"
        frames = [self_message(name, f"{sent + i}:{'x' * size}") for i in range(20)]
        client.send_bytes(b"".join(frames))
        sent += len(frames)
    if reason != "queue_full":
        return f"{name}: closed for {reason}, not queue_full"
    got, closed = drain(client)
    if not closed:
        return f"{name}: neither data nor close for {TIMEOUT} s, after {len(got)} packets"
    if got[-2:] != [error("queue_full"), DISCONNECTED]:
        return f"{name}: last words {got[-2:]!r}"
    texts = [v["history"][0]["message"].split(":")[0] for v in got[:-2]]
    if texts != [str(n) for n in range(len(texts))] or len(texts) >= sent:
        return f"{name}: got {len(texts)} of {sent}, not the oldest in order"
    return None


def drain(client: WireClient) -> tuple[list[Any], bool]:
    """Everything left for a client that was cut off, and whether the close came (not a
    TIMEOUT of silence)."""
    got: list[Any] = []
    while True:
        try:
            packet = client.recv(TIMEOUT)
        except Closed:
            return got, True
        if packet is None:
            return got, False
        got.append(packet.value)


def firehose(address: tuple[str, int], name: str, stop: threading.Event, blob: bytes = b"") -> None:
    """Write `blob` (by default valid posts to a room of one's own), a megabyte a write, and
    never read: nothing is queued for it, so no limit cuts it off; only the per-turn read bound
    shares the server between it and the others."""
    client = connect(address, name)
    post = {"action": "message", "user_name": name, "target": f"#{name[1:]}", "message": "x" * 100}
    frame = json.dumps(post).encode() + b"\n"
    blob = blob or frame * (1_000_000 // len(frame))
    chunks = [blob[i : i + 65536] for i in range(0, len(blob), 65536)]  # to stop soon when told
    try:
        while not stop.is_set():
            for chunk in chunks:
                client.send_bytes(chunk)
                if stop.is_set():
                    break
    except Closed:
        pass
    finally:
        client.close()
