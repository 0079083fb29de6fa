"""The driver alone on a real Redis: each output becomes the command the design says, and each
reply or pub/sub message the event it says (no engine: the test plays it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.events import (
    BrokerFailed,
    BrokerReconnected,
    DirectMessage,
    DirectSent,
    Fetch,
    Fetched,
    LeaveRoom,
    Publish,
    Published,
    Register,
    Registered,
    Release,
    Resume,
    Resumed,
    RoomMessage,
    SendDirect,
)
from tests.cluster.driverpump import Pump
from tests.cluster.redis_server import RedisServer
from transport.cluster import payloads


@pytest.fixture
def pump(redis_server: RedisServer) -> Iterator[Pump]:
    pump = Pump(redis_server.url)
    yield pump
    pump.close()


def entry(text: str) -> bytes:
    return b'{"target":"#r","from":"@a","message":"' + text.encode() + b'"}'


def test_one_order_per_room_and_history(pump: Pump) -> None:
    pump.node("a"), pump.node("b")
    pump.send("a", Register(1, "@a", ("#all", "#r"), ("#r",), 50))
    pump.send("b", Register(7, "@b", ("#all", "#r"), ("#r",), 50))
    pump.until(lambda: len(pump.of("a", Registered)) == 1 and len(pump.of("b", Registered)) == 1)
    assert pump.of("a", Registered)[0] == Registered(1, True, (("#all", 0), ("#r", 0)), ())
    pump.send("a", *(Publish(1, "#r", entry(f"a{i}")) for i in range(5)))
    pump.send("b", *(Publish(7, "#r", entry(f"b{i}")) for i in range(5)))
    pump.until(lambda: all(len(pump.of(n, RoomMessage)) == 10 for n in "ab"))
    seen = {n: [(m.sequence, m.entry) for m in pump.of(n, RoomMessage)] for n in "ab"}
    assert seen["a"] == seen["b"]
    assert [s for s, _ in seen["a"]] == list(range(1, 11))
    senders = {m.entry: m.sender for m in pump.of("a", RoomMessage)}
    assert senders[entry("a0")] == 1 and senders[entry("b0")] is None
    assert sorted(p.sequence for p in pump.of("a", Published)) == sorted(
        s for s, e in seen["a"] if e.startswith(b'{"target":"#r","from":"@a","message":"a')
    )
    pump.send("b", Register(8, "@c", ("#all",), ("#r",), 3))
    pump.until(lambda: len(pump.of("b", Registered)) == 2)
    history = pump.of("b", Registered)[1].history
    assert [e for _, e in history] == [e for _, e in seen["a"][-3:]]
    pump.send("b", Fetch("#r", 6))
    pump.until(lambda: bool(pump.of("b", Fetched)))
    fetched = pump.of("b", Fetched)[0].messages
    assert [(m.sequence, m.entry) for m in fetched] == seen["a"][6:]


def test_names_direct_release_and_leave(pump: Pump, redis_server: RedisServer) -> None:
    pump.node("a"), pump.node("b")
    pump.send("a", Register(1, "@x", ("#all", "#r"), (), 0))
    pump.until(lambda: bool(pump.of("a", Registered)))
    pump.send("b", Register(2, "@x", ("#all",), (), 0), SendDirect(2, "@x", b"hello"))
    pump.send("b", SendDirect(2, "@nobody", b"hi"))
    pump.until(lambda: len(pump.of("b", DirectSent)) == 2 and bool(pump.of("a", DirectMessage)))
    assert pump.of("b", Registered) == [Registered(2, False)]
    assert pump.of("b", DirectSent) == [DirectSent(2, True), DirectSent(2, False)]
    assert pump.of("a", DirectMessage) == [DirectMessage("@x", b"hello")]
    pump.send("a", Publish(1, "#r", entry("kept until the room empties")))
    pump.until(lambda: bool(pump.of("a", Published)))
    pump.send("a", Release("@x"), LeaveRoom("#r"))
    pump.send("b", Register(3, "@x", ("#all", "#r"), ("#r",), 10))
    pump.until(lambda: len(pump.of("b", Registered)) == 2)
    assert pump.of("b", Registered)[1] == Registered(3, True, (("#all", 0), ("#r", 0)), ())
    assert redis_server.call("EXISTS", "jc:stream:#r") == 0  # ROUTE-12: dropped with its history


def test_a_room_left_leaves_no_trace_in_the_driver(pump: Pump) -> None:
    driver = pump.node("a")
    before = dict(driver._wanted)
    pump.send("a", Register(1, "@a", ("#all", "#r"), (), 0))
    pump.until(lambda: bool(pump.of("a", Registered)))
    assert driver._wanted == {**before, payloads.room_channel("#r"): "#r"}
    pump.send("a", LeaveRoom("#r"))
    pump.until(lambda: "#r" not in driver._rooms)
    assert driver._wanted == before  # a node that visits many rooms does not grow


def test_pubsub_killed_reconnects_and_resumes(pump: Pump, redis_server: RedisServer) -> None:
    pump.node("a"), pump.node("b")
    pump.send("a", Register(1, "@a", ("#all", "#r"), (), 0))
    pump.send("b", Register(2, "@b", ("#all", "#r"), (), 0))
    pump.until(lambda: all(pump.of(n, Registered) for n in "ab"))
    assert redis_server.client_kill("pubsub") == 2
    pump.send("a", Publish(1, "#r", entry("while b is deaf")))
    pump.until(lambda: all(pump.of(n, BrokerReconnected) for n in "ab"))
    assert pump.of("b", BrokerReconnected) == [BrokerReconnected(state_lost=False)]
    pump.send("b", Resume(("@b",), ("#all", "#r")))
    pump.until(lambda: bool(pump.of("b", Resumed)))
    assert pump.of("b", Resumed) == [Resumed((("#all", 0), ("#r", 1)))]


def test_redis_restart_fails_pending_then_reports_state_lost(
    pump: Pump, redis_server: RedisServer
) -> None:
    pump.node("a")
    pump.send("a", Register(1, "@a", ("#all", "#r"), (), 0))
    pump.until(lambda: bool(pump.of("a", Registered)))
    redis_server.kill()
    pump.until(lambda: not pump.drivers["a"].connected)
    pump.send("a", Publish(1, "#r", entry("into the void")))
    pump.turn()
    assert pump.of("a", BrokerFailed) == [BrokerFailed(1)]
    redis_server.start()
    pump.until(lambda: bool(pump.of("a", BrokerReconnected)), seconds=10)
    assert pump.of("a", BrokerReconnected) == [BrokerReconnected(state_lost=True)]
    pump.send("a", Resume(("@a",), ("#all", "#r")))
    pump.until(lambda: bool(pump.of("a", Resumed)))
    assert redis_server.call("GET", "jc:name:@a") == b"a"


def test_a_gap_older_than_the_stream_is_said_lost(redis_server: RedisServer) -> None:
    """channels_redis#181's lesson: what cannot be delivered is counted and logged, not dropped
    in silence. A Fetch after messages the capped stream no longer holds gets what is left."""
    pump = Pump(redis_server.url, room_stream_length=20)
    try:
        pump.node("a")
        pump.send("a", Register(1, "@a", ("#all", "#r"), (), 0))
        pump.until(lambda: bool(pump.of("a", Registered)))
        pump.send("a", *(Publish(1, "#r", entry(str(i))) for i in range(300)))
        pump.until(lambda: len(pump.of("a", Published)) == 300)
        pump.send("a", Fetch("#r", 0))
        pump.until(lambda: bool(pump.of("a", Fetched)))
        kept = pump.of("a", Fetched)[0].messages
        assert 20 <= len(kept) < 300 and kept[-1].sequence == 300
        assert pump.drivers["a"].counters.trimmed == 300 - len(kept)
    finally:
        pump.close()


def test_the_database_of_the_url_holds_the_keys(redis_server: RedisServer) -> None:
    pump = Pump(redis_server.url + "/3")
    try:
        pump.node("a")
        pump.send("a", Register(1, "@a", ("#all",), (), 0))
        pump.until(lambda: bool(pump.of("a", Registered)))
        assert pump.of("a", Registered)[0].granted
        assert redis_server.call("EXISTS", "jc:name:@a") == 0  # not in database 0
        assert redis_server.call("INFO", "keyspace").decode().count("db3:") == 1
    finally:
        pump.close()


def test_a_refused_connect_keeps_the_rooms_another_connect_is_joining(
    redis_server: RedisServer,
) -> None:
    """Two connects for one room on their way at once, the first refused (its name is taken):
    the second still gets the room's messages (the channel stays subscribed)."""
    pump = Pump(redis_server.url)
    try:
        pump.node("a"), pump.node("b")
        pump.send("b", Register(9, "@taken", ("#all",), (), 0))
        pump.until(lambda: bool(pump.of("b", Registered)))
        pump.send("a", Register(1, "@taken", ("#all", "#r"), (), 0))
        pump.send("a", Register(2, "@free", ("#all", "#r"), (), 0))
        pump.until(lambda: len(pump.of("a", Registered)) == 2)
        assert [r.granted for r in pump.of("a", Registered)] == [False, True]
        pump.send("b", Publish(9, "#r", entry("for @free"), joined=True))
        pump.until(lambda: bool(pump.of("a", RoomMessage)), seconds=3)
        assert pump.of("a", RoomMessage)[0].entry == entry("for @free")
    finally:
        pump.close()


