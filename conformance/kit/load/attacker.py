"""A hostile user among the swarm: plays the single-write cases of the hostile catalogue, aimed at
the swarm's first room and user, one every PACE_S, and checks each answer exactly."""

from __future__ import annotations

import selectors
import time
from typing import Any

import orjson

from conformance.kit.load.hostile import Case, Scene, catalogue
from conformance.kit.load.peer import Peer

PACE_S = 0.05
OFF, CONNECTING, IDLE, WAITING = range(4)


class Attacker(Peer):
    def __init__(self, selector: selectors.BaseSelector, address: tuple[str, int], name: str):
        super().__init__(selector)
        self.address, self.name = address, name
        scene = Scene(me=name, room="#r0", victim="@u0")
        self.cases = [c for c in catalogue(scene) if len(c.writes) == 1]
        barrier = {"action": "message", "user_name": name, "target": name, "message": "barrier"}
        self.barrier = orjson.dumps(barrier) + b"\n"
        self.back = {"target": name, "from": name, "message": "barrier"}
        self.state, self.played, self.next_at = OFF, 0, 0.0
        self.case: Case | None = None
        self.got: list[dict[str, Any]] = []
        self.failures: list[str] = []

    def start(self) -> None:
        self.connect(self.address)
        self.state = CONNECTING
        self.send({"action": "connect", "user_name": self.name, "targets": []})

    def tick(self) -> None:
        if self.state == IDLE and time.monotonic() >= self.next_at:
            self.case = self.cases[self.played % len(self.cases)]
            self.state, self.got = WAITING, []
            self.send_bytes(self.case.writes[0] + self.barrier)

    def on_packet(self, value: dict[str, Any]) -> None:
        history = value.get("history")
        if isinstance(history, list) and len(history) == 1 and history[0].get("target") == "#all":
            return  # a member of `#all` like everyone: the swarm's posts are not its concern
        if self.state == CONNECTING and value.get("status") == "chat":
            self.state = IDLE
        elif self.state == WAITING and value.get("history") == [self.back]:
            assert self.case is not None
            if self.got != list(self.case.replies):
                self.failures.append(f"{self.name} {self.case.label}: got {self.got!r}")
            self.played += 1
            self.state, self.next_at = IDLE, time.monotonic() + PACE_S
        elif self.state == WAITING:
            self.got.append(value)
        elif value.get("status") != "welcome":
            self.failures.append(f"{self.name} (state {self.state}): unexpected {value!r}")

    def on_closed(self) -> None:
        self.failures.append(f"{self.name}: closed by the server")
        self.state = OFF
        self.close()

    def stop(self) -> None:
        self.state = OFF
        self.close()
