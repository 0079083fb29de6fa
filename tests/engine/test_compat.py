"""The course's clients (COMPAT-1 to COMPAT-5, LIMIT-3's eviction), in the engine alone.

Time is what the events say it is, so every timing case of PROTOCOL.md's "The course's clients"
is a few events here: a client that speaks at once, one that sits at a prompt, one that never
speaks. `Tick`s are sent at the times `next_deadline` asks for, as the server does.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from conformance.suite.verdicts import requirement
from engine.events import Close, DataReceived, Kick, Tick
from engine.outcomes import Outcome
from protocol import ErrorCode
from tests.engine.harness import Client, Net, chat, error

DISCONNECTED = {"status": "disconnect"}


def bare(client: Client, now: float, **fields: Any) -> None:
    """What the 2023 clients write: `json.dumps(...)`, no newline."""
    client.net.apply(DataReceived(client.conn, orjson.dumps(fields), now))


def bare_connect(client: Client, now: float, name: str, *rooms: str) -> None:
    client.name = name
    bare(client, now, action="connect", user_name=name, targets=list(rooms))


def welcome_net(**limits: int) -> Net:
    return Net(
        welcome=True,
        welcome_delay_ms=100,
        first_frame_grace_ms=20,
        bare_first_frame_delay_ms=200,
        **limits,
    )


def statuses(got: list[Any]) -> list[str]:
    return [message["status"] for message in got]


@requirement("COMPAT-1", "WELCOME-1")
def test_the_welcome_waits_for_the_first_frame_then_goes_out_by_itself() -> None:
    net = welcome_net()
    quiet = net.client(now=0.0)
    assert quiet.take() == [] and net.engine.next_deadline() == pytest.approx(0.1)
    net.apply(Tick(0.099))
    assert quiet.take() == []
    net.apply(Tick(0.1))
    assert statuses(quiet.take()) == ["welcome"]
    assert net.engine.next_deadline() == pytest.approx(net.engine._connect_timeout)


@requirement("COMPAT-1", "WELCOME-2")
def test_a_first_frame_with_a_newline_gets_the_welcome_at_once_before_its_reply() -> None:
    net = welcome_net()
    alice = net.client(now=0.0)
    alice.net.apply(
        DataReceived(alice.conn, b'{"action":"connect","user_name":"@a","targets":[]}\n')
    )
    assert statuses(alice.take()) == ["welcome", "chat"]
    net.apply(Tick(5.0))
    assert alice.take() == []


def test_a_zero_welcome_delay_sends_the_welcome_on_accept() -> None:
    net = Net(welcome=True, welcome_delay_ms=0)
    assert statuses(net.client().take()) == ["welcome"]


@requirement("COMPAT-2")
def test_a_bare_first_frame_before_the_welcome_means_no_welcome_ever() -> None:
    net = welcome_net()
    alice = net.client(now=0.0)
    bare_connect(alice, 0.01, "@alice", "#a")
    assert alice.take() == [] and net.engine.next_deadline() == pytest.approx(0.03)
    net.apply(Tick(0.03))  # no newline followed within the grace
    assert alice.take() == [{"status": "chat", "history": []}]
    bob = net.client("@bob", ("#a",), now=0.04)
    net.apply(Tick(10.0))
    bob.say("#a", "hi")
    assert alice.take() == [chat("#a", "@bob", "hi")]  # and no welcome, late or not
    assert net.engine.outcomes[Outcome.WELCOME_WITHHELD] == 1


@requirement("COMPAT-2", "COMPAT-1")
def test_a_newline_in_the_next_read_within_the_grace_means_lines() -> None:
    """However the bytes happened to be read, a `\\n` right behind the object counts."""
    net = welcome_net()
    alice = net.client(now=0.0)
    frame = b'{"action":"connect","user_name":"@alice","targets":[]}'
    net.apply(DataReceived(alice.conn, frame, 0.01))
    assert alice.take() == []
    net.apply(DataReceived(alice.conn, b'{"action":"dance"}\n', 0.011))
    got = alice.take()
    assert statuses(got) == ["welcome", "chat", "error"]  # the welcome first, then in order
    assert got[2] == error("dance is not a valid action")


@requirement("COMPAT-2")
def test_a_newline_after_the_grace_is_too_late() -> None:
    net = welcome_net()
    alice = net.client(now=0.0)
    frame = b'{"action":"connect","user_name":"@alice","targets":[]}'
    net.apply(DataReceived(alice.conn, frame, 0.01))
    net.apply(Tick(0.03))
    net.apply(DataReceived(alice.conn, b"\n", 0.04))
    assert alice.take() == [{"status": "chat", "history": []}]


def test_a_first_frame_written_in_pieces_is_not_taken_for_a_bare_one() -> None:
    net = welcome_net()
    alice = net.client(now=0.0)
    net.apply(DataReceived(alice.conn, b'{"action":"connect",', 0.01))
    net.apply(DataReceived(alice.conn, b'"user_name":"@alice","targets":[]}', 0.02))
    assert statuses(alice.take()) == ["welcome", "chat"]


def test_a_newline_before_the_first_frame_is_complete_means_lines() -> None:
    net = welcome_net()
    alice = net.client(now=0.0)
    net.apply(DataReceived(alice.conn, b"\n", 0.01))
    net.apply(DataReceived(alice.conn, b'{"action":"connect","user_name":"@a","targets":[]}', 0.02))
    assert statuses(alice.take()) == ["welcome", "chat"]


@requirement("COMPAT-3", "COMPAT-2")
def test_a_bare_first_frame_after_the_welcome_is_handled_later_with_what_follows() -> None:
    """The client sat at a prompt for 2 s: its welcome is waiting in its socket."""
    net = welcome_net()
    alice = net.client(now=0.0)
    bob = net.client("@bob", ("#a",), now=0.0)
    net.apply(Tick(0.1))
    assert statuses(alice.take()) == ["welcome"]
    bare_connect(alice, 2.0, "@alice", "#a")
    bare(alice, 2.05, action="message", user_name="@alice", target="#a", message="first")
    assert alice.take() == [] and bob.take() == []
    assert net.engine.name_of(alice.conn) is None  # not connected yet: nothing can reach it
    assert net.engine.next_deadline() == pytest.approx(2.2)
    net.apply(Tick(2.199))
    assert alice.take() == []
    net.apply(Tick(2.2))
    assert alice.take() == [{"status": "chat", "history": []}]
    assert bob.take() == [chat("#a", "@alice", "first")]
    bob.say("#a", "hello")
    assert alice.take() == [chat("#a", "@bob", "hello")]


@requirement("COMPAT-3")
def test_with_the_welcome_sent_on_accept_every_bare_first_frame_waits() -> None:
    net = Net(welcome=True, welcome_delay_ms=0, bare_first_frame_delay_ms=200)
    alice = net.client(now=0.0)
    assert statuses(alice.take()) == ["welcome"]
    bare_connect(alice, 0.001, "@alice")
    assert alice.take() == []
    net.apply(Tick(0.201))
    assert alice.take() == [{"status": "chat", "history": []}]


def test_a_held_session_that_goes_away_leaves_no_timer() -> None:
    net = welcome_net()
    alice = net.client(now=0.0)
    net.apply(Tick(0.1))
    bare_connect(alice, 1.0, "@alice")
    alice.drop()
    assert net.engine.next_deadline() is None
    net.apply(Tick(2.0))
    assert net.engine.sessions == {}


def test_newline_first_frames_after_the_welcome_are_not_held() -> None:
    net = welcome_net()
    alice = net.client(now=0.0)
    net.apply(Tick(0.1))
    alice.take()
    alice.connect("@alice")
    assert alice.take() == [{"status": "chat", "history": []}]


def entry(sender: str, text: str) -> dict[str, str]:
    return {"target": "#big", "from": sender, "message": text}


@requirement("COMPAT-4", "CONNECT-2")
def test_the_reply_to_connect_holds_the_most_recent_entries_that_fit() -> None:
    net = Net()
    bob = net.client("@bob", ("#big",))
    big = "x" * 2500
    bob.say("#big", "small")  # would fit, but after a gap: a big entry ends the run
    bob.say("#big", big)
    bob.say("#big", big + "y")
    outputs = net.client().connect("@alice", "#big")
    (reply,) = [o for o in outputs if not isinstance(o, Close)]
    assert len(reply.data) <= 4096
    assert orjson.loads(reply.data) == {
        "status": "chat",
        "history": [entry("@bob", big + "y")],
    }


@requirement("COMPAT-4")
def test_a_reply_that_fits_is_whole_and_an_entry_too_big_for_any_reply_is_left_out() -> None:
    net = Net(connect_reply_bytes=200)
    bob = net.client("@bob", ("#big",))
    bob.say("#big", "one")
    bob.say("#big", "two")
    alice = net.client()
    alice.connect("@alice", "#big")
    assert alice.take()[0]["history"] == [entry("@bob", "one"), entry("@bob", "two")]
    bob.say("#big", "z" * 300)
    carol = net.client()
    carol.connect("@carol", "#big")
    assert carol.take() == [{"status": "chat", "history": []}]


@requirement("COMPAT-5", "LIMIT-1", "LIMIT-2")
def test_a_bare_session_is_ended_with_the_error_alone() -> None:
    net = Net(max_consecutive_errors=3)
    alice = net.client()
    bare(alice, 0.0, action="dance")
    bare(alice, 0.0, action="dance")
    outputs = alice.net.apply(DataReceived(alice.conn, b'{"action":"dance"}', 0.0))
    assert alice.take()[-2:] == [error("dance is not a valid action"), error("Too Many Errors")]
    assert outputs[-1] == Close(alice.conn, ErrorCode.TOO_MANY_ERRORS)
    assert net.raw[alice.conn].count(b"\n") == 4  # four packets, no `disconnect`


@requirement("COMPAT-5", "LIMIT-1", "LIMIT-4")
def test_a_bare_session_cut_off_by_the_transport_gets_one_packet() -> None:
    net = Net()
    alice, bob = net.client(), net.client("@bob")
    bare_connect(alice, 0.0, "@alice")
    alice.take()
    net.apply(Kick(alice.conn, ErrorCode.QUEUE_FULL))
    net.apply(Kick(bob.conn, ErrorCode.QUEUE_FULL))
    assert alice.take() == [error("Outbound Queue Full")]
    assert bob.take() == [error("Outbound Queue Full"), DISCONNECTED]


@requirement("LIMIT-3", "LIMIT-1")
def test_a_newcomer_takes_the_place_of_the_longest_waiting_connection() -> None:
    net = Net(max_connections=3, evict_after_s=30)
    early = net.client(now=0.0)
    named = net.client("@named", now=1.0)
    later = net.client(now=10.0)
    newcomer = net.client(now=31.0)
    assert early.take() == [error("Connect Timeout"), DISCONNECTED] and early.closed
    assert not newcomer.closed and not later.closed and not named.closed
    refused = net.client(now=32.0)  # `later` has waited 22 s only: not enough
    assert refused.take() == [error("Server Full"), DISCONNECTED] and refused.closed
    assert net.engine.outcomes[Outcome.EVICTED] == 1


@requirement("LIMIT-3", "LIMIT-5")
def test_at_the_address_limit_only_that_address_gives_up_a_place() -> None:
    net = Net(max_connections=10, max_connections_per_address=2, evict_after_s=30)
    other = net.client(now=0.0, address="10.0.0.2")
    a1 = net.client(now=5.0, address="10.0.0.1")
    a2 = net.client(now=15.0, address="10.0.0.1")
    a3 = net.client(now=40.0, address="10.0.0.1")
    assert not other.closed and a1.closed and not a2.closed and not a3.closed
    a4 = net.client(now=41.0, address="10.0.0.1")
    assert a4.take() == [error("Server Full"), DISCONNECTED]


@requirement("LIMIT-3")
def test_the_connect_timeout_is_ten_minutes_by_default() -> None:
    net = Net()
    prompt = net.client(now=0.0)
    net.apply(Tick(599.0))
    assert not prompt.closed
    net.apply(Tick(600.0))
    assert prompt.take() == [error("Connect Timeout"), DISCONNECTED]
