"""Hypothesis properties of the engine: total, deterministic, and routing as a simple model says."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conformance.suite.verdicts import requirement
from engine.engine import Engine, EngineConfig
from engine.events import ConnectionLost, ConnectionOpened, DataReceived, Event, Send, Shutdown
from protocol.validator import is_valid
from tests.engine.harness import Net

NAMES = ["@a", "@b", "@c", "@d"]
ROOMS = ["#x", "#y", "#all"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(NAMES + ROOMS),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
near_valid = st.fixed_dictionaries(
    {"action": st.sampled_from(["connect", "message", "disconnect", "dance"])},
    optional={
        "user_name": st.sampled_from(NAMES) | json_values,
        "target": st.sampled_from(NAMES + ROOMS) | json_values,
        "targets": st.lists(st.sampled_from(ROOMS), max_size=3) | json_values,
        "message": st.text(max_size=20) | json_values,
    },
)


def dump(document: Any) -> bytes:
    """The stdlib encoder, unlike orjson, writes any integer and escapes lone surrogates."""
    return json.dumps(document, separators=(",", ":")).encode()


frames = st.one_of(
    near_valid.map(lambda d: dump(d) + b"\n"),
    near_valid.map(dump),
    st.binary(max_size=40),
    st.sampled_from([b"{", b"}", b"\n", b'"', b"\\", b"\xff", b"\xc3", b"{}\n", b"[]\n"]),
)
events = st.lists(
    st.one_of(
        st.tuples(st.just("data"), st.integers(0, 3), frames),
        st.tuples(st.just("open"), st.integers(0, 3), st.just(b"")),
        st.tuples(st.just("lost"), st.integers(0, 3), st.just(b"")),
    ),
    max_size=40,
)


def run(log: list[tuple[str, int, bytes]]) -> tuple[list[Any], dict[str, int]]:
    """Play a log of generated steps; steps that would misuse the API are skipped."""
    engine = Engine(EngineConfig(welcome=True))
    outputs: list[Any] = []
    opened: set[int] = set()
    for kind, conn, data in log:
        event: Event
        if kind == "open":
            if conn in opened:
                continue
            opened.add(conn)
            event = ConnectionOpened(conn)
        elif kind == "lost":
            event = ConnectionLost(conn)
        elif conn in engine.sessions:
            event = DataReceived(conn, data)
        else:
            continue
        outputs.extend(engine.handle(event))
    outputs.extend(engine.handle(Shutdown()))
    return outputs, dict(engine.outcomes)


@given(events)
@FAST
def test_engine_never_raises_and_every_output_is_valid(log: list[tuple[str, int, bytes]]) -> None:
    outputs, _ = run(log)
    for output in outputs:
        if isinstance(output, Send):
            for line in output.data.split(b"\n")[:-1]:
                message = orjson.loads(line)
                assert is_valid(f"server/{message['status']}", message)


@given(events)
@FAST
def test_replaying_the_same_log_gives_identical_output(log: list[tuple[str, int, bytes]]) -> None:
    assert run(log) == run(log)


@requirement("FRAME-3")
@given(st.lists(near_valid.map(lambda d: dump(d) + b"\n"), min_size=1, max_size=4), st.data())
@FAST
def test_splitting_the_stream_anywhere_changes_nothing(chunks: list[bytes], data: Any) -> None:
    stream = b"".join(chunks)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))

    def play(pieces: list[bytes]) -> list[Any]:
        net = Net()
        listener = net.client("@b", ("#x", "#y"))
        speaker = net.client("@a", ("#x",))
        speaker.take()
        for piece in pieces:
            speaker.send_bytes(piece)
        return [speaker.take(), listener.take()]

    pieces = [stream[i:j] for i, j in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert play(pieces) == play([stream])


class RoutingModel(RuleBasedStateMachine):
    """Clients act at random; a plain model of names and rooms predicts every inbox."""

    def __init__(self) -> None:
        super().__init__()
        self.net = Net()
        self.clients: dict[str, Any] = {}
        self.rooms: dict[str, set[str]] = {}
        self.expected: dict[str, list[Any]] = {}

    def members(self, room: str) -> set[str]:
        return set(self.clients) if room == "#all" else self.rooms.get(room, set())

    @rule(name=st.sampled_from(NAMES), rooms=st.lists(st.sampled_from(ROOMS[:2]), max_size=2))
    def connect(self, name: str, rooms: list[str]) -> None:
        if name in self.clients:
            return
        self.clients[name] = self.net.client(name, tuple(rooms))
        self.expected[name] = []
        for room in rooms:
            self.rooms.setdefault(room, set()).add(name)

    @precondition(lambda self: self.clients)
    @rule(data=st.data(), to=st.sampled_from(NAMES + ROOMS), text=st.text(max_size=5))
    def say(self, data: Any, to: str, text: str) -> None:
        target = to  # `target` is reserved by @rule for bundles
        sender = data.draw(st.sampled_from(sorted(self.clients)))
        self.clients[sender].say(target, text)
        entry = {"status": "chat", "history": [{"target": target, "from": sender, "message": text}]}
        if target.startswith("@"):
            if target in self.clients:
                self.expected[target].append(entry)
            else:
                self.expected[sender].append(
                    {"status": "error", "message": "Target user not connected"}
                )
            return
        for member in sorted(self.members(target) - {sender}):
            self.expected[member].append(entry)
        if target != "#all":
            self.rooms.setdefault(target, set()).add(sender)

    @precondition(lambda self: self.clients)
    @rule(data=st.data(), room=st.sampled_from(ROOMS))
    def leave(self, data: Any, room: str) -> None:
        name = data.draw(st.sampled_from(sorted(self.clients)))
        self.clients[name].send(action="disconnect", target=room)
        self.expected[name].append({"status": "disconnect", "target": room})
        self.rooms.get(room, set()).discard(name)

    @precondition(lambda self: self.clients)
    @rule(data=st.data(), abrupt=st.booleans())
    def quit(self, data: Any, abrupt: bool) -> None:
        name = data.draw(st.sampled_from(sorted(self.clients)))
        client = self.clients.pop(name)
        if abrupt:
            client.drop()
        else:
            client.send(action="disconnect")
            assert client.take() == [*self.expected.pop(name), {"status": "disconnect"}]
        self.expected.pop(name, None)
        for members in self.rooms.values():
            members.discard(name)

    @invariant()
    def inboxes_match_the_model(self) -> None:
        for name, client in self.clients.items():
            assert client.take() == self.expected[name], name
            self.expected[name] = []


RoutingModel.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_routing_matches_the_model = requirement("ROUTE-1", "ROUTE-2", "ROUTE-3", "ROUTE-5", "ROUTE-8")(
    RoutingModel.TestCase
)
