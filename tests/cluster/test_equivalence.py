"""Several nodes are one server: every client gets the bytes one single-node `Engine` gives it.

Random client programs (connect, reconnect, a message to a room, to a user or to `#all`, leave,
disconnect, a lost connection) run twice: on one `Engine`, and on two or three `ClusterEngine`s
over the fake broker with the clients spread round-robin over the nodes, the broker settled after
each step (every answer and delivery arrived, as a client that waits for what it sent would see).
After every step each client's bytes must be the same, byte for byte, on both. Names, rooms and
users are drawn from small pools, so that names collide across nodes (CONNECT-3), rooms empty and
fill again (ROUTE-12) and direct messages find their target or not (ROUTE-7).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.suite.verdicts import requirement
from engine.events import ConnectionLost, DataReceived
from tests.cluster.harness import Cluster
from tests.engine.harness import Net

NAMES = ("@ann", "@bob", "@cy")
ROOMS = ("#r1", "#r2", "#r3")
TARGETS = (*ROOMS, "#all", *NAMES)
LIMITS = {"history_per_room": 3, "history_on_connect": 5, "max_rooms_per_session": 2}


@dataclass(frozen=True)
class Step:
    client: int
    action: str  # connect, say, leave, disconnect, lost
    name: str = ""
    targets: tuple[str, ...] = ()
    target: str = ""


def connects(who: st.SearchStrategy[int]) -> st.SearchStrategy[Step]:
    rooms = st.lists(st.sampled_from((*ROOMS, "#all")), max_size=3).map(tuple)
    return st.builds(Step, who, st.just("connect"), st.sampled_from(NAMES), rooms)


def steps(clients: int) -> st.SearchStrategy[Step]:
    """Mostly messages, so that rooms have history to merge and cap; sometimes an end."""
    who = st.integers(0, clients - 1)
    say = st.builds(Step, who, st.just("say"), target=st.sampled_from(TARGETS))
    leave = st.builds(Step, who, st.just("leave"), target=st.sampled_from((*ROOMS, "#all")))
    end = st.builds(Step, who, st.sampled_from(("disconnect", "lost")))
    return st.one_of(say, say, say, connects(who), leave, end)


def programs(clients: int) -> st.SearchStrategy[list[Step]]:
    """Every client connects first (names may collide), then anything; a client that ended
    stays gone."""
    first = st.tuples(*(connects(st.just(i)) for i in range(clients))).map(list)
    rest = st.lists(steps(clients), min_size=20, max_size=60)
    return st.builds(lambda a, b: a + b, first, rest)


def frame(step: Step, number: int, name: str | None) -> bytes:
    """The step's frame; `name` is its client's session name (None: not connected)."""
    name = name or step.name or NAMES[0]
    document: dict[str, Any]
    if step.action == "connect":
        document = {"action": "connect", "user_name": step.name, "targets": list(step.targets)}
    elif step.action == "say":
        document = {"action": "message", "user_name": name, "target": step.target}
        document["message"] = f"m{number}"
    elif step.action == "leave":
        document = {"action": "disconnect", "user_name": name, "target": step.target}
    else:
        document = {"action": "disconnect", "user_name": name}
    return orjson.dumps(document) + b"\n"


def run(
    program: list[Step],
    nodes: int,
    clients: int,
    welcome: bool,
    seed: int | None,
    limits: dict[str, int] = LIMITS,
) -> None:
    cluster = Cluster(nodes, welcome=welcome, **limits)
    reference = Net(welcome, **limits)  # one Engine: what the clients must get
    rng = random.Random(seed) if seed is not None else None
    members = [cluster.client(i % nodes) for i in range(clients)]
    for client in members:
        assert reference.client().conn == client.conn
    cluster.settle(rng)
    gone: set[int] = set()
    for number, step in enumerate(program):
        client = members[step.client]
        if client.conn in gone or client.closed:
            continue
        if step.action == "lost":
            gone.add(client.conn)
            reference.apply(ConnectionLost(client.conn))
            client.drop()
        else:
            data = frame(step, number, reference.engine.name_of(client.conn))
            reference.apply(DataReceived(client.conn, data))
            client.send_bytes(data)
        cluster.settle(rng)
        for c in members:
            assert cluster.raw[c.conn] == reference.raw.get(c.conn, b""), (
                f"client {members.index(c)} on node {c.node.id} after step {number} {step}"
            )
        assert cluster.closed == reference.closed


@requirement(
    "CONNECT-1",
    "CONNECT-2",
    "CONNECT-3",
    "CONNECT-4",
    "CONNECT-6",
    "ROUTE-1",
    "ROUTE-3",
    "ROUTE-4",
    "ROUTE-5",
    "ROUTE-6",
    "ROUTE-7",
    "ROUTE-8",
    "ROUTE-12",
    "ROUTE-14",
    "DISCONNECT-3",
    "DISCONNECT-6",
)
@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    nodes=st.integers(2, 3),
    clients=st.integers(2, 5),
    welcome=st.booleans(),
    seed=st.none() | st.integers(0, 2**16),
)
def test_several_nodes_give_every_client_the_bytes_of_one_engine(
    data: st.DataObject, nodes: int, clients: int, welcome: bool, seed: int | None
) -> None:
    program = data.draw(programs(clients), label="program")
    run(program, nodes, clients, welcome, seed)


@requirement("CONNECT-2", "ROUTE-12")
def test_no_history_kept_gives_no_history_on_any_node() -> None:
    """history_per_room 0: the broker is asked for no entries and must give none (the script
    reads nothing then), as one `Engine` keeps none."""
    program = [
        Step(0, "connect", "@ann", ("#r1", "#all")),
        Step(1, "connect", "@bob", ("#r2",)),
        Step(0, "say", target="#r1"),
        Step(0, "say", target="#all"),
        Step(1, "say", target="#r2"),
        Step(1, "connect", "@bob", ("#r1", "#r2", "#all")),
        Step(2, "connect", "@cy", ("#r1", "#r2", "#all")),
    ]
    run(program, 2, 3, False, None, {**LIMITS, "history_per_room": 0})
