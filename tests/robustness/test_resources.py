"""Memory, file descriptors and bystander latency, before, during and after abuse.

Descriptors are counted exactly: after the abuse the server holds the ones it held before. Memory
is VmRSS, which an allocator need not give back, so it is compared with the level reached after a
first, identical round (a warm-up), within RSS_TOLERANCE_KIB. Python's small-object allocator
takes memory from the system in arenas of 1 MiB, touched page by page; a server whose memory stays
within one arena of the warm level over thousands of further sessions keeps less than
RSS_TOLERANCE_KIB / sessions bytes per session, far below one session's size (a Session with its
frame decoder, a Connection and a socket object: over a kilobyte).
"""

from __future__ import annotations

import threading
import time

from conformance.kit.shapes import DISCONNECTED, error
from conformance.kit.wire import encode
from conformance.suite.verdicts import requirement
from tests.robustness.abusers import firehose, hog_until_cut_off
from tests.robustness.bystander import Bystanders, undisturbed
from tests.robustness.churn import churn
from tests.robustness.figures import record
from tests.robustness.flood import SERVER_FULL, dial, last_words
from tests.robustness.hostile_client import attack
from tests.robustness.watched import WatchedServer
from tests.transport.netutil import connect, settle

RSS_TOLERANCE_KIB = 1024
CYCLES = 1500


@requirement("DISCONNECT-6", "CONNECT-6")
def test_thousands_of_connect_disconnect_cycles_leave_nothing_behind() -> None:
    """Small connection limits: a leaked count per address would refuse the next connections."""
    limits = ("--max-connections", "40", "--max-connections-per-address", "30")
    with WatchedServer("--no-welcome", *limits) as target:
        fds, cold = target.fd_count(), target.rss_kib()
        assert churn(target.address, CYCLES, tag="warm") == []
        assert target.wait_fds(fds) == fds, target.describe_fds()
        warm, after = target.rss_kib(), []
        for round_no in range(3):
            assert churn(target.address, CYCLES, tag=f"r{round_no}-") == []
            assert target.wait_fds(fds) == fds, target.describe_fds()
            after.append(target.rss_kib())
        again = connect(target.address, "@warm0", "#churn0")  # a name and a room of the warm-up
        assert settle(again) == []
        again.close()
        assert target.finish() == (0, [])
    record("churn", cycles=4 * CYCLES, fds=fds, rss_kib_cold=cold, rss_kib_warm=warm, after=after)
    assert max(after) - warm <= RSS_TOLERANCE_KIB, (cold, warm, after)


FLOOD, PER_ADDRESS = 250, 200
ROUND_S = 1.0
OPTIONS = (
    "--no-welcome",
    *("--max-connections", "400", "--max-connections-per-address", str(PER_ADDRESS)),
    *("--connect-timeout-s", "1", "--outbound-queue-bytes", "65536"),
)


def abuse_round(target: WatchedServer, round_no: int) -> list[str]:
    """Everything at once for ROUND_S: a flood of connections that never connect, clients that
    never read (cut off, or flooding valid frames), connect/disconnect cycles and hostile
    frames. The failures seen."""
    failures: list[str] = []
    flood = dial(target.address, "127.0.0.2", FLOOD)  # past the limit of its address

    def hogs(worker: int) -> None:
        until, n = time.monotonic() + ROUND_S, 0
        while time.monotonic() < until:
            failure = hog_until_cut_off(target, f"@hog{round_no}-{worker}-{n}", size=2000)
            failures.extend([failure] if failure else [])
            n += 1

    def cycles() -> None:
        failures.extend(churn(target.address, 600, workers=3, tag=f"c{round_no}-"))

    def hostile() -> None:
        attack(target.address, f"@evil{round_no}", "wrong_types", failures, ROUND_S)

    stop = threading.Event()
    threads = [threading.Thread(target=f) for f in (cycles, hostile)]
    threads += [threading.Thread(target=hogs, args=(w,)) for w in range(2)]
    threads += [threading.Thread(target=firehose, args=(target.address, f"@fh{round_no}", stop))]
    for thread in threads:
        thread.start()
    for thread in threads[:-1]:
        thread.join(60)
    stop.set()
    threads[-1].join(60)
    outcomes = [last_words(sock, timeout=4) for sock in flood]  # the timeout is 1 to 2 s
    for sock in flood:
        sock.close()
    full = sum(words == SERVER_FULL for words in outcomes)
    timed_out = [error("connect_timeout"), DISCONNECTED]
    late = sum(words == [encode(v) for v in timed_out] for words in outcomes)
    if (full, late) != (FLOOD - PER_ADDRESS, PER_ADDRESS):
        failures.append(f"flood: {full} refused, {late} timed out: {outcomes[:3]!r}...")
    return failures


@requirement("LIMIT-3", "LIMIT-4", "LIMIT-5")
def test_bystanders_keep_their_latency_and_the_server_its_size_under_abuse() -> None:
    with WatchedServer(*OPTIONS) as target, Bystanders(target.address) as bystanders:
        fds, cold = target.fd_count(), target.rss_kib()
        rss: list[int] = []
        for round_no in range(2):
            bystanders.phase(f"abuse{round_no}")
            assert abuse_round(target, round_no) == []
            bystanders.phase(f"after{round_no}")
            assert target.wait_fds(fds) == fds, target.describe_fds()
            rss.append(target.rss_kib())
        report = bystanders.finish()
        assert target.finish() == (0, [])
    record("abuse", fds=fds, rss_kib_cold=cold, rss_kib_after_rounds=rss, bystanders=report)
    assert undisturbed(report, "abuse0") == [] and undisturbed(report, "abuse1") == []
    assert rss[1] - rss[0] <= RSS_TOLERANCE_KIB, (cold, rss)
