"""The reference server under fan-out, broadcast and connection load, from another process.

    python -m benchmarks.fanout_bench [--messages N] [--runs N] [--clients N] [--accepts N]

1. chatload's workload (benchmarks/vendor/chatload.py): 20 receivers in one room, one sender,
   100-byte messages, at most 32 in flight. Deliveries/s and p50/p99 latency; the best public
   peer (a select() server) reached about 140,000 deliveries/s here. Target: >= 300,000.
2. N connected clients (5,000) all receiving one `#all` broadcast: time until the last one has
   it, and the server's memory (VmRSS) before and after the clients connected.
3. Connections accepted per second: N clients connect at once; time until each has its welcome.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.serverproc import BenchServer

CHATLOAD = Path(__file__).with_name("vendor") / "chatload.py"


def fanout(server: BenchServer, messages: int) -> dict[str, float]:
    command = [
        sys.executable,
        str(CHATLOAD),
        "--port",
        str(server.port),
        "--receivers",
        "20",
        "--messages",
        str(messages),
        "--size",
        "100",
        "--window",
        "32",
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    result: dict[str, float] = json.loads(out.stdout)
    if result["lost"]:
        raise RuntimeError(f"chatload lost deliveries: {result}")
    return result


def open_clients(server: BenchServer, count: int) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        sock = socket.create_connection((server.host, server.port))
        sock.setblocking(False)
        clients.append(sock)
    return clients


class UntilMarker:
    """Clients read until each has received `marker`, then let go. Clients may be added one by
    one and read from while more connect (`poll`), so that none waits out a timeout unread."""

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self._selector = selectors.DefaultSelector()
        self._pending: dict[socket.socket, bytes] = {}

    def add(self, sock: socket.socket) -> None:
        self._pending[sock] = b""
        self._selector.register(sock, selectors.EVENT_READ)

    def poll(self, wait: float = 0.0) -> None:
        """Read once whatever is ready within `wait` seconds."""
        for key, _ in self._selector.select(wait):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            data = sock.recv(1 << 16)
            if not data:
                raise RuntimeError(f"the server closed a client before it had {self.marker!r}")
            data = self._pending[sock] + data
            if self.marker in data:
                self._selector.unregister(sock)
                del self._pending[sock]
            else:
                self._pending[sock] = data

    def wait(self, timeout: float = 60) -> float:
        """Seconds until every client has the marker."""
        start = time.perf_counter()
        while self._pending:
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"{len(self._pending)} clients still wait for {self.marker!r}")
            self.poll(1.0)
        self._selector.close()
        return time.perf_counter() - start


def read_until(clients: list[socket.socket], marker: bytes, timeout: float = 60) -> float:
    """Seconds until every client has received `marker`."""
    reader = UntilMarker(marker)
    for sock in clients:
        reader.add(sock)
    return reader.wait(timeout)


def broadcast(clients: int) -> dict[str, float]:
    limit = str(clients + 1)  # the clients and the sender, all from 127.0.0.1
    with BenchServer(
        "--no-welcome", "--max-connections", limit, "--max-connections-per-address", limit
    ) as server:
        rss_before = server.rss_kib()
        # Each client connects as soon as it is open: opened all first, the first ones would
        # wait out connect_timeout_s while thousands more open, and be let go.
        socks = []
        for i in range(clients):
            sock = socket.create_connection((server.host, server.port))
            sock.sendall(b'{"action":"connect","user_name":"@c%d","targets":[]}\n' % i)
            sock.setblocking(False)
            socks.append(sock)
        read_until(socks, b'"history":[]}\n')
        rss_after = server.rss_kib()
        sender = socket.create_connection((server.host, server.port))
        sender.sendall(b'{"action":"connect","user_name":"@sender","targets":[]}\n')
        sender.recv(1 << 16)
        sender.sendall(
            b'{"action":"message","user_name":"@sender","target":"#all","message":"to everyone"}\n'
        )
        elapsed = read_until(socks, b"to everyone")
        for sock in [*socks, sender]:
            sock.close()
    return {
        "clients": clients,
        "broadcast_ms_until_last": round(elapsed * 1000, 1),
        "server_rss_mib_idle": round(rss_before / 1024, 1),
        "server_rss_mib_connected": round(rss_after / 1024, 1),
        "server_kib_per_client": round((rss_after - rss_before) / clients, 1),
    }


def accepts(count: int) -> dict[str, float]:
    with BenchServer() as server:
        start = time.perf_counter()
        socks = open_clients(server, count)
        read_until(socks, b'"status":"welcome"')
        elapsed = time.perf_counter() - start
        for sock in socks:
            sock.close()
    return {"connections": count, "accepted_per_s": round(count / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=5_000)
    parser.add_argument("--accepts", type=int, default=2_000)
    args = parser.parse_args()
    with BenchServer() as server:
        runs = [fanout(server, args.messages) for _ in range(args.runs)]
    rates = [r["deliveries_per_s"] for r in runs]
    print(
        json.dumps(
            {
                "bench": "fanout",
                "deliveries_per_s_median": round(statistics.median(rates)),
                "deliveries_per_s_runs": rates,
                "target_deliveries_per_s": 300_000,
                "p50_ms_median": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms_median": statistics.median(r["p99_ms"] for r in runs),
            }
        ),
        flush=True,
    )
    print(json.dumps({"bench": "broadcast", **broadcast(args.clients)}), flush=True)
    print(json.dumps({"bench": "accept", **accepts(args.accepts)}), flush=True)


if __name__ == "__main__":
    main()
