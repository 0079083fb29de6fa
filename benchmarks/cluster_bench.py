"""Several nodes over one Redis: fan-out across nodes, cross-node latency, what Redis pays, and a
`#all` broadcast to 50,000 clients on three nodes.

    python -m benchmarks.cluster_bench [--messages N] [--rounds N] [--clients N] [--skip-swarm]

1. **Fan-out, two nodes against one.** chatload's workload (20 receivers in one room, one sender,
   100-byte messages, 32 in flight until the last receiver has a message) against: one node
   without Redis (the embedded default), one node with Redis, and two nodes sharing that Redis with
   the receivers spread over both (the sender on the first, the receiver that paces it on the
   second, so every message in flight crosses nodes). The configurations take turns within one
   run; on this noisy machine the figures are their ratios, round by round.
2. **Cross-node latency at a steady pace.** The sender on node A posts 1,000 messages/s, the
   receivers are on node B: p50 and p99 from the sender's write to each receiver's read.
3. **Redis commands per message.** `INFO commandstats` before and after the rounds with Redis
   (one node and two nodes): the calls of every command over the messages sent in them (commands
   run inside a Lua script are counted by Redis too, so both the scripts and what they do are
   shown).
4. **50,000 clients over three nodes.** A process may hold at most 20,000 files here, so the
   clients come from several load processes, each from its own loopback address (127.0.0.x: one
   address has about 28,000 ephemeral ports), spread over the three nodes; one `#all` broadcast:
   time until the last client has it (target: under 2 s), and each node's memory per 10,000
   clients.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import multiprocessing.connection
import re
import resource
import selectors
import socket
import statistics
import time
from typing import Any

from benchmarks.fanout_bench import UntilMarker
from benchmarks.redisproc import RedisServer
from benchmarks.serverproc import BenchServer
from conformance.kit import procstat

RECEIVERS = 20
SIZE = 100
WINDOW = 32
PACED_RATE = 1_000  # messages/s for the latency figure
SWARM_NODES = 3
SWARM_PROCESSES = 4  # load processes, each from its own loopback address (127.0.0.2, ...)
TOKEN = re.compile(rb"MSG:(\d+):(\d+);")
Address = tuple[str, int]


# -- a fan-out load over several nodes ----------------------------------------------------------


class _Peer:
    def __init__(self, address: Address, name: str, room: str) -> None:
        self.sock = socket.create_connection(address, timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.name = name
        connect = {"action": "connect", "user_name": name, "targets": [room]}
        self.sock.sendall(json.dumps(connect).encode() + b"\n")
        reply = b""
        while b'"history"' not in reply:  # the connect is answered: the room is joined
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError(f"{name}: the node closed the connection while connecting")
            reply += chunk
        self.sock.setblocking(False)
        self.buffer = b""
        self.last_index = -1
        self.latencies_ms: list[float] = []
        self.count = 0


def fan_out(
    receivers_at: list[Address],
    sender_at: Address,
    messages: int,
    rate: float | None = None,
) -> dict[str, Any]:
    """One sender, `RECEIVERS` receivers spread round-robin over `receivers_at`; at most `WINDOW`
    messages in flight until the last receiver has them, or paced at `rate` messages/s."""
    room = f"#bench{time.monotonic_ns() % 1_000_000}"
    receivers = [
        _Peer(receivers_at[i % len(receivers_at)], f"@r{i}", room) for i in range(RECEIVERS)
    ]
    sender = _Peer(sender_at, "@sender", room)
    sender.sock.setblocking(True)  # only written to: its writes may wait, it is never read
    pacer = receivers[-1]  # on the last node given: what it has is what crossed
    selector = selectors.DefaultSelector()
    for peer in receivers:
        selector.register(peer.sock, selectors.EVENT_READ, peer)
    filler = "x" * (SIZE - 40)
    expected = RECEIVERS * messages
    got = sent = 0
    start = time.perf_counter()
    deadline = start + 300
    while got < expected:
        now = time.perf_counter()
        if now > deadline:
            break
        if rate is None:
            burst = min(messages - sent, WINDOW - (sent - (pacer.last_index + 1)))
        else:
            burst = min(messages - sent, int((now - start) * rate) + 1 - sent)
        for _ in range(max(burst, 0)):
            text = f"MSG:{sent}:{time.perf_counter_ns()};{filler}"
            frame = {"action": "message", "user_name": "@sender", "target": room, "message": text}
            sender.sock.sendall(json.dumps(frame).encode() + b"\n")
            sent += 1
        timeout = 0.5 if rate is None else 0.0005
        for key, _ in selector.select(timeout):
            peer = key.data
            with contextlib.suppress(BlockingIOError):
                data = peer.buffer + peer.sock.recv(1 << 18)
                arrived = time.perf_counter_ns()
                end = data.rfind(b";")
                tokens = list(TOKEN.finditer(data, 0, end + 1)) if end >= 0 else []
                peer.buffer = data[tokens[-1].end() :] if tokens else data[-200:]
                for token in tokens:
                    peer.count += 1
                    got += 1
                    peer.last_index = max(peer.last_index, int(token.group(1)))
                    peer.latencies_ms.append((arrived - int(token.group(2))) / 1e6)
    elapsed = time.perf_counter() - start
    for peer in [*receivers, sender]:
        peer.sock.close()
    selector.close()
    latencies = sorted(ms for peer in receivers for ms in peer.latencies_ms)
    return {
        "deliveries": got,
        "lost": expected - got,
        "deliveries_per_s": round(got / elapsed),
        "p50_ms": round(latencies[len(latencies) // 2], 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2) if latencies else None,
    }


# -- nodes --------------------------------------------------------------------------------------


def node(redis: RedisServer | None, *args: str) -> BenchServer:
    """A node of the cluster over `redis`, or a server alone when None."""
    cluster = ["--redis", redis.url] if redis else []
    return BenchServer(*cluster, *args)


def command_calls(redis: RedisServer) -> dict[str, int]:
    """`INFO commandstats`: calls of each command so far."""
    info: bytes = redis.call("INFO", "commandstats")
    calls = {}
    for line in info.decode().splitlines():
        match = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
        if match:
            calls[match.group(1)] = int(match.group(2))
    return calls


def side_by_side(rounds: int, messages: int) -> dict[str, Any]:
    """Rounds of the three configurations in turn; ratios round by round and their medians."""
    rates: dict[str, list[float]] = {"single": [], "one_node": [], "two_nodes": []}
    p99: dict[str, list[float]] = {name: [] for name in rates}
    lost = 0
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(RedisServer())
        single = stack.enter_context(node(None))
        first = stack.enter_context(node(redis))
        second = stack.enter_context(node(redis))
        a, b = (first.host, first.port), (second.host, second.port)
        setups = {
            "single": ([(single.host, single.port)], (single.host, single.port)),
            "one_node": ([a], a),
            "two_nodes": ([a, b], a),
        }
        calls_before = command_calls(redis)
        redis_cpu_s = 0.0  # Redis's own CPU time (/proc) in the two-node rounds
        for i in range(rounds):
            order = list(setups) if i % 2 == 0 else list(reversed(setups))
            for name in order:
                redis_cpu = procstat.cpu_seconds(redis.pid)
                result = fan_out(*setups[name], messages)
                if name == "two_nodes":
                    redis_cpu_s += procstat.cpu_seconds(redis.pid) - redis_cpu
                lost += result["lost"]
                rates[name].append(result["deliveries_per_s"])
                p99[name].append(result["p99_ms"])
        calls_after = command_calls(redis)
        paced = fan_out([b], a, PACED_RATE * 5, rate=PACED_RATE)  # five seconds at 1,000/s
    redis_messages = 2 * rounds * messages  # those of the one-node and the two-node rounds
    per_message = {
        command: round((calls_after[command] - calls_before.get(command, 0)) / redis_messages, 2)
        for command in calls_after
        if calls_after[command] > calls_before.get(command, 0)
    }
    return {
        "rounds": rounds,
        "messages": messages,
        "lost": lost,
        "deliveries_per_s": rates,
        "two_nodes_over_one_node": _ratios(rates["two_nodes"], rates["one_node"]),
        "one_node_over_single": _ratios(rates["one_node"], rates["single"]),
        "p99_ms": p99,
        "paced_cross_node": {"rate": PACED_RATE, **paced},
        "redis_calls_per_message": dict(sorted(per_message.items())),
        # Redis is one thread: one core over this is the most messages/s it can number and
        # publish to two nodes, whatever the number of nodes doing the fan-out.
        "redis_cpu_us_per_message_two_nodes": round(redis_cpu_s * 1e6 / (rounds * messages), 1),
        "redis_ceiling_messages_per_s": round(rounds * messages / redis_cpu_s)
        if redis_cpu_s
        else None,
    }


def _ratios(ours: list[float], theirs: list[float]) -> dict[str, Any]:
    ratios = [o / t for o, t in zip(ours, theirs, strict=True)]
    return {"median": round(statistics.median(ratios), 2), "rounds": [round(r, 2) for r in ratios]}


# -- 50,000 clients over three nodes ------------------------------------------------------------


def _swarm_process(
    source: str,
    nodes: list[Address],
    first: int,
    count: int,
    pipe: multiprocessing.connection.Connection,
) -> None:
    """Connect `count` clients from `source` round-robin over `nodes`, report ready, then report
    when the last of them has the broadcast (time.monotonic: one clock for every process)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    try:
        connected = UntilMarker(b'"history"')
        for i in range(count):
            sock = socket.socket()
            sock.bind((source, 0))
            sock.connect(nodes[i % len(nodes)])
            name = f"@s{first + i}"
            sock.sendall(b'{"action":"connect","user_name":"%s","targets":[]}\n' % name.encode())
            sock.setblocking(False)
            socks.append(sock)
            connected.add(sock)
            if i % 500 == 499:
                connected.poll()
        connected.wait(120)
        everyone = UntilMarker(b"to everyone")
        for sock in socks:
            everyone.add(sock)
        pipe.send(("ready", count))
        everyone.wait(60)
        pipe.send(("done", time.monotonic()))
    except Exception as error:  # the parent reports it
        pipe.send(("error", f"{source}: {error!r}"))
    finally:
        for sock in socks:
            sock.close()


