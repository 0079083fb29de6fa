"""Room membership after a room has carried messages (ROUTE-1, DISCONNECT-3, DISCONNECT-5).

test_disconnect.py leaves a room before anything was said in it. A server that remembers who
gets a room's messages (to fan out without rebuilding the list each time) must also forget a
member that leaves afterwards: here the room carries a message first, then one member leaves.
"""

from __future__ import annotations

from conformance.suite.harness import Chat
from conformance.suite.verdicts import requirement


@requirement("DISCONNECT-5", "ROUTE-1", "DISCONNECT-3")
def test_leaving_a_room_that_carried_messages_stops_its_deliveries(chat: Chat) -> None:
    room = chat.room()
    alice, bob, carol = chat.members(room, "alice", "bob", "carol")
    bob.say(room, "before")
    alice.expect_delivery("ROUTE-1", room, bob.name, "before")
    carol.expect_delivery("ROUTE-1", room, bob.name, "before")
    alice.leave(room, "DISCONNECT-3")
    bob.say(room, "after")
    carol.expect_delivery("ROUTE-1", room, bob.name, "after")
    bob.settle("DISCONNECT-5")
    alice.expect_quiet("DISCONNECT-5", "a message to a room it left, once that room had talked")
