"""Sharing the server: clients that flood it or read slowly must not hold back the others.

Nothing is queued for a client that only sends, so no limit ends it; only the server's sharing
of its time (at most `read_bytes` from each connection per turn) protects the bystanders.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from conformance.kit.wire import WireClient
from conformance.suite.verdicts import requirement
from tests.robustness.abusers import firehose
from tests.robustness.bystander import Bystanders, undisturbed
from tests.robustness.figures import record
from tests.robustness.watched import WatchedServer
from tests.transport.netutil import TIMEOUT, connect, delivery, say, settle

COSTLY = {  # a megabyte each; frames that never end get one error (too long) at most
    "valid frames": b"",  # the control: what firehose() sends by default
    "braces": b"{" * 1_000_000,
    "blank lines": b"\n" * 1_000_000,
    "escapes": b'{"a":"' + b'\\"' * 500_000,
    "empty strings": b"{" + b'"",' * 333_000,
    "nested keys": b'{"":' * 250_000,
}
HOSE_S = 0.4  # each kind of flood lasts this long


@requirement("LIMIT-4", "FRAME-5", "FRAME-6")
def test_clients_flooding_any_input_cost_the_others_at_most_their_turn() -> None:
    """Two clients write a kind of input as fast as they can and never read, kind after kind.

    Nothing is queued for them, so no limit ends them: only the server's sharing of its time
    protects the bystanders. Valid frames are the control; the others are cheap to send and cost
    the frame scanner far more per byte, and must not buy more of the server's time for that.
    """
    with WatchedServer("--no-welcome") as target, Bystanders(target.address) as bystanders:
        for n, (kind, blob) in enumerate(COSTLY.items()):
            stop = threading.Event()
            threads = [
                threading.Thread(target=firehose, args=(target.address, f"@fh{n}-{i}", stop, blob))
                for i in range(2)
            ]
            bystanders.phase(kind)
            for thread in threads:
                thread.start()
            time.sleep(HOSE_S)
            stop.set()
            for thread in threads:
                thread.join(TIMEOUT)
        report = bystanders.finish()
        assert target.finish() == (0, [])
    record("firehoses", bystanders=report)
    control = next(iter(COSTLY))  # valid frames
    assert [problem for kind in COSTLY for problem in undisturbed(report, kind, control)] == []


@requirement("LIMIT-4", "ROUTE-10")
def test_a_slow_reader_loses_nothing_and_does_not_hold_back_a_fast_one() -> None:
    messages, text = 250, "y" * 1000
    with WatchedServer("--no-welcome") as target, Bystanders(target.address) as bystanders:
        slow = connect(target.address, "@slow", "#feed")
        fast = connect(target.address, "@fast", "#feed")
        pusher = connect(target.address, "@pusher", "#feed")
        done: dict[str, float] = {}
        got: dict[str, list[Any]] = {"@slow": [], "@fast": []}

        def read(client: WireClient, pause: float) -> None:
            while len(got[client.label]) < messages:
                got[client.label].append(client.recv_value())
                if pause and len(got[client.label]) % 4 == 0:
                    time.sleep(pause)  # about 4 KiB every 10 ms: 250 KB in 0.6 s
            done[client.label] = time.monotonic()

        readers = [threading.Thread(target=read, args=(c, p)) for c, p in ((slow, 0.01), (fast, 0))]
        bystanders.phase("pushing")
        started = time.monotonic()
        for thread in readers:
            thread.start()
        for n in range(messages):
            say(pusher, "#feed", f"{n}:{text}")
        for thread in readers:
            thread.join(30)
        expected = [delivery("#feed", "@pusher", f"{n}:{text}") for n in range(messages)]
        assert got["@fast"] == expected
        assert got["@slow"] == expected
        assert settle(slow) == [] and settle(fast) == []
        assert done["@fast"] - started < (done["@slow"] - started) / 3, done
        report = bystanders.finish()
        assert target.finish() == (0, [])
    record(
        "slow_reader",
        fast_s=done["@fast"] - started,
        slow_s=done["@slow"] - started,
        bystanders=report,
    )
    assert undisturbed(report, "pushing") == []
