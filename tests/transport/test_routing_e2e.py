"""Routing through the real server on real sockets, with many clients at once."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from conformance.kit.wire import WireClient
from conformance.suite.verdicts import requirement
from tests.transport.netutil import TIMEOUT, connect, delivery, running_server, say, settle


@requirement("ROUTE-1", "ROUTE-2", "ROUTE-3", "ROUTE-10")
def test_many_concurrent_senders_reach_exactly_their_rooms_once_and_in_order() -> None:
    rooms = ["#red", "#green", "#blue"]
    per_sender = 20
    with running_server() as server:
        clients = [connect(server.address, f"@u{i}", rooms[i % 3]) for i in range(30)]

        def room_of(name: str) -> str:
            return rooms[int(name[2:]) % 3]

        def post(client: WireClient) -> None:
            room = room_of(client.label)
            for n in range(per_sender):
                say(client, room, f"{client.label}:{n}")

        threads = [threading.Thread(target=post, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        # Once every client's barrier is back, every post has been routed; a second barrier
        # then collects what was still on its way to each client.
        got = {client.label: settle(client) for client in clients}
        for client in clients:
            got[client.label] += settle(client)
        for client in clients:
            my_room = room_of(client.label)
            by_sender: dict[str, list[int]] = defaultdict(list)
            for packet in got[client.label]:
                (entry,) = packet["history"]
                assert entry["target"] == my_room, (client.label, entry)
                sender, n = entry["message"].split(":")
                assert entry["from"] == sender != client.label
                by_sender[sender].append(int(n))
            mates = {c.label for c in clients if c is not client and room_of(c.label) == my_room}
            assert set(by_sender) == mates
            assert all(ns == list(range(per_sender)) for ns in by_sender.values())


@requirement("ROUTE-5", "ROUTE-6", "ROUTE-7", "ROUTE-9", "ROUTE-11")
def test_direct_messages() -> None:
    with running_server() as server:
        alice, bob, carol = (connect(server.address, n, "#a") for n in ("@alice", "@bob", "@carol"))
        say(alice, "@bob", "psst")
        say(alice, "@ghost", "boo")
        assert settle(alice) == [{"status": "error", "message": "Target user not connected"}]
        assert settle(bob) == [delivery("@bob", "@alice", "psst")]
        assert settle(carol) == []


@requirement("ROUTE-8")
def test_all_reaches_everyone_connected_but_the_sender() -> None:
    with running_server() as server:
        clients = [connect(server.address, f"@u{i}", f"#r{i}") for i in range(12)]
        lurker = WireClient(server.address, label="lurker", timeout=TIMEOUT)
        say(clients[0], "#all", "hello")
        assert settle(clients[0]) == []
        for client in clients[1:]:
            assert settle(client) == [delivery("#all", "@u0", "hello")]
        assert lurker.recv(timeout=0.2) is None


@requirement("ROUTE-4", "DISCONNECT-3", "DISCONNECT-5", "CONNECT-4", "CONNECT-2")
def test_join_by_posting_leave_and_reconnect_to_replace_rooms() -> None:
    with running_server() as server:
        alice = connect(server.address, "@alice")
        bob = connect(server.address, "@bob", "#music")
        say(alice, "#music", "let me in")
        assert settle(alice) == []  # the server has handled the post, so alice is a member
        say(bob, "#music", "welcome")
        assert settle(bob) == [delivery("#music", "@alice", "let me in")]
        assert settle(alice) == [delivery("#music", "@bob", "welcome")]
        alice.send({"action": "disconnect", "user_name": "@alice", "target": "#music"})
        assert alice.recv_value() == {"status": "disconnect", "target": "#music"}
        say(bob, "#music", "gone?")
        assert settle(bob) == []
        assert settle(alice) == []
        alice.send({"action": "connect", "user_name": "@alice", "targets": ["#music"]})
        history = alice.recv_value()["history"]
        assert [h["message"] for h in history] == ["let me in", "welcome", "gone?"]


@requirement("CONNECT-3", "ROUTE-13", "STATE-2", "DISCONNECT-4")
def test_nobody_can_act_as_someone_else() -> None:
    with running_server() as server:
        alice = connect(server.address, "@alice", "#a")
        mallory = WireClient(server.address, label="@mallory", timeout=TIMEOUT)
        mallory.send({"action": "message", "user_name": "@alice", "target": "#a", "message": "x"})
        mallory.send({"action": "connect", "user_name": "@alice", "targets": ["#a"]})
        assert [mallory.recv_value(), mallory.recv_value()] == [
            {"status": "error", "message": "Client not connected"},
            {"status": "error", "message": "User name already connected"},
        ]
        mallory = connect(server.address, "@mallory", "#a")
        say_as: dict[str, Any] = {"action": "message", "user_name": "@alice", "target": "#a"}
        mallory.send({**say_as, "message": "I am alice"})
        mallory.send({"action": "disconnect", "user_name": "@alice"})
        assert settle(mallory) == [{"status": "error", "message": "User name mismatch"}] * 2
        assert settle(alice) == []  # after mallory's barrier, so nothing more can be on its way
