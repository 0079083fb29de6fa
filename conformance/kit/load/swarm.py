"""Many clients on one selector, in mixed traffic, every delivery checked by the ledger.

Users post to their rooms (a line, or three in a row) and to new ones (joining them), send
direct messages (some to users who are away: those must be refused), post to `#all`, leave
rooms, replace their rooms by connecting again, disconnect and come back; one in five (the
`volatile` ones, never sent a direct message, since a reset destroys what they have not read)
reset their connection instead, and come back. Attackers meanwhile play the hostile catalogue,
checking each answer.

One thread drives every socket, so the ledger's clock is real time; `--no-welcome` or not, both
work. Which packet is the reply to a second `connect` cannot be told from a delivery by its
shape, except by its size: a delivery has one history entry, and the reply holds the history of
`#all`, which the first user seeds with two messages before anyone connects again (CONNECT-2).
A one-entry packet that cannot be a delivery is taken as the reply, and reported.
"""

from __future__ import annotations

import gc
import heapq
import random
import selectors
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from conformance.kit.load.attacker import Attacker
from conformance.kit.load.ledger import Ledger
from conformance.kit.load.peer import Peer
from conformance.kit.load.user import ACTIVE, BUSY, CLOSED, CONNECTING, DISCONNECTING, User


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass(frozen=True)
class Load:
    clients: int = 60
    seconds: float = 6.0
    rate: float = 4.0  # actions per user per second
    rooms: int = 0  # 0: one room per eight users
    attackers: int = 2
    seed: int = 1

    def weights(self) -> dict[str, float]:
        """How often each action is drawn; `#all` reaches everyone, so it gets rarer with size."""
        return {
            "post": 35,
            "burst": 5,
            "wander": 6,
            "direct": 15,
            "all": min(2.0, 100 / self.clients),
            "barrier": 12,
            "leave": 7,
            "rejoin": 5,
            "disconnect": 3,
            "reset": 2,
        }


class Swarm:
    def __init__(self, address: tuple[str, int], load: Load) -> None:
        self.address, self.load = address, load
        self.selector = selectors.DefaultSelector()
        self.rng = random.Random(load.seed)
        self.ledger = Ledger(tag=f"s{load.seed}.")
        self.room_names = [f"#r{i}" for i in range(load.rooms or max(2, load.clients // 8))]
        self.users = [User(self, i) for i in range(load.clients)]
        self.direct_targets = [u.name for u in self.users if not u.volatile] + ["@nobody"]
        self.attackers = [Attacker(self.selector, address, f"@x{i}") for i in range(load.attackers)]
        self.seeded = self.winding_down = False
        self.timers: list[tuple[float, int, User, int]] = []  # due, tie-break, user, its token
        self.stats: Counter[str] = Counter()
        self.rtts: list[float] = []
        self.busy_s = 0.0
        self.lags: list[float] = []

    def later(self, user: User, delay: float) -> None:
        """Call on `user` again after `delay` seconds: to act, or to (re)connect. A user has one
        timer: this one replaces any other (which then finds its token stale)."""
        user.timer += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, id(user), user, user.timer))

    def run(self) -> dict[str, Any]:
        """The load, then its verdict. The cyclic garbage collector is paused meanwhile: the
        ledger holds millions of objects, and a full collection stalls every user at once."""
        gc.collect()
        gc.disable()
        try:
            return self._run()
        finally:
            gc.enable()

    def _run(self) -> dict[str, Any]:
        seeder = self.users[0]
        seeder.open()
        self.pump_until(lambda: seeder.state == ACTIVE)
        seeder.say("#all")
        seeder.say("#all")
        seeder.say(seeder.name)
        self.pump_until(lambda: self.seeded)
        for user in self.users:
            if user is not seeder:
                user.open()
            self.later(user, self.rng.expovariate(self.load.rate))
        for attacker in self.attackers:
            attacker.start()
        started = time.monotonic()
        until = started + self.load.seconds
        while time.monotonic() < until:
            self.turn(min(until, self.timers[0][0]) - time.monotonic() if self.timers else 0.1)
        elapsed = time.monotonic() - started
        self.wind_down()
        began = time.monotonic()
        checked = self.ledger.verify()
        return {**self.report(elapsed, checked), "verify_s": round(time.monotonic() - began, 1)}

    def turn(self, timeout: float) -> None:
        for key, mask in self.selector.select(max(timeout, 0.0)):
            began = time.perf_counter()
            peer = key.data
            assert isinstance(peer, Peer)
            peer.ready(mask)
            self.busy_s += time.perf_counter() - began
        began = time.perf_counter()
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            due, _, user, token = heapq.heappop(self.timers)
            if token == user.timer:
                self.lags.append(now - due)
                self.due(user)
        for attacker in self.attackers:
            attacker.tick()
        self.busy_s += time.perf_counter() - began

    def due(self, user: User) -> None:
        if user.state == CONNECTING and user.taken:  # its own reset is not handled yet
            user.taken = False
            user.send_connect(user.rooms)
            self.later(user, self.rng.expovariate(self.load.rate))
            return
        if self.winding_down:
            return
        if user.state == CLOSED and user.sock is None:
            user.open()
        elif user.state == ACTIVE:
            weights = self.load.weights()
            action = self.rng.choices(list(weights), list(weights.values()))[0]
            user.act(action)
            self.stats[action] += 1
        if user.state != CLOSED:
            self.later(user, self.rng.expovariate(self.load.rate))

    def pump_until(self, done: object, timeout: float = 60.0) -> None:
        assert callable(done)
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                stuck = [(u.name, u.state) for u in self.users if u.sock and u.state != ACTIVE]
                raise TimeoutError(f"stuck: {stuck[:10]} {self.ledger.violations[:5]}")
            self.turn(0.05)

    def wind_down(self) -> None:
        """Settle: no one in the middle of anything; a barrier each, all back before anyone asks to
        disconnect, so that every message sent is confirmed before any membership ends."""
        self.winding_down = True
        self.pump_until(lambda: not any(u.state in BUSY and u.sock for u in self.users))
        live = [u for u in self.users if u.state == ACTIVE]
        for user in live:
            user.say(user.name)
        self.pump_until(lambda: all(u.me and not u.me.barriers_sent for u in live))
        for user in live:
            user.asked_at, user.state = self.ledger.tick(), DISCONNECTING
            user.send({"action": "disconnect"})
        self.pump_until(lambda: all(u.sock is None for u in self.users))
        for attacker in self.attackers:
            attacker.stop()
            self.ledger.violations.extend(attacker.failures)
            self.ledger.violation_count += len(attacker.failures)

    def report(self, elapsed: float, checked: dict[str, int]) -> dict[str, Any]:
        def ms(values: list[float], q: float) -> float:
            return round(percentile(values, q) * 1000, 2)

        return {
            "users": self.load.clients,
            "seconds": round(elapsed, 1),
            **checked,
            "actions": dict(self.stats),
            "refusals": sum(i.refusals for i in self.ledger.incarnations),
            "hostile_cases": sum(a.played for a in self.attackers),
            "barrier_rtt_p50_ms": ms(self.rtts, 0.5),
            "barrier_rtt_p99_ms": ms(self.rtts, 0.99),
            "client_busy_fraction": round(self.busy_s / elapsed, 2),
            "client_lag_p99_ms": ms(self.lags, 0.99),
            "violation_samples": self.ledger.violations,
        }


def run(address: tuple[str, int], load: Load) -> dict[str, Any]:
    return Swarm(address, load).run()
