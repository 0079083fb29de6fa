"""Two or three `ClusterEngine`s over the fake broker: the rules hold across nodes.

Each test says what a client sees; where the order of the broker's answers and deliveries matters
it steps them by hand (`node.replies`, `node.deliveries`), else it settles the cluster.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from conformance.suite.verdicts import requirement
from engine.events import (
    Fetch,
    Fetched,
    LeaveRoom,
    Register,
    Registered,
    Release,
    RoomMessage,
    SendDirect,
    Shutdown,
    Tick,
)
from tests.cluster.fake_broker import BrokerNode
from tests.cluster.harness import Cluster
from tests.engine.harness import chat

UNAVAILABLE = {"status": "error", "message": "Service Unavailable"}
TAKEN = {"status": "error", "message": "User name already connected"}
NOT_CONNECTED = {"status": "error", "message": "Target user not connected"}


def history(*entries: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "status": "chat",
        "history": [{"target": t, "from": f, "message": m} for t, f, m in entries],
    }


def sent(cluster: Cluster, node: BrokerNode, kind: type) -> list[Any]:
    return [r for n, r in cluster.broker.sent if n == node.id and isinstance(r, kind)]


def deliver_all(cluster: Cluster, node: BrokerNode, queue: str) -> None:
    """Feed everything in one of the node's queues (`replies` or `deliveries`), in order."""
    pending = getattr(node, queue)
    while pending:
        cluster.broker.feed(node, pending.popleft())


# -- rooms, direct messages and #all across nodes ---------------------------------------------


@requirement("ROUTE-1", "ROUTE-2", "ROUTE-3")
def test_a_room_message_reaches_the_members_on_every_node_but_not_its_sender() -> None:
    cluster = Cluster(3)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    cy = cluster.client(2, "@cy", ("#r",))
    dee = cluster.client(0, "@dee", ("#other",))
    ann.say("#r", "hello")
    cluster.settle()
    assert bob.take() == cy.take() == [chat("#r", "@ann", "hello")]
    assert ann.take() == dee.take() == []


@requirement("ROUTE-5", "ROUTE-7", "ROUTE-6")
def test_direct_messages_find_their_target_on_any_node() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann")
    bob = cluster.client(1, "@bob")
    ann.say("@bob", "psst")
    ann.say("@ann", "note to self")
    ann.say("@nobody", "hello?")
    cluster.settle()
    assert bob.take() == [chat("@bob", "@ann", "psst")]
    assert ann.take() == [chat("@ann", "@ann", "note to self"), NOT_CONNECTED]
    assert len(sent(cluster, cluster.nodes[0], SendDirect)) == 3  # the one to itself too


@requirement("ROUTE-5", "ROUTE-1")
def test_a_direct_on_one_node_does_not_overtake_a_room_message_from_another() -> None:
    """One server handles frames in the order they come: `@ann`'s room message, then `@cy`'s
    direct, so `@bob` gets them in that order. A node that delivered `@cy`'s direct to `@bob` at
    once would overtake `@ann`'s message, still on its way through the broker; a client's
    self-echo barrier (the conformance suite's) would then return too early."""
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    cy = cluster.client(1, "@cy")
    ann.say("#r", "first")
    cy.say("@bob", "second")
    cy.say("@cy", "barrier")
    cluster.settle()
    assert bob.take() == [chat("#r", "@ann", "first"), chat("@bob", "@cy", "second")]
    assert cy.take() == [chat("@cy", "@cy", "barrier")]


@requirement("ROUTE-8", "ROUTE-3")
def test_all_reaches_every_connected_session_on_every_node() -> None:
    cluster = Cluster(3)
    clients = [cluster.client(i % 3, f"@u{i}") for i in range(5)]
    idle = cluster.client(1)  # not connected: not in #all
    clients[0].say("#all", "everyone")
    cluster.settle()
    assert [c.take() for c in clients[1:]] == [[chat("#all", "@u0", "everyone")]] * 4
    assert clients[0].take() == idle.take() == []


@requirement("ROUTE-4", "ROUTE-1")
def test_a_sender_joins_a_room_by_sending_and_gets_what_follows_from_any_node() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob")
    bob.say("#r", "joining")
    cluster.settle()
    assert ann.take() == [chat("#r", "@bob", "joining")]
    ann.say("#r", "welcome")
    cluster.settle()
    assert bob.take() == [chat("#r", "@ann", "welcome")]


