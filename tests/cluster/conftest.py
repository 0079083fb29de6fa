"""The cluster's tests run against a real redis-server (tests/cluster/redis_server.py)."""

from tests.cluster.redis_server import redis_server

__all__ = ["redis_server"]
