"""The session machine is built from machine.json, and PROTOCOL.md shows the current one."""

from __future__ import annotations

import pytest
from transitions import MachineError

from protocol import machine_spec
from protocol.render import SPEC_PATH
from protocol.statemachine import build_machine, mermaid, refusals, transition_table


class Session:
    def __init__(self) -> None:
        self.state = machine_spec()["initial"]


def test_machine_has_the_states_and_transitions_of_the_data() -> None:
    machine = build_machine()
    spec = machine_spec()
    assert set(machine.states) == {s["name"] for s in spec["states"]}
    expected = {(t["source"], t["trigger"]): t["dest"] for t in spec["transitions"]}
    assert dict(transition_table(machine)) == expected


def test_a_shared_machine_drives_plain_sessions() -> None:
    machine = build_machine()
    alice, bob = Session(), Session()
    machine.events["connect"].trigger(alice)
    assert (alice.state, bob.state) == ("connected", "awaiting_connect")
    machine.events["disconnect"].trigger(alice)
    assert alice.state == "closed"


def test_closed_is_final() -> None:
    machine = build_machine()
    session = Session()
    machine.events["shutdown"].trigger(session)
    for trigger in machine.events:
        with pytest.raises(MachineError):
            machine.events[trigger].trigger(session)


def test_refusals_are_exactly_the_illegal_client_events_of_live_states() -> None:
    spec = machine_spec()
    table = transition_table(build_machine())
    client_events = [e["name"] for e in spec["events"] if e["origin"] == "client"]
    live = [s["name"] for s in spec["states"] if not s.get("final")]
    illegal = {(s, e) for s in live for e in client_events if (s, e) not in table}
    assert set(refusals()) == illegal


def test_committed_diagram_matches_the_machine() -> None:
    assert mermaid() in SPEC_PATH.read_text("utf-8"), "run `jsonchat spec render`"