# -- history ----------------------------------------------------------------------------------


@requirement("CONNECT-2", "ROUTE-12")
def test_history_of_several_rooms_is_merged_in_the_order_the_cluster_received_it() -> None:
    cluster = Cluster(2, history_per_room=2, history_on_connect=3)
    ann = cluster.client(0, "@ann", ("#x",))
    bob = cluster.client(1, "@bob", ("#y",))
    for n in range(3):
        ann.say("#x", f"x{n}")
        bob.say("#y", f"y{n}")
        cluster.settle()
    late = cluster.client(0)
    late.connect("@cy", "#x", "#y")
    cluster.settle()
    # Each room keeps its last two; of those four, the last three in the order they came.
    assert late.take() == [
        history(("#y", "@bob", "y1"), ("#x", "@ann", "x2"), ("#y", "@bob", "y2"))
    ]


@requirement("ROUTE-12", "CONNECT-2")
def test_a_room_is_dropped_with_its_history_only_when_its_last_member_anywhere_leaves() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    ann.say("#r", "kept")
    cluster.settle()
    ann.leave("#r")  # node 0's last member: LeaveRoom, but node 1 still has bob
    cluster.settle()
    assert sent(cluster, cluster.nodes[0], LeaveRoom) == [LeaveRoom("#r")]
    cy = cluster.client(0)
    cy.connect("@cy", "#r")
    cluster.settle()
    assert cy.take() == [history(("#r", "@ann", "kept"))]
    cy.leave("#r")
    bob.leave("#r")
    cluster.settle()
    dee = cluster.client(0)
    dee.connect("@dee", "#r")
    cluster.settle()
    assert dee.take() == [history()]


@requirement("ROUTE-12", "ROUTE-8")
def test_all_keeps_its_history_when_everyone_has_left() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann")
    ann.say("#all", "for the record")
    cluster.settle()
    ann.disconnect()
    cluster.settle()
    assert not any(r == LeaveRoom("#all") for _, r in cluster.broker.sent)
    bob = cluster.client(1)
    bob.connect("@bob", "#all")
    cluster.settle()
    assert bob.take() == [history(("#all", "@ann", "for the record"))]


# -- names --------------------------------------------------------------------------------------


@requirement("CONNECT-3", "CONNECT-6", "DISCONNECT-6")
def test_a_name_held_on_one_node_is_refused_on_the_others_until_it_is_released() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann")
    other = cluster.client(1)
    other.connect("@ann")
    cluster.settle()
    assert other.take() == [TAKEN]
    ann.drop()  # DISCONNECT-6: the name is free across the cluster
    cluster.settle()
    assert sent(cluster, cluster.nodes[0], Release) == [Release("@ann")]
    other.connect("@ann")
    cluster.settle()
    assert other.take() == [history()]


@requirement("CONNECT-3")
def test_a_name_held_on_the_same_node_is_refused_at_once_without_asking_the_broker() -> None:
    cluster = Cluster(2)
    cluster.client(0, "@ann")
    again = cluster.client(0)
    before = len(sent(cluster, cluster.nodes[0], Register))
    again.connect("@ann")
    assert again.take() == [TAKEN]  # no settling needed: decided here
    assert len(sent(cluster, cluster.nodes[0], Register)) == before


@requirement("CONNECT-3", "ROUTE-12")
def test_the_names_of_a_killed_node_are_free_and_its_rooms_start_empty() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    ann.say("#r", "before the crash")
    cluster.settle()
    cluster.broker.kill(cluster.nodes[0])  # no Release, no LeaveRoom: its liveness ends
    again = cluster.client(1)
    again.connect("@ann", "#r")
    cluster.settle()
    # The name is free at once, and a room whose only member node is dead has no member left:
    # it starts over, as an empty room does, with no history.
    assert again.take() == [history()]


