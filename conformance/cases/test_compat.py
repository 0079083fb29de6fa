"""The course's clients (COMPAT-1 to COMPAT-5): what a server does so that they keep working.

Some cases read the way a one-object-per-read client does: one `recv(4096)` at a time, each
read given whole to a JSON parser, straight from the socket (recorded in the transcript like
every other read). A case about the welcome is skipped for a target that sends none; one about
the reply to `connect`, for a target that does not answer it; one about ending a session, for a
target that does not end sessions after errors in a row (LIMIT-2 is a MAY).
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from conformance.kit.messages import connect_doc, direct, is_echo
from conformance.kit.wire import Closed, WireClient, encode
from conformance.suite.harness import (
    WELCOME_WITHIN_S,
    Chat,
    Client,
    is_chat,
    is_error,
    is_welcome,
    show,
)
from conformance.suite.verdicts import Skip, Violation, requirement
from protocol import ErrorCode, error_text

READ_BYTES = 4096  # one recv of the course's one-object-per-read clients
BIG_TEXT_BYTES = 2500
ATTEMPTS = 3  # tries of a timing case before a slow client side gives up judging
MOMENT_S = 0.02  # "at once" and "a moment later", for a target whose delays are 0 or tiny


def require_welcome(chat: Chat) -> None:
    """Skip a case about the welcome for a target that sends none.

    The probe writes its `connect` at once; a target that welcomed no such client may still
    welcome one that waits, and then it does send welcomes (to some): the case is for it, and
    COMPAT-1 asks it to welcome both."""
    if chat.caps.sends_welcome:
        return
    silent = chat.open("silent")
    try:
        packet = silent.peek(WELCOME_WITHIN_S + chat.reply)
    except Closed:
        packet = None
    silent.close()
    if packet is None or not is_welcome(packet.value):
        Skip.NO_WELCOME.skip("neither the probe, which spoke first, nor a silent client got one")


def bare(document: Any) -> bytes:
    """A client message as the 2023 course clients write it: the object, no newline."""
    return encode(document)


def read_once(client: Client, timeout: float) -> bytes | None:
    """One `recv(4096)` from the socket, or None if nothing came in time or it closed."""
    client.sock.settimeout(max(timeout, 0.001))
    try:
        data = client.sock.recv(READ_BYTES)
    except TimeoutError:
        return None
    except OSError:
        data = b""
    if not data:
        client.closed = True
        client.transcript.record(client.label, "closed")
        return None
    client.transcript.record(client.label, "recv", data)
    return data


def one_object(data: bytes) -> Any:
    """What `json.loads` makes of one read, or None when it raises (`Extra data`, ...)."""
    try:
        return json.loads(data)
    except ValueError:
        return None


def wait_unread(client: Client, timeout: float) -> bytes:
    """Wait until a whole line is in the socket, without reading it (as a client at a prompt)."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        client.sock.settimeout(remaining)
        try:
            data = client.sock.recv(READ_BYTES, socket.MSG_PEEK)
        except TimeoutError:
            break
        if not data:
            break
        if not data.endswith(b"\n"):
            time.sleep(0.001)  # part of a line: the peek returns at once until the rest comes
    return data


@requirement("COMPAT-1")
def test_the_welcome_comes_to_a_silent_client_within_a_second(chat: Chat) -> None:
    require_welcome(chat)
    client = chat.open("silent")
    opened = time.monotonic()
    packet = client.peek(WELCOME_WITHIN_S + chat.caps.timing.rtt)
    took = time.monotonic() - opened
    chat.check(
        "COMPAT-1",
        packet is not None and is_welcome(packet.value),
        f"a client that sends nothing got {show(packet) if packet else 'nothing'} "
        f"within {took:.2f} s, not a welcome",
    )


@requirement("COMPAT-1")
def test_a_first_frame_with_a_newline_gets_the_welcome_first(chat: Chat) -> None:
    require_welcome(chat)
    name = chat.user("alice")
    client = chat.open(name)
    client.send(connect_doc(name, []))  # at once, before any welcome delay is over
    client.join(name, sent=True)
    first = client.packets[0].value if client.packets else None
    chat.check("COMPAT-1", is_welcome(first), f"the first packet was {show(first)}")


def inconclusive(chat: Chat, what: str) -> None:
    """Every try was too slow on our side to judge the target: say so, do not blame it."""
    Skip.INCONCLUSIVE.skip(f"too slow to {what} in {ATTEMPTS} tries: run the case again")


