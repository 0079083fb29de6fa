"""The session state machine, built from machine.json into a `transitions.Machine`.

One Machine serves every session: sessions are plain objects with a `state` attribute, passed to
the Machine rather than added to it. That avoids `add_model`, whose cost grows with the number of
models, and a Machine per session (about 18 KiB each), so 10,000 sessions stay cheap. The engine
(`Engine._fire`) reads a transition's destination from `transition_table`, which is derived from
the Machine, not from the JSON, and moves the session there with `machine.set_state(state,
session)`; self-loops (e.g. `message` in `connected`) change nothing and are skipped. That is
right because the Machine has no callbacks or conditions (tests/engine/test_outcomes.py holds it
to that); only for an event with no transition (which raises) does it call
`machine.events[trigger].trigger(session)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from transitions import Machine

from protocol import ErrorCode, SessionState, Trigger, error_rule, error_text, machine_spec


@dataclass(frozen=True)
class Refusal:
    """An event that is illegal in a state, and the protocol error that answers it."""

    trigger: Trigger
    source: SessionState
    error: ErrorCode
    requirements: tuple[str, ...]


def build_machine() -> Machine:
    """A fresh Machine with no models attached (sessions are passed to `set_state` or
    `Event.trigger`)."""
    spec = machine_spec()
    return Machine(
        model=None,
        states=[s["name"] for s in spec["states"]],
        initial=spec["initial"],
        transitions=[
            {"trigger": t["trigger"], "source": t["source"], "dest": t["dest"]}
            for t in spec["transitions"]
        ],
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )


@cache
def shared_machine() -> Machine:
    return build_machine()


def transition_table(machine: Machine) -> Mapping[tuple[str, str], str]:
    """(state, trigger) -> next state, read back from the Machine itself."""
    table: dict[tuple[str, str], str] = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            dest = transitions[0].dest
            if dest is None:
                raise ValueError(f"internal transition {trigger} in {source} is not supported")
            table[(source, trigger)] = dest
    return table


@cache
def refusals() -> Mapping[tuple[str, str], Refusal]:
    """(state, trigger) -> how the protocol refuses that event in that state; the rule comes
    from errors.json, which names the rule of every error."""
    return {
        (r["source"], r["trigger"]): Refusal(
            Trigger(r["trigger"]),
            SessionState(r["source"]),
            ErrorCode(r["error"]),
            (error_rule(r["error"], r["trigger"]),),
        )
        for r in machine_spec()["refusals"]
    }


def mermaid(machine: Machine | None = None) -> str:
    """The machine as a Mermaid state diagram; refusals are drawn as notes."""
    machine = machine or build_machine()
    spec = machine_spec()
    lines = ["stateDiagram-v2", f"    [*] --> {spec['initial']}"]
    for (source, trigger), dest in sorted(transition_table(machine).items()):
        lines.append(f"    {source} --> {dest}: {trigger}")
    for state in spec["states"]:
        if state.get("final"):
            lines.append(f"    {state['name']} --> [*]")
    for (source, trigger), refusal in sorted(refusals().items()):
        lines.append(f"    note right of {source}: {trigger} refused, {error_text(refusal.error)}")
    return "\n".join(lines) + "\n"
