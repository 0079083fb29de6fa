"""Connect, routing, leaving and disconnecting, each test citing the rules it checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.suite.verdicts import requirement
from engine.events import Close, Kick, Send, Shutdown
from protocol import ErrorCode, Trigger, machine_spec
from tests.engine.harness import Client, Net, chat, error


@requirement("CONNECT-1", "CONNECT-2")
def test_connect_answers_with_an_empty_history_for_new_rooms() -> None:
    net = Net()
    alice = net.client()
    alice.connect("@alice", "#general", "#music")
    assert alice.take() == [{"status": "chat", "history": []}]
    assert net.engine.name_of(alice.conn) == "@alice"


@requirement("CONNECT-1")
def test_connect_with_no_rooms_is_valid() -> None:
    net = Net()
    alice = net.client()
    alice.connect("@alice")
    assert alice.take() == [{"status": "chat", "history": []}]


@requirement("CONNECT-2", "ROUTE-12")
def test_connect_history_holds_recent_room_messages_oldest_first() -> None:
    net = Net()
    bob = net.client("@bob", ("#a", "#b"))
    bob.say("#a", "one")
    bob.say("#b", "two")
    bob.say("#a", "three")
    alice = net.client()
    alice.connect("@alice", "#b", "#a")
    history = alice.take()[0]["history"]
    assert [h["message"] for h in history] == ["one", "two", "three"]
    assert history[0] == {"target": "#a", "from": "@bob", "message": "one"}


@requirement("CONNECT-2", "ROUTE-12")
def test_history_is_bounded_per_room_and_per_connect() -> None:
    net = Net(history_per_room=3, history_on_connect=4)
    bob = net.client("@bob", ("#a", "#b"))
    for i in range(5):
        bob.say("#a", f"a{i}")
        bob.say("#b", f"b{i}")
    alice = net.client()
    alice.connect("@alice", "#a", "#b")
    history = [h["message"] for h in alice.take()[0]["history"]]
    assert history == ["a3", "b3", "a4", "b4"]


@requirement("CONNECT-2")
def test_history_under_the_connect_limit_is_sent_whole() -> None:
    net = Net()  # 20 per room, 50 per connect: two full rooms give 40 entries, all of them
    bob = net.client("@bob", ("#a", "#b"))
    for i in range(20):
        bob.say("#a", f"a{i}")
        bob.say("#b", f"b{i}")
    alice = net.client()
    alice.connect("@alice", "#a", "#b")
    history = [h["message"] for h in alice.take()[0]["history"]]
    assert history == [m for i in range(20) for m in (f"a{i}", f"b{i}")]


@requirement("ROUTE-12")
def test_room_history_is_dropped_with_its_last_member_and_direct_messages_are_not_kept() -> None:
    net = Net()
    bob = net.client("@bob", ("#a",))
    bob.say("#a", "old")
    bob.say("@bob", "note to self")
    bob.send(action="disconnect", target="#a")
    alice = net.client()
    alice.connect("@alice", "#a")
    assert alice.take() == [{"status": "chat", "history": []}]


@requirement("CONNECT-3")
def test_a_name_held_by_another_connection_is_refused() -> None:
    net = Net()
    net.client("@alice")
    imposter = net.client()
    imposter.connect("@alice", "#general")
    assert imposter.take() == [error("User name already connected")]
    imposter.say("#general", "hi", as_user="@alice")
    assert imposter.take() == [error("Client not connected")]


@requirement("CONNECT-4")
def test_connecting_again_with_the_same_name_replaces_the_rooms() -> None:
    net = Net()
    alice = net.client("@alice", ("#a", "#b"))
    bob = net.client("@bob", ("#a", "#b", "#c"))
    bob.say("#c", "earlier in c")
    alice.connect("@alice", "#b", "#c")
    assert alice.take() == [
        {"status": "chat", "history": [{"target": "#c", "from": "@bob", "message": "earlier in c"}]}
    ]
    bob.say("#a", "to a")
    bob.say("#c", "to c")
    assert alice.take() == [chat("#c", "@bob", "to c")]


@requirement("CONNECT-5")
def test_connecting_again_with_another_name_changes_nothing() -> None:
    net = Net()
    alice = net.client("@alice", ("#a",))
    alice.connect("@mallory", "#b")
    assert alice.take() == [error("User name mismatch")]
    bob = net.client("@bob", ("#a",))
    bob.say("#a", "still here?")
    assert alice.take() == [chat("#a", "@bob", "still here?")]
    assert net.engine.name_of(alice.conn) == "@alice"


@requirement("CONNECT-6", "DISCONNECT-6")
def test_a_name_is_free_again_once_its_connection_is_gone() -> None:
    net = Net()
    first = net.client("@alice", ("#a",))
    first.drop()
    second = net.client()
    second.connect("@alice", "#a")
    assert second.take() == [{"status": "chat", "history": []}]


@requirement("ROUTE-1", "ROUTE-2", "ROUTE-3", "ROUTE-9", "ROUTE-11")
def test_room_message_reaches_every_other_member_and_no_one_else() -> None:
    net = Net()
    alice = net.client("@alice", ("#general",))
    bob = net.client("@bob", ("#general",))
    carol = net.client("@carol", ("#general", "#other"))
    dave = net.client("@dave", ("#other",))
    outputs = alice.say("#general", "hi all")
    assert bob.take() == carol.take() == [chat("#general", "@alice", "hi all")]
    assert alice.take() == dave.take() == []
    sends = [o for o in outputs if isinstance(o, Send)]
    assert len(sends) == 1 and sorted(sends[0].to) == sorted([bob.conn, carol.conn])


@requirement("ROUTE-4")
def test_posting_to_a_room_joins_it_after_delivery() -> None:
    net = Net()
    alice = net.client("@alice")
    bob = net.client("@bob", ("#music",))
    alice.say("#music", "let me in")
    assert bob.take() == [chat("#music", "@alice", "let me in")]
    assert alice.take() == []
    bob.say("#music", "welcome")
    assert alice.take() == [chat("#music", "@bob", "welcome")]


@requirement("ROUTE-4")
def test_posting_to_an_empty_room_creates_it_with_the_sender_as_member() -> None:
    net = Net()
    alice = net.client("@alice")
    assert alice.say("#new", "first") == []
    bob = net.client()
    bob.connect("@bob", "#new")
    assert bob.take()[0]["history"] == [{"target": "#new", "from": "@alice", "message": "first"}]
    bob.say("#new", "second")
    assert alice.take() == [chat("#new", "@bob", "second")]


@requirement("ROUTE-5", "ROUTE-9")
def test_direct_message_reaches_only_its_target() -> None:
    net = Net()
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob", ("#a",))
    carol = net.client("@carol", ("#a",))
    alice.say("@bob", "psst")
    assert bob.take() == [chat("@bob", "@alice", "psst")]
    assert alice.take() == carol.take() == []


@requirement("ROUTE-6")
def test_direct_message_to_yourself_comes_back() -> None:
    net = Net()
    alice = net.client("@alice")
    alice.say("@alice", "note")
    assert alice.take() == [chat("@alice", "@alice", "note")]


@requirement("ROUTE-7")
def test_direct_message_to_nobody_is_an_error() -> None:
    net = Net()
    alice = net.client("@alice")
    alice.say("@ghost", "boo")
    assert alice.take() == [error("Target user not connected")]


@requirement("ROUTE-8")
def test_all_reaches_every_connected_user_but_the_sender() -> None:
    net = Net()
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob")
    carol = net.client("@carol", ("#c",))
    waiting = net.client()
    alice.say("#all", "hello world")
    assert bob.take() == carol.take() == [chat("#all", "@alice", "hello world")]
    assert alice.take() == waiting.take() == []


@requirement("ROUTE-8", "ROUTE-14")
def test_all_cannot_be_left_and_does_not_count_as_a_room() -> None:
    net = Net(max_rooms_per_session=1)
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob")
    alice.send(action="disconnect", target="#all")
    assert alice.take() == [{"status": "disconnect", "target": "#all"}]
    bob.say("#all", "still there")
    assert alice.take() == [chat("#all", "@bob", "still there")]
    alice.say("#all", "me too")
    assert alice.take() == []


@requirement("ROUTE-10")
def test_deliveries_from_one_sender_arrive_in_order() -> None:
    net = Net()
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob", ("#a",))
    for i in range(50):
        alice.say("#a" if i % 2 else "@bob", str(i))
    assert [m["history"][0]["message"] for m in bob.take()] == [str(i) for i in range(50)]


@requirement("ROUTE-13")
def test_spoofed_sender_is_refused() -> None:
    net = Net()
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob", ("#a",))
    alice.say("#a", "I am bob", as_user="@bob")
    assert alice.take() == [error("User name mismatch")]
    assert bob.take() == []


@requirement("ROUTE-14")
def test_joining_past_the_room_limit_is_refused_and_not_delivered() -> None:
    net = Net(max_rooms_per_session=2)
    alice = net.client("@alice", ("#a", "#b"))
    bob = net.client("@bob", ("#c",))
    alice.say("#c", "hi")
    assert alice.take() == [error("Too Many Rooms")]
    assert bob.take() == []
    alice.say("#a", "fine")
    assert alice.take() == []


@requirement("STATE-2")
def test_message_before_connect_is_refused() -> None:
    net = Net()
    bob = net.client("@bob", ("#a",))
    stranger = net.client()
    stranger.say("#a", "hi", as_user="@stranger")
    assert stranger.take() == [error("Client not connected")]
    assert bob.take() == []


@requirement("STATE-3")
def test_leaving_before_connect_is_refused() -> None:
    net = Net()
    stranger = net.client()
    stranger.send(action="disconnect", target="#a")
    assert stranger.take() == [error("Client not connected")]
    assert not stranger.closed


@requirement("DISCONNECT-1", "DISCONNECT-2")
def test_disconnect_is_answered_then_closed() -> None:
    net = Net()
    alice = net.client("@alice")
    outputs = alice.send(action="disconnect")
    assert alice.take() == [{"status": "disconnect"}]
    assert outputs[-1] == Close(alice.conn, Trigger.DISCONNECT)
    assert alice.conn not in net.engine.sessions


@requirement("DISCONNECT-1")
def test_disconnect_before_connect_closes_too() -> None:
    net = Net()
    stranger = net.client()
    stranger.send(action="disconnect", user_name="@whoever")
    assert stranger.take() == [{"status": "disconnect"}]
    assert stranger.closed


@requirement("DISCONNECT-3", "DISCONNECT-5")
def test_leaving_a_room_keeps_the_connection_and_stops_its_messages() -> None:
    net = Net()
    alice = net.client("@alice", ("#a", "#b"))
    bob = net.client("@bob", ("#a", "#b"))
    alice.send(action="disconnect", user_name="@alice", target="#a")
    assert alice.take() == [{"status": "disconnect", "target": "#a"}]
    assert not alice.closed
    bob.say("#a", "gone?")
    bob.say("#b", "here?")
    assert alice.take() == [chat("#b", "@bob", "here?")]


@requirement("DISCONNECT-3")
def test_leaving_a_room_you_are_not_in_is_acknowledged() -> None:
    net = Net()
    alice = net.client("@alice")
    alice.send(action="disconnect", target="#nowhere")
    assert alice.take() == [{"status": "disconnect", "target": "#nowhere"}]


@requirement("DISCONNECT-4")
def test_nobody_can_disconnect_or_unsubscribe_as_someone_else() -> None:
    net = Net()
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob", ("#a",))
    alice.send(action="disconnect", user_name="@bob", target="#a")
    alice.send(action="disconnect", user_name="@bob")
    assert alice.take() == [error("User name mismatch")] * 2
    assert not alice.closed
    bob.say("#a", "hi")
    assert alice.take() == [chat("#a", "@bob", "hi")]


@requirement("DISCONNECT-6")
def test_an_abrupt_close_releases_rooms_and_the_others_go_on() -> None:
    net = Net()
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob", ("#a",))
    carol = net.client("@carol", ("#a",))
    alice.drop()
    outputs = bob.say("#a", "after")
    assert carol.take() == [chat("#a", "@bob", "after")]
    assert all(alice.conn not in o.to for o in outputs if isinstance(o, Send))
    assert alice.drop() == []  # a second close of the same connection is harmless


@requirement("SHUTDOWN-1")
def test_shutdown_says_disconnect_to_everyone_and_closes_them() -> None:
    net = Net()
    clients = [net.client("@alice"), net.client(), net.client("@bob", ("#a",))]
    outputs = net.apply(Shutdown())
    for client in clients:
        assert client.take() == [{"status": "disconnect"}]
        assert client.closed
    assert sum(isinstance(o, Send) for o in outputs) == 1
    assert net.engine.sessions == {}


def _drive(net: Net, client: Client, trigger: str) -> None:
    """Make `trigger` of machine.json happen to `client`'s session, as the wire would."""
    actions: dict[str, Callable[[], object]] = {
        "connect": lambda: client.connect("@alice", "#a"),
        "message": lambda: client.say("#a", "hi"),
        "leave": lambda: client.send(action="disconnect", target="#a"),
        "disconnect": lambda: client.send(action="disconnect"),
        "connection_lost": client.drop,
        "kick": lambda: net.apply(Kick(client.conn, ErrorCode.QUEUE_FULL)),
        "shutdown": lambda: net.apply(Shutdown()),
    }
    actions[trigger]()


@requirement("STATE-1")
@pytest.mark.parametrize(
    "transition", machine_spec()["transitions"], ids=lambda t: f"{t['source']}-{t['trigger']}"
)
def test_every_transition_of_the_machine_moves_the_session_as_the_data_says(
    transition: dict[str, str],
) -> None:
    net = Net()
    client = net.client()
    session = net.engine.sessions[client.conn]
    if transition["source"] == "connected":
        _drive(net, client, "connect")
    assert session.state == transition["source"]
    _drive(net, client, transition["trigger"])
    assert session.state == transition["dest"]
    assert (client.conn in net.engine.sessions) is (transition["dest"] != "closed")
