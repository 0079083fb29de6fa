"""The fuzzer: a Hypothesis state machine whose rules are protocol actions against a live target.

Clients live in a bundle; every rule makes one of them act (connect, post, leave, misbehave...),
and the oracle is fed the same bytes. After each rule the machine settles by round trips through
the target, not sleeps (settle.py), and each client's packets must equal the oracle's.

Names carry a per-example tag, so that examples never meet each other's names or rooms on a
target that keeps running between them.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, rule

from conformance.documents import invalid_for
from conformance.fuzz import frames
from conformance.fuzz.oracle import Oracle
from conformance.fuzz.record import Finding, RunRecord
from conformance.fuzz.settle import Live, settle
from conformance.timing import direct
from conformance.transcript import Transcript
from conformance.wire import Closed, WireClient, frame

MOST_FRAMES_PER_WRITE = 4
USERS = st.integers(0, 3)
ROOMS = st.integers(0, 2)  # few rooms, so that clients meet in them
CUTS = st.integers(0, 1 << 16)
HOW = st.sampled_from(frames.DELIVERIES)
TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "x" * 3800, "é" * 1900, '"\\\n\u2028', "😀" * 950, "\x00\x1f"]),
)
SPOOF = st.sampled_from([None] * 6 + [0, 1, 2, 3])  # mostly one's own name
TARGETS = st.one_of(
    st.tuples(st.just("room"), ROOMS),
    st.tuples(st.just("user"), USERS),
    st.just(("all", 0)),
    st.just(("ghost", 0)),
)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class FuzzSettings:
    """What the runner tells the machine: where the target is and how long to wait."""

    address: tuple[str, int] = ("127.0.0.1", 7775)
    timeout: float = 1.0
    max_clients: int = 4
    limits: dict[str, int] = field(default_factory=dict)
    tag: str = "f"
    pause: float = 0.002  # between the two writes of a split frame


def _short(value: Any) -> str:
    """A value as Python, with long texts abbreviated: 'xxx…' (3800 chars)."""
    if isinstance(value, str) and len(value) > 24:
        return f"{value[:12]!r}…({len(value)} chars)"
    if isinstance(value, list | tuple):
        inner = ", ".join(_short(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' * (len(value) == 1)})"
    return repr(value)


def recorded(step: F) -> F:
    """Log the rule call in the example's program, so a failure can be shown as steps."""

    @functools.wraps(step)
    def run(self: ChatFuzzer, **kwargs: Any) -> Any:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items() if k != "data")
        self.program.append(f"{step.__name__}({shown})")
        return step(self, **kwargs)

    return run  # type: ignore[return-value]


