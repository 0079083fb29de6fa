"""Fan-out side by side with Redis pub/sub, and one `#all` broadcast to 19,000 clients.

    python -m benchmarks.redis_bench [--messages N] [--rounds N] [--clients N]

1. chatload's workload (20 receivers, one sender, 100-byte messages) against the reference server
   and against Redis 7 pub/sub (redis-server from Debian, no persistence), taking turns within one
   run, at 32 and at 64 messages in flight. On a machine shared with other work, absolute rates
   move with the load, but servers measured in alternation see about the same load, so the ratio
   of their rates (and of their p99 latencies) is the figure: issue 16 asks for a rate ratio of at
   least 1 and a p99 ratio of at most 1. The servers' CPU time per delivery (from /proc) is
   compared too: it is what would set the pace where the load generator is not the limit.
   chatload is one Python process, and here it is the limit: its CPU share while it measures is
   printed (0.97-0.98 against either server). What it pays per delivery grows with the bytes it
   reads, and our delivery of its message is longer than Redis's (the protocol's JSON around the
   text, 44 bytes more), so a third runner in the rotation is Redis with the message padded by
   that much: `padded_*` is what those bytes cost Redis, `*_vs_padded` compares us with it.
   chatload also spends more of its own time to encode our request than Redis's `PUBLISH`
   (`chatload_encoding`, timed here side by side). A fourth runner, `redis_chat_costs`, charges
   that too to padded Redis (benchmarks/chatload_chat_costs.py): `*_vs_chat_costs` compares the
   servers at the same cost on chatload's side, `chatload_us_per_delivery` shows what it spends.
2. N clients (19,000: a process here may hold at most 20,000 files) each connected, one `#all`
   broadcast: time until the last one has it, and the server's memory per 10,000 clients.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
from typing import Any

from benchmarks.chatload_chat_costs import RECEIVERS, encoding_costs
from benchmarks.fanout_bench import CHATLOAD, broadcast
from benchmarks.redisproc import RedisServer
from benchmarks.serverproc import BenchServer
from conformance.kit import procstat
from engine.codec import encode_delivery

WINDOWS = (32, 64)
SIZE = 100  # characters of chatload's message text (its default)


def chatload(
    port: int, proto: str, window: int, messages: int, size: int, chat_costs: bool = False
) -> dict[str, float]:
    """One chatload run; its own CPU time (user + system) as `load_cpu_s`. With `chat_costs`,
    chatload pays for each PUBLISH what it pays to encode our request (chatload_chat_costs)."""
    script = ["-m", "benchmarks.chatload_chat_costs"] if chat_costs else [str(CHATLOAD)]
    command = [sys.executable, *script, "--port", str(port), "--proto", proto]
    command += ["--receivers", str(RECEIVERS), "--messages", str(messages), "--size", str(size)]
    command += ["--window", str(window)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, float] = json.loads(out.stdout)
    if result["lost"]:
        raise RuntimeError(f"chatload lost deliveries against {proto}: {result}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {**result, "load_cpu_s": cpu}


def extra_delivery_bytes(size: int) -> int:
    """How much longer our delivery of a chatload message of `size` characters is than Redis's:
    `{"status":"chat","history":[{"target":"#bench","from":"@sender","message":...}]}` and a
    newline, against RESP's `*3 $7 message $5 bench $N ...` with its CRLFs."""
    entry = {"target": "#bench", "from": "@sender", "message": "x" * size}
    ours = len(encode_delivery(entry))
    redis = len(b"*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$%d\r\n\r\n" % size) + size
    return ours - redis


def side_by_side(window: int, rounds: int, messages: int) -> dict[str, Any]:
    """Rounds of one run against each in turn (the order rotates): our server; Redis; Redis with
    messages padded so that its deliveries are as long as ours ("redis_padded"); and padded
    Redis with chatload paying for each message what it pays to encode our request
    ("redis_chat_costs", benchmarks/chatload_chat_costs.py): Redis at chatload's costs of our
    protocol, so that the ratio to it compares the servers alone."""
    padded = SIZE + extra_delivery_bytes(SIZE)
    names = ("chat", "redis", "redis_padded", "redis_chat_costs")
    rates: dict[str, list[float]] = {name: [] for name in names}
    p99s: dict[str, list[float]] = {name: [] for name in names}
    cpu_us: dict[str, list[float]] = {name: [] for name in names}  # server CPU per delivery
    load_us: dict[str, list[float]] = {name: [] for name in names}  # chatload CPU per delivery
    load_share: dict[str, list[float]] = {name: [] for name in names}  # chatload CPU / its run
    with BenchServer() as chat, RedisServer() as redis:
        runs = {
            "chat": (chat.port, chat.pid, "chat", SIZE, False),
            "redis": (redis.port, redis.pid, "redis", SIZE, False),
            "redis_padded": (redis.port, redis.pid, "redis", padded, False),
            "redis_chat_costs": (redis.port, redis.pid, "redis", padded, True),
        }
        # chatload's CPU for starting, connecting and waiting: taken off that of a measured run
        fixed = {}
        for name, (port, _pid, proto, length, costs) in runs.items():
            fixed[name] = chatload(port, proto, window, 1, length, costs)["load_cpu_s"]
        for i in range(rounds):
            turn = i % len(names)
            for name in names[turn:] + names[:turn]:
                port, pid, proto, length, costs = runs[name]
                cpu_before = procstat.cpu_seconds(pid)
                result = chatload(port, proto, window, messages, length, costs)
                cpu = procstat.cpu_seconds(pid) - cpu_before
                rates[name].append(result["deliveries_per_s"])
                p99s[name].append(result["p99_ms"])
                cpu_us[name].append(cpu * 1e6 / result["deliveries"])
                busy = result["load_cpu_s"] - fixed[name]
                load_us[name].append(busy * 1e6 / result["deliveries"])
                load_share[name].append(busy / result["elapsed_s"])
    return {
        "window": window,
        "rounds": rounds,
        **_ratios("rate", rates, "chat", "redis"),
        **_ratios("p99", p99s, "chat", "redis"),
        **_ratios("cpu_per_delivery", cpu_us, "chat", "redis"),
        "padded_bytes": padded - SIZE,
        **_ratios("padded_rate", rates, "redis_padded", "redis"),
        **_ratios("padded_p99", p99s, "redis_padded", "redis"),
        **_ratios("rate_vs_padded", rates, "chat", "redis_padded"),
        **_ratios("p99_vs_padded", p99s, "chat", "redis_padded"),
        **_ratios("chat_costs_rate", rates, "redis_chat_costs", "redis"),
        **_ratios("rate_vs_chat_costs", rates, "chat", "redis_chat_costs"),
        **_ratios("p99_vs_chat_costs", p99s, "chat", "redis_chat_costs"),
        **_ratios("cpu_per_delivery_vs_chat_costs", cpu_us, "chat", "redis_chat_costs"),
        "chatload_cpu_share": _medians(load_share, 2),
        "chatload_us_per_delivery": _medians(load_us, 3),
    }


def _medians(figures: dict[str, list[float]], digits: int) -> dict[str, float]:
    return {name: round(statistics.median(values), digits) for name, values in figures.items()}


def _ratios(name: str, figures: dict[str, list[float]], ours: str, theirs: str) -> dict[str, Any]:
    """`ours` over `theirs`, round by round, and their median."""
    ratios = [c / r for c, r in zip(figures[ours], figures[theirs], strict=True)]
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
    costs = encoding_costs(SIZE)  # chatload's own, per message, each protocol, timed side by side
    print(json.dumps({"bench": "chatload_encoding", **costs}), flush=True)
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
