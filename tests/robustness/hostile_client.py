"""An attacker on one connection of its own: plays families of the hostile catalogue
(conformance/kit/load/hostile.py) and checks each answer exactly, for as long as it is told."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from conformance.kit.load.hostile import FAMILIES, Case, Scene
from conformance.kit.wire import Closed, WireClient
from tests.transport.netutil import connect, settle

SCENE = Scene(me="@evil", room="#by", victim="@by-a")  # the bystanders' room and a name


def play(client: WireClient, case: Case) -> list[Any]:
    """Write the case, then a barrier: what came back before the barrier is the answer."""
    for i, data in enumerate(case.writes):
        if i and case.pause_s:
            time.sleep(case.pause_s)  # so that the parts arrive in separate reads
        client.send_bytes(data)
    return settle(client)


def attack(
    address: tuple[str, int], me: str, family: str, failures: list[str], seconds: float
) -> None:
    """Play `family` as `me`, again and again for at least `seconds` (whole passes), until a
    failure is recorded in `failures` (by this attacker or any other sharing the list)."""
    cases = list(FAMILIES[family](dataclasses.replace(SCENE, me=me)))
    assert cases, family
    attacker = connect(address, me)
    until = time.monotonic() + seconds
    try:
        while not failures:
            for case in cases:
                got = play(attacker, case)
                if got != list(case.replies):
                    failures.append(f"{me} {case.label}: expected {case.replies!r}, got {got!r}")
            if time.monotonic() > until:
                break
    except (Closed, TimeoutError) as lost:  # the barrier did not come back: the rest is moot
        failures.append(f"{me} lost the connection during {family}: {lost}")
    finally:
        attacker.close()
