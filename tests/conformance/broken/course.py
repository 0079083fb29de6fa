"""A course-style server, written from the habits in shared/reference/peer-behaviour.md.

The other broken servers here are the reference engine with one fault; this one is what a
careful student writes: one `select()` loop, no welcome, no reply to `connect`, an error for bad
input, a room message to everyone else in the room, and on Ctrl-C (SIGINT, which Python turns
into `KeyboardInterrupt`) a `{"status":"disconnect"}` to every client before it exits. It does
not catch SIGTERM, as such servers do not. With no fault it keeps every `core` rule.

Each `--fault` is one of the bugs people really ship (or one the suite must catch), so that the
suite and the fuzzer are tested against servers that were not built from our own engine:

    python -m tests.conformance.broken.course HOST PORT [--framing lines|per-read] [--fault F]

`--framing per-read` treats one `recv()` as one object, as the 2023 servers do: it answers a
read that holds two objects with `Malformed JSON` and stays open (a careful such server).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import select
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_BYTES = 4096
NAME_BYTES, TEXT_BYTES = 60, 3800
FAULTS = {
    "none": "no fault: keeps every core rule",
    "crash-on-hangup": "KeyError when a client closes without `disconnect` (the server dies)",
    "crash-on-early-hangup": "dies when a client closes before saying anything",
    "close-at-once": "accepts every connection and closes it at once",
    "never-answers": "reads everything and never writes a byte",
    "echo-everything": "writes every frame back to its sender instead of handling it",
    "refuse-rooms": "answers every `connect` that names a room with an error",
    "short-names": "refuses names over 40 bytes with `Fields Longer Than Limits`",
    "no-reassembly": "splits each read on newlines and keeps no leftover across reads",
    "drop-on-coalesced": "one object per read; closes the connection when a read holds two",
}


@dataclass
class Peer:
    sock: socket.socket
    name: str | None = None
    rooms: set[str] = field(default_factory=set)
    buffer: bytes = b""
    said_anything: bool = False


class CourseServer:
    def __init__(self, host: str, port: int, framing: str, fault: str) -> None:
        self.framing, self.fault = framing, fault
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(128)
        self.peers: dict[socket.socket, Peer] = {}
        self.names: dict[str, Peer] = {}

    def serve_forever(self) -> None:
        print(f"course server listening on {self.listener.getsockname()}", flush=True)
        try:
            while True:
                ready, _, _ = select.select([self.listener, *self.peers], [], [])
                for sock in ready:
                    if sock is self.listener:
                        self.accept()
                    elif sock in self.peers:
                        self.read(self.peers[sock])
        except KeyboardInterrupt:
            print("shutting down", flush=True)
            for peer in list(self.peers.values()):
                self.send(peer, {"status": "disconnect"})
                peer.sock.close()

    def accept(self) -> None:
        sock, _ = self.listener.accept()
        if self.fault == "close-at-once":
            sock.close()
            return
        self.peers[sock] = Peer(sock)

    def read(self, peer: Peer) -> None:
        try:
            data = peer.sock.recv(MAX_BYTES if self.framing == "per-read" else 65536)
        except ConnectionError:
            data = b""
        if not data:
            self.hang_up(peer)
            return
        peer.said_anything = True
        if self.fault == "never-answers":
            return
        if self.fault == "echo-everything":
            peer.sock.sendall(data)
            return
        for frame in self.frames(peer, data):
            if peer.sock in self.peers:
                self.handle(peer, frame)

    def frames(self, peer: Peer, data: bytes) -> list[bytes]:
        if self.framing == "per-read":
            text = data.strip()
            if self.fault == "drop-on-coalesced" and text.count(b"}{") + text.count(b"}\n{"):
                self.drop(peer)
                return []
            return [text] if text else []
        if self.fault == "no-reassembly":
            return [line for line in data.split(b"\n") if line.strip()]
        peer.buffer += data
        *lines, peer.buffer = peer.buffer.split(b"\n")
        if peer.buffer.strip() and _complete(peer.buffer):  # a bare object with no newline
            lines.append(peer.buffer)
            peer.buffer = b""
        if len(peer.buffer) > MAX_BYTES:
            peer.buffer = b""
            self.error(peer, "Message Longer Than 4096 Bytes")
        return [line for line in lines if line.strip()]

    def hang_up(self, peer: Peer) -> None:
        if self.fault == "crash-on-early-hangup" and not peer.said_anything:
            # as a server that asks getpeername() of a socket whose peer is gone: ENOTCONN
            raise OSError(errno.ENOTCONN, os.strerror(errno.ENOTCONN))
        if self.fault == "crash-on-hangup":
            del self.peers[peer.sock]
            del self.peers[peer.sock]  # the bug: cleaned up twice, KeyError
        self.drop(peer)

    def drop(self, peer: Peer) -> None:
        self.peers.pop(peer.sock, None)
        if peer.name is not None and self.names.get(peer.name) is peer:
            del self.names[peer.name]
        peer.sock.close()

    def send(self, peer: Peer, document: Mapping[str, object]) -> None:
        try:
            data = json.dumps(document, separators=(",", ":"))
            peer.sock.sendall(data.encode() + (b"" if self.framing == "per-read" else b"\n"))
        except OSError:
            pass  # the reader notices the close on its next turn

    def error(self, peer: Peer, text: str) -> None:
        self.send(peer, {"status": "error", "message": text})

    def handle(self, peer: Peer, frame: bytes) -> None:
        if len(frame) > MAX_BYTES:
            return self.error(peer, "Message Longer Than 4096 Bytes")
        try:
            document = json.loads(frame.decode("utf-8"))
        except UnicodeDecodeError:
            return self.error(peer, "Malformed UTF-8 Data")
        except ValueError:
            return self.error(peer, "Malformed JSON")
        if not isinstance(document, dict):
            return self.error(peer, "Malformed JSON")
        action = document.get("action")
        if action == "connect":
            return self.connect(peer, document)
        if action == "message":
            return self.message(peer, document)
        if action == "disconnect":
            return self.drop(peer)
        if isinstance(action, str):
            return self.error(peer, f"{action} is not a valid action")
        return self.error(peer, "Missing Required Field")

    def connect(self, peer: Peer, document: dict[str, object]) -> None:
        name, rooms = document.get("user_name"), document.get("targets")
        if not isinstance(name, str) or not isinstance(rooms, list):
            return self.error(peer, "Missing Required Field")
        limit = 40 if self.fault == "short-names" else NAME_BYTES
        if not name.startswith("@") or len(name.encode()) > limit:
            return self.error(peer, "Fields Longer Than Limits")
        if not all(isinstance(r, str) and r.startswith("#") for r in rooms):
            return self.error(peer, "Fields Longer Than Limits")
        if self.fault == "refuse-rooms" and rooms:
            return self.error(peer, "Rooms are not supported")
        holder = self.names.get(name)
        if holder is not None and holder is not peer:
            return self.error(peer, "User name already connected")
        if peer.name is not None and peer.name != name:
            return self.error(peer, "User name mismatch")
        peer.name = name
        self.names[name] = peer
        peer.rooms.update(str(r) for r in rooms)

    def message(self, peer: Peer, document: dict[str, object]) -> None:
        name, target, text = (document.get(k) for k in ("user_name", "target", "message"))
        if not (isinstance(name, str) and isinstance(target, str) and isinstance(text, str)):
            return self.error(peer, "Missing Required Field")
        if peer.name is None:
            return self.error(peer, "Client not connected")
        if name != peer.name:
            return self.error(peer, "User name mismatch")
        if len(text.encode()) > TEXT_BYTES or len(target.encode()) > NAME_BYTES:
            return self.error(peer, "Fields Longer Than Limits")
        delivery = {
            "status": "chat",
            "history": [{"target": target, "from": name, "message": text}],
        }
        if target.startswith("@"):
            recipient = self.names.get(target)
            if recipient is None:
                return self.error(peer, "Target user not connected")
            return self.send(recipient, delivery)
        if not target.startswith("#"):
            return self.error(peer, "Fields Longer Than Limits")
        for other in list(self.peers.values()):
            member = target == "#all" or target in other.rooms
            if other is not peer and other.name is not None and member:
                self.send(other, delivery)
        peer.rooms.add(target)


def _complete(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--framing", choices=["lines", "per-read"], default="lines")
    parser.add_argument("--fault", choices=sorted(FAULTS), default="none")
    args = parser.parse_args()
    CourseServer(args.host, args.port, args.framing, args.fault).serve_forever()


if __name__ == "__main__":
    main()
