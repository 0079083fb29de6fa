"""The oracle: our engine, fed exactly what the live target is fed, says what each client must get.

Each fuzzer client is one engine connection. The comparison is on decoded packets, not bytes
(byte-level framing of the target's output is the conformance suite's FRAME-9), and leaves out
what PROTOCOL.md lets servers choose: whether they send a `welcome` (WELCOME-1 is a SHOULD).
The engine takes the target's own limits from its welcome when it sends one, so that limit-driven
behaviour (history sizes, errors in a row) is predicted with the target's numbers.

Every predicted packet is labelled with the rule that makes it a delivery (ROUTE-1 a room
message to another member, ROUTE-5 a direct message, ROUTE-6 one to oneself, ROUTE-8 `#all`), or
None for a reply to the client's own frame (the answer to `connect`, an error, the `disconnect`):
under `--profile core` deliveries are owed, and replies are what `full` adds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

import protocol
from engine.engine import Engine, EngineConfig
from engine.events import Close, ConnectionLost, ConnectionOpened, DataReceived, Output, Send
from engine.rules import OUTCOMES


class Oracle:
    def __init__(self, limits: Mapping[str, int] | None = None) -> None:
        self.engine = Engine(
            EngineConfig(limits={**protocol.limits(), **(limits or {})}, welcome=False)
        )
        self._ids: dict[str, int] = {}
        self._clients: dict[int, str] = {}  # the other way round
        self.expected: dict[str, list[Any]] = {}  # every packet each client must have received
        self.kinds: dict[str, list[str | None]] = {}  # the rule of each, if it is a delivery
        self.closed_by_server: set[str] = set()  # the target must have closed these
        self.gone: set[str] = set()  # closed by either side: bytes sent now go nowhere
        self._step_outcomes: dict[str, int] = {}

    def open(self, client: str) -> None:
        self._ids[client] = conn = len(self._ids) + 1
        self._clients[conn] = client
        self.expected[client] = []
        self.kinds[client] = []
        self._apply(self.engine.handle(ConnectionOpened(conn)))

    def send(self, client: str, data: bytes) -> None:
        """`client` wrote `data`; after a server close, bytes go nowhere (like the socket)."""
        if client not in self.gone:
            conn = self._ids[client]
            self._apply(self.engine.handle(DataReceived(conn, data)), conn)

    def lost(self, client: str) -> None:
        """`client` closed or reset its side."""
        self._apply(self.engine.handle(ConnectionLost(self._ids[client])))
        self.gone.add(client)

    def name_of(self, client: str) -> str | None:
        return self.engine.name_of(self._ids[client])

    def rooms_of(self, client: str) -> set[str]:
        session = self.engine.sessions.get(self._ids[client])
        return set(session.rooms) if session else set()

    def errors_in_row(self, client: str) -> int:
        session = self.engine.sessions.get(self._ids[client])
        return session.errors_in_row if session else 0

    def begin_step(self) -> None:
        self._step_outcomes = dict(self.engine.outcomes)

    def step_requirements(self) -> list[str]:
        """The requirement IDs of everything the engine did since `begin_step`."""
        ids: dict[str, None] = {}
        for outcome, count in self.engine.outcomes.items():
            if count > self._step_outcomes.get(outcome, 0):
                ids.update(dict.fromkeys(OUTCOMES[outcome]))
        return list(ids)

    def requirement_hits(self) -> dict[str, int]:
        return self.engine.requirement_hits()

    def holder(self, name: str) -> str | None:
        """The client holding user name `name`, if any."""
        return next((c for c, i in self._ids.items() if self.engine.name_of(i) == name), None)

    def _apply(self, outputs: list[Output], sender: int | None = None) -> None:
        by_id = self._clients
        for output in outputs:
            if isinstance(output, Send):
                packets = [orjson.loads(line) for line in output.data.split(b"\n")[:-1]]
                for conn in output.to:
                    self.expected[by_id[conn]].extend(packets)
                    name = self.engine.name_of(conn)
                    self.kinds[by_id[conn]] += [_kind(p, conn == sender, name) for p in packets]
            else:
                assert isinstance(output, Close)
                self.closed_by_server.add(by_id[output.conn])
                self.gone.add(by_id[output.conn])


def _kind(packet: Any, to_sender: bool, name: str | None) -> str | None:
    """The rule that owes `packet` to its recipient, or None if it is a reply (see above)."""
    history = packet.get("history") if packet.get("status") == "chat" else None
    if not isinstance(history, list) or len(history) != 1:
        return None
    target = history[0]["target"]
    if to_sender:  # the answer to a connect holds room messages; only a direct one is owed
        return "ROUTE-6" if target == name == history[0]["from"] else None
    if target.startswith("@"):
        return "ROUTE-5"
    return "ROUTE-8" if target == protocol.ALL_ROOM else "ROUTE-1"
