"""One user of the swarm: what it does (an action when its timer fires) and what it gets.

Its state says which reply it waits for; while it waits for one that changes its rooms, it does
nothing else, so that its membership is known exactly when the reply comes.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from conformance.kit.load.ledger import INF, Incarnation
from conformance.kit.load.peer import Peer
from protocol import error_text

if TYPE_CHECKING:
    from conformance.kit.load.swarm import Swarm

MAX_ROOMS = 6  # per user, well under max_rooms_per_session
REFUSED, TAKEN = error_text("target_not_connected"), error_text("name_taken")
CLOSED, CONNECTING, ACTIVE, REJOINING, LEAVING, DISCONNECTING, RESETTING = range(7)
BUSY = (CONNECTING, REJOINING, LEAVING, DISCONNECTING, RESETTING)


class User(Peer):
    def __init__(self, swarm: Swarm, index: int) -> None:
        super().__init__(swarm.selector)
        self.swarm, self.name = swarm, f"@u{index}"
        self.volatile = index % 5 == 4
        self.state = CLOSED
        self.me: Incarnation | None = None
        self.rooms: set[str] = set()  # rooms it is (or is becoming) a member of, `#all` aside
        self.asked_at, self.asked_room, self.asked_rooms = 0, "", set[str]()
        self.barrier_times: deque[float] = deque()
        self.taken = False  # its connect was refused: the name was still held
        self.timer = 0  # the token of its one live timer (swarm.later)

    # -- what it does -------------------------------------------------------------------------

    def open(self) -> None:
        self.connect(self.swarm.address)
        self.me = self.swarm.ledger.incarnation(self.name)
        self.rooms = set(self.swarm.rng.sample(self.swarm.room_names, 2))
        self.state = CONNECTING
        self.send_connect(self.rooms)

    def send_connect(self, rooms: set[str]) -> None:
        self.send({"action": "connect", "user_name": self.name, "targets": [*rooms, "#all"]})

    def say(self, target: str) -> None:
        assert self.me is not None
        text = self.swarm.ledger.text(self.me, target)
        self.send({"action": "message", "user_name": self.name, "target": target, "message": text})
        if target == self.name:
            self.barrier_times.append(time.perf_counter())

    def act(self, action: str) -> None:
        swarm, rng, ledger = self.swarm, self.swarm.rng, self.swarm.ledger
        assert self.me is not None
        if action == "post" and self.rooms:
            self.say(rng.choice(sorted(self.rooms)))
        elif action == "burst" and self.rooms:  # lines in a row: their order is observable
            room = rng.choice(sorted(self.rooms))
            for _ in range(3):
                self.say(room)
        elif action in ("post", "burst", "wander"):
            room = rng.choice(swarm.room_names)
            if len(self.rooms) >= MAX_ROOMS:  # posting elsewhere would join one more
                room = rng.choice(sorted(self.rooms))
            joining = room not in self.rooms
            self.say(room)
            if joining:  # it joins when the server handles the post: known at its next barrier
                ledger.join(self.me, [room], after=INF)
                self.rooms.add(room)
                self.say(self.name)
        elif action == "direct":
            self.say(rng.choice(swarm.direct_targets))
        elif action == "all":
            self.say("#all")
        elif action == "barrier":
            self.say(self.name)
        elif action == "leave":
            self.asked_room = rng.choice([*sorted(self.rooms), "#all"])
            self.asked_at, self.state = ledger.tick(), LEAVING
            self.send({"action": "disconnect", "user_name": self.name, "target": self.asked_room})
        elif action == "rejoin" and swarm.seeded:
            self.asked_rooms = set(rng.sample(swarm.room_names, rng.randint(1, MAX_ROOMS)))
            self.asked_at, self.state = ledger.tick(), REJOINING
            self.send_connect(self.asked_rooms)
        elif action in ("disconnect", "reset") and self.volatile:
            self.say(self.name)  # reset once it is back: all it sent has been handled
            self.asked_at, self.state = ledger.clock, RESETTING
        elif action in ("disconnect", "reset"):
            self.asked_at, self.state = ledger.tick(), DISCONNECTING
            self.send({"action": "disconnect"})
        else:
            self.say(self.name)

    # -- what it gets -------------------------------------------------------------------------

    def on_packet(self, value: dict[str, Any]) -> None:
        swarm, ledger, me = self.swarm, self.swarm.ledger, self.me
        assert me is not None
        status = value.get("status")
        history = value.get("history")
        if status == "chat" and isinstance(history, list):
            one = len(history) == 1
            if self.state == REJOINING and one and not ledger.acceptable(me, history[0]):
                ledger.violation(f"{self.name}: a connect's reply holds one entry: {value!r}")
                self.on_connected(history)  # it cannot be a delivery
                return
            if self.state == CONNECTING or (self.state == REJOINING and len(history) != 1):
                self.on_connected(history)
            elif len(history) == 1:
                entry = history[0]
                ledger.delivered(me, entry)
                if entry.get("from") == entry.get("target") == self.name:
                    self.on_barrier()
            else:
                ledger.violation(f"{self.name}: unexpected {value!r}")
        elif status == "disconnect" and self.state == LEAVING and "target" in value:
            if value["target"] != self.asked_room:
                ledger.violation(f"{self.name} left {self.asked_room}, told {value!r}")
            elif self.asked_room != "#all":  # `#all` cannot be left
                ledger.leave(me, self.asked_room, self.asked_at)
                self.rooms.discard(self.asked_room)
            self.state = ACTIVE
        elif status == "disconnect" and self.state == DISCONNECTING and "target" not in value:
            ledger.end(me, self.asked_at, confirms=True)
            self.state = CLOSED  # the server closes next
        elif status == "error" and value.get("message") == REFUSED:
            ledger.refused(me)
        elif status == "error" and value.get("message") == TAKEN and self.state == CONNECTING:
            self.taken = True
            swarm.later(self, 0.02)
        elif status != "welcome":
            ledger.violation(f"{self.name} (state {self.state}): unexpected {value!r}")

    def on_connected(self, history: list[dict[str, str]]) -> None:
        ledger, me = self.swarm.ledger, self.me
        assert me is not None
        for entry in history:
            if not ledger.was_sent(entry):
                ledger.violation(f"{self.name}: history holds {entry!r}, never sent")
        if self.state == CONNECTING:
            ledger.join(me, [*self.rooms, "#all", self.name])
            self.swarm.stats["connects"] += 1
        else:
            for room in self.rooms - self.asked_rooms:
                ledger.leave(me, room, self.asked_at)
            ledger.join(me, sorted(self.asked_rooms - self.rooms))
            self.rooms = self.asked_rooms
            self.swarm.stats["rejoins"] += 1
        self.state = ACTIVE

    def on_barrier(self) -> None:
        assert self.me is not None
        self.swarm.ledger.barrier_back(self.me)
        self.swarm.rtts.append(time.perf_counter() - self.barrier_times.popleft())
        if self.name == "@u0" and not self.swarm.seeded:
            self.swarm.seeded = True
        if self.state == RESETTING and not self.me.barriers_sent:
            self.swarm.ledger.end(self.me, self.asked_at, confirms=False)
            self.reset()
            self.state = CLOSED
            self.swarm.stats["resets"] += 1
            self.swarm.later(self, self.swarm.rng.uniform(0.05, 0.5))

    def on_closed(self) -> None:
        if self.state != CLOSED:
            self.swarm.ledger.violation(f"{self.name} (state {self.state}): closed by the server")
        self.state = CLOSED
        self.close()
        self.swarm.stats["disconnects"] += 1
        self.swarm.later(self, self.swarm.rng.uniform(0.05, 0.5))