@requirement("COMPAT-2")
def test_a_bare_first_frame_before_the_welcome_gets_no_welcome(chat: Chat) -> None:
    require_welcome(chat)
    delay = chat.caps.limits["welcome_delay_ms"] / 1000
    wait = chat.reply + chat.caps.limits["bare_first_frame_delay_ms"] / 1000
    for _ in range(ATTEMPTS):
        name = chat.user("bare")
        client = chat.open(name)
        opened = time.monotonic()
        client.send_bytes(bare(connect_doc(name, [])))  # at once: before the welcome delay ends
        if time.monotonic() - opened > max(delay / 2, MOMENT_S):
            client.close()  # we were slow: the welcome may rightly have gone out first
            continue
        if chat.caps.answers_connect:
            first = WireClient.recv(client, wait)  # the first packet, a welcome too
            chat.check(
                "COMPAT-2",
                first is not None and not is_welcome(first.value),
                f"a client whose first frame came bare, at once, got "
                f"{show(first) if first else 'nothing'} first",
            )
        client.name = name
        client.settle("COMPAT-2")  # a welcome sent late would be here by now
        chat.check(
            "COMPAT-2",
            not got_a_welcome(client),
            "a client whose first frame came bare got a welcome",
        )
        return
    inconclusive(chat, "send a bare connect within the welcome delay")


@requirement("COMPAT-3", "COMPAT-1")
def test_a_bare_first_frame_after_the_welcome_is_answered_in_a_later_read(chat: Chat) -> None:
    """A client at a prompt: its welcome waits unread in its socket; it sends a bare `connect`
    and starts reading a moment later, one object per read."""
    require_welcome(chat)
    delay = chat.caps.limits["bare_first_frame_delay_ms"] / 1000
    pause = max(delay / 4, MOMENT_S)  # the listener thread starts: well within the delay
    for _ in range(ATTEMPTS):
        name = chat.user("prompt")
        client = chat.open(name)
        waiting = wait_unread(client, WELCOME_WITHIN_S + chat.reply)
        if not waiting:
            raise Violation("COMPAT-1", f"{client.label}: no welcome within {WELCOME_WITHIN_S} s")
        sent = time.monotonic()
        client.send_bytes(bare(connect_doc(name, [])))
        time.sleep(pause)
        first = read_once(client, chat.reply)
        value = one_object(first) if first else None
        client.closed = True  # what it reads raw, the harness never sees: it reads no more
        if not is_welcome(value) and time.monotonic() - sent > max(delay * 3 / 4, 2 * pause):
            continue  # we read late: the reply may rightly be there too
        chat.check(
            "COMPAT-3",
            is_welcome(value),
            f"the first read after a bare connect should hold the welcome alone; it held "
            f"{len(first)} bytes, {first[:60]!r}...{first[-60:]!r}"
            if first
            else "the first read after a bare connect got nothing",
        )
        if chat.caps.answers_connect:
            second = read_once(client, chat.reply + delay)
            reply = one_object(second) if second else None
            chat.check(
                "COMPAT-3",
                is_chat(reply),
                f"the read after the welcome should hold the reply alone; it held {second!r}",
            )
        return
    inconclusive(chat, "read within the delay after a bare connect")


@requirement("COMPAT-4")
def test_the_reply_to_connect_holds_the_most_recent_entries_that_fit(chat: Chat) -> None:
    chat.require_connect_reply("show what its reply to connect holds")
    room = chat.room("big")
    bob = chat.join(chat.user("bob"), room)
    texts = ["small", "1 " + "b" * BIG_TEXT_BYTES, "2 " + "b" * BIG_TEXT_BYTES]
    for text in texts:
        bob.say(room, text)
    bob.settle("COMPAT-4")
    name = chat.user("alice")
    alice = chat.open(name)
    alice.send(connect_doc(name, [room]))
    reply = alice.expect("COMPAT-4", "a chat answering connect", is_chat)
    size = len(alice.packets[-1].raw) + 1  # its newline
    limit = chat.caps.limits["connect_reply_bytes"]
    chat.check("COMPAT-4", size <= limit, f"the reply to connect is {size} bytes (> {limit})")
    last = {"target": room, "from": bob.name, "message": texts[-1]}
    chat.check(
        "COMPAT-4",
        reply.get("history") == [last],
        f"the reply should hold the last post alone (two do not fit): "
        f"{[e.get('message', '')[:12] for e in reply.get('history', [])]}",
    )


