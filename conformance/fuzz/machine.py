"""The fuzzer: a Hypothesis state machine whose rules are protocol actions against a live target.

Clients live in a bundle; every rule makes one of them act (connect, post, leave, misbehave...),
and the oracle is fed the same bytes. After each rule the machine settles by round trips through
the target, not sleeps (settle.py), and each client's packets must equal the oracle's.

Names carry a per-example tag, so that examples never meet each other's names or rooms on a
target that keeps running between them. User 2 and room 2 are exactly `max_name_bytes` long, with
two-byte characters, so that every run puts VALIDATE-8 to the test.

Under `--profile core` the steps stay within what core rules define: a connection claims a name
once, and a name nobody held before (what happens to a released name is CONNECT-6, `full`);
messages go to a room the sender is in (auto-join is ROUTE-4), or to a user who is connected
(ROUTE-7 is `full`); frames are written whole, with or without their newline, one per read (the
fuzzer's own round trips make sure of it, see lifeline.py); no `#all`, no leaving a room, no
spoofed name, no invalid document. A client that sends junk, a frame too long or bad UTF-8 then
hangs up: how a core server answers it is not defined, only that everyone else is still served.

A target that dies is a finding (record.SERVES_OTHERS), whichever step killed it, the hang-ups
at the end of an example included; the next example starts a fresh process (lifeline.py).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

from conformance.documents import invalid_for
from conformance.fuzz import frames
from conformance.fuzz.lifeline import Lifeline, TargetGone
from conformance.fuzz.oracle import Oracle
from conformance.fuzz.record import SERVES_OTHERS, Finding, RunRecord
from conformance.fuzz.settle import Blame, Live, Problem, settle, settle_core
from conformance.kit.messages import direct
from conformance.kit.target import TargetError, parse_target
from conformance.kit.transcript import Transcript
from conformance.kit.wire import Closed, WireClient, frame
from protocol import ALL_ROOM, Profile, requirements_by_id

MOST_FRAMES_PER_WRITE = 4
USERS = st.integers(0, 3)
ROOMS = st.integers(0, 2)  # few rooms, so that clients meet in them
CUTS = st.integers(0, 1 << 16)
LONG_USER, LONG_ROOM = 2, 2  # their names are max_name_bytes long (VALIDATE-8)
LONG_TEXT_BYTES = 3000  # a text this long is there for VALIDATE-8 (3800 bytes must be accepted)
CORE_DELIVERIES: tuple[frames.Delivery, ...] = ("whole", "whole", "bare")  # FRAME-1, FRAME-2
CORE_MISDEEDS = ("junk", "oversize", "utf8")  # an invalid document could be deliverable to a
# core server (what it does with one is `full`), and others would get it
CORE_GOODBYES = ("disconnect", "close", "reset", *CORE_MISDEEDS)
# How a frame is written, and which misdeeds are drawn, depend on the profile of the run:
# `st.runner()` is the state machine itself.
HOW: st.SearchStrategy[frames.Delivery] = st.runner().flatmap(
    lambda machine: st.sampled_from(machine.hows)
)
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
DEATH_WAIT_S = 0.5  # for a process to exit once its connections closed: only findings pay it


def _no_target() -> Lifeline:
    return Lifeline(parse_target("tcp:127.0.0.1:7775"))


@dataclass
class FuzzSettings:
    """What the runner tells the machine: the target, the profile, and how long to wait."""

    lifeline: Lifeline = field(default_factory=_no_target)
    profile: Profile = "full"
    timeout: float = 1.0
    max_clients: int = 4
    limits: dict[str, int] = field(default_factory=dict)
    limits_announced: bool = False  # the limits came from the target's welcome
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
    """Log the rule call in the example's program, so a failure can be shown as steps.

    A call that sent, opened and closed nothing (a core step whose conditions did not hold, a
    write to a closed client) is left out of the program, and nothing is checked after it."""

    @functools.wraps(step)
    def run(self: ChatFuzzer, **kwargs: Any) -> Any:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items() if k != "data")
        self.program.append(f"state.{step.__name__}({shown})")
        before = len(self.transcript.records)
        try:
            return step(self, **kwargs)
        finally:
            if len(self.transcript.records) > before:
                self.acted = True
            else:
                self.program.pop()

    return run  # type: ignore[return-value]


class ChatFuzzer(RuleBasedStateMachine):
    settings_: ClassVar[FuzzSettings] = FuzzSettings()
    run: ClassVar[RunRecord] = RunRecord()

    clients = Bundle("clients")

    def __init__(self) -> None:
        super().__init__()
        run = type(self).run
        run.check_budget()
        try:
            self.settings_.lifeline.up()  # a fresh process if the last example killed it
        except TargetError as error:
            raise TargetGone(str(error)) from error
        run.examples += 1
        self.tag = f"{self.settings_.tag}{run.examples:x}"
        self.transcript = Transcript()
        self.oracle = Oracle(self.settings_.limits)
        self.live: dict[str, Live] = {}
        self.actors: set[str] = set()  # the clients that wrote since the last settle
        self.deliveries: set[frames.Delivery] = set()  # how they wrote
        self.program: list[str] = []
        limit = self.oracle.engine.config.limit("max_consecutive_errors")
        announced = self.settings_.limits_announced
        self.error_budget = limit if announced else limit - MOST_FRAMES_PER_WRITE
        self.core = self.settings_.profile == "core"
        self.hows = CORE_DELIVERIES if self.core else frames.DELIVERIES
        self.acted = False  # a step ran since the last check
        self.hung_up = False  # a client closed without `disconnect` since the last check
        self.failed = False
        self.blame = Blame()
        self.generation: dict[int, int] = {}  # core: how many holders user i's name had
        self.holds: dict[str, int] = {}  # core: client -> the user it connected as

    @property
    def full(self) -> bool:
        return not self.core

    # -- names --------------------------------------------------------------------------------

    def user(self, i: int) -> str:
        """User i's name; under core a new one each time its holder leaves (see above)."""
        generation = self.generation.get(i, 0)
        name = f"@u{i}{f'-{generation}' if generation else ''}.{self.tag}"
        return self._long(name) if i == LONG_USER else name

    def room(self, i: int) -> str:
        name = f"#r{i}.{self.tag}"
        return self._long(name) if i == LONG_ROOM else name

    def _long(self, name: str) -> str:
        """`name` padded to exactly max_name_bytes UTF-8 bytes, mostly with two-byte 'é'."""
        room = self.oracle.engine.config.limit("max_name_bytes") - len(name.encode())
        return name + "é" * (room // 2) + "x" * (room % 2)

    def gone_for_good(self, client: str) -> None:
        """Core: the client's name is never used again (the next holder gets a new one)."""
        user = self.holds.pop(client, None)
        if user is not None:
            self.generation[user] = self.generation.get(user, 0) + 1

    def target(self, kind: str, i: int) -> str:
        names = {"room": self.room, "user": self.user}
        return names[kind](i) if kind in names else {"all": ALL_ROOM, "ghost": "@nobody"}[kind]

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
        if self.core:
            rule = frames.RULE_OF_DELIVERY[how]
            self.blame = dataclasses.replace(self.blame, actor=client, write_rule=rule)
            # Nothing else reaches the target until it has read this frame on its own.
            self.settings_.lifeline.sync()

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
        """A precondition would not do: an example whose clients all left could not go on."""
        if len(self.live) >= self.settings_.max_clients:
            return multiple()
        index = len(self.oracle.expected)  # clients go to a cluster's nodes round-robin
        label = f"c{index + 1}"
        try:
            wire = WireClient(
                self.settings_.lifeline.address_of(index),
                label,
                self.settings_.timeout,
                self.transcript,
            )
        except OSError as error:
            problem = Problem(f"{label}: cannot connect: {error}", (SERVES_OTHERS,))
            raise self.finding([problem], []) or AssertionError(problem.text) from error
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
        if self.core and not self.claim(client, user, rooms):
            return
        targets = [self.room(r) for r in rooms]
        document = {"action": "connect", "user_name": self.user(user), "targets": targets}
        self.write(client, frame(document), how, cut)

    @rule(client=clients)
    @recorded
    def connect_as_newcomer(self, client: str) -> None:
        """Connect under the first name no client of this example holds: it keeps enough users
        around for direct messages to find someone (and, in core, members for room 0)."""
        taken = {self.oracle.name_of(c) for c in self.live}
        if self.oracle.name_of(client) is None:
            user = next(i for i in range(len(self.live) + 1) if self.user(i) not in taken)
            rooms = [0] if self.core else []  # no auto-join in core: newcomers meet in #r0
            if self.core and not self.claim(client, user, rooms):
                return
            targets = [self.room(r) for r in rooms]
            document = {"action": "connect", "user_name": self.user(user), "targets": targets}
            self.write(client, frame(document))

    def claim(self, client: str, user: int, rooms: list[int]) -> bool:
        """Core: may `client` connect as `user`? Only once, and to a name no one holds."""
        if self.oracle.name_of(client) is not None or client in self.oracle.gone:
            return False
        if self.oracle.holder(self.user(user)) is not None:
            return False
        self.holds[client] = user
        owed = ("ROUTE-1",) * bool(rooms)
        owed += ("VALIDATE-8",) * (user == LONG_USER or LONG_ROOM in rooms)
        self.blame = Blame(client, connecting=True, connect_rules=owed)
        return True

    def may_post(self, client: str, target: str, text: str) -> bool:
        """Core: a named sender, to a room it is in or to a user who is connected."""
        if self.full:
            return True
        name = self.oracle.name_of(client)
        if name is None or client in self.oracle.gone:
            return False
        if target.startswith("#"):
            if target not in self.oracle.rooms_of(client):
                return False
        elif self.oracle.holder(target) is None:
            return False
        long_text = len(text.encode()) >= LONG_TEXT_BYTES
        self.blame = Blame(client, long_text=long_text)
        return True

    # Posting is one rule per kind of target, so that the uniform choice of rules Hypothesis
    # makes gives each kind of delivery its share of the steps.

    @rule(client=clients, room=ROOMS, text=TEXTS, how=HOW, cut=CUTS)
    @recorded
    def say_in_room(
        self, client: str, room: int, text: str, how: frames.Delivery, cut: int
    ) -> None:
        if self.may_post(client, self.room(room), text):
            self.post(client, self.room(room), text, how, cut)

    @rule(client=clients, user=st.integers(0, 4), text=TEXTS, how=HOW, cut=CUTS)
    @recorded
    def say_to_user(
        self, client: str, user: int, text: str, how: frames.Delivery, cut: int
    ) -> None:
        """User 4 is never anyone's name: Target user not connected."""
        if self.may_post(client, self.user(user), text):
            self.post(client, self.user(user), text, how, cut)

    @rule(client=clients, other=st.integers(0, 3), text=TEXTS, how=HOW, cut=CUTS)
    @recorded
    def say_to_someone(
        self, client: str, other: int, text: str, how: frames.Delivery, cut: int
    ) -> None:
        """A direct message to another user who is connected, whoever that is. Few users are
        connected at a time, so user numbers (`say_to_user`) mostly find no one, and a bug
        that shows once in many deliveries (ROUTE-5) needs many."""
        me = self.oracle.name_of(client)
        names = sorted(
            {name for c in self.live if (name := self.oracle.name_of(c)) not in (None, me)}
        )
        if names:
            target = names[other % len(names)]
            if self.may_post(client, target, text):
                self.program[-1] += f"  # to {target}"
                self.post(client, target, text, how, cut)

    @precondition(lambda self: self.full)
    @rule(client=clients, text=TEXTS)
    @recorded
    def say_to_all(self, client: str, text: str) -> None:
        self.post(client, ALL_ROOM, text)

    @precondition(lambda self: self.full)
    @rule(client=clients, user=USERS, to=TARGETS, text=TEXTS)
    @recorded
    def say_as_someone_else(self, client: str, user: int, to: tuple[str, int], text: str) -> None:
        self.post(client, self.target(*to), text, sender=self.user(user))

    @precondition(lambda self: self.full)
    @rule(
        client=clients,
        burst=st.lists(st.tuples(TARGETS, TEXTS), min_size=2, max_size=MOST_FRAMES_PER_WRITE),
    )
    @recorded
    def say_many_in_one_write(self, client: str, burst: list[tuple[tuple[str, int], str]]) -> None:
        name = self.name(client)
        messages = [direct(name, text, self.target(*to)) for to, text in burst]
        self.write(client, b"".join(map(frame, messages)), "several")

    @precondition(lambda self: self.full)
    @rule(
        client=clients, room=ROOMS, all_=st.sampled_from([False, False, False, True]), spoof=SPOOF
    )
    @recorded
    def leave(self, client: str, room: int, all_: bool, spoof: int | None) -> None:
        room_name = ALL_ROOM if all_ else self.room(room)
        document = {
            "action": "disconnect",
            "user_name": self.name(client, spoof),
            "target": room_name,
        }
        self.write(client, frame(document))

    @precondition(lambda self: self.full)
    @rule(client=consumes(clients))
    @recorded
    def disconnect(self, client: str) -> None:
        self.write(client, frame({"action": "disconnect"}))

    @precondition(lambda self: self.full)
    @rule(client=consumes(clients), reset=st.booleans())
    @recorded
    def drop(self, client: str, reset: bool) -> None:
        self.hang_up(client, reset)

    @precondition(lambda self: self.core)
    @rule(client=consumes(clients), way=st.sampled_from(CORE_GOODBYES), data=st.data())
    @recorded
    def go_away(self, client: str, way: str, data: st.DataObject) -> None:
        """Core: every way a client leaves, in one rule: `disconnect`, a close, a reset, or a bad
        frame (junk, one byte too long, not UTF-8) and then a close. What a core server
        answers to a bad frame, and what the session is after it, core does not say; only that
        everyone else is still served. (As three rules, like `full`'s, they would end clients
        faster than the others give them names and rooms, and little would be routed.)"""
        if way == "disconnect":
            self.write(client, frame({"action": "disconnect"}))
            self.gone_for_good(client)
            return
        if way in CORE_MISDEEDS and client not in self.oracle.gone:
            payload, how = self.bad_frame(client, way, data)
            self.write(client, payload, how)
            self.actors.discard(client)  # its answer is not judged
        self.hang_up(client, reset=way == "reset")

    def hang_up(self, client: str, reset: bool = False) -> None:
        live = self.live[client]
        if live.dropped:
            return
        self.hung_up |= not live.wire.closed  # a hang-up, unless the target closed it first
        live.wire.reset() if reset else live.wire.close()
        live.dropped = True
        self.oracle.lost(client)
        self.gone_for_good(client)

    @precondition(lambda self: self.full)
    @rule(client=clients, data=st.data())
    @recorded
    def misbehave(self, client: str, data: st.DataObject) -> None:
        """One bad frame: invalid by one schema keyword, junk, one byte too long, not UTF-8."""
        kind = data.draw(st.sampled_from(("schema", *CORE_MISDEEDS)), label="kind")
        payload, how = self.bad_frame(client, kind, data)
        self.write(client, payload, how, data.draw(CUTS))

    def bad_frame(
        self, client: str, kind: str, data: st.DataObject
    ) -> tuple[bytes, frames.Delivery]:
        """A frame of the kind asked for, and how to write it (noted in the program)."""
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
        how = data.draw(HOW)
        self.program[-1] += f"  # sent {payload[:60]!r}{'...' * (len(payload) > 60)} {how}"
        return payload, how

    # -- checking -----------------------------------------------------------------------------

    @invariant()
    def target_matches_oracle(self) -> None:
        if not self.live or not self.acted:
            return
        self.acted = False
        self.run.steps += 1
        ways = sorted(frames.RULE_OF_DELIVERY[how] for how in self.deliveries)
        involved = list(dict.fromkeys([*ways, *self.oracle.step_requirements()]))
        self.run.deliveries.update(self.deliveries)
        timeout = self.settings_.timeout
        if self.core:
            problems = settle_core(self.live, self.oracle, timeout, self.actors, self.blame)
            involved = [r for r in involved if requirements_by_id()[r].profile == "core"]
        else:
            texts = settle(self.live, self.oracle, timeout, self.actors)
            problems = [Problem(text, ()) for text in texts]
        self.actors.clear()
        self.deliveries.clear()
        self.oracle.begin_step()
        self.blame = Blame()
        hung_up, self.hung_up = self.hung_up, False
        if problems or hung_up:
            finding = self.finding(problems, involved)
            if finding is not None:
                raise finding

    def finding(self, problems: list[Problem], involved: list[str]) -> Finding | None:
        """The finding, if there is one: the problems, or the target's death.

        Death is looked for after a hang-up and whenever something differs: a round trip on the
        fuzzer's own connection says the target still serves (and has read the hang-up);
        only when it fails is the process waited for."""
        lifeline = self.settings_.lifeline
        death = None if lifeline.sync() else lifeline.death(DEATH_WAIT_S)
        if not problems and death is None:
            return None
        texts = [p.text for p in problems]
        rules = [rule for p in problems for rule in p.rules]
        if death is not None:
            texts.insert(0, f"the target died: {death.description}")
            rules.insert(0, SERVES_OTHERS)
        finding = Finding(texts, list(dict.fromkeys([*rules, *involved])), death)
        self.failed = True
        self.run.failed(finding, self.program, self.transcript)
        return finding

    def teardown(self) -> None:
        """Close every client; a hang-up that kills the target is a finding of this example."""
        try:
            for label, live in self.live.items():
                if not live.dropped:
                    self.program.append(f"# then {label} closes its connection (the example ends)")
                    self.hang_up(label)
            if self.hung_up and not self.failed:
                finding = self.finding([], [SERVES_OTHERS])
                if finding is not None:
                    raise finding
        finally:
            self.run.example_done(self.transcript, self.oracle.requirement_hits())
