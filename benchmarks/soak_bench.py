"""Soak: 1,000 users in mixed traffic for five minutes, every delivery checked, no trace left.

    python -m benchmarks.soak_bench [--clients 1000] [--seconds 300] [--rate 0.5]

The load is conformance/kit/load/swarm.py: rooms, direct messages (some to users who are away),
`#all`, joins by posting, leaves, new rooms by connecting again, disconnects and resets with
comebacks, and attackers playing the hostile catalogue; its ledger.py checks that
every message to a member arrived exactly once and in order. All users run on one selector in
this process; `client_busy_fraction` (time spent handling sockets and timers) and
`client_lag_p99_ms` (how late actions ran) show whether the client side kept up.

Memory is VmRSS, which an allocator need not give back; so a warm-up round, the same load for
a tenth of the time (at least WARMUP_S), comes first, and the soak must end within
RSS_TOLERANCE_KIB of where the warm-up left it. File descriptors must come back exactly.
Exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from benchmarks.serverproc import BenchServer
from conformance.kit.load import Load, run

RSS_TOLERANCE_KIB = 2048  # two of Python's 1 MiB arenas; one session costs over a kilobyte
SAMPLE_S = 5.0
WARMUP_S = 30.0  # long enough for every room's history to fill up, as it will in the soak
ATTACKERS = 5


def settle_fds(server: BenchServer, expected: int, timeout: float = 30.0) -> int:
    """The fd count once closing connections are gone (each is held up to flush_timeout_ms)."""
    return server.server.wait_fds(expected, timeout)


class Sampler:
    """The server's memory and descriptors every SAMPLE_S seconds, for their peaks."""

    def __init__(self, server: BenchServer) -> None:
        self.server, self.peak_rss, self.peak_fds = server, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.peak_rss = max(self.peak_rss, self.server.rss_kib())
            self.peak_fds = max(self.peak_fds, self.server.fd_count())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def soak(clients: int, seconds: float, rate: float) -> dict[str, Any]:
    address_limit = str(clients + 100)
    with BenchServer("--no-welcome", "--max-connections-per-address", address_limit) as server:
        address = (server.host, server.port)
        fds_idle, rss_idle = server.fd_count(), server.rss_kib()
        warmup = Load(clients, max(WARMUP_S, seconds / 10), rate, attackers=ATTACKERS, seed=0)
        warm = run(address, warmup)
        fds_warm, rss_warm = settle_fds(server, fds_idle), server.rss_kib()
        cpu_before, sampler = server.cpu_s(), Sampler(server)
        result = run(address, Load(clients, seconds, rate, attackers=ATTACKERS, seed=1))
        sampler.stop()
        cpu = server.cpu_s() - cpu_before
        fds_after, rss_after = settle_fds(server, fds_idle), server.rss_kib()
    return {
        **result,
        "warmup_violations": warm["violations"],
        "server_cpu_fraction": round(cpu / float(result["seconds"]), 2),
        "server_fds": {
            "idle": fds_idle,
            "after_warmup": fds_warm,
            "peak": sampler.peak_fds,
            "after": fds_after,
        },
        "server_rss_kib": {
            "idle": rss_idle,
            "after_warmup": rss_warm,
            "peak": sampler.peak_rss,
            "after": rss_after,
        },
        "rss_tolerance_kib": RSS_TOLERANCE_KIB,
    }


def failures(figures: dict[str, Any]) -> list[str]:
    fds, rss = figures["server_fds"], figures["server_rss_kib"]
    checks = {
        "lost, duplicated or misdelivered messages": figures["violations"] == 0,
        "violations in the warm-up": figures["warmup_violations"] == 0,
        "file descriptors back to idle": fds["after"] == fds["idle"] == fds["after_warmup"],
        "memory back to its warm level": rss["after"] - rss["after_warmup"] <= RSS_TOLERANCE_KIB,
    }
    return [name for name, ok in checks.items() if not ok]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=0.5, help="actions per user per second")
    args = parser.parse_args()
    figures = soak(args.clients, args.seconds, args.rate)
    failed = failures(figures)
    samples = figures.pop("violation_samples")
    print(json.dumps({"bench": "soak", **figures, "failed": failed}), flush=True)
    for sample in samples[:10]:
        print(json.dumps({"bench": "soak", "violation": sample}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