class ChatFuzzer(RuleBasedStateMachine):
    settings_: ClassVar[FuzzSettings] = FuzzSettings()
    run: ClassVar[RunRecord] = RunRecord()

    clients = Bundle("clients")

    def __init__(self) -> None:
        super().__init__()
        run = type(self).run
        run.check_budget()
        run.examples += 1
        self.tag = f"{self.settings_.tag}{run.examples:x}"
        self.transcript = Transcript()
        self.oracle = Oracle(self.settings_.limits)
        self.live: dict[str, Live] = {}
        self.actors: set[str] = set()  # the clients that wrote since the last settle
        self.deliveries: set[frames.Delivery] = set()  # how they wrote
        self.program: list[str] = []
        limit = self.oracle.engine.config.limit("max_consecutive_errors")
        announced = "max_consecutive_errors" in self.settings_.limits
        self.error_budget = limit if announced else limit - MOST_FRAMES_PER_WRITE

    # -- names --------------------------------------------------------------------------------

    def user(self, i: int) -> str:
        return f"@u{i}.{self.tag}"

    def room(self, i: int) -> str:
        return f"#r{i}.{self.tag}"

    def target(self, kind: str, i: int) -> str:
        names = {"room": self.room, "user": self.user}
        return names[kind](i) if kind in names else {"all": "#all", "ghost": "@nobody"}[kind]

    def name(self, client: str, spoof: int | None = None) -> str:
        """The client's own name, unless it pretends to be user `spoof` (or has none yet)."""
        own = self.oracle.name_of(client)
        if spoof is None and own is not None:
            return own
        return self.user(spoof or 0)

    # -- writing ------------------------------------------------------------------------------

    def write(self, client: str, data: bytes, how: frames.Delivery = "whole", cut: int = 0) -> None:
        """Send `data` the way `how` says, to the target and to the oracle alike.

        Ending a session after errors in a row is a MAY (LIMIT-2): unless the target announced
        its `max_consecutive_errors` in a welcome, a client stops short of it.
        """
        if client in self.oracle.gone or self.oracle.errors_in_row(client) >= self.error_budget:
            return
        self.actors.add(client)
        self.deliveries.add(how)
        pieces = frames.pieces(data, how, cut)
        for i, piece in enumerate(pieces):
            if i and len(pieces) == 2:  # a split: give the target time to read the first part
                time.sleep(self.settings_.pause)
            self.oracle.send(client, piece)
            try:
                self.live[client].wire.send_bytes(piece)
            except Closed:
                return  # the target closed it; settle() tells whether it was allowed to

    def post(
        self,
        client: str,
        target: str,
        text: str,
        how: frames.Delivery = "whole",
        cut: int = 0,
        sender: str | None = None,
    ) -> None:
        self.write(client, frame(direct(sender or self.name(client), text, target)), how, cut)

    # -- rules: protocol actions --------------------------------------------------------------

    @rule(target=clients)
    @recorded
    def open_client(self) -> Any:
        if len(self.live) >= self.settings_.max_clients:
            return multiple()
        label = f"c{len(self.oracle.expected) + 1}"
        wire = WireClient(self.settings_.address, label, self.settings_.timeout, self.transcript)
        self.live[label] = Live(wire)
        self.oracle.open(label)
        return label

    @rule(client=clients, user=USERS, rooms=st.lists(ROOMS, max_size=3), how=HOW, cut=CUTS)
    @recorded
    def connect(
        self, client: str, user: int, rooms: list[int], how: frames.Delivery, cut: int
    ) -> None:
        """`#all` is never among the targets: its history outlives examples (ROUTE-12), and
        what earlier examples said there is not the oracle's to know."""
        targets = [self.room(r) for r in rooms]
        document = {"action": "connect", "user_name": self.user(user), "targets": targets}
        self.write(client, frame(document), how, cut)

    @rule(client=clients)
    @recorded
    def connect_as_newcomer(self, client: str) -> None:
        """Connect under the first name no client of this example holds: it keeps enough users
        around for direct messages to find someone."""
        taken = {self.oracle.name_of(c) for c in self.live}
        if self.oracle.name_of(client) is None:
            user = next(i for i in range(len(self.live) + 1) if self.user(i) not in taken)
            document = {"action": "connect", "user_name": self.user(user), "targets": []}
            self.write(client, frame(document))

    # Posting is one rule per kind of target, so that the uniform choice of rules Hypothesis
    # makes gives each kind of delivery its share of the steps.

    @rule(client=clients, room=ROOMS, text=TEXTS, how=HOW, cut=CUTS)
    @recorded
    def say_in_room(
        self, client: str, room: int, text: str, how: frames.Delivery, cut: int
    ) -> None:
        self.post(client, self.room(room), text, how, cut)

    @rule(client=clients, user=st.integers(0, 4), text=TEXTS, how=HOW, cut=CUTS)
    @recorded
    def say_to_user(
        self, client: str, user: int, text: str, how: frames.Delivery, cut: int
    ) -> None:
        """User 4 is never anyone's name: Target user not connected."""
        self.post(client, self.user(user), text, how, cut)

    @rule(client=clients, text=TEXTS)
    @recorded
    def say_to_all(self, client: str, text: str) -> None:
        self.post(client, "#all", text)

    @rule(client=clients, user=USERS, to=TARGETS, text=TEXTS)
    @recorded
    def say_as_someone_else(self, client: str, user: int, to: tuple[str, int], text: str) -> None:
        self.post(client, self.target(*to), text, sender=self.user(user))

    @rule(
        client=clients,
        burst=st.lists(st.tuples(TARGETS, TEXTS), min_size=2, max_size=MOST_FRAMES_PER_WRITE),
    )
    @recorded
    def say_many_in_one_write(self, client: str, burst: list[tuple[tuple[str, int], str]]) -> None:
        name = self.name(client)
        messages = [direct(name, text, self.target(*to)) for to, text in burst]
        self.write(client, b"".join(map(frame, messages)), "several")

    @rule(
        client=clients, room=ROOMS, all_=st.sampled_from([False, False, False, True]), spoof=SPOOF
    )
    @recorded
    def leave(self, client: str, room: int, all_: bool, spoof: int | None) -> None:
        room_name = "#all" if all_ else self.room(room)
        document = {
            "action": "disconnect",
            "user_name": self.name(client, spoof),
            "target": room_name,
        }
        self.write(client, frame(document))

    @rule(client=consumes(clients))
    @recorded
    def disconnect(self, client: str) -> None:
        self.write(client, frame({"action": "disconnect"}))

    @rule(client=consumes(clients), reset=st.booleans())
    @recorded
    def drop(self, client: str, reset: bool) -> None:
        live = self.live[client]
        live.wire.reset() if reset else live.wire.close()
        live.dropped = True
        self.oracle.lost(client)

    @rule(client=clients, data=st.data())
    @recorded
    def misbehave(self, client: str, data: st.DataObject) -> None:
        """One bad frame: invalid by one schema keyword, junk, one byte too long, not UTF-8."""
        kind = data.draw(st.sampled_from(["schema", "junk", "oversize", "utf8"]), label="kind")
        if kind == "schema":
            action = data.draw(st.sampled_from(["connect", "message", "disconnect"]))
            payload = frame(data.draw(invalid_for(f"client/{action}")).document)
        elif kind == "junk":
            payload = data.draw(st.binary(max_size=30)).replace(b"\n", b"") + b"\n"
        elif kind == "oversize":
            limit = self.oracle.engine.config.limit("max_frame_bytes")
            payload = frames.oversize_by_one(limit, self.name(client))
        else:
            payload = frames.with_invalid_utf8({"action": "message", "user_name": "@x"})
        how, cut = data.draw(HOW), data.draw(CUTS)
        self.program[-1] += f"  # sent {payload[:60]!r}{'...' * (len(payload) > 60)} {how}"
        self.write(client, payload, how, cut)

    # -- checking -----------------------------------------------------------------------------

    @invariant()
    def target_matches_oracle(self) -> None:
        if not self.live:
            return
        self.run.steps += 1
        ways = sorted(frames.RULE_OF_DELIVERY[how] for how in self.deliveries)
        involved = list(dict.fromkeys([*ways, *self.oracle.step_requirements()]))
        self.run.deliveries.update(self.deliveries)
        problems = settle(self.live, self.oracle, self.settings_.timeout, self.actors)
        self.actors.clear()
        self.deliveries.clear()
        self.oracle.begin_step()
        if problems:
            finding = Finding(problems, involved)
            self.run.failed(finding, self.program, self.transcript)
            raise finding

    def teardown(self) -> None:
        for live in self.live.values():
            if not live.dropped:
                live.wire.close()
        self.run.example_done(self.transcript, self.oracle.requirement_hits())
