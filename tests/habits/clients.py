"""Small clients written from the descriptions of the course's public clients (peer-behaviour.md),
not from their code: each does what its kind was seen doing on the wire, including its mistakes.

- `OneObjectPerRead`, the 2023 threaded clients: each object written bare (`json.dumps`, no
  newline); a listener thread, started once `connect` is sent, gives every `recv(4096)` to one
  `json.loads` and dies on the first that fails (`Extra data`, `Unterminated string`), after
  which nothing is received again.
- `LineSplitter`, the 2025 client: `\\n`-ended JSON out; every `recv(65536)` split into lines,
  and a partial last line dropped (it keeps no leftover between reads).

Both may sit at a prompt between opening the connection and sending `connect`, as three of the
four clients do while the person types a name and rooms.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Any

RECV_BYTES = 4096  # what the 2023 clients give one recv
LINE_RECV_BYTES = 65536  # what the 2025 client gives one recv


class OneObjectPerRead:
    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address)
        self.reads: list[bytes] = []  # every read, as it came
        self.objects: list[Any] = []
        self.died: str | None = None  # why the listener thread stopped parsing, if it did
        self.closed = False
        self._changed = threading.Condition()
        self._listener: threading.Thread | None = None

    def send(self, document: Any) -> None:
        self.sock.sendall(json.dumps(document).encode())

    def connect(self, name: str, *rooms: str) -> None:
        """Send `connect`, then start the listener, as the threaded clients do."""
        self.send({"action": "connect", "user_name": name, "targets": list(rooms)})
        self._listener = threading.Thread(target=self._listen, daemon=True)
        self._listener.start()

    def _listen(self) -> None:
        while True:
            try:
                data = self.sock.recv(RECV_BYTES)
            except OSError:
                data = b""
            with self._changed:
                if not data:
                    self.closed = True
                    self._changed.notify_all()
                    return
                self.reads.append(data)
                try:
                    self.objects.append(json.loads(data))
                except ValueError as error:  # the real listener dies here, silently
                    self.died = f"{error} in a read of {len(data)} bytes: {data[:120]!r}"
                    self._changed.notify_all()
                    return
                self._changed.notify_all()

    def wait_for(self, wanted: Any, timeout: float) -> bool:
        """True once an object `wanted` accepts has been read; False if the listener died, the
        server closed, or `timeout` passed."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(wanted(o) for o in self.objects):
                remaining = deadline - time.monotonic()
                if self.died or self.closed or remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the listener's blocked recv
        self.sock.close()
        if self._listener is not None:
            self._listener.join(5)


class LineSplitter:
    def __init__(self, address: tuple[str, int], timeout: float) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.objects: list[Any] = []
        self.dropped: list[bytes] = []  # partial last lines it threw away
        self.closed = False

    def send(self, document: Any) -> None:
        self.sock.sendall(json.dumps(document).encode() + b"\n")

    def connect(self, name: str, *rooms: str) -> None:
        self.send({"action": "connect", "user_name": name, "targets": list(rooms)})

    def wait_for(self, wanted: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not any(wanted(o) for o in self.objects):
            remaining = deadline - time.monotonic()
            if self.closed or remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(LINE_RECV_BYTES)
            except TimeoutError:
                return False
            if not data:
                self.closed = True
                return False
            *lines, last = data.split(b"\n")
            if last:
                self.dropped.append(last)
            self.objects.extend(json.loads(line) for line in lines if line.strip())
        return True

    def close(self) -> None:
        self.sock.close()
