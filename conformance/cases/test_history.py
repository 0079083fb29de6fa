"""Room history when members go away (ROUTE-12): a room is dropped, history and all, when its
last member leaves by any way out, not only by `disconnect` with a `target`.

test_routing.py covers leaving with `disconnect` and a `target`; these cases end the last
member's session instead: with `disconnect`, and by closing the connection.
"""

from __future__ import annotations

import pytest

from conformance.suite.harness import Chat
from conformance.suite.verdicts import requirement


@requirement("ROUTE-12", "DISCONNECT-1", "DISCONNECT-6")
@pytest.mark.parametrize("how", ["disconnect", "close"])
def test_room_history_is_dropped_when_its_last_member_goes(chat: Chat, how: str) -> None:
    chat.require_connect_reply("read a room's history")
    room = chat.room()
    name = chat.user("alice")
    alice = chat.join(name, room)
    alice.say(room, "soon forgotten")
    alice.settle("ROUTE-12")
    if how == "disconnect":
        alice.send({"action": "disconnect"})
        alice.expect_closed("DISCONNECT-1")
    else:
        alice.close()
        chat.claim(name, "DISCONNECT-6")  # once its name is free, its session has ended
    reply = chat.open("bob").join(chat.user("bob"), room)
    chat.check(
        "ROUTE-12",
        reply.get("history") == [],
        f"history of a room whose only member ended its session ({how}): {reply!r}",
    )