@requirement("CONNECT-4", "CONNECT-1")
def test_a_reconnect_registers_only_its_new_rooms_and_claims_no_name() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#a", "#b"))
    bob = cluster.client(1, "@bob", ("#c",))
    bob.say("#c", "in c")
    cluster.settle()
    ann.connect("@ann", "#b", "#c")
    cluster.settle()
    register = sent(cluster, cluster.nodes[0], Register)[-1]
    assert register.name is None and register.rooms == ("#c",)
    assert register.history_rooms == ("#b", "#c")
    assert ann.take() == [history(("#c", "@bob", "in c"))]
    assert sent(cluster, cluster.nodes[0], LeaveRoom) == [LeaveRoom("#a")]
    bob.say("#c", "now you are in")
    bob.say("#a", "and not here")
    cluster.settle()
    assert ann.take() == [chat("#c", "@bob", "now you are in")]


# -- one order per room -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
@requirement("ROUTE-10", "ROUTE-1")
def test_two_posters_on_different_nodes_are_seen_in_one_order_by_every_member(seed: int) -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    cy = cluster.client(0, "@cy", ("#r",))
    dee = cluster.client(1, "@dee", ("#r",))
    rng = random.Random(seed)
    for n in range(6):
        (ann if rng.random() < 0.5 else bob).say("#r", f"m{n}")
        if rng.random() < 0.3:
            cluster.broker.step(rng)
    cluster.settle(rng)
    seen_cy, seen_dee = cy.take(), dee.take()
    assert len(seen_cy) == 6 and seen_cy == seen_dee
    # Each poster sees the others' messages in that same order.
    assert ann.take() == [m for m in seen_cy if m["history"][0]["from"] != "@ann"]
    assert bob.take() == [m for m in seen_cy if m["history"][0]["from"] != "@bob"]


@requirement("ROUTE-1", "CONNECT-2")
def test_a_message_numbered_before_a_member_joined_is_its_history_not_a_delivery() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    cluster.client(1, "@bob", ("#r",))  # node 1 listens to #r
    ann.say("#r", "early")  # numbered now; its delivery to node 1 is still queued
    cy = cluster.client(1, settle=False)
    cy.connect("@cy", "#r")  # registered after it: the message is in its history
    node = cluster.nodes[1]
    deliver_all(cluster, node, "deliveries")  # the message arrives before the Register's answer
    deliver_all(cluster, node, "replies")
    cluster.settle()
    assert cy.take() == [history(("#r", "@ann", "early"))]


@requirement("ROUTE-1", "CONNECT-1")
def test_a_message_numbered_after_a_member_joined_reaches_it_after_its_reply() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    cluster.client(1, "@bob", ("#r",))
    cy = cluster.client(1, settle=False)
    cy.connect("@cy", "#r")  # registered first
    ann.say("#r", "late")  # then numbered: a delivery for cy
    node = cluster.nodes[1]
    deliver_all(cluster, node, "deliveries")  # delivered to bob before cy's answer came
    deliver_all(cluster, node, "replies")
    cluster.settle()
    assert cy.take() == [history(), chat("#r", "@ann", "late")]


# -- gaps, lost connections, a restarted broker ----------------------------------------------


@requirement("ROUTE-1", "ROUTE-10")
def test_a_gap_is_fetched_and_repaired_in_order_without_duplicates() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    node = cluster.nodes[1]
    for n in range(5):
        ann.say("#r", f"m{n}")
    # Node 1 gets m0, loses m1 and m2, gets m3 and m4, and m3 twice.
    m0, _, m2, m3, m4 = list(node.deliveries)
    node.deliveries.clear()
    for message in (m0, m3, m3, m4):
        cluster.broker.feed(node, message)
    assert sent(cluster, node, Fetch) == [Fetch("#r", 1)]
    cluster.settle()
    assert bob.take() == [chat("#r", "@ann", f"m{n}") for n in range(5)]
    cluster.broker.feed(node, m2)  # late: a duplicate now
    assert bob.take() == []


