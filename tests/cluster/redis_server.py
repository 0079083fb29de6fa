"""A real redis-server for the cluster's tests: `benchmarks.redisproc.RedisServer`, throw-away,
on a free port, without persistence (see there for kill, restart and CLIENT KILL)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from benchmarks.redisproc import RedisServer

__all__ = ["RedisServer", "redis_server"]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: `make redis` installs it")
    with RedisServer() as server:  # in a temporary directory of its own, removed after
        yield server
