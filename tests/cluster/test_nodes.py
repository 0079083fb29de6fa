"""Two nodes on one real Redis behave, to their clients, as one server: real sockets, real
Redis, `ChatServer` threads (processes where a process is the point, test_failures.py)."""

from __future__ import annotations

from conformance.kit.wire import WireClient
from tests.cluster.nodes import connect_reply, node, receive, texts
from tests.cluster.redis_server import RedisServer
from tests.transport.netutil import connect, say, settle


def test_room_direct_all_and_history_across_nodes(redis_server: RedisServer) -> None:
    with node(redis_server.url, "a") as a, node(redis_server.url, "b") as b:
        alice = connect(a.address, "@alice", "#r")
        bob = connect(b.address, "@bob", "#r")
        say(alice, "#r", "hi bob")
        assert texts(receive(bob, 1)) == ["hi bob"]
        say(bob, "@alice", "psst")
        assert receive(alice, 1)[0]["history"] == [
            {"target": "@alice", "from": "@bob", "message": "psst"}
        ]
        say(alice, "#all", "to everyone")
        assert texts(receive(bob, 1)) == ["to everyone"]
        carol = connect_history(b.address, "@carol", "#r")
        assert [e["message"] for e in carol] == ["hi bob"]  # as one node: the rooms asked for
        assert settle(alice) == [] and settle(bob) == []  # nothing twice, nothing back to alice


def connect_history(address: tuple[str, int], name: str, *rooms: str) -> list[dict[str, str]]:
    reply = connect_reply(address, name, *rooms)
    assert reply is not None and reply["status"] == "chat", reply
    history: list[dict[str, str]] = reply["history"]
    return history


def test_a_name_held_on_one_node_is_refused_on_the_other(redis_server: RedisServer) -> None:
    with node(redis_server.url, "a") as a, node(redis_server.url, "b") as b:
        alice = connect(a.address, "@alice")
        other = WireClient(b.address, label="other", timeout=5.0)
        other.send({"action": "connect", "user_name": "@alice", "targets": []})
        reply = other.recv_value()
        assert reply is not None and reply["status"] == "error", reply  # CONNECT-3
        alice.send({"action": "disconnect"})
        assert alice.recv_value() == {"status": "disconnect"}
        other.send({"action": "connect", "user_name": "@alice", "targets": []})
        assert other.recv_value() == {"status": "chat", "history": []}  # released: free again


def test_one_order_per_room_for_posters_on_two_nodes(redis_server: RedisServer) -> None:
    count = 200
    with node(redis_server.url, "a") as a, node(redis_server.url, "b") as b:
        readers = [connect(a.address, "@ra", "#r"), connect(b.address, "@rb", "#r")]
        posters = [connect(a.address, "@pa", "#r"), connect(b.address, "@pb", "#r")]
        for i in range(count):
            for poster in posters:
                say(poster, "#r", f"{poster.label} {i}")
        seen = [texts(receive(reader, 2 * count)) for reader in readers]
        assert seen[0] == seen[1]  # the broker's one order, on both nodes
        for poster in posters:  # and each poster's own order within it
            own = [t for t in seen[0] if t.startswith(poster.label)]
            assert own == [f"{poster.label} {i}" for i in range(count)]
