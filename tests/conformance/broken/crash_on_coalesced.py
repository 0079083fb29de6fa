"""The course-style server, reading one object per `recv()`, that dies when a read holds two.

A server that does `json.loads(sock.recv(4096))` raises `JSONDecodeError: Extra data` when two
frames arrive together, and one that does not catch it dies. The suite's probe sends a connect
and a message back to back, so the probe itself kills this server: the run must say so (a
verdict on DISCONNECT-7) and go on with a careful probe, not stop with exit 3.

    python -m tests.conformance.broken.crash_on_coalesced HOST PORT
"""

from __future__ import annotations

import json
import sys

from tests.conformance.broken.course import CourseServer, Peer


class CrashOnCoalesced(CourseServer):
    def frames(self, peer: Peer, data: bytes) -> list[bytes]:
        text = data.strip()
        if text:
            json.loads(text)  # the bug: `Extra data` when two objects came in one read
        return [text] if text else []


def main() -> None:
    CrashOnCoalesced(sys.argv[1], int(sys.argv[2]), "per-read", "none").serve_forever()


if __name__ == "__main__":
    main()
