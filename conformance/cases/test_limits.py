"""Limits (LIMIT-1 to LIMIT-5), all MAY: a server that enforces none of them is conformant.

LIMIT-1 and LIMIT-2 are exercised by the `kick` transitions (test_states.py). The others need
the server limits' defaults to pass first, which takes long (30 s, 1 MiB unread, 2000
connections), so they run only with `--slow`.
"""

from __future__ import annotations

import time

import pytest

import protocol
from conformance.harness import Chat, is_error, show
from conformance.verdicts import Violation, requirement

LIMITS = protocol.limits()
slow = pytest.mark.jsonchat_slow


def _kicked(chat: Chat, rule: str, before: list[object], code: str) -> None:
    ends = before[-2:]
    right = (
        len(ends) == 2
        and is_error(ends[0], protocol.error_text(code))
        and ends[1] == {"status": "disconnect"}
    )
    chat.check("LIMIT-1", right, f"its last words before closing were {show(ends)}")


@slow
@requirement("LIMIT-3", "LIMIT-1")
def test_connect_timeout(chat: Chat) -> None:
    client = chat.open("idle")
    wait = LIMITS["connect_timeout_s"] + 2 * chat.reply + 1.0
    before = client.expect_closed("LIMIT-3", timeout=wait)
    _kicked(chat, "LIMIT-3", before, "connect_timeout")


@slow
@requirement("LIMIT-4", "LIMIT-1")
def test_a_client_that_does_not_read_is_dropped_and_slows_no_one(chat: Chat) -> None:
    room = chat.room()
    sleeper = chat.join(chat.user("sleeper"), room)  # never reads from here on
    sender, reader = chat.join(chat.user("sender"), room), chat.join(chat.user("reader"), room)
    text = "z" * (LIMITS["max_message_bytes"] - 16)
    batches = 4 * LIMITS["outbound_queue_bytes"] // (32 * len(text)) + 1
    for batch in range(batches):
        started = time.monotonic()
        for n in range(32):
            sender.say(room, f"{batch}.{n} {text}")
        for n in range(32):
            reader.expect_delivery("LIMIT-4", room, sender.name or "", f"{batch}.{n} {text}")
        if time.monotonic() - started > 32 * chat.reply:
            raise Violation("LIMIT-4", f"batch {batch} took {time.monotonic() - started:.1f} s")
    before = sleeper.expect_closed("LIMIT-4", timeout=max(10.0, chat.reply))
    _kicked(chat, "LIMIT-4", before, "queue_full")


@slow
@requirement("LIMIT-5", "LIMIT-1")
def test_connections_past_the_limit_are_refused(chat: Chat) -> None:
    extra = None
    for _ in range(LIMITS["max_connections_per_address"] + 1):
        extra = chat.open("many")
    assert extra is not None
    before = extra.expect_closed("LIMIT-5")
    _kicked(chat, "LIMIT-5", before, "server_full")
