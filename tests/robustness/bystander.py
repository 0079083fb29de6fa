"""A well-behaved pair of users, in a process of their own, that must not notice any attack.

    python -m tests.robustness.bystander HOST PORT TAG

`@TAG-a` and `@TAG-b` exchange numbered messages in lockstep: a posts `n` to `#TAG`, b must get
exactly that delivery next, answers `n` by direct message, and a must get exactly that next. So
every message is checked (nothing lost, duplicated, reordered, or slipped in by someone else), and
the time from a's post to b's answer is a round trip through the server twice.

It runs in its own process so that the attackers, which run in the test's process, cannot slow
its measurements through the GIL; what it measures is the server. It says `ready` once it has
made BASELINE_EXCHANGES exchanges (the `baseline` phase); then each line on stdin names a new
phase (`attack`, ...), or is `report` (it prints its report so far); at EOF it stops and prints
its final report.

The latency bound (`undisturbed`) is loose on purpose: the attackers and the server share two
cores, so a saturated server makes a bystander wait for its turn. What it must catch is a server
that serves one client at the others' expense, blocked on a write or reading a client dry: with
the per-turn read bound lifted (`--read-bytes 4194304`), two clients flooding valid frames took
bystanders from 0.7/1.6 ms (p50/p99) to 463/823 ms; with it, to 15/30 ms.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from conformance.kit.load.swarm import percentile
from conformance.kit.wire import Closed, WireClient
from tests.transport.netutil import connect, delivery, say, settle

PACE_S = 0.002  # between exchanges: a chatty user, not a load generator
BASELINE_EXCHANGES = 100
P50_TIMES, P50_PLUS_MS = 10, 25  # bound on p50 during an attack: 10 x baseline + 25 ms
P99_TIMES, P99_PLUS_MS = 20, 100  # bound on p99
CONTROL_TIMES = 3  # a costly input against ordinary traffic of the same load, same slack
STALL_S = 5.0  # a reply later than this is a violation, not a slow sample
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Phase:
    rtts: list[float] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        if not self.rtts:
            return {"count": 0}
        return {
            "count": len(self.rtts),
            "p50_ms": round(percentile(self.rtts, 0.50) * 1000, 3),
            "p99_ms": round(percentile(self.rtts, 0.99) * 1000, 3),
            "max_ms": round(max(self.rtts) * 1000, 3),
        }


def exchange(
    a: WireClient, b: WireClient, tag: str, phases: list[tuple[str, Phase]], stop: threading.Event
) -> list[str]:
    """Run the lockstep until `stop` is set; the violations seen (it stops at the first)."""
    room, a_name, b_name = f"#{tag}", f"@{tag}-a", f"@{tag}-b"
    n = 0
    try:
        while not stop.is_set():
            n += 1
            phase = phases[-1][1]
            started = time.perf_counter()
            say(a, room, str(n))
            if (got := b.recv_value(STALL_S)) != delivery(room, a_name, str(n)):
                return [f"b expected post {n}, got {got!r}"]
            say(b, a_name, str(n))
            if (got := a.recv_value(STALL_S)) != delivery(a_name, b_name, str(n)):
                return [f"a expected answer {n}, got {got!r}"]
            phase.rtts.append(time.perf_counter() - started)
            time.sleep(PACE_S)
        extra = {"a": settle(a), "b": settle(b)}
        return [f"{who} got {got!r} after the last exchange" for who, got in extra.items() if got]
    except (Closed, OSError, TimeoutError) as failure:
        return [f"exchange {n}: {type(failure).__name__}: {failure}"]
    finally:
        for client in (a, b):
            client.close()


def main() -> None:
    host, port, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    phases = [("baseline", Phase())]
    stop = threading.Event()
    result: list[list[str]] = []
    a, b = (connect((host, port), f"@{tag}-{x}", f"#{tag}", timeout=STALL_S) for x in "ab")
    worker = threading.Thread(target=lambda: result.append(exchange(a, b, tag, phases, stop)))
    worker.start()
    while len(phases[0][1].rtts) < BASELINE_EXCHANGES and worker.is_alive():
        time.sleep(PACE_S)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "report":  # so far: the exchange goes on
            so_far = result[0] if result else []
            print(json.dumps(_report(so_far, phases)), flush=True)
        else:
            phases.append((line.strip(), Phase()))
            print("ok", flush=True)
    stop.set()
    worker.join()
    print(json.dumps(_report(result[0] if result else ["it died"], phases)), flush=True)


def _report(violations: list[str], phases: list[tuple[str, Phase]]) -> dict[str, Any]:
    return {"violations": violations, "phases": {name: p.figures() for name, p in phases}}


def undisturbed(report: dict[str, Any], phase: str, control: str | None = None) -> list[str]:
    """What the bystanders noticed during `phase`, compared with their baseline.

    With `control`, a phase of the same load made of ordinary traffic: `phase` may also cost
    the bystanders up to CONTROL_TIMES what `control` did (plus the same slack). On a machine
    that other work slows, the control slows with it, where the idle baseline does not; what is
    tested stays whether an input buys its sender more of the server's time than valid frames.
    """
    problems = list(report["violations"])
    base, during = report["phases"]["baseline"], report["phases"][phase]
    if not during["count"]:
        return [*problems, f"no exchange during {phase}"]
    p50_bound = P50_TIMES * base["p50_ms"] + P50_PLUS_MS
    p99_bound = P99_TIMES * base["p99_ms"] + P99_PLUS_MS
    if control is not None and report["phases"][control]["count"]:
        like = report["phases"][control]
        p50_bound = max(p50_bound, CONTROL_TIMES * like["p50_ms"] + P50_PLUS_MS)
        p99_bound = max(p99_bound, CONTROL_TIMES * like["p99_ms"] + P99_PLUS_MS)
    if during["p50_ms"] > p50_bound or during["p99_ms"] > p99_bound:
        problems.append(f"{phase}: {during} beyond p50 {p50_bound:.1f}, p99 {p99_bound:.1f} ms")
    return problems


class Bystanders:
    """Drives `python -m tests.robustness.bystander` from a test: phases, then the report."""

    def __init__(self, address: tuple[str, int], tag: str = "by") -> None:
        self.tag = tag
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.robustness.bystander", address[0], str(address[1]), tag],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if line.strip() != "ready":
            self._process.kill()
            raise RuntimeError(f"bystanders did not start: {line!r}")

    def phase(self, name: str) -> None:
        """From now on, samples count for `name`; returns once the bystanders have switched."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(name + "\n")
        self._process.stdin.flush()
        assert self._process.stdout.readline().strip() == "ok"

    def report(self) -> dict[str, Any]:
        """Their report so far; they go on exchanging."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write("report\n")
        self._process.stdin.flush()
        report: dict[str, Any] = json.loads(self._process.stdout.readline())
        return report

    def finish(self) -> dict[str, Any]:
        """Stop them; their report: `violations` and, per phase, round-trip figures."""
        out, _ = self._process.communicate(timeout=30)
        report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return report

    def __enter__(self) -> Bystanders:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()


if __name__ == "__main__":
    main()
