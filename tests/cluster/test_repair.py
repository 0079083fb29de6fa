"""Under lost deliveries, lost pub/sub connections and any interleaving, every member still gets
each room's messages exactly once, in the broker's order.

Clients on two or three nodes join the same rooms, then post while the test drops deliveries,
kills and restores pub/sub connections and feeds queued events in a random order. Once everything
is restored and settled (a node that lost deliveries has reconnected, as with Redis nothing is
lost but with a connection), each client must have received, per room, exactly the room's stream
(every message numbered after it joined, but its own), in sequence order: gaps were fetched,
duplicates dropped, nothing delivered twice or out of order.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.suite.verdicts import requirement
from tests.cluster.harness import Cluster

ROOMS = ("#r1", "#r2", "#all")


@st.composite
def scenario(draw: st.DrawFn) -> tuple[int, int, list[tuple[str, int, str]], int]:
    nodes = draw(st.integers(2, 3))
    clients = draw(st.integers(2, 5))
    post = st.tuples(st.just("say"), st.integers(0, clients - 1), st.sampled_from(ROOMS))
    fault = st.tuples(
        st.sampled_from(("drop", "lose", "reconnect", "step")),
        st.integers(0, nodes - 1),
        st.just(""),
    )
    events = draw(st.lists(st.one_of(post, post, fault), min_size=5, max_size=60))
    return nodes, clients, events, draw(st.integers(0, 2**16))


@requirement("ROUTE-1", "ROUTE-3", "ROUTE-8", "ROUTE-10")
@settings(max_examples=200, deadline=None)
@given(scenario())
def test_members_get_each_rooms_messages_once_in_order_whatever_is_lost(
    case: tuple[int, int, list[tuple[str, int, str]], int],
) -> None:
    nodes, count, events, seed = case
    rng = random.Random(seed)
    cluster = Cluster(nodes)
    clients = [cluster.client(i % nodes, f"@u{i}", ("#r1", "#r2")) for i in range(count)]
    down: set[int] = set()
    dropped: set[int] = set()  # nodes that lost deliveries: Redis loses none but with a connection
    for number, (kind, who, room) in enumerate(events):
        node = cluster.nodes[who % nodes]
        if kind == "say":
            clients[who].say(room, f"{number}")
        elif kind == "drop":
            cluster.broker.drop_deliveries(node)
            dropped.add(who % nodes)
        elif kind == "lose" and who not in down:
            down.add(who)
            cluster.broker.lose_pubsub(node)
        elif kind == "reconnect" and who in down:
            down.discard(who)
            cluster.broker.reconnect_pubsub(node)
        else:
            for _ in range(rng.randrange(4)):
                cluster.broker.step(rng)
    for who in down | dropped:
        cluster.broker.reconnect_pubsub(cluster.nodes[who])
    cluster.settle(rng)
    for client in clients:
        got: dict[str, list[Any]] = {}
        for message in client.take():
            entry = message["history"][0]
            got.setdefault(entry["target"], []).append((entry["from"], entry["message"]))
        for room in ROOMS:
            stream = cluster.broker.streams.get(room, ())
            expected = [
                (e.entry_doc["from"], e.entry_doc["message"])
                for e in stream
                if e.entry_doc["from"] != client.name
            ]
            assert got.get(room, []) == expected, (client.name, room)
