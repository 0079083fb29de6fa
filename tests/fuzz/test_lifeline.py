"""Lifeline.death against two started nodes: they are watched together, `wait` s in all, so a
death of the last node is seen at once, not after the first node's wait."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from conformance.fuzz.lifeline import Lifeline
from conformance.kit.target import parse_target
from tests.conformance.suiterun import REFERENCE

WAIT_S = 2.0


@pytest.fixture
def two_nodes() -> Iterator[Lifeline]:
    target = parse_target(REFERENCE)
    lifeline = Lifeline(target, more=[target])
    try:
        lifeline.up()
        yield lifeline
    finally:
        lifeline.close()


def test_a_death_of_the_last_node_is_seen_at_once(two_nodes: Lifeline) -> None:
    process = two_nodes.nodes[1].process
    assert process is not None
    process.signal(signal.SIGKILL)
    began = time.monotonic()
    death = two_nodes.death(WAIT_S)
    took = time.monotonic() - began
    assert death is not None and death.description.startswith("#2 "), death
    assert "killed by SIGKILL" in death.description
    assert took < WAIT_S / 2, took  # one after another, it came after node #1's whole wait


def test_with_no_death_the_nodes_share_one_wait(two_nodes: Lifeline) -> None:
    began = time.monotonic()
    assert two_nodes.death(WAIT_S) is None
    took = time.monotonic() - began
    assert WAIT_S <= took < 1.5 * WAIT_S, took
