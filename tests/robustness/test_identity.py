"""Nobody acts as someone else: sends as them, takes their name, ends or shrinks their session,
or reads what is meant for them, also through look-alike names and races.
"""

from __future__ import annotations

import threading
import unicodedata
from typing import Any

import protocol
from conformance.kit.shapes import DISCONNECTED, error
from conformance.kit.wire import WireClient
from conformance.suite.verdicts import requirement
from tests.robustness.watched import WatchedServer
from tests.transport.netutil import TIMEOUT, connect, delivery, say, settle

# Each differs from "@alice" or from each other only in case, Unicode normalisation, width,
# script, or an invisible character the name rules allow: all are other names.
LOOKALIKES = (
    "@Alice",
    "@ALICE",
    "@ａlice",  # fullwidth a
    "@аlice",  # Cyrillic a
    "@alice\u200d",  # zero-width joiner
    unicodedata.normalize("NFC", "@café"),
    unicodedata.normalize("NFD", "@café"),
)


@requirement("CONNECT-1", "CONNECT-3", "ROUTE-5", "ROUTE-13")
def test_names_that_look_alike_are_other_names_and_none_reaches_the_other() -> None:
    assert len(set(LOOKALIKES)) == len(LOOKALIKES)
    with WatchedServer("--no-welcome") as target:
        alice = connect(target.address, "@alice", "#a")
        others = [connect(target.address, name, "#a") for name in LOOKALIKES]
        taken = WireClient(target.address, label="@alice")
        taken.send({"action": "connect", "user_name": "@alice", "targets": []})
        assert taken.recv_value() == error("name_taken")
        for sender in others:
            say(sender, "@alice", "to alice")
            sender.send(
                {"action": "message", "user_name": "@alice", "target": "#a", "message": "x"}
            )
            assert settle(sender) == [error("name_mismatch")]
        for recipient in others:
            say(alice, recipient.label, f"to {recipient.label}")
        assert settle(alice) == [delivery("@alice", o.label, "to alice") for o in others]
        for recipient in others:
            assert settle(recipient) == [
                delivery(recipient.label, "@alice", f"to {recipient.label}")
            ]
        assert target.finish() == (0, [])


def impersonations(victim: str, room: str) -> list[dict[str, Any]]:
    """Every action, valid in all but its `user_name`, which is the victim's (from the schemas)."""
    documents = []
    for action in ("connect", "message", "disconnect"):
        for example in protocol.schema(f"client/{action}")["examples"]:
            if "user_name" in example:
                aimed = {k: room if k == "target" else v for k, v in example.items()}
                aimed = {**aimed, "targets": [room]} if "targets" in aimed else aimed
                documents.append({**aimed, "user_name": victim})
    return documents


@requirement("CONNECT-5", "ROUTE-13", "DISCONNECT-4", "STATE-2", "STATE-3")
def test_no_action_under_another_name_changes_anything() -> None:
    with WatchedServer("--no-welcome") as target:
        alice, bob = connect(target.address, "@alice", "#a"), connect(target.address, "@bob", "#a")
        mallory = connect(target.address, "@mallory", "#a")
        forged = impersonations("@alice", "#a")
        assert {d["action"] for d in forged} == {"connect", "message", "disconnect"}
        for document in forged:
            mallory.send(document)
            assert settle(mallory) == [error("name_mismatch")], document
        stranger = WireClient(target.address, label="stranger", timeout=TIMEOUT)
        for document in forged:
            if document["action"] != "connect" and "target" in document:
                stranger.send(document)  # not connected: refused before any name is looked at
                assert stranger.recv_value() == error("not_connected"), document
        stranger.send({"action": "disconnect", "user_name": "@alice"})  # ends its own session
        assert stranger.recv_value() == DISCONNECTED and stranger.wait_closed()
        mallory.send({"action": "connect", "user_name": "@carol", "targets": ["#b"]})
        assert mallory.recv_value() == error("name_mismatch")  # a connection keeps its name
        carol = connect(target.address, "@carol")  # so @carol was still free
        say(bob, "#a", "still there?")
        assert settle(alice) == [delivery("#a", "@bob", "still there?")]
        assert settle(mallory) == [delivery("#a", "@bob", "still there?")]
        assert settle(carol) == []
        assert target.finish() == (0, [])


@requirement("ROUTE-5", "ROUTE-12", "CONNECT-6")
def test_direct_messages_reach_their_recipient_only_and_are_never_kept() -> None:
    with WatchedServer("--no-welcome") as target:
        clients = [connect(target.address, f"@u{i}", "#all-here") for i in range(12)]
        for sender in clients:
            for recipient in clients:
                if recipient is not sender:
                    say(sender, recipient.label, f"{sender.label}>{recipient.label}")
        # Once every client's first barrier is back, the server has handled every message (each
        # client sent its own before its barrier); the second barriers then collect the rest.
        got = {client.label: settle(client) for client in clients}
        for client in clients:
            got[client.label] += settle(client)
            senders = sorted(c.label for c in clients if c is not client)
            expected = [delivery(client.label, s, f"{s}>{client.label}") for s in senders]
            assert sorted(got[client.label], key=lambda v: v["history"][0]["from"]) == expected
        first = clients[0]
        first.send({"action": "disconnect"})
        assert first.recv_value() == DISCONNECTED and first.wait_closed()
        heir = WireClient(target.address, label="@u0", timeout=TIMEOUT)
        heir.send({"action": "connect", "user_name": "@u0", "targets": ["#all-here", "#all"]})
        assert heir.recv_value() == {"status": "chat", "history": []}  # DMs are not kept
        assert target.finish() == (0, [])


def race(
    client: WireClient, name: str, start: threading.Barrier, replies: dict[int, Any], i: int
) -> None:
    start.wait()
    client.send({"action": "connect", "user_name": name, "targets": []})
    replies[i] = client.recv_value()


@requirement("CONNECT-3", "CONNECT-6")
def test_racing_connects_for_one_name_have_exactly_one_winner() -> None:
    """40 connections send `connect` for one name at once, over ten rounds; half of them spell it
    in NFD, which is another name, so each round has exactly two winners."""
    nfc, nfd = (unicodedata.normalize(form, "@prizé") for form in ("NFC", "NFD"))
    with WatchedServer("--no-welcome") as target:
        for round_no in range(10):
            racers = [WireClient(target.address, label=f"r{i}", timeout=TIMEOUT) for i in range(40)]
            start = threading.Barrier(len(racers))
            replies: dict[int, Any] = {}
            threads = [
                threading.Thread(target=race, args=(c, nfc if i % 2 else nfd, start, replies, i))
                for i, c in enumerate(racers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(TIMEOUT)
            winners = [i for i, reply in replies.items() if reply["status"] == "chat"]
            assert sorted(i % 2 for i in winners) == [0, 1], (round_no, replies)
            assert all(replies[i] == error("name_taken") for i in replies if i not in winners)
            for i in winners:  # each name reaches its winner
                racers[i].label = nfc if i % 2 else nfd
                say(racers[i], racers[i].label, "mine")
                assert racers[i].recv_value() == delivery(racers[i].label, racers[i].label, "mine")
            for client in racers:
                client.close()
        assert target.finish() == (0, [])