@requirement("ROUTE-1")
def test_messages_trimmed_from_the_stream_before_a_repair_are_skipped() -> None:
    cluster = Cluster(2, stream_cap=2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    node = cluster.nodes[1]
    for n in range(5):
        ann.say("#r", f"m{n}")
    *_, m4 = list(node.deliveries)
    node.deliveries.clear()
    cluster.broker.feed(node, m4)
    cluster.settle()
    assert bob.take() == [chat("#r", "@ann", "m3"), chat("#r", "@ann", "m4")]
    ann.say("#r", "m5")
    cluster.settle()
    assert bob.take() == [chat("#r", "@ann", "m5")]


@requirement("ROUTE-1", "ROUTE-8", "ROUTE-5")
def test_a_lost_pubsub_connection_is_resumed_and_what_it_missed_fetched() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    node = cluster.nodes[1]
    cluster.broker.lose_pubsub(node)
    ann.say("#r", "missed")
    ann.say("#all", "missed too")
    cluster.settle()
    assert bob.take() == []
    cluster.broker.reconnect_pubsub(node)
    cluster.settle()
    assert bob.take() == [chat("#r", "@ann", "missed"), chat("#all", "@ann", "missed too")]
    ann.say("#r", "after")
    ann.say("@bob", "direct")
    cluster.settle()
    assert bob.take() == [chat("#r", "@ann", "after"), chat("@bob", "@ann", "direct")]


@requirement("CONNECT-3", "ROUTE-1", "ROUTE-8")
def test_after_a_broker_restart_names_and_memberships_are_claimed_again() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    ann.say("#r", "before")
    cluster.settle()
    bob.take()
    cluster.broker.restart()
    cluster.settle()
    assert cluster.broker.names == {"@ann": "n1", "@bob": "n2"}
    assert cluster.broker.members["#r"] == {"n1", "n2"}
    thief = cluster.client(1)
    thief.connect("@ann")
    ann.say("#r", "after")
    bob.say("#all", "still here")
    cluster.settle()
    assert thief.take() == [TAKEN]
    assert bob.take() == [chat("#r", "@ann", "after")]
    assert ann.take() == [chat("#all", "@bob", "still here")]


# -- a failed broker, and sessions that wait ----------------------------------------------------


@requirement("ERROR-3", "ERROR-1", "CONNECT-1")
def test_a_failed_broker_answers_unavailable_and_the_session_is_kept() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    node = cluster.nodes[0]
    cluster.broker.fail_commands(node)
    newcomer = cluster.client(0, settle=False)
    newcomer.connect("@cy", "#r")
    ann.say("@bob", "direct")
    ann.say("#new", "joining")
    cluster.settle()
    assert newcomer.take() == [UNAVAILABLE]
    assert ann.take() == [UNAVAILABLE, UNAVAILABLE]
    cluster.broker.fail_commands(node, down=False)
    newcomer.connect("@cy", "#r")
    ann.say("#new", "joining again")
    ann.say("#r", "still in #r")
    cluster.settle()
    assert newcomer.take() == [history(), chat("#r", "@ann", "still in #r")]
    assert bob.take() == [chat("#r", "@ann", "still in #r")]
    assert not ann.closed


@requirement("ROUTE-10", "CONNECT-1", "ROUTE-7", "DISCONNECT-3")
def test_a_waiting_session_has_its_frames_answered_in_the_order_it_sent_them() -> None:
    cluster = Cluster(2)
    bob = cluster.client(1, "@bob", ("#r",))
    ann = cluster.client(0, settle=False)
    frames = [
        {"action": "connect", "user_name": "@ann", "targets": ["#r"]},
        {"action": "message", "user_name": "@ann", "target": "@nobody", "message": "1"},
        {"action": "message", "user_name": "@ann", "target": "@bob", "message": "2"},
        {"action": "message", "user_name": "@ann", "target": "#r", "message": "3"},
        {"action": "disconnect", "user_name": "@ann", "target": "#r"},
    ]
    ann.send_bytes(b"".join(orjson.dumps(f) + b"\n" for f in frames))
    node = cluster.nodes[0]
    assert [type(r) for n, r in cluster.broker.sent if n == node.id][-1] is Register
    assert ann.take() == []  # everything waits for the connect's answer
    cluster.settle()
    assert ann.take() == [
        history(),
        NOT_CONNECTED,
        {"status": "disconnect", "target": "#r"},
    ]
    assert bob.take() == [chat("@bob", "@ann", "2"), chat("#r", "@ann", "3")]


@requirement("ROUTE-5", "ROUTE-10")
def test_a_local_direct_message_stays_behind_the_senders_room_messages() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(0, "@bob", ("#r",))
    ann.send_bytes(
        b'{"action":"message","user_name":"@ann","target":"#r","message":"room"}\n'
        b'{"action":"message","user_name":"@ann","target":"@bob","message":"direct"}\n'
    )
    cluster.settle()
    assert bob.take() == [chat("#r", "@ann", "room"), chat("@bob", "@ann", "direct")]


@requirement("CONNECT-6", "DISCONNECT-6")
def test_a_session_that_ends_while_its_connect_is_out_leaves_nothing_behind() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, settle=False)
    ann.connect("@ann", "#r")
    ann.drop()
    cluster.settle()
    assert cluster.broker.names == {}
    assert "#r" not in cluster.broker.members
    other = cluster.client(1)
    other.connect("@ann", "#r")
    cluster.settle()
    assert other.take() == [history()]