def swarm(clients: int) -> dict[str, Any]:
    """`clients` spread over `SWARM_NODES` nodes of one Redis by `SWARM_PROCESSES` load
    processes, one `#all` broadcast to all of them."""
    nodes_count, processes = SWARM_NODES, SWARM_PROCESSES
    per_node = clients // nodes_count + 100
    limits = ["--no-welcome", "--max-connections", str(per_node)]
    limits += ["--max-connections-per-address", str(per_node)]
    context = multiprocessing.get_context("fork")
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(RedisServer())
        nodes = [stack.enter_context(node(redis, *limits)) for _ in range(nodes_count)]
        addresses = [(n.host, n.port) for n in nodes]
        rss_before = [n.rss_kib() for n in nodes]
        pipes, workers = [], []
        share = clients // processes
        started = time.monotonic()
        for k in range(processes):
            count = share if k < processes - 1 else clients - share * (processes - 1)
            ours, theirs = context.Pipe()
            args = (f"127.0.0.{k + 2}", addresses, k * share, count, theirs)
            worker = context.Process(target=_swarm_process, args=args, daemon=True)
            worker.start()
            pipes.append(ours)
            workers.append(worker)
        for pipe in pipes:
            kind, value = pipe.recv()
            if kind != "ready":
                raise RuntimeError(value)
        connected_s = time.monotonic() - started
        rss_after = [n.rss_kib() for n in nodes]
        sender = socket.create_connection(addresses[0])
        sender.sendall(b'{"action":"connect","user_name":"@sender","targets":[]}\n')
        sender.recv(1 << 16)
        message = b'{"action":"message","user_name":"@sender","target":"#all",'
        sent_at = time.monotonic()
        sender.sendall(message + b'"message":"to everyone"}\n')
        last = sent_at
        for pipe in pipes:
            kind, value = pipe.recv()
            if kind != "done":
                raise RuntimeError(value)
            last = max(last, value)
        sender.close()
        for worker in workers:
            worker.join(30)
    per_client = [
        (a - b) / (clients / nodes_count) for a, b in zip(rss_after, rss_before, strict=True)
    ]
    return {
        "clients": clients,
        "nodes": nodes_count,
        "load_processes": processes,
        "connected_in_s": round(connected_s, 1),
        "broadcast_ms_until_last": round((last - sent_at) * 1000, 1),
        "node_mib_per_10k_clients": [round(kib * 10_000 / 1024, 1) for kib in per_client],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--skip-swarm", action="store_true", help="only the fan-out figures")
    args = parser.parse_args()
    print(json.dumps({"bench": "cluster_fan_out", **side_by_side(args.rounds, args.messages)}))
    if not args.skip_swarm:
        print(json.dumps({"bench": "cluster_broadcast", **swarm(args.clients)}), flush=True)


if __name__ == "__main__":
    main()
