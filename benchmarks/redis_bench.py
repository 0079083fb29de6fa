"""Fan-out side by side with Redis pub/sub, and one `#all` broadcast to 19,000 clients.

    python -m benchmarks.redis_bench [--messages N] [--rounds N] [--clients N]

1. chatload's workload (20 receivers, one sender, 100-byte messages) against the reference server
   and against Redis 7 pub/sub (redis-server from Debian, no persistence), taking turns within one
   run, at 32 and at 64 messages in flight. On a machine shared with other work, absolute rates
   move with the load, but two servers measured in alternation see about the same load, so the
   ratio of their rates (and of their p99 latencies) is the figure: issue 16 asks for a rate ratio
   of at least 1 and a p99 ratio of at most 1. On a heavily loaded machine even that ratio swings
   from round to round, so the servers' CPU time per delivery (from /proc) is compared too: it
   depends far less on what else runs than the time until the last delivery does.
2. N clients (19,000: a process here may hold at most 20,000 files) each connected, one `#all`
   broadcast: time until the last one has it, and the server's memory per 10,000 clients.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.fanout_bench import CHATLOAD, broadcast
from benchmarks.serverproc import BenchServer
from conformance.kit import procstat
from conformance.kit.target import free_port

WINDOWS = (32, 64)


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[int, int]]:
    """A throw-away redis-server on a free loopback port, without persistence: (port, pid)."""
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed (make bench installs it)")
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--protected-mode", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(10)


def chatload(port: int, proto: str, window: int, messages: int) -> dict[str, float]:
    command = [sys.executable, str(CHATLOAD), "--port", str(port), "--proto", proto]
    command += ["--receivers", "20", "--messages", str(messages), "--size", "100"]
    command += ["--window", str(window)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    result: dict[str, float] = json.loads(out.stdout)
    if result["lost"]:
        raise RuntimeError(f"chatload lost deliveries against {proto}: {result}")
    return result


def side_by_side(window: int, rounds: int, messages: int) -> dict[str, Any]:
    """Rounds of one run against each server in turn (who goes first alternates)."""
    rates: dict[str, list[float]] = {"chat": [], "redis": []}
    p99s: dict[str, list[float]] = {"chat": [], "redis": []}
    cpu_us: dict[str, list[float]] = {"chat": [], "redis": []}  # server CPU per delivery
    with BenchServer() as chat, redis_server() as (redis_port, redis_pid):
        servers = {"chat": (chat.port, chat.pid), "redis": (redis_port, redis_pid)}
        for i in range(rounds):
            for proto in ("chat", "redis") if i % 2 == 0 else ("redis", "chat"):
                port, pid = servers[proto]
                cpu_before = procstat.cpu_seconds(pid)
                result = chatload(port, proto, window, messages)
                cpu = procstat.cpu_seconds(pid) - cpu_before
                rates[proto].append(result["deliveries_per_s"])
                p99s[proto].append(result["p99_ms"])
                cpu_us[proto].append(cpu * 1e6 / result["deliveries"])
    return {
        "window": window,
        "rounds": rounds,
        **_ratios("rate", rates),
        **_ratios("p99", p99s),
        **_ratios("cpu_per_delivery", cpu_us),
    }


def _ratios(name: str, figures: dict[str, list[float]]) -> dict[str, Any]:
    """Ours over Redis's, round by round, and their median."""
    ratios = [c / r for c, r in zip(figures["chat"], figures["redis"], strict=True)]
    return {
        f"{name}_ratio_median": round(statistics.median(ratios), 2),
        f"{name}_ratios": [round(r, 2) for r in ratios],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=19_000)
    args = parser.parse_args()
    for window in WINDOWS:
        result = side_by_side(window, args.rounds, args.messages)
        print(json.dumps({"bench": "redis_side_by_side", **result}), flush=True)
    # This process holds every client socket: as many files as the hard limit allows.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    figures = broadcast(args.clients)
    per_10k = round(figures["server_kib_per_client"] * 10_000 / 1024, 1)
    print(json.dumps({"bench": "broadcast", **figures, "server_mib_per_10k_clients": per_10k}))


if __name__ == "__main__":
    main()
