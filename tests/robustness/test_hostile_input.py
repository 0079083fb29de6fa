"""Hostile input: every case gets exactly its error, and the bystanders notice nothing.

Each family of conformance/kit/load/hostile.py is played by three attackers at once against a
server process, while a bystander pair (another process) exchanges checked messages in lockstep.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.kit.load.hostile import FAMILIES
from conformance.kit.shapes import DISCONNECTED, error
from conformance.kit.wire import Closed, WireClient
from conformance.suite.verdicts import requirement
from protocol import error_table, error_text, limits
from tests.robustness.bystander import Bystanders, undisturbed
from tests.robustness.figures import record
from tests.robustness.hostile_client import SCENE, attack
from tests.robustness.watched import WatchedServer
from tests.transport.netutil import TIMEOUT, connect, settle

ATTACKERS = 3
MIN_ATTACK_S = 0.3  # short families are replayed, so that the bystanders exchange meanwhile


@pytest.fixture(scope="module")
def arena() -> Iterator[tuple[WatchedServer, Bystanders]]:
    """One server and one bystander pair for every family: each family is a phase of theirs."""
    with WatchedServer("--no-welcome") as target, Bystanders(target.address) as bystanders:
        yield target, bystanders
        final = bystanders.finish()
        assert final["violations"] == []
        assert target.finish() == (0, [])


@requirement("FRAME-3", "FRAME-5", "FRAME-6", "FRAME-7", "FRAME-8", "VALIDATE-1", "VALIDATE-2")
@requirement("VALIDATE-3", "VALIDATE-4", "VALIDATE-5", "VALIDATE-7", "ERROR-2")
@pytest.mark.parametrize("family", FAMILIES)
def test_each_hostile_frame_gets_exactly_its_error_and_bystanders_see_nothing(
    family: str, arena: tuple[WatchedServer, Bystanders]
) -> None:
    target, bystanders = arena
    failures: list[str] = []
    bystanders.phase(family)
    threads = [
        threading.Thread(
            target=attack, args=(target.address, f"@{family}{i}", family, failures, MIN_ATTACK_S)
        )
        for i in range(ATTACKERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    report = bystanders.report()
    assert target.alive()
    record(f"hostile/{family}", cases=len(list(FAMILIES[family](SCENE))), bystanders=report)
    assert failures == []
    assert undisturbed(report, family) == []


ERROR_TEXTS = {error_text(code, action="\0") for code in error_table()}
INVALID_ACTION = re.compile(
    re.escape(error_text("invalid_action", action="\0")).replace("\0", ".*")
)


def is_frame_error(value: Any) -> bool:
    if not (isinstance(value, dict) and set(value) == {"status", "message"}):
        return False
    text = value["message"]
    return value["status"] == "error" and (
        text in ERROR_TEXTS or INVALID_ACTION.fullmatch(text) is not None
    )


def random_stream(rng: random.Random, size: int) -> bytes:
    """Random bytes, with more of what steers the frame decoder than chance would give."""
    alphabet = [bytes([b]) for b in range(256)] + [b"\n", b"{", b"}", b'"', b"\\"] * 8
    return b"".join(rng.choices(alphabet, k=size))


@requirement("LIMIT-2", "ERROR-2")
def test_random_byte_streams_get_errors_until_the_documented_close(
    arena: tuple[WatchedServer, Bystanders],
) -> None:
    """Nothing but frame errors, `max_consecutive_errors` of them, then Too Many Errors."""
    errors_allowed = limits()["max_consecutive_errors"]
    target, bystanders = arena
    bystanders.phase("random streams")
    for seed in range(12):
        rng = random.Random(seed)
        fuzzer = WireClient(target.address, label=f"fuzz{seed}", timeout=TIMEOUT)
        stream = random_stream(rng, 20_000)
        with_pieces = [0, *sorted(rng.sample(range(1, len(stream)), 40)), len(stream)]
        try:
            for start, end in itertools.pairwise(with_pieces):
                fuzzer.send_bytes(stream[start:end])
        except Closed:
            pass  # the server closed it in the middle of the stream, as it may
        assert fuzzer.wait_closed(), f"seed {seed}: still open"
        got = [fuzzer.recv_value() for _ in range(errors_allowed + 2)]
        assert all(is_frame_error(v) for v in got[:errors_allowed]), (seed, got)
        assert got[errors_allowed:] == [error("too_many_errors"), DISCONNECTED], (seed, got)
        with pytest.raises(Closed):
            fuzzer.recv()
        fuzzer.close()
    report = bystanders.report()
    record("hostile/random_streams", bystanders=report)
    assert undisturbed(report, "random streams") == []


@requirement("LIMIT-1", "LIMIT-2", "CONNECT-6")
def test_errors_in_a_row_close_the_connection_and_free_its_name() -> None:
    with WatchedServer("--no-welcome") as target:
        errors_allowed = limits()["max_consecutive_errors"]
        mallory = connect(target.address, "@mallory")
        good = b'{"action":"message","user_name":"@mallory","target":"@mallory","message":"x"}\n'
        mallory.send_bytes(b"}\n" * errors_allowed + good)
        assert mallory.wait_closed()
        got = [mallory.recv_value() for _ in range(errors_allowed + 2)]
        assert got == [error("malformed_json")] * errors_allowed + [
            error("too_many_errors"),
            DISCONNECTED,
        ]
        with pytest.raises(Closed):
            mallory.recv()  # the good frame after the last error was not handled
        again = connect(target.address, "@mallory")
        assert settle(again) == []
        assert target.finish() == (0, [])
