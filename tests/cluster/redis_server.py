"""A real redis-server for the cluster's tests: `benchmarks.redisproc.RedisServer`, throw-away,
on a free port, without persistence (see there for kill, start again and CLIENT KILL); it fails
to start, saying `make redis` installs it, where redis-server is missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.redisproc import RedisServer

__all__ = ["RedisServer", "redis_server"]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:  # in a temporary directory of its own, removed after
        yield server
