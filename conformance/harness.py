"""What a case works with: clients that know the protocol, and checks that name their rule.

Everything here assumes as little as the profile allows. A `welcome` is put aside when it comes
first. Joining waits for the reply to `connect` if the target gave one in the probe, else for a
direct message to oneself to come back (core servers need not answer `connect`). To know that
the target has handled everything a client sent, `settle` sends such a message and reads up to
it: no wait ever ends on a fixed delay, and every one is bounded by `Timing.reply`.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from conformance.shapes import delivery, is_chat, is_delivery, is_error, is_welcome, show
from conformance.target import Target
from conformance.timing import Capabilities, Tokens, connect_doc, direct, is_echo
from conformance.transcript import Transcript
from conformance.verdicts import Violation
from conformance.wire import Closed, Packet, WireClient
from protocol import error_text

QUICK_S = 5.0  # cases expected to take longer run only with --slow

__all__ = ["Chat", "Client", "delivery", "is_chat", "is_delivery", "is_error", "is_welcome", "show"]


class Client(WireClient):
    """One connection of a case; `packets` keeps everything received, welcome included."""

    def __init__(self, chat: Chat, label: str) -> None:
        super().__init__(chat.address, label, chat.caps.timing.reply, chat.transcript)
        self.chat = chat
        self.name: str | None = None
        self.welcome: Any = None
        self.packets: list[Packet] = []

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
            process = self.chat.target.process
            if process is None or process.wait_idle() is None:  # idle: it has accepted us
                time.sleep(self.chat.caps.timing.pace)  # nothing to wait on; give it a moment
            return
        with contextlib.suppress(Closed):
            self.peek()

    # -- sending ------------------------------------------------------------------------------

    def say(self, target: str, text: str, user_name: str | None = None) -> None:
        self.send(direct(user_name or self.name or "", text, target))

    # -- checks -------------------------------------------------------------------------------

    def expect(self, rule: str, what: str, check: Callable[[Any], bool]) -> Any:
        """The next packet, which must pass `check`; else a Violation of `rule`."""
        try:
            packet = self.recv()
        except Closed:
            raise Violation(rule, f"{self.label}: connection closed; expected {what}") from None
        if packet is None:
            raise Violation(
                rule, f"{self.label}: nothing within {self.timeout:.2f} s; expected {what}"
            )
        if not check(packet.value):
            raise Violation(rule, f"{self.label}: expected {what}, got {show(packet)}")
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
        return self.expect_delivery(rule, self.name or "", self.name or "", text)

    def settle(self, rule: str) -> list[Any]:
        """Everything received before a direct message to oneself comes back."""
        self.chat.require_echo("know when the target has handled a message")
        if self.name is None:
            raise RuntimeError(f"{self.label} has no name to send itself a message")
        text = f"barrier {self.chat.tokens.next()}"
        self.send(direct(self.name, text))
        seen: list[Any] = []
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                packet = self.recv(max(deadline - time.monotonic(), 0.0))
            except Closed:
                raise Violation(
                    rule, f"{self.label}: connection closed; before that it got {show(seen)}"
                ) from None
            if packet is None:
                raise Violation(
                    rule,
                    f"{self.label}: its direct message to itself (ROUTE-6) did not come back "
                    f"within {self.timeout:.2f} s; it got {show(seen)}",
                )
            if is_echo(packet.value, self.name, text):
                return seen
            seen.append(packet.value)

    def expect_quiet(self, rule: str, why: str = "") -> None:
        """The target sent this client nothing (checked by settling it)."""
        seen = self.settle(rule)
        if seen:
            detail = f" ({why})" if why else ""
            raise Violation(rule, f"{self.label}: expected nothing{detail}, got {show(seen)}")

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


class Chat:
    """The fixture of one case: its clients, names, transcript and the target's capabilities."""

    def __init__(
        self,
        target: Target,
        caps: Capabilities,
        tokens: Tokens,
        rules: tuple[str, ...],
        slow: bool = False,
    ) -> None:
        self.slow = slow
        self.target = target
        self.address = target.address
        self.caps = caps
        self.tokens = tokens
        self.rules = rules
        self.transcript = Transcript()
        self.clients: list[Client] = []
        self._labels: dict[str, int] = {}
        self.stop_signal: int = signal.SIGINT  # the run's --stop-signal: Ctrl-C, as people do

    @property
    def reply(self) -> float:
        return self.caps.timing.reply

    def user(self, base: str = "user") -> str:
        return f"@{base}-{self.tokens.next()}"

    def room(self, base: str = "room") -> str:
        return f"#{base}-{self.tokens.next()}"

    def open(self, label: str = "client") -> Client:
        count = self._labels[label] = self._labels.get(label, 0) + 1
        client = Client(self, label if count == 1 else f"{label}#{count}")
        self.clients.append(client)
        return client

    def join(self, name: str, *rooms: str) -> Client:
        """A client connected as `name` to `rooms`; skips the case if the target will not."""
        client = self.open(name)
        self.connect(client, name, *rooms)
        return client

    def connect(self, client: Client, name: str, *rooms: str) -> Any:
        """Send `connect` and wait until it is handled; the reply, or None if there is none."""
        client.send(connect_doc(name, list(rooms)))
        return self.connected(client, name)

    def connected(self, client: Client, name: str) -> Any:
        """After a good `connect` was sent: wait for its reply, or settle when there is none."""
        if self.caps.answers_connect:
            try:
                packet = client.recv()
            except Closed:
                pytest.skip(f"precondition: connecting as {name} closed the connection")
            if packet is None or not is_chat(packet.value):
                got = "nothing" if packet is None else show(packet)
                pytest.skip(f"precondition: connecting as {name} was answered with {got}")
            client.name = name
            return packet.value
        self.require_echo("tell when a connect has been handled, as the target does not answer it")
        time.sleep(self.caps.timing.pace)  # pacing only: some servers read one message per recv
        client.name = name
        try:
            client.settle("ROUTE-6")
        except Violation as violation:
            pytest.skip(f"precondition: connecting as {name} failed: {violation.message}")
        return None

    def connect_ok(self, client: Client, name: str, rule: str, *rooms: str) -> Any:
        """A `connect` that must succeed, else `rule` is broken: shown by its reply if the target
        answers connects, else by a message to oneself coming back."""
        client.send(connect_doc(name, list(rooms)))
        client.name = name
        if self.caps.answers_connect:
            return client.expect(rule, "a chat answering connect", is_chat)
        client.settle(rule)
        return None

    def claim(self, name: str, rule: str) -> Client:
        """Connect as `name` once the target has noticed its old holder left.

        Nothing tells a client when another connection's close has been handled, so this retries
        on one connection, each try a round trip, until `Timing.reply` runs out.
        """
        client = self.open(name)
        deadline = time.monotonic() + self.reply
        reply: Any = None
        while True:
            client.send(connect_doc(name, []))
            if self.caps.answers_connect:
                reply = client.expect(rule, "an answer to connect", lambda v: isinstance(v, dict))
                if is_chat(reply):
                    client.name = name
                    return client
            else:
                client.name = name
                try:
                    client.settle(rule)
                    return client
                except Violation:
                    client.name = None
            if time.monotonic() > deadline:
                raise Violation(rule, f"{name} is still taken after its holder left: {show(reply)}")
            time.sleep(self.caps.timing.pace)

    def require_echo(self, why: str) -> None:
        if not self.caps.echoes_self:
            pytest.skip(
                f"the target never echoes a direct message to its sender (ROUTE-6), "
                f"so the suite cannot {why}"
            )

    def require_connect_reply(self, why: str) -> None:
        if not self.caps.answers_connect:
            pytest.skip(f"the target does not answer connect (CONNECT-2), so it cannot {why}")

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
            pytest.skip(f"slow case ({why}: about {seconds:.0f} s): run with --slow")

    def require_process(self, why: str) -> None:
        if not self.target.spec.owns_process:
            pytest.skip(f"{why} needs a target started by the suite (cmd:), not tcp:")

    def stop_target(self, signum: int | None = None) -> None:
        """Signal the target on purpose (by default with the run's stop signal, SIGINT unless
        --stop-signal says otherwise): the run restarts it and does not report a crash."""
        process = self.target.process
        assert process is not None
        process.stopped_on_purpose = True
        process.signal(self.stop_signal if signum is None else signum)

    def close(self) -> None:
        for client in self.clients:
            client.close()  # also when the target closed first: our socket is still open