def compact(value: Any) -> bytes:
    """`value` as JSON with no spaces: what a reply's size is reckoned in below."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@requirement("COMPAT-4")
@pytest.mark.parametrize("over", [0, 1], ids=["exactly", "one-byte-over"])
def test_the_reply_to_connect_keeps_entries_that_fit_to_the_byte(chat: Chat, over: int) -> None:
    """Two posts that fill the reply exactly, `\\n` included, behind an older one: both fit;
    with one byte more, only the newest does.

    Sizes are reckoned in compact JSON; a target that writes its replies otherwise fits other
    entries, and is not judged here (the case above judges it).
    """
    chat.require_connect_reply("show what its reply to connect holds")
    room, name = chat.room("exact"), chat.user("bob")
    limit = chat.caps.limits["connect_reply_bytes"]
    newest = "2 " + "b" * BIG_TEXT_BYTES
    entry = {"target": room, "from": name, "message": ""}
    used = len(compact({"status": "chat", "history": []})) + 1  # and its newline
    used += len(compact({**entry, "message": newest})) + 1  # and the comma between the two
    filler = limit - used - len(compact(entry)) + over
    if not 2 <= filler <= chat.caps.limits["max_message_bytes"]:
        Skip.LIMITS_UNFIT.skip(
            f"connect_reply_bytes {limit} leaves no room for two posts to fill it"
        )
    texts = ["small", "1 " + "b" * (filler - 2), newest]
    bob = chat.join(name, room)
    for text in texts:
        bob.say(room, text)
    bob.settle("COMPAT-4")
    reader = chat.user("alice")
    alice = chat.open(reader)
    alice.send(connect_doc(reader, [room]))
    reply = alice.expect("COMPAT-4", "a chat answering connect", is_chat)
    if alice.packets[-1].raw != compact(reply):
        Skip.OTHER_JSON_SPELLING.skip(
            "the target writes spaces or escapes: its sizes are not these"
        )
    fit = texts[1:] if over == 0 else texts[2:]
    chat.check(
        "COMPAT-4",
        reply.get("history") == [{**entry, "message": text} for text in fit],
        f"the two last posts make the reply {limit + over} bytes, so the last {len(fit)} "
        f"fit; it held {[e.get('message', '')[:12] for e in reply.get('history', [])]}",
    )


@requirement("COMPAT-5")
def test_a_bare_session_is_ended_with_one_packet(chat: Chat) -> None:
    errors = chat.caps.limits["max_consecutive_errors"]
    client = chat.open("noisy")
    junk = bare({"action": "dance"})
    client.send_bytes(junk)  # the first frame, bare: a one-object-per-read session
    for _ in range(errors - 1):
        client.send_bytes(junk)
    delay = chat.caps.limits["bare_first_frame_delay_ms"] / 1000
    try:  # generous: the wait ends when the target closes, and only a lenient target pays it
        values = client.expect_closed("COMPAT-5", chat.reply + delay + 1.0)
    except Violation:
        Skip.NO_ERROR_LIMIT.skip(f"the target did not end the session after {errors} errors")
    ends_with_error = bool(values) and is_error(values[-1], error_text(ErrorCode.TOO_MANY_ERRORS))
    chat.check(
        "COMPAT-5",
        ends_with_error and {"status": "disconnect"} not in values,
        f"its last packets were {show(values[-2:])}: the error alone was expected",
    )


@requirement("COMPAT-2")
def test_a_first_frame_after_a_blank_line_is_not_bare(chat: Chat) -> None:
    """A blank line, read on its own, then the first frame whole and bare: a `\\n` was received
    before it, so the session is not one-object-per-read and its welcome is not withheld,
    whether the frame came before the welcome delay ended or after."""
    require_welcome(chat)
    name = chat.user("blank")
    client = chat.open(name)
    client.send_bytes(b"\n")
    chat.sync()  # the target has read the blank line alone
    client.send_bytes(bare(connect_doc(name, [])))
    expect_welcome_after_grace(chat, client, name, "sent a newline before its first frame")


def got_a_welcome(client: Client) -> bool:
    """Whether `client` has had a welcome, first or later among what it received."""
    return client.welcome is not None or any(is_welcome(p.value) for p in client.packets)


def expect_welcome_after_grace(chat: Chat, client: Client, name: str, what: str) -> None:
    """The end of a case whose first frame must not count as bare: wait out the grace a `\n`
    gets after a bare first frame, so that the barrier's `\n` does not decide the framing; a
    target that took the session for bare then shows it by withholding the welcome."""
    time.sleep(2 * chat.caps.limits["first_frame_grace_ms"] / 1000 + MOMENT_S)
    client.name = name
    client.settle("COMPAT-2")  # a welcome sent late would be here by now
    chat.check(
        "COMPAT-2",
        got_a_welcome(client),
        f"a client that {what} got no welcome, only {show([p.value for p in client.packets])}",
    )


@requirement("COMPAT-2")
def test_a_first_frame_after_a_newline_in_the_same_read_is_not_bare(chat: Chat) -> None:
    """A `\\n`, then the first frame whole with no newline after it, in one write, before the
    welcome delay ends: a `\\n` was received before the frame (in its read, not a read of its
    own), so the session is not one-object-per-read and its welcome is not withheld."""
    require_welcome(chat)
    name = chat.user("leading-newline")
    client = chat.open(name)
    client.send_bytes(b"\n" + bare(connect_doc(name, [])))  # one write: at once
    expect_welcome_after_grace(chat, client, name, "sent a newline and its first frame at once")


@requirement("COMPAT-2")
def test_a_first_frame_written_in_two_parts_is_not_bare(chat: Chat) -> None:
    """The first frame, with no newline, written in two parts, the second once the target has
    read the first: it did not arrive whole in one read, so the session is not
    one-object-per-read and its welcome is not withheld, whether the frame was complete before
    the welcome delay ended or after (before, if we are quick: the case tries for that)."""
    require_welcome(chat)
    delay = chat.caps.limits["welcome_delay_ms"] / 1000
    for attempt in range(ATTEMPTS):
        name = chat.user("two-parts")
        client = chat.open(name)
        opened = time.monotonic()
        data = bare(connect_doc(name, []))
        client.send_bytes(data[: len(data) // 2])
        chat.sync()  # the target has read the first part alone
        client.send_bytes(data[len(data) // 2 :])
        if time.monotonic() - opened > max(delay / 2, MOMENT_S) and attempt < ATTEMPTS - 1:
            client.close()  # we were slow: the welcome may have gone out first, which shows less
            continue
        expect_welcome_after_grace(chat, client, name, "wrote its first frame in two parts")
        return


@requirement("COMPAT-3")
def test_frames_during_the_hold_of_a_late_bare_first_frame_follow_it(chat: Chat) -> None:
    """A bare `connect` after the welcome went out, then, while it may still be held, another
    connection opens and the client sends a message to itself ended by `\\n`: the server keeps
    serving, and handles the two frames in order, whenever it handles the first."""
    require_welcome(chat)
    name = chat.user("held")
    client = chat.open(name)
    if client.peek(WELCOME_WITHIN_S + chat.reply) is None:
        raise Violation("COMPAT-1", f"{client.label}: no welcome within {WELCOME_WITHIN_S} s")
    client.send_bytes(bare(connect_doc(name, [])))
    chat.open("newcomer")  # silent: its own welcome falls due while the frame may be held
    chat.sync()  # the target has read the bare connect alone
    client.send_bytes(encode(direct(name, "after the held connect")) + b"\n")
    client.name = name
    hold = chat.caps.limits["bare_first_frame_delay_ms"] / 1000
    try:
        first = client.recv(chat.reply + hold)  # the welcome put aside; then what was held
    except Closed:
        raise client.closed_violation("COMPAT-3", "the answers to the held frames") from None
    value = first.value if first is not None else None
    if chat.caps.answers_connect:
        wanted, ok = "the reply to the held connect", is_chat(value)
    else:
        wanted, ok = "the message to itself", is_echo(value, name, "after the held connect")
    chat.check("COMPAT-3", ok, f"expected {wanted}, got {show(first) if first else 'nothing'}")
    if chat.caps.answers_connect:
        client.expect_echo("COMPAT-3", "after the held connect")
    client.expect_quiet("COMPAT-3", "two frames, two answers")


@requirement("COMPAT-2", "DISCONNECT-7")
def test_a_newline_within_the_grace_after_a_bare_first_frame_is_not_missed(chat: Chat) -> None:
    """A first frame whole and bare, before the welcome delay ends, then its `\n` alone, sent
    once round trips show the target has read the frame, and well within `first_frame_grace_ms`
    of it: the session is not one-object-per-read, and gets its welcome. When the grace would
    have ended, the target still serves that client (DISCONNECT-7): a grace timer left behind
    must not end a session, or the server, after the case looked."""
    require_welcome(chat)
    grace = chat.caps.limits["first_frame_grace_ms"] / 1000
    if grace <= 0:
        Skip.LIMITS_UNFIT.skip("first_frame_grace_ms is 0: a `\\n` after the frame is late")
    delay = chat.caps.limits["welcome_delay_ms"] / 1000
    chat.sync()  # the witness is there before the clock starts
    in_time = 3 * grace / 4  # the target read the frame after we sent it: its grace ends later
    for _ in range(2 * ATTEMPTS):  # an attempt is cheap, and round trips in 15 ms can miss
        name = chat.user("late-newline")
        client = chat.open(name)
        opened = time.monotonic()
        client.send_bytes(bare(connect_doc(name, [])))
        sent = time.monotonic()
        chat.sync()  # the target has read the frame alone
        client.send_bytes(b"\n")
        now = time.monotonic()
        if now - sent > in_time or sent - opened > max(delay / 2, MOMENT_S):
            client.close()  # we were slow: the grace may rightly be over, or the welcome out
            continue
        client.name = name
        client.settle("COMPAT-2")
        chat.check(
            "COMPAT-2",
            got_a_welcome(client),
            f"a client whose bare first frame was followed by a `\\n` {1000 * (now - sent):.1f} ms "
            f"later got no welcome, only {show([p.value for p in client.packets])}",
        )
        time.sleep(2 * grace + MOMENT_S)  # past the end of the grace the frame had
        client.send(direct(name, "after the grace"))
        client.expect_echo("DISCONNECT-7", "after the grace")
        return
    inconclusive(chat, f"send a `\\n` within {in_time * 1000:.0f} ms of a bare first frame")


@requirement("COMPAT-2")
def test_welcomes_falling_due_during_the_grace_of_a_bare_first_frame_stop_nothing(
    chat: Chat,
) -> None:
    """Bare `connect`s, each sent at once on a new connection, so that each waits
    `first_frame_grace_ms` for a `\\n`, while silent connections opened every few milliseconds
    have their welcomes fall due, every few milliseconds too, inside those waits: the server
    keeps serving, sends no welcome to the bare clients and answers each `connect` once its
    grace is over."""
    require_welcome(chat)
    grace = chat.caps.limits["first_frame_grace_ms"] / 1000
    delay = chat.caps.limits["welcome_delay_ms"] / 1000
    if grace <= 0 or delay <= 0:
        Skip.LIMITS_UNFIT.skip(
            f"first_frame_grace_ms {grace * 1000:g} and welcome_delay_ms {delay * 1000:g}: "
            "a bare first frame is not held while other welcomes fall due"
        )
    step = grace / 4  # welcomes fall due this often: a few in each grace, should one be late
    bare_clients = 4
    span = delay + bare_clients * (grace + step)
    room = chat.caps.limits["max_connections_per_address"] - bare_clients - 8  # 8: the run's
    if span / step > room:
        Skip.LIMITS_UNFIT.skip(f"max_connections_per_address leaves no room for {span / step:.0f}")
    chat.sync()  # the witness is there before the clock starts
    began = time.monotonic()
    held: list[Client] = []  # the bare clients that spoke before their welcome delay ended
    while (now := time.monotonic()) - began < span:
        chat.open("silent")  # its welcome falls due `delay` from now
        due = delay + len(held) * (grace + step)
        if now - began >= due and len(held) < bare_clients:
            name = chat.user("bare")
            client = chat.open(name)
            opened = time.monotonic()
            client.send_bytes(bare(connect_doc(name, [])))  # at once: its welcome is pending
            client.name = name
            if time.monotonic() - opened <= max(delay / 2, MOMENT_S):
                held.append(client)
            else:
                client.close()  # we were slow: its welcome may rightly have gone out first
        time.sleep(step)
    if not held:
        inconclusive(chat, "send a bare connect within the welcome delay")
    for client in held:
        if chat.caps.answers_connect:
            try:
                first = client.recv(chat.reply + grace)
            except Closed:
                raise client.closed_violation("COMPAT-2", "the reply to its connect") from None
            chat.check(
                "COMPAT-2",
                first is not None and is_chat(first.value),
                f"{client.label}: expected the reply to its bare connect once its grace was "
                f"over, got {show(first) if first else 'nothing'}",
            )
        chat.check(
            "COMPAT-2",
            client.welcome is None,
            f"{client.label}: a bare first frame sent at once got a welcome",
        )
    chat.sync()  # and the server still serves everyone
