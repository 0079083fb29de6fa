"""Shared pytest configuration: the `req` marker ties a test to requirement IDs."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "req(*ids): the requirement IDs of PROTOCOL.md a test checks"
    )
