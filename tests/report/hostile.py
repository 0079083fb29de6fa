"""A server that answers every frame with markup meant to break out of an HTML report.

`python -m tests.report.hostile HOST PORT`. Its welcome is a proper one; every frame after it is
answered with an error whose text closes a script element and adds an image with an `onerror`
handler, then with a line of bare markup that is not JSON at all. The HTML report quotes both (in
a case's reason and in its sequence diagram): they must show as text and do nothing.
"""

from __future__ import annotations

import contextlib
import json
import socketserver
import sys

ATTACK = "</script><img src=x onerror=\"document.title='injected'\"><script>document.title='x'"
WELCOME = {"status": "welcome", "message": "Welcome", "version": 1}


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(json.dumps(WELCOME).encode() + b"\n")
        for _ in self.rfile:
            reply = json.dumps({"status": "error", "message": ATTACK}).encode() + b"\n"
            self.wfile.write(reply + b"<svg onload=\"document.title='injected'\">\x00\x1b[31m\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    # SIGINT is how the suite stops it.
    with Server((host, port), Handler) as server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
