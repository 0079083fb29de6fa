"""The engine's outcomes are one closed set: the enum, the table of rules and what is counted.

Also the engine's side of the state machine: every client event a session can send has either
a transition or a refusal in machine.json, so `Engine._refuse` never meets a gap; and the
Machine runs no code of its own on a transition, so `Engine._fire` may set the destination
rather than trigger the event.
"""

from __future__ import annotations

from typing import Any

import pytest
from transitions import Machine

from engine.engine import Engine
from engine.errors import UsageError
from engine.events import ConnectionOpened, Kick
from engine.framing import FRAME_ERRORS
from engine.outcomes import ERROR_OUTCOMES, REFUSED, Outcome
from engine.rules import OUTCOMES, SCHEMA_ERRORS
from protocol import ErrorCode, SessionState, Trigger, error_table, machine_spec
from protocol.statemachine import refusals, shared_machine, transition_table
from tests.engine.harness import Net

LIMIT_CODES = {c for c in ErrorCode if str(error_table()[c]["rule"]).startswith("LIMIT-")}


def test_the_outcome_table_has_exactly_the_outcomes() -> None:
    assert set(OUTCOMES) == set(Outcome)
    assert all(isinstance(outcome, Outcome) for outcome in OUTCOMES)


def test_errors_counted_under_their_own_code_have_an_outcome() -> None:
    counted = {*FRAME_ERRORS, *SCHEMA_ERRORS, *LIMIT_CODES}
    assert counted <= set(ERROR_OUTCOMES)
    assert all(outcome.value == code.value for code, outcome in ERROR_OUTCOMES.items())


def test_every_refusal_has_an_outcome() -> None:
    assert {r.trigger for r in refusals().values()} == set(REFUSED)


def test_every_client_event_is_allowed_or_refused_where_a_frame_can_come() -> None:
    table = transition_table(shared_machine())
    client_events = [
        Trigger(e["name"]) for e in machine_spec()["events"] if e["origin"] == "client"
    ]
    for state in SessionState:
        if any(s.get("final") for s in machine_spec()["states"] if s["name"] == state):
            continue  # a closed session is forgotten; no frame reaches it
        for trigger in client_events:
            assert (state, trigger) in table or (state, trigger) in refusals(), (state, trigger)


def has_callbacks(machine: Machine) -> bool:
    """Whether any transition of `machine` runs code of its own: a callback of the machine, a
    state or a transition, or a condition. Without, a transition is only its new state."""
    machine_wide = (
        machine.prepare_event,
        machine.before_state_change,
        machine.after_state_change,
        machine.finalize_event,
        machine.on_exception,
        machine.on_final,
    )
    states = [callbacks for s in machine.states.values() for callbacks in (s.on_enter, s.on_exit)]
    transitions = [
        callbacks
        for event in machine.events.values()
        for each in event.transitions.values()
        for t in each
        for callbacks in (t.prepare, t.conditions, t.before, t.after)
    ]
    return any(machine_wide) or any(states) or any(transitions)


def test_the_machine_runs_no_code_on_a_transition() -> None:
    # `Engine._fire` sets a transition's destination with `Machine.set_state` instead of
    # `Event.trigger`, which is right only while a transition is nothing but its destination.
    assert not has_callbacks(shared_machine())


@pytest.mark.parametrize(
    "extra",
    [
        {"after_state_change": "log"},
        {"transitions": [{"trigger": "go", "source": "a", "dest": "b", "conditions": "ok"}]},
        {"states": ["a", {"name": "b", "on_enter": "log"}]},
    ],
)
def test_a_callback_or_condition_is_seen(extra: dict[str, Any]) -> None:
    go = {"trigger": "go", "source": "a", "dest": "b"}
    spec: dict[str, Any] = {
        "model": None,
        "states": ["a", "b"],
        "initial": "a",
        "transitions": [go],
    }
    assert not has_callbacks(Machine(**spec))
    assert has_callbacks(Machine(**{**spec, **extra}))


def test_the_engine_counts_outcomes_only() -> None:
    net = Net()
    alice, bob = net.client("@alice", ("#general",)), net.client("@bob", ("#general",))
    alice.say("#general", "hi")
    alice.say("@nobody", "hi")
    bob.send(action="dance")
    alice.send_bytes(b"not json\n")
    net.client().send(action="message", user_name="@carol", target="#general", message="hi")
    assert net.engine.outcomes and all(isinstance(o, Outcome) for o in net.engine.outcomes)


@pytest.mark.parametrize("code", sorted(set(ErrorCode) - LIMIT_CODES))
def test_a_kick_needs_the_error_of_a_limit(code: ErrorCode) -> None:
    engine = Engine()
    engine.handle(ConnectionOpened(1))
    with pytest.raises(UsageError):
        engine.handle(Kick(1, code))


def test_a_kick_with_a_limit_error_is_served() -> None:
    for code in LIMIT_CODES:
        engine = Engine()
        engine.handle(ConnectionOpened(1))
        assert engine.handle(Kick(1, code))
        assert engine.outcomes[ERROR_OUTCOMES[code]] == 1
