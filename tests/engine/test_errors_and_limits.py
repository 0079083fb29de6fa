"""Bad input, framing through the engine, limits, welcome: each test citing its rules."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import protocol
from conformance.suite.verdicts import requirement
from engine.engine import Engine, EngineConfig
from engine.errors import UsageError
from engine.events import Close, ConnectionOpened, DataReceived, Kick, Send, Tick
from protocol import ErrorCode
from tests.engine.harness import Net, chat, error

CLIENT_FIXTURES = [
    pytest.param(group["schema"], test, id=f"{group['schema']}: {test['description']}")
    for group in protocol.fixtures()
    if group["schema"] in ("client/connect", "client/message", "client/disconnect")
    for test in group["tests"]
    if not test["valid"]
]


@requirement("VALIDATE-1", "VALIDATE-3", "VALIDATE-4", "VALIDATE-5", "VALIDATE-6")
@pytest.mark.parametrize(("schema", "fixture"), CLIENT_FIXTURES)
def test_every_invalid_fixture_gets_its_named_error(schema: str, fixture: dict[str, Any]) -> None:
    net = Net()
    client = net.client("@alice" if schema != "client/connect" else None)
    client.send_bytes(orjson.dumps(fixture["data"]) + b"\n")
    assert client.take() == [error(fixture["error"])]
    assert not client.closed


@requirement("VALIDATE-1", "VALIDATE-2", "VALIDATE-3", "FRAME-8")
@pytest.mark.parametrize(
    ("frame", "text"),
    [
        (b"{}", "Missing Required Field"),
        (b'{"action":"dance"}', "dance is not a valid action"),
        (b'{"action":["connect"]}', "Invalid Field Type"),
        (b"[1,2]", "Malformed JSON"),
        (b'"connect"', "Malformed JSON"),
        (b'{"action":"connect","user_name":"@a","targets":[],"x":NaN}', "Malformed JSON"),
        (b'{"action":"message","message":1e999}', "Malformed JSON"),
        (b'{"action":"connect","user_name":"@\\ud800","targets":[]}', "Malformed JSON"),
    ],
)
def test_envelope_and_json_errors(frame: bytes, text: str) -> None:
    net = Net()
    client = net.client()
    client.send_bytes(frame + b"\n")
    assert client.take() == [error(text)]


@requirement("VALIDATE-7", "VALIDATE-8")
def test_unknown_fields_are_ignored_and_limits_are_inclusive() -> None:
    net = Net()
    name = "@" + "é" * 29 + "a"  # 60 bytes
    alice = net.client()
    alice.send(action="connect", user_name=name, targets=["#a"], colour="blue")
    assert alice.take() == [{"status": "chat", "history": []}]
    bob = net.client("@bob", ("#a",))
    text = "€" * 1266 + "xx"  # 3800 bytes
    alice.send(action="message", user_name=name, target="#a", message=text, ts=1)
    assert bob.take() == [chat("#a", name, text)]


@requirement("FRAME-1", "FRAME-2", "FRAME-3", "FRAME-4", "FRAME-5")
def test_framing_variants_all_reach_the_engine() -> None:
    net = Net()
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob", ("#a",))
    frame = orjson.dumps(
        {"action": "message", "user_name": "@alice", "target": "#a", "message": "ünïcödé"}
    )
    alice.send_bytes(frame + b"\n")  # newline-ended
    alice.send_bytes(frame)  # bare
    cut = frame.index("ü".encode()) + 1  # inside a two-byte character
    alice.send_bytes(frame[:cut])
    alice.send_bytes(frame[cut:] + b"\r\n\n  \n")
    alice.send_bytes(frame + frame + b"\n" + frame)  # coalesced
    assert bob.take() == [chat("#a", "@alice", "ünïcödé")] * 6
    assert alice.take() == []


@requirement("FRAME-6", "FRAME-7", "ERROR-1", "ERROR-2")
def test_bad_frames_cost_only_themselves() -> None:
    net = Net()
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob", ("#a",))
    good = (
        orjson.dumps({"action": "message", "user_name": "@alice", "target": "#a", "message": "ok"})
        + b"\n"
    )
    oversize = b'{"action":"message","message":"' + b"x" * 5000 + b'"}\n'
    alice.send_bytes(good + oversize + b'{"action":"\xff"}\n' + good)
    assert alice.take() == [error("Message Longer Than 4096 Bytes"), error("Malformed UTF-8 Data")]
    assert bob.take() == [chat("#a", "@alice", "ok")] * 2
    assert not alice.closed


@requirement("FRAME-9")
def test_every_output_is_compact_json_with_one_newline() -> None:
    net = Net(welcome=True)
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob", ("#a",))
    alice.say("#a", 'spaces, "quotes" and\nnewlines')
    alice.send_bytes(b"nonsense\n")
    for conn in (alice.conn, bob.conn):
        lines = net.raw[conn].split(b"\n")
        assert lines[-1] == b""
        for line in lines[:-1]:
            assert line == orjson.dumps(orjson.loads(line))


@requirement("FRAME-10")
def test_every_output_validates_against_its_status_schema() -> None:
    from protocol.validator import is_valid

    net = Net(welcome=True)
    alice = net.client("@alice", ("#a",))
    bob = net.client("@bob", ("#a",))
    alice.say("#a", "hi")
    alice.say("@nobody", "hi")
    alice.send(action="disconnect", target="#a")
    bob.send(action="disconnect")
    for messages in net.inbox.values():
        assert messages
        for message in messages:
            assert is_valid(f"server/{message['status']}", message), message


@requirement("WELCOME-1", "WELCOME-2")
def test_welcome_comes_first_once_with_version_and_limits() -> None:
    net = Net(welcome=True)
    alice = net.client()
    alice.connect("@alice")
    welcome, reply = alice.take()
    assert welcome["status"] == "welcome" and welcome["version"] == protocol.VERSION
    assert welcome["limits"] == dict(protocol.limits())
    assert welcome["message"]
    assert reply == {"status": "chat", "history": []}


def test_welcome_can_be_turned_off() -> None:
    net = Net(welcome=False)
    assert net.client().take() == []


@requirement("LIMIT-1", "LIMIT-2")
def test_too_many_errors_in_a_row_end_the_session() -> None:
    net = Net(max_consecutive_errors=3)
    alice = net.client("@alice")
    alice.send_bytes(b"x\n" * 2)
    alice.say("@alice", "resets the count")
    alice.send_bytes(b"x\n" * 2)
    assert not alice.closed
    outputs = alice.send_bytes(b"x\ny\n{}\n")
    assert alice.take()[-3:] == [
        error("Malformed JSON"),
        error("Too Many Errors"),
        {"status": "disconnect"},
    ]
    assert outputs[-1] == Close(alice.conn, ErrorCode.TOO_MANY_ERRORS)
    assert net.engine.name_of(alice.conn) is None


@requirement("LIMIT-1", "LIMIT-3")
def test_connections_that_never_connect_time_out() -> None:
    net = Net(connect_timeout_s=30)
    early = net.client(now=0.0)
    named = net.client(now=1.0)
    named.connect("@named")
    late = net.client(now=20.0)
    net.apply(Tick(29.9))
    assert not early.closed
    net.apply(Tick(30.0))
    assert early.take() == [error("Connect Timeout"), {"status": "disconnect"}]
    assert early.closed and not named.closed and not late.closed
    net.apply(Tick(50.0))
    assert late.closed and not named.closed


@requirement("LIMIT-1", "LIMIT-4")
def test_transport_kick_for_a_full_queue() -> None:
    net = Net()
    alice = net.client("@alice")
    net.apply(Kick(alice.conn, ErrorCode.QUEUE_FULL))
    assert alice.take() == [error("Outbound Queue Full"), {"status": "disconnect"}]
    assert alice.closed
    assert net.apply(Kick(alice.conn, ErrorCode.QUEUE_FULL)) == []


@requirement("LIMIT-5")
def test_connections_past_the_limits_are_refused() -> None:
    net = Net(max_connections=3, max_connections_per_address=2)
    a1, a2, a3 = (net.client(address="10.0.0.1") for _ in range(3))
    assert not a1.closed and not a2.closed
    assert a3.take() == [error("Server Full"), {"status": "disconnect"}] and a3.closed
    b1, b2 = net.client(address="10.0.0.2"), net.client(address="10.0.0.2")
    assert not b1.closed and b2.closed
    a1.drop()
    assert not net.client(address="10.0.0.1").closed


def test_caller_errors_are_raised_not_sent() -> None:
    engine = Engine(EngineConfig(welcome=False))
    with pytest.raises(UsageError):
        engine.handle(DataReceived(1, b"{}"))
    engine.handle(ConnectionOpened(1))
    with pytest.raises(UsageError):
        engine.handle(ConnectionOpened(1))


def test_one_encoding_goes_to_every_recipient() -> None:
    net = Net()
    members = [net.client(f"@m{i}", ("#room",)) for i in range(20)]
    outputs = members[0].say("#room", "x" * 100)
    assert len(outputs) == 1 and isinstance(outputs[0], Send)
    assert len(outputs[0].to) == 19 and members[0].conn not in outputs[0].to
