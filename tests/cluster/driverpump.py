"""Drivers without a server: a selector loop that runs RedisDriver instances and keeps their
events, so the driver's mapping of outputs and events is tested on a real Redis without any
engine (a test plays the engine by hand)."""

from __future__ import annotations

import selectors
import time
from collections.abc import Callable
from typing import TypeVar

import protocol
from engine.events import ClusterEvent, ClusterOutput
from transport.cluster import DriverConfig, RedisDriver, parse_redis_url

E = TypeVar("E")


class Pump:
    def __init__(self, url: str, **limits: int) -> None:
        self.url = url
        self.limits = {**protocol.cluster_limits(), **limits}
        self.selector = selectors.DefaultSelector()
        self.drivers: dict[str, RedisDriver] = {}
        self.events: dict[str, list[ClusterEvent]] = {}

    def node(self, node_id: str) -> RedisDriver:
        config = DriverConfig(parse_redis_url(self.url), node_id, self.limits, 20)
        driver = RedisDriver(config, self.selector)
        driver.start()
        self.drivers[node_id] = driver
        self.events[node_id] = []
        return driver

    def send(self, node_id: str, *outputs: ClusterOutput) -> None:
        for output in outputs:
            self.drivers[node_id].request(output)

    def turn(self, timeout: float = 0.02) -> None:
        for driver in self.drivers.values():
            driver.flush()
        for key, mask in self.selector.select(timeout):
            key.data.on_ready(mask)
        now = time.monotonic()
        for node_id, driver in self.drivers.items():
            driver.on_timer(now)
            self.events[node_id] += driver.take_events()

    def until(self, done: Callable[[], bool], seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; events: {self.events}")
            self.turn()

    def of(self, node_id: str, kind: type[E]) -> list[E]:
        return [e for e in self.events[node_id] if isinstance(e, kind)]

    def close(self) -> None:
        for driver in self.drivers.values():
            driver.close()
        self.selector.close()
