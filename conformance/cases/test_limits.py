"""Limits (LIMIT-1 to LIMIT-5), all MAY: a server that enforces none of them is conformant.

LIMIT-1 and LIMIT-2 are exercised by the `kick` transitions (test_states.py). The others use the
limits the target announced in its welcome (else the protocol defaults); with the defaults they
take long (30 s, megabytes unread, 2000 connections) and run only with `--slow`, while a server
started with small limits is checked in seconds.
"""

from __future__ import annotations

import socket
import time

import protocol
from conformance.kit.messages import connect_doc
from conformance.kit.wire import Closed
from conformance.suite.harness import Chat, Client, is_chat, is_welcome
from conformance.suite.verdicts import Skip, Violation, requirement

LIMITS = protocol.limits()
WRITES_PER_S = 20e6  # bytes a loopback server fans out per second, roughly: for time estimates
CONNECTS_PER_S = 500  # connections a course server accepts per second, roughly
MOST_UNREAD_BYTES = 64 * 2**20  # a server that never drops a client that does not read
WELCOME_WITHIN_S = 1.0  # a client that sends nothing gets its welcome within a second (COMPAT-1)


@requirement("LIMIT-3", "LIMIT-1")
def test_connect_timeout(chat: Chat) -> None:
    """A connection that never connects is ended once `connect_timeout_s` is over; one opened
    just before it, which connected, is not: the timeout is for those that have not."""
    timeout = chat.caps.limits["connect_timeout_s"]
    chat.require_time(timeout, "waits out connect_timeout_s")
    connected = chat.join(chat.user("connected"))
    client = chat.open("idle")
    before = client.expect_closed("LIMIT-3", timeout=timeout + 2 * chat.reply + 1.0)
    chat.check_last_words(before, protocol.ErrorCode.CONNECT_TIMEOUT)
    connected.expect_quiet("LIMIT-3", "it connected in time: no timeout ends it")


def _freed(chat: Chat, name: str) -> bool:
    """Whether the target has let go of `name`: a connect under it succeeds. A new connection
    each time, since refused connects in a row could end a session (LIMIT-2)."""
    probe = chat.open("probe")
    probe.send(connect_doc(name, []))
    reply = probe.expect("LIMIT-4", "an answer to connect", lambda v: isinstance(v, dict))
    probe.close()
    return is_chat(reply)