@requirement("ROUTE-1")
def test_a_duplicate_room_message_is_dropped() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    ann.say("#r", "once")
    (message,) = cluster.nodes[1].deliveries
    assert isinstance(message, RoomMessage)
    cluster.settle()
    cluster.broker.feed(cluster.nodes[1], message)
    assert bob.take() == [chat("#r", "@ann", "once")]


def test_registered_for_a_session_that_has_gone_is_ignored() -> None:
    cluster = Cluster(1)
    node = cluster.nodes[0]
    assert node.engine.handle(Registered(99, True, (("#r", 0),))) == []


@requirement("ERROR-3", "CONNECT-1")
def test_a_connect_whose_answer_a_broker_restart_lost_is_unavailable() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, settle=False)
    ann.connect("@ann", "#r")
    cluster.broker.restart()
    cluster.settle()
    assert ann.take() == [UNAVAILABLE]
    ann.connect("@ann", "#r")
    cluster.settle()
    assert ann.take() == [history()]
    assert cluster.broker.names == {"@ann": "n1"}


@requirement("SHUTDOWN-1", "CONNECT-6")
def test_a_node_that_shuts_down_frees_its_names_and_rooms_for_the_others() -> None:
    cluster = Cluster(2)
    ann = cluster.client(0, "@ann", ("#r",))
    bob = cluster.client(1, "@bob", ("#r",))
    ann.say("#r", "bye")
    cluster.settle()
    cluster.broker.feed(cluster.nodes[0], Shutdown())
    cluster.settle()
    assert ann.take() == [{"status": "disconnect"}] and ann.closed
    assert cluster.broker.names == {"@bob": "n2"}
    assert cluster.broker.members["#r"] == {"n2"}
    again = cluster.client(1)
    again.connect("@ann", "#r")
    cluster.settle()
    assert again.take() == [history(("#r", "@ann", "bye"))]
    assert bob.take() == [chat("#r", "@ann", "bye")]


@requirement("LIMIT-3", "CONNECT-6")
def test_a_session_timed_out_while_its_connect_is_out_releases_the_name() -> None:
    cluster = Cluster(1, connect_timeout_s=10)
    ann = cluster.client(0, settle=False)
    ann.connect("@ann")
    cluster.broker.feed(cluster.nodes[0], Tick(11.0))
    cluster.settle()
    assert ann.closed and cluster.broker.names == {}


@requirement("ROUTE-1")
def test_a_gap_the_broker_cannot_fill_is_asked_for_twice_then_passed() -> None:
    """The first empty answer may have been read before the buffered message was published (it
    comes on the other connection), so the gap is asked for again; a second empty answer was
    read after it: what is missing is gone, and the node goes on rather than wait forever."""
    cluster = Cluster(1)
    bob = cluster.client(0, "@bob", ("#r",))
    engine = cluster.nodes[0].engine
    entry = b'{"target":"#r","from":"@ann","message":"late"}'
    assert engine.handle(RoomMessage("#r", 3, None, entry)) == [Fetch("#r", 0)]
    assert engine.handle(Fetched("#r", ())) == [Fetch("#r", 0)]
    cluster.broker.feed(cluster.nodes[0], Fetched("#r", ()))
    assert bob.take() == [chat("#r", "@ann", "late")]
    assert sent(cluster, cluster.nodes[0], Fetch) == []
