"""What a case works with: clients that know the protocol, and checks that name their rule.

Everything here assumes as little as the profile allows. A `welcome` is put aside when it comes
first. Joining waits for the reply to `connect` if the target gave one in the probe, else for a
direct message to oneself to come back (core servers need not answer `connect`). To know that
the target has handled everything a client sent, `settle` sends such a message and reads up to
it: no wait ever ends on a fixed delay, and every one is bounded by `Timing.reply`.

Two more duties make verdicts name the right rule:

- Bursts. Against a target the probe found breaking on coalesced frames (FRAME-4, a `full` rule),
  `Client.send_frame` never lets two frames of a connection meet in one read: before a frame, it
  waits until the target has read the ones before (`Chat.sync`). Only the cases about coalescing
  write several frames at once (`send_bytes`), or ask for it (`send_frames`).
- Clusters. With several targets, the clients of a case go to them round-robin in the order
  they are opened (`conformance.kit.cluster`), so that rules between clients cross nodes; a
  client's own barrier (its message to itself) stays on its node, and `sync` keeps one witness
  on every node, since a round trip on one node says nothing of another's reads.
- Blame. The client turns what it sees into the rule that describes it: a connection the target
  closed after two frames came in one write breaks FRAME-4, one closed after another client hung
  up breaks `SERVE_OTHERS_RULE`, a packet that is no server message at all breaks FRAME-10, and
  a refused valid `connect` breaks the rule that makes it valid (`Chat.connect_rule`), never a
  skip. Each message says which event came just before.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from conformance.kit.barrier import Barrier, NoEcho, read_to_echo
from conformance.kit.cluster import Spreader
from conformance.kit.messages import Tokens, connect_doc, direct
from conformance.kit.probe import Capabilities
from conformance.kit.shapes import (
    delivery,
    is_chat,
    is_delivery,
    is_error,
    is_server_message,
    is_welcome,
    show,
)
from conformance.kit.target import ServerProcess, Target
from conformance.kit.transcript import Record, Transcript
from conformance.kit.wire import Closed, Packet, WireClient, frame
from conformance.suite.verdicts import SERVE_OTHERS_RULE, Skip, Violation
from protocol import Profile, error_text, requirements_by_id

QUICK_S = 5.0  # cases expected to take longer run only with --slow
WELCOME_WITHIN_S = 1.0  # COMPAT-1: a client that sends nothing gets its welcome within a second
LONG_NAME_BYTES = 20  # a name longer than this, or not ASCII, relies on VALIDATE-8
MANY_CLIENTS, AFTER_MANY_S = 50, 10.0  # after a case with more clients, wait until served
COUNTS = {2: "two", 3: "three", 4: "four", 5: "five"}

__all__ = ["Chat", "Client", "delivery", "is_chat", "is_delivery", "is_error", "is_welcome", "show"]


class Client(WireClient):
    """One connection of a case; `packets` keeps everything received, welcome included."""

    def __init__(self, chat: Chat, label: str, target: Target, source: str | None = None) -> None:
        self.target = target  # its node, when the target is a cluster
        reply = chat.caps.timing.reply
        super().__init__(self.target.address, label, reply, chat.transcript, None, source)
        self.chat = chat
        self._name: str | None = None  # known once it has joined
        self.welcome: Any = None
        self.packets: list[Packet] = []
        self.unread = False  # sent a frame the target has not been shown to have read

    @property
    def joined(self) -> bool:
        """Whether this client has connected under a name (`join`, or by hand: `name = ...`)."""
        return self._name is not None

    @property
    def name(self) -> str:
        """The name this client connected as; a case that asks before it joined is wrong."""
        if self._name is None:
            raise RuntimeError(f"{self.label} has not joined: it has no name yet")
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        """For a case that wrote its `connect` by hand and saw it handled its own way."""
        self._name = name

    def recv(self, timeout: float | None = None) -> Packet | None:
        while True:
            packet = super().recv(timeout)
            if packet is None:
                return None
            first = not self.packets
            self.packets.append(packet)
            if first and is_welcome(packet.value):
                self.welcome = packet.value
                continue
            return packet

    def wait_accepted(self) -> None:
        """Best effort before signalling the target: a welcome shows it accepted the connection."""
        if self.packets:
            return  # it has answered: it accepted
        if not self.chat.caps.sends_welcome:
            process = self.target.process
            if process is None or process.wait_idle() is None:  # idle: it has accepted us
                time.sleep(self.chat.caps.timing.pace)  # nothing to wait on; give it a moment
            return
        with contextlib.suppress(Closed):
            self.peek()

    def join(self, name: str, *rooms: str, rule: str | None = None, sent: bool = False) -> Any:
        """Connect as `name` to `rooms` and wait until the target has handled it: for its reply
        if the target answers `connect` (which is returned), else for a message to oneself to
        come back (None is returned). From then on, `name` is this client's.

        A refused or unanswered connect is a Violation, never a skip (that the case cannot go
        on is the target's doing): of `rule` if the case gives one, else of the rule that makes
        this connect valid (`Chat.connect_rule`). `sent`: the case wrote the `connect` itself,
        in bytes of its own, and only the wait is left.
        """
        if not sent:
            self.send(connect_doc(name, list(rooms)))
        rule = rule or self.chat.connect_rule(name, rooms)
        joining = f"{name} to {', '.join(rooms)}" if rooms else name
        if self.chat.caps.answers_connect:
            reply = self.expect(rule, f"a chat answering the connect of {joining}", is_chat)
            self._name = name
            self.unread = False  # the answer shows the connect was read
            return reply
        self.chat.require_echo(
            "tell when a connect has been handled, as the target does not answer it"
        )
        self._name = name
        try:
            seen = self.settle(rule)
        except Violation as violation:
            if violation.rule != rule:
                raise
            errors = [p.value for p in self.packets if is_error(p.value)]
            why = f"answered {show(errors[0])}" if errors else violation.message
            refused = f"the valid connect of {joining} was refused: {why}"
            raise Violation(rule, refused, violation.cause) from None
        refusals = [v for v in seen if is_error(v)]
        self.chat.check(
            rule, not refusals, f"the valid connect of {joining} got {show(refusals[:1])}"
        )
        return None

    # -- sending ------------------------------------------------------------------------------

    def send(self, document: Any) -> None:
        self.send_frame(frame(document))

    def send_frame(self, data: bytes) -> None:
        """One frame (`data` holds its newline, if it has one) in a write of its own.

        Against a target that does not read coalesced frames, first wait until it has read what
        this connection sent before, so the two never meet in one of its reads.
        """
        if self.unread and not self.chat.caps.reads_coalesced:
            self.chat.sync()
        self.send_bytes(data)

    def send_frames(self, *frames: bytes) -> None:
        """Several frames: in one write if the target reads coalesced frames, else one per read.

        For cases about what comes after a frame (an error, a long frame), not about coalescing.
        """
        if self.chat.caps.reads_coalesced:
            self.send_bytes(b"".join(frames))
        else:
            for data in frames:
                self.send_frame(data)

    def send_bytes(self, data: bytes) -> None:
        """`data` as it is, in one write: part of a frame, or several (the FRAME-3/4 cases)."""
        self.unread = True
        try:
            super().send_bytes(data)
        except Closed:
            what = f"to be able to write {_sketch(data)}"
            raise self.closed_violation(self.chat.primary, what, writing=True) from None

    def say(self, target: str, text: str, user_name: str | None = None) -> None:
        self.send(direct(user_name or self.name, text, target))

    def leave(self, room: str, rule: str) -> None:
        """Leave `room` (`disconnect` with a target); its answer must say so, else `rule`."""
        self.send({"action": "disconnect", "target": room})
        self.expect_value(rule, {"status": "disconnect", "target": room})

    # -- checks -------------------------------------------------------------------------------

    def expect(self, rule: str, what: str, check: Callable[[Any], bool]) -> Any:
        """The next packet, which must pass `check`; else a Violation of `rule` (or of the rule
        the way it went wrong breaks: `closed_violation`, `no_server_message`)."""
        try:
            packet = self.recv()
        except Closed:
            raise self.closed_violation(rule, what) from None
        if packet is None:
            raise Violation(
                rule, f"{self.label}: nothing within {self.timeout:.2f} s; expected {what}"
            )
        if not check(packet.value):
            raise self.no_server_message([packet.value], what) or Violation(
                rule, f"{self.label}: expected {what}, got {show(packet)}"
            )
        return packet.value

    def expect_value(self, rule: str, expected: Any) -> Any:
        return self.expect(rule, show(expected), lambda value: value == expected)

    def expect_error(self, rule: str, text: str) -> Any:
        return self.expect(rule, f"error {text!r}", lambda value: is_error(value, text))

    def expect_delivery(self, rule: str, target: str, sender: str, text: str) -> Any:
        wanted = show(delivery(target, sender, text))
        return self.expect(rule, wanted, lambda v: is_delivery(v, target, sender, text))

    def expect_echo(self, rule: str, text: str) -> Any:
        """The next packet is this client's direct message to itself (ROUTE-6) with `text`."""
        self.chat.require_echo("observe a frame's effect through a message to oneself")
        return self.expect_delivery(rule, self.name, self.name, text)

    def settle(self, rule: str) -> list[Any]:
        """Everything received before a direct message to oneself comes back (`kit.barrier`)."""
        self.chat.require_echo("know when the target has handled a message")
        barrier = Barrier(self.name, f"barrier {self.chat.tokens.next()}")
        self.send(barrier.document)
        try:
            seen = read_to_echo(self, barrier, self.timeout)
        except NoEcho as missing:
            if missing.closed:
                what = f"its message to itself back; before the close it got {show(missing.seen)}"
                raise self.closed_violation(rule, what) from None
            raise self.no_server_message(missing.seen, "its message to itself back") or Violation(
                rule,
                f"{self.label}: its direct message to itself (ROUTE-6) did not come back "
                f"within {self.timeout:.2f} s; it got {show(missing.seen)}",
            ) from None
        self.unread = False  # the target has read all this connection sent
        return seen

    def expect_quiet(self, rule: str, why: str = "") -> None:
        """The target sent this client nothing (checked by settling it)."""
        seen = self.settle(rule)
        if seen:
            detail = f" ({why})" if why else ""
            raise self.no_server_message(seen, f"nothing{detail}") or Violation(
                rule, f"{self.label}: expected nothing{detail}, got {show(seen)}"
            )

    def expect_closed(self, rule: str, timeout: float | None = None) -> list[Any]:
        """The target closes the connection; what it sent first is returned."""
        before: list[Any] = []
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        try:
            while (packet := self.recv(max(deadline - time.monotonic(), 0.0))) is not None:
                before.append(packet.value)
        except Closed:
            return before
        raise Violation(rule, f"{self.label}: still open after {timeout:.2f} s, got {show(before)}")

    # -- blame --------------------------------------------------------------------------------

    def no_server_message(self, values: Sequence[Any], what: str) -> Violation | None:
        """FRAME-10, when what came instead of `what` holds something that is no server message:
        the target broke the shape of what it sends, whatever the case was about."""
        wrong = [v for v in values if not is_server_message(v)]
        if not wrong:
            return None
        return Violation(
            "FRAME-10",
            f"{self.label}: expected {what}, got {show(wrong[0])}, which is no server message "
            f"(a JSON object valid against the schema of its status)",
            "schema",
        )

    def closed_violation(self, rule: str, what: str, writing: bool = False) -> Violation:
        """The target closed this connection where `what` was expected: a Violation of the rule
        that the event just before the close points to, which the message names.

        After a write of several frames, FRAME-4 (the target could not take them together);
        after another client of the case hung up, `SERVE_OTHERS_RULE`; else `rule`, the rule of
        the check that was waiting. Read from the transcript, which holds every event in order;
        `writing`: its last record is the write that found the connection closed, not a cause.
        """
        records = self.transcript.records
        now = records[-1].t if records else 0.0
        if writing:
            records = records[:-1]
        closed = _last(records, lambda r: r.client == self.label and r.event == "closed")
        at = closed.t if closed is not None else now
        sent = _last(records, lambda r: r.client == self.label and r.event == "send" and r.t <= at)
        hung = _last(
            records,
            lambda r: r.client != self.label and r.event in ("close", "reset") and r.t <= at,
        )
        if hung is not None and (sent is None or hung.t >= sent.t):
            how = "reset its connection" if hung.event == "reset" else "closed its connection"
            event = f"{_ms(at - hung.t)} after {hung.client} {how}"
            return Violation(
                SERVE_OTHERS_RULE, f"{self.label}: closed {event}; expected {what}", "hangup"
            )
        if sent is None:
            return Violation(rule, f"{self.label}: closed before it sent anything; expected {what}")
        count = _frames_in(sent.data)
        if count >= 2 and not self.chat.target_died():
            event = (
                f"{_ms(at - sent.t)} after {COUNTS.get(count, count)} frames arrived in one write"
            )
            return Violation(
                "FRAME-4", f"{self.label}: closed {event}; expected {what}", "coalesced"
            )
        event = f"{_ms(at - sent.t)} after it sent {_sketch(sent.data)}"
        return Violation(rule, f"{self.label}: closed {event}; expected {what}", "closed")


class Witness(Client):
    """The connection `Chat.sync` makes round trips on. It writes each frame only after the
    answer to the one before, so it never needs a sync itself."""

    def send_frame(self, data: bytes) -> None:
        self.send_bytes(data)


class Chat:
    """The fixture of one case: its clients, names, transcript and the target's capabilities."""

    def __init__(
        self,
        targets: Sequence[Target],
        caps: Capabilities,
        tokens: Tokens,
        rules: tuple[str, ...],
        slow: bool = False,
        profile: Profile = "full",
    ) -> None:
        self.slow = slow
        self.targets = list(targets)  # one, or a cluster's nodes
        self.address = self.targets[0].address
        self.spreader = Spreader(len(self.targets))  # which client went to which target
        self.caps = caps
        self.tokens = tokens
        self.rules = rules
        self.profile = profile
        self.transcript = Transcript()
        self.clients: list[Client] = []
        self._labels: dict[str, int] = {}
        self.stop_signal: int = signal.SIGINT  # the run's --stop-signal: Ctrl-C, as people do
        self._witnesses: dict[int, Witness] = {}  # by target number

    @property
    def reply(self) -> float:
        return self.caps.timing.reply

    @property
    def primary(self) -> str:
        """The rule a failure is charged to when nothing says which: the first one cited."""
        return self.rules[0] if self.rules else "FRAME-10"

    def user(self, base: str = "user") -> str:
        return f"@{base}-{self.tokens.next()}"

    def room(self, base: str = "room") -> str:
        return f"#{base}-{self.tokens.next()}"

    def open(
        self, label: str = "client", source: str | None = None, on: int | None = None
    ) -> Client:
        """A new client, on the next target in turn, or on target `on` (from 1): a case about a
        limit each node counts for itself (connections) keeps its clients on one node; from the
        local address `source` if given (`other_addresses`)."""
        return self._add(Client, label, on, source)

    def _add(
        self, kind: type[Client], label: str, number: int | None = None, source: str | None = None
    ) -> Client:
        """A new client on target `number` (from 1), or on the next target in turn."""
        count = self._labels[label] = self._labels.get(label, 0) + 1
        label = label if count == 1 else f"{label}#{count}"
        if number is None:
            number = self.spreader.next(label)
        else:
            self.spreader.pin(label, number)
        client = kind(self, label, self.targets[number - 1], source)
        self.clients.append(client)
        return client

    def join(self, name: str, *rooms: str) -> Client:
        """A new client, connected as `name` to `rooms` (`Client.join`)."""
        client = self.open(name)
        client.join(name, *rooms)
        return client

    def connect_rule(self, name: str, rooms: Sequence[str]) -> str:
        """The rule a target breaks by refusing a valid `connect` of `name` to `rooms`.

        VALIDATE-8 when a name is long or not ASCII; CONNECT-1 says any valid connect is taken;
        in `core`, which has no CONNECT rule, a connect naming rooms is what ROUTE-1 needs and
        any connect what ROUTE-6 needs. A rule the case cites comes first, then the first of the
        profile.
        """
        candidates = ["VALIDATE-8"] if any(map(_long, (name, *rooms))) else []
        candidates += ["CONNECT-1", *(["ROUTE-1"] if rooms else []), "ROUTE-6"]
        cited = [c for c in candidates if c in self.rules]
        known = requirements_by_id()
        in_profile = [c for c in candidates if known[c].in_profile(self.profile)]
        return (cited or in_profile)[0]

    def members(self, room: str, *bases: str) -> list[Client]:
        """One new client per base name (`user(base)`), each joined to `room`, in that order."""
        return [self.join(self.user(base), room) for base in bases]

    def claim(self, name: str, rule: str) -> Client:
        """Connect as `name` once the target has noticed its old holder left.

        Nothing tells a client when another connection's close has been handled, so this retries
        on one connection, each try a round trip, until `Timing.reply` runs out. The tries are
        spread over that time so that they stay below `max_consecutive_errors` (LIMIT-2 would
        end the connection first): a cluster's node may hear of the close some milliseconds
        after its neighbour did, later than a pace of round trips would look.
        """
        client = self.open(name)
        deadline = time.monotonic() + self.reply
        tries = max(self.caps.limits["max_consecutive_errors"] - 2, 1)
        pause = max(self.caps.timing.pace, self.reply / tries)
        reply: Any = None
        while True:
            client.send(connect_doc(name, []))
            if self.caps.answers_connect:
                reply = client.expect(rule, "an answer to connect", lambda v: isinstance(v, dict))
                if is_chat(reply):
                    client.name = name
                    return client
            else:
                client.name = name  # for its message to itself
                try:
                    client.settle(rule)
                    return client
                except Violation as violation:
                    if violation.rule != rule:
                        raise
                    client._name = None  # not its name after all: try again
            if time.monotonic() > deadline:
                raise Violation(rule, f"{name} is still taken after its holder left: {show(reply)}")
            time.sleep(pause)

    # -- one frame per read -------------------------------------------------------------------

    def sync(self) -> None:
        """Return once the target has read everything the clients of this case sent so far.

        Three round trips on a connection of its own, the witness (a message to itself). Why
        that proves a read, for a server that reads with select() or poll() in one thread, as
        course servers do: our bytes were waiting before the witness wrote, so the turn of the
        server's loop that reads the witness's first message also found our socket readable,
        or our connection waiting to be accepted. The witness writes each message only once the
        one before is answered, and each takes a turn of its own: by the second answer our
        connection is accepted and its bytes were found readable; within a turn the witness may
        be served before us, so only the third answer shows that turn over, our read with it.
        A server with a thread per connection reads as soon as bytes arrive; the round trips
        give that thread that long. Without an echo to oneself there is no witness, and only
        pacing.
        """
        if self.caps.echoes_self:
            for number in range(1, len(self.targets) + 1):  # every node read what it was sent
                witness = self._witnesses.get(number) or self._open_witness(number)
                for _ in range(3):  # a witness that stops answering stopped on the traffic
                    witness.settle(self.primary)
        else:
            time.sleep(self.caps.timing.pace)
        for client in self.clients:
            client.unread = False

    def _open_witness(self, number: int = 1) -> Witness:
        """A connection that has connected and seen its message to itself come back.

        Without a reply to `connect` nothing shows when the target has read it, and a target
        that cannot take two frames in one read may get the connect and the first message
        together (and drop the connection): so each try is a fresh connection that waits
        longer between the two, a whole reply timeout at least for a target the probe saw break
        on coalesced frames. A target that never lets one through breaks ROUTE-6.
        """
        name = self.user("witness")
        rule = self.connect_rule(name, ())
        failures: list[str] = []
        for attempt in range(3):
            witness = self._add(Witness, "witness", number)
            assert isinstance(witness, Witness)
            witness.send_bytes(frame(connect_doc(name, [])))
            if self.caps.answers_connect:
                witness.expect(rule, f"a chat answering the connect of {name}", is_chat)
            elif self.caps.reads_coalesced:
                # the two may meet in one read: the pause only spares the target a burst
                time.sleep(min(self.caps.timing.pace * 4 ** (attempt + 1), self.reply))
            else:
                # They must not meet, and nothing shows when the connect was read: a pause long
                # enough for a loaded machine to schedule the target, the reply timeout, which a
                # careful target's answer never needs. A round-trip-sized pause let the two meet,
                # and the target die, on a busy machine.
                time.sleep(self.reply * (attempt + 1))
            witness.name = name
            try:
                witness.settle("ROUTE-6")
            except Violation as violation:
                failures.append(violation.message)
                witness.close()
                continue
            self._witnesses[number] = witness
            return witness
        if self.caps.reads_coalesced:
            longest = min(self.caps.timing.pace * 64, self.reply)
        else:
            longest = 3 * self.reply
        raise Violation(
            "ROUTE-6",
            f"no connection got its message to itself back, after a connect and a pause of up "
            f"to {longest * 1000:.0f} ms: {failures[-1]}",
        )

    def target_died(self) -> bool:
        """Whether a target the suite started has exited on its own (a close is then the crash's
        doing, which the run reports with the exit status and the target's last words)."""
        return any(
            process.wait_exit(min(0.2, self.reply)) is not None
            for process in self._processes()
            if not process.stopped_on_purpose
        )

    def _processes(self) -> Iterator[ServerProcess]:
        """The processes of the targets the suite started (all of a cluster's `cmd:` nodes)."""
        for target in self.targets:
            if target.process is not None:
                yield target.process

    # -- what the target can do ---------------------------------------------------------------

    def require_echo(self, why: str) -> None:
        """ROUTE-6 is in every profile: a target that never echoes fails it here, not skips;
        or FRAME-10, when what it sent the probe instead was no server message at all."""
        if not self.caps.echoes_self and self.caps.stray:
            raise Violation(
                "FRAME-10",
                f"in the probe the target sent {self.caps.stray}, which is no server message, "
                f"and never echoed a message to its sender, so the suite cannot {why}",
                "schema",
            )
        if not self.caps.echoes_self:
            raise Violation(
                "ROUTE-6",
                f"the target did not echo a direct message to its sender in the probe, so the "
                f"suite cannot {why}",
                "capability",
            )

    def require_connect_reply(self, why: str) -> None:
        """A skip in a profile where CONNECT-2 is optional, a FAIL of it where it is not."""
        if self.caps.answers_connect:
            return
        lacking = Skip.NO_CONNECT_REPLY
        if lacking.allowed(self.profile):
            lacking.skip(f"the target does not answer connect, so the suite cannot {why}")
        raise Violation(
            lacking.rule,
            f"the target does not answer connect, as {self.profile} requires, so the suite "
            f"cannot {why}",
            "capability",
        )

    def check(self, rule: str, condition: bool, message: str) -> None:
        if not condition:
            raise Violation(rule, message)

    def check_last_words(self, received: list[Any], code: str) -> None:
        """A session the server ended (LIMIT-1): its last packets were the error for `code`,
        then `disconnect`."""
        ends = received[-2:]
        right = (
            len(ends) == 2
            and is_error(ends[0], error_text(code))
            and ends[1] == {"status": "disconnect"}
        )
        self.check("LIMIT-1", right, f"its last words before closing were {show(ends)}")

    def require_time(self, seconds: float, why: str) -> None:
        """Skip a case that would take longer than QUICK_S with this target's limits, unless
        the run allows slow cases (--slow)."""
        if seconds > QUICK_S and not self.slow:
            Skip.SLOW.skip(f"{why}: about {seconds:.0f} s; run with --slow")

    def other_addresses(self, count: int, why: str) -> list[str]:
        """`count` local addresses to connect from besides the usual one, so that a case can be
        clients of several addresses (the server's limit across addresses): other loopback
        addresses, which Linux answers on without setup. A skip where there are none: a target
        that is not on 127.0.0.1, or a system that has no other loopback address."""
        host = self.address[0]
        if not host.startswith("127."):
            Skip.ONE_ADDRESS.skip(f"the target is not on loopback: the suite cannot {why}")
        sources = [f"127.0.0.{n}" for n in range(2, 255) if f"127.0.0.{n}" != host][:count]
        for source in sources:
            with socket.socket() as probe:
                try:
                    probe.bind((source, 0))
                except OSError:
                    Skip.ONE_ADDRESS.skip(f"this system cannot connect from {source} to {why}")
        if len(sources) < count:
            Skip.ONE_ADDRESS.skip(f"{count} addresses more are needed to {why}")
        return sources

    def require_process(self, why: str) -> None:
        if not all(target.spec.owns_process for target in self.targets):
            Skip.NOT_OWN_PROCESS.skip(f"{why} needs a target started by the suite (cmd:)")

    def stop_target(self, signum: int | None = None) -> None:
        """Signal the target on purpose (by default with the run's stop signal, SIGINT unless
        --stop-signal says otherwise): the run restarts it and does not report a crash. A
        cluster is stopped whole, every node at once: it is one server."""
        processes = list(self._processes())
        assert processes
        for process in processes:
            process.stopped_on_purpose = True
        for process in processes:
            process.signal(self.stop_signal if signum is None else signum)

    def close(self) -> None:
        for client in self.clients:
            client.close()  # also when the target closed first: our socket is still open
        if len(self.clients) > MANY_CLIENTS:
            self._wait_until_served()

    def _wait_until_served(self) -> None:
        """After a case that opened many connections (LIMIT-5 opens 2000), wait until the target
        serves a new one, so the next case does not pay for this one's closes: the suite must
        not cause the failure it reports. Bounded by AFTER_MANY_S; a target that stays busy
        longer is left to the next case to judge."""
        deadline = time.monotonic() + AFTER_MANY_S
        for target in self.targets:
            self._wait_until_served_by(target, deadline)

    def _wait_until_served_by(self, target: Target, deadline: float) -> None:
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, Closed):
                client = WireClient(target.address, "after", max(self.reply, 1.0))
                try:
                    name = self.user("after")
                    client.send(connect_doc(name, []))
                    if self.caps.answers_connect:
                        if client.recv_value() is not None:
                            return
                    elif self.caps.echoes_self:
                        time.sleep(self.caps.timing.pace)
                        client.send(direct(name, "after"))
                        if client.recv_value() is not None:
                            return
                    else:
                        return
                finally:
                    client.close()


def _long(name: str) -> bool:
    return len(name.encode("utf-8")) > LONG_NAME_BYTES or not name.isascii()


def _last(records: list[Record], wanted: Callable[[Record], bool]) -> Record | None:
    return next((r for r in reversed(records) if wanted(r)), None)


def _ms(seconds: float) -> str:
    return f"{max(seconds, 0.0) * 1000:.0f} ms"


def _sketch(data: bytes) -> str:
    """A write as a reader of the report wants it: its first bytes, and its size."""
    head = data[:60].decode("utf-8", "replace")
    return f"{head!r}{'...' if len(data) > 60 else ''} ({len(data)} bytes)"


def _frames_in(data: bytes) -> int:
    """How many frames one of the suite's writes held: its lines, and objects that follow each
    other on a line. Not decoded: a write may be a frame nested 1024 deep."""
    lines = [line for line in data.split(b"\n") if line.strip()]
    return len(lines) + sum(line.count(b"}{") for line in lines)