def test_a_foreign_publication_on_a_room_channel_is_dropped(
    pump: Pump, redis_server: RedisServer
) -> None:
    """Something else than a node publishing on a jsonchat channel is logged and dropped: the
    node goes on (a server loop must not die of one bad message from Redis)."""
    pump.node("a")
    pump.send("a", Register(1, "@a", ("#all", "#r"), (), 0))
    pump.until(lambda: bool(pump.of("a", Registered)))
    redis_server.call("PUBLISH", "jc:room:#r", "garbage")
    redis_server.call("PUBLISH", "jc:node:a", "also garbage")
    pump.send("a", Publish(1, "#r", entry("after the garbage")))
    pump.until(lambda: bool(pump.of("a", RoomMessage)))
    assert [m.entry for m in pump.of("a", RoomMessage)] == [entry("after the garbage")]


def test_a_refused_fetch_is_answered_empty(pump: Pump, redis_server: RedisServer) -> None:
    """The engine waits for every Fetch's answer: one Redis refuses (here a key of the wrong
    type) is answered with nothing, so the engine goes on past the gap instead of waiting."""
    pump.node("a")
    redis_server.call("SET", "jc:stream:#odd", "not a stream")
    pump.send("a", Fetch("#odd", 0))
    pump.until(lambda: bool(pump.of("a", Fetched)))
    assert pump.of("a", Fetched) == [Fetched("#odd", ())]


def test_after_script_flush_answers_keep_their_order(pump: Pump, redis_server: RedisServer) -> None:
    """SCRIPT FLUSH (an operator's): the next request the engine waits for fails in its place
    (`unavailable`, answers stay in order), one nobody waits for (a Release) runs from its
    source, and the scripts are loaded again for what follows."""
    pump.node("a")
    pump.send("a", Register(1, "@a", ("#all", "#r"), (), 0))
    pump.until(lambda: bool(pump.of("a", Registered)))
    redis_server.call("SCRIPT", "FLUSH")
    pump.send("a", Publish(1, "#r", entry("lost to the flush")), Release("@a"))
    pump.until(lambda: bool(pump.of("a", BrokerFailed)))
    assert pump.of("a", BrokerFailed) == [BrokerFailed(1)]
    pump.until(lambda: redis_server.call("EXISTS", "jc:name:@a") == 0)
    pump.send("a", Publish(1, "#r", entry("after the flush")))
    pump.until(lambda: bool(pump.of("a", Published)))
    assert pump.of("a", Published) == [Published(1, "#r", 1)]
