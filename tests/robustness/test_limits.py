"""Abuse of the server limits: floods, clients that never connect, clients that never read.

Each limit must hold exactly, its victims must get its documented last words (LIMIT-1), and the
bystander pair, in a process of its own, must go on undisturbed.
"""

from __future__ import annotations

import socket
import threading
import time

from conformance.kit.shapes import DISCONNECTED, error
from conformance.kit.wire import WireClient
from conformance.suite.verdicts import requirement
from tests.robustness.abusers import hog_until_cut_off
from tests.robustness.bystander import Bystanders, undisturbed
from tests.robustness.figures import record
from tests.robustness.flood import SERVER_FULL, closed_by_server, dial, greeting
from tests.robustness.watched import WatchedServer
from tests.transport.netutil import settle


def refused(socks: list[socket.socket]) -> int:
    """How many were refused with `Server Full` then `disconnect`; the rest got a welcome."""
    count = 0
    for sock in socks:
        lines, closed = greeting(sock)
        if closed:
            assert lines == SERVER_FULL, lines
            count += 1
        else:
            assert len(lines) == 1 and lines[0].startswith(b'{"status":"welcome"'), lines
    return count


@requirement("LIMIT-5", "LIMIT-1")
def test_a_connection_flood_is_refused_past_both_limits_and_the_limits_hold() -> None:
    total, per_address = 50, 40
    options = ("--max-connections", str(total), "--max-connections-per-address", str(per_address))
    with WatchedServer(*options) as target, Bystanders(target.address) as bystanders:
        baseline_fds = target.fd_count()  # the bystanders hold two connections from 127.0.0.1
        bystanders.phase("flood")
        first = dial(target.address, "127.0.0.1", 60)
        assert refused(first) == 60 - (per_address - 2)
        second = dial(target.address, "127.0.0.2", 20)
        assert refused(second) == 20 - (total - per_address)
        third = dial(target.address, "127.0.0.3", 5)
        assert refused(third) == 5
        # Freed places are given again, and no more than were freed.
        held = [s for s in first + second if not closed_by_server(s)]
        assert len(held) == total - 2
        for sock in held[:5]:
            sock.close()
        expected = baseline_fds + len(held) - 5
        assert target.wait_fds(expected) == expected, target.describe_fds()
        again = dial(target.address, "127.0.0.3", 6)
        assert refused(again) == 1
        assert len(target.closes("server_full")) == 22 + 10 + 5 + 1
        refused_all = len(target.closes("server_full"))
        for sock in first + second + third + again:
            sock.close()
        assert target.wait_fds(baseline_fds) == baseline_fds, target.describe_fds()
        report = bystanders.finish()
        assert target.finish() == (0, [])
    record("flood", refused=refused_all, held=total - 2, fds=baseline_fds, bystanders=report)
    assert undisturbed(report, "flood") == []


@requirement("LIMIT-3", "LIMIT-1")
def test_clients_that_never_connect_are_closed_after_the_connect_timeout() -> None:
    timeout_s = 1
    with WatchedServer("--no-welcome", "--connect-timeout-s", str(timeout_s)) as target:
        with Bystanders(target.address) as bystanders:
            bystanders.phase("idlers")
            opened = time.monotonic()
            silent = [WireClient(target.address, label=f"silent{i}") for i in range(10)]
            noisy = [WireClient(target.address, label=f"noisy{i}") for i in range(5)]
            for client in noisy:  # errors are not a connect
                client.send_bytes(b"}\n")
                client.send({"action": "connect", "user_name": "@by-a", "targets": []})
            slow = [WireClient(target.address, label=f"slow{i}") for i in range(5)]
            frame = b'{"action":"connect","user_name":"@slowpoke","targets":[]}\n'
            late = WireClient(target.address, label="@late")
            sent = 0
            while not all(c.closed for c in slow) and time.monotonic() - opened < 4 * timeout_s:
                for client in slow:  # a slow-loris: one byte every 50 ms, never a whole frame
                    if not client.wait_closed(0.001):  # it reads, or its last words would be
                        client.send_bytes(frame[sent : sent + 1])  # lost to a reset
                sent = min(sent + 1, len(frame) - 2)
                time.sleep(0.05)
                if sent == 8:  # well within the timeout: it must be left alone
                    late.send({"action": "connect", "user_name": "@late", "targets": []})
            for client in silent + noisy + slow:
                assert client.wait_closed(3 * timeout_s), client.label
            closed_after = time.monotonic() - opened
            last_words = [error("connect_timeout"), DISCONNECTED]
            for client in silent + slow:
                assert [client.recv_value(), client.recv_value()] == last_words, client.label
            taken = [error("malformed_json"), error("name_taken")]
            for client in noisy:
                got = [client.recv_value() for _ in range(4)]
                assert got == taken + last_words, client.label
            assert late.recv_value()["status"] == "chat"
            assert settle(late) == []  # it connected in time and is still served
            assert len(target.closes("connect_timeout")) == 20
            report = bystanders.finish()
        assert target.finish() == (0, [])
    record("connect_timeout", closed_after_s=round(closed_after, 2), bystanders=report)
    assert timeout_s <= closed_after <= timeout_s + 2.5  # ticks are one second apart
    assert undisturbed(report, "idlers") == []


QUEUE_OPTIONS = ("--no-welcome", "--outbound-queue-bytes", "65536", "--flush-timeout-ms", "2000")


@requirement("LIMIT-4", "LIMIT-1", "FRAME-9")
def test_a_client_cut_off_for_its_queue_gets_whole_frames_then_its_last_words() -> None:
    """The frame being written when the queue overflows must be finished, not cut short.

    Reading at most 4 KiB a turn from the client makes its queue overflow a few frames at a
    time, after its socket is full, so that a frame is half-written then (it was in 20 cut-offs
    out of 20 when this was written). Each cut-off costs about a second: the server's socket
    buffer (up to 4 MiB) fills first.
    """
    with WatchedServer(*QUEUE_OPTIONS, "--read-bytes", "4096") as target:
        failures = [hog_until_cut_off(target, f"@hog{n}", size=100) for n in range(2)]
        assert target.finish() == (0, [])
    assert [f for f in failures if f] == []


@requirement("LIMIT-4", "LIMIT-1")
def test_clients_that_send_but_never_read_are_cut_off_and_slow_no_one() -> None:
    attack_s, workers = 1.0, 3
    failures: list[str | None] = []
    with WatchedServer(*QUEUE_OPTIONS) as target, Bystanders(target.address) as bystanders:

        def hogs(worker: int) -> None:
            until, n = time.monotonic() + attack_s, 0
            while time.monotonic() < until:
                failures.append(hog_until_cut_off(target, f"@hog{worker}-{n}", size=2000))
                n += 1

        threads = [threading.Thread(target=hogs, args=(w,)) for w in range(workers)]
        bystanders.phase("attack")
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        report = bystanders.finish()
        assert target.finish() == (0, [])
    assert [f for f in failures if f] == []
    assert len(failures) >= workers
    record("never_reads", cut_off=len(failures), bystanders=report)
    assert undisturbed(report, "attack") == []