@requirement("LIMIT-4")
def test_a_client_that_does_not_read_is_dropped_and_slows_no_one(chat: Chat) -> None:
    """Batches go to a room until the target drops the member that never reads, each batch
    read in full by another member within its share of time: the dropping must not slow it.

    Not LIMIT-1: the dropped member's last words sit behind megabytes it never read, and this
    case does not read them, so it could not fail LIMIT-1."""
    chat.require_connect_reply("tell when the client that does not read has been dropped")
    queue = chat.caps.limits["outbound_queue_bytes"]
    chat.require_time(8 * queue / WRITES_PER_S, "fills outbound_queue_bytes")
    room = chat.room()
    name = chat.user("sleeper")
    sleeper = chat.open(name)
    sleeper.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # little kernel slack
    sleeper.join(name, room)  # from here on it never reads
    sender, reader = chat.members(room, "sender", "reader")
    text = "z" * (LIMITS["max_message_bytes"] - 16)
    # A batch the reader takes in full before the next must stay well under the queue limit,
    # or a server could rightly cut off the reader too.
    batch = max(1, min(32, queue // (4 * len(text))))
    sent = 0
    while not _freed(chat, name):
        if sent > MOST_UNREAD_BYTES:
            raise Violation("LIMIT-4", f"still connected after {sent} bytes it did not read")
        started = time.monotonic()
        for n in range(batch):
            sender.say(room, f"{sent}.{n} {text}")
        for n in range(batch):
            reader.expect_delivery("LIMIT-4", room, sender.name, f"{sent}.{n} {text}")
        if time.monotonic() - started > batch * chat.reply:
            raise Violation("LIMIT-4", f"a batch took {time.monotonic() - started:.1f} s")
        sent += batch * len(text)


@requirement("LIMIT-5", "LIMIT-1")
def test_connections_past_the_limit_are_refused(chat: Chat) -> None:
    limit = chat.caps.limits["max_connections_per_address"]
    chat.require_time(limit / CONNECTS_PER_S, "opens max_connections_per_address connections")
    extra = None
    for _ in range(limit + 1):  # a node of a cluster counts its own connections: all on one
        extra = chat.open("many", on=1)
    assert extra is not None
    # The target accepts the others first, at its own pace: wait for that too, not only a reply.
    before = extra.expect_closed("LIMIT-5", timeout=chat.reply + limit / CONNECTS_PER_S)
    chat.check_last_words(before, protocol.ErrorCode.SERVER_FULL)


@requirement("LIMIT-5", "LIMIT-1")
def test_an_address_is_served_up_to_its_limit_and_refused_past_it(chat: Chat) -> None:
    """Connections of one address, each connected under a name (so that none is an idle one to
    evict), up to `max_connections_per_address` with those the case holds already: every one is
    served; the next is refused. A server that miscounts an address's connections refuses one
    too soon, or lets one too many in."""
    limit = chat.caps.limits["max_connections_per_address"]
    rtt = chat.caps.timing.rtt
    chat.require_time(
        limit * (1 / CONNECTS_PER_S + 2 * rtt), "connects max_connections_per_address"
    )
    chat.sync()  # the connections of the cases before are closed: only this case's are counted
    # A node of a cluster counts its own connections: the case's are all on the first node.
    node = chat.targets[0]
    held = sum(1 for client in chat.clients if not client.closed and client.target is node)
    for n in range(held, limit):
        client = chat.open("within", on=1)
        try:
            client.join(chat.user("within"), rule="LIMIT-5")
        except Violation as violation:
            if violation.rule != "LIMIT-5":
                raise
            where = f"connection {n + 1} of the {limit} an address may hold"
            raise Violation("LIMIT-5", f"{where}: {violation.message}", violation.cause) from None
    extra = chat.open("past", on=1)
    before = extra.expect_closed("LIMIT-5", timeout=chat.reply + limit / CONNECTS_PER_S)
    chat.check_last_words(before, protocol.ErrorCode.SERVER_FULL)


@requirement("LIMIT-3", "LIMIT-1")
def test_a_newcomer_at_the_limit_takes_the_place_of_the_oldest_idle_connection(chat: Chat) -> None:
    """One connection that never connects waits `evict_after_s`; then newcomers, as many as
    the per-address limit, so that one arrives at the limit whatever else is open: the oldest
    idle connection, ours, is the one to go, with `Connect Timeout`.

    Only a target that evicts sooner than its `connect_timeout_s` can be told apart from one
    that times the connection out; else the case is skipped. A target that refuses newcomers
    instead (LIMIT-5) fails this MAY, as one that never refuses fails LIMIT-5's case."""
    evict = chat.caps.limits["evict_after_s"]
    timeout = chat.caps.limits["connect_timeout_s"]
    limit = min(
        chat.caps.limits["max_connections_per_address"], chat.caps.limits["max_connections"]
    )
    if evict >= timeout:
        Skip.NO_EVICTION.skip(f"evict_after_s {evict} is not below connect_timeout_s {timeout}")
    chat.require_time(evict + limit / CONNECTS_PER_S, "waits out evict_after_s at the limit")
    chat.sync()  # connections of the cases before are closed: ours is the oldest idle one
    oldest = chat.open("oldest", on=1)
    # The welcome goes out once the target has accepted the connection: its wait has begun.
    # Without one, accepting is only waited for as best we can, and a round trip more.
    anchored = chat.caps.sends_welcome and _welcomed(oldest, WELCOME_WITHIN_S + chat.reply)
    if not anchored:
        oldest.wait_accepted()
    time.sleep(evict + (0.0 if anchored else chat.reply))
    for _ in range(limit):  # on the node of the oldest: each node counts its own connections
        chat.open("newcomer", on=1)
    before = oldest.expect_closed("LIMIT-3", timeout=chat.reply + limit / CONNECTS_PER_S)
    chat.check_last_words(before, protocol.ErrorCode.CONNECT_TIMEOUT)


@requirement("LIMIT-3", "LIMIT-1")
def test_at_max_connections_a_newcomer_of_another_address_takes_the_oldest_idle_place(
    chat: Chat,
) -> None:
    """The same at the server's limit, `max_connections`, reached by clients of several
    addresses of which none reaches `max_connections_per_address`: the oldest idle connection
    goes, whatever its address and the newcomer's.

    Needs `max_connections` above the per-address limit (else one address meets the server's
    limit alone, and the case above sees it) and more than one address to connect from."""
    evict = chat.caps.limits["evict_after_s"]
    timeout = chat.caps.limits["connect_timeout_s"]
    most = chat.caps.limits["max_connections"]
    per_address = chat.caps.limits["max_connections_per_address"]
    if evict >= timeout:
        Skip.NO_EVICTION.skip(f"evict_after_s {evict} is not below connect_timeout_s {timeout}")
    if most <= per_address:
        Skip.LIMITS_UNFIT.skip(
            f"max_connections {most} is not above max_connections_per_address {per_address}: "
            "one address reaches it (the case above)"
        )
    chat.require_time(evict + most / CONNECTS_PER_S, "waits out evict_after_s at max_connections")
    # Enough addresses that none holds `per_address` connections when the total reaches `most`,
    # leaving room for the connections the run itself keeps open.
    spread = (most + 1) // max(per_address // 2, 1) + 1
    sources: list[str | None] = [None, *chat.other_addresses(spread - 1, "reach max_connections")]
    chat.sync()  # connections of the cases before are closed: ours is the oldest idle one
    opened = time.monotonic()  # the target's clock for it starts later: its timeout ends later
    oldest = chat.open("oldest", on=1)
    anchored = chat.caps.sends_welcome and _welcomed(oldest, WELCOME_WITHIN_S + chat.reply)
    if not anchored:
        oldest.wait_accepted()
    time.sleep(evict + (0.0 if anchored else chat.reply))
    for n in range(most):
        chat.open("newcomer", sources[(n + 1) % len(sources)], on=1)
    # A close once `connect_timeout_s` is over would say the same words without any eviction:
    # only one before it counts.
    wait = min(chat.reply + most / CONNECTS_PER_S, opened + timeout - time.monotonic())
    if wait <= 0:
        Skip.INCONCLUSIVE.skip(f"opening {most} connections took past connect_timeout_s {timeout}")
    before = oldest.expect_closed("LIMIT-3", timeout=wait)
    chat.check_last_words(before, protocol.ErrorCode.CONNECT_TIMEOUT)


def _welcomed(client: Client, timeout: float) -> bool:
    try:
        packet = client.peek(timeout)
    except Closed:
        return False
    return packet is not None and is_welcome(packet.value)
