"""Cases made from the protocol's data: client fixtures and the state machine.

A fixture document the server must refuse names its exact error; one it must accept names the
effect to observe, by action. Fixture documents use fixed names (`@alice`, `#general`), which
would collide between cases on one long-running target, so `personalise` makes them unique while
keeping each name's UTF-8 length and prefix: the 60-byte names stay 60 bytes, the multi-byte
ones stay mostly multi-byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import protocol
from protocol import ErrorCode
from protocol.case_rules import fixture_rules, transition_rules
from protocol.statemachine import refusals
from protocol.validator import client_error_codes, client_error_message

MAX_NAME = protocol.limits()["max_name_bytes"]


@dataclass(frozen=True)
class FixtureCase:
    id: str
    schema: str
    document: Any
    error: str | None  # the exact text the server must answer with, or None: accepted
    rules: tuple[str, ...]
    # The texts of the other errors that apply: answering one of them breaks VALIDATE-6.
    others: tuple[str, ...] = ()


def _first_error(document: Any) -> str | None:
    """The text of the error a server answers a client document with, or None: accepted.
    `conformance.documents.expected_error` gives the same, for a document made from a named
    schema."""
    return client_error_message(document) if client_error_codes(document) else None


class MislabelledFixture(ValueError):
    """A fixture whose label the reference validator contradicts: the data must be fixed."""


def fixture_cases() -> list[FixtureCase]:
    """A case per client fixture, expecting what its label says: accepted when `valid`, else
    answered with its `error`. The label is the truth; if the reference validator (envelope,
    then the action's schema, as a server checks) disagrees, no case is made at all."""
    cases = []
    for group in protocol.fixtures():
        if not group["schema"].startswith("client/"):
            continue
        for test in group["tests"]:
            document = test["data"]
            case_id = f"{group['schema']}: {test['description']}"
            text = _first_error(document)
            labelled = None if test["valid"] else test.get("error")
            if text != labelled:
                raise MislabelledFixture(
                    f"{case_id}: labelled {labelled or 'valid'!r}, the validator says "
                    f"{text or 'valid'!r}"
                )
            rules = fixture_rules(document)
            others = tuple(_error_text(c, document) for c in client_error_codes(document)[1:])
            cases.append(FixtureCase(case_id, group["schema"], document, text, rules, others))
    return cases


def _error_text(code: ErrorCode, document: Any) -> str:
    action = document.get("action") if isinstance(document, dict) else None
    return protocol.error_text(code, action=action)


def personalise(document: dict[str, Any], token: str) -> dict[str, Any]:
    """The same document with every name made unique by `token`, lengths kept."""
    renamed: dict[str, str] = {}

    def rename(name: str) -> str:
        if name == protocol.ALL_ROOM or name[:1] not in ("@", "#"):
            return name
        if name not in renamed:
            renamed[name] = _with_token(name, token)
        return renamed[name]

    out = dict(document)
    for key in ("user_name", "target"):
        if isinstance(out.get(key), str):
            out[key] = rename(out[key])
    if isinstance(out.get("targets"), list):
        out["targets"] = [rename(t) if isinstance(t, str) else t for t in out["targets"]]
    return out


def _with_token(name: str, token: str) -> str:
    size = len(name.encode("utf-8"))
    if size + len(token) <= MAX_NAME:
        return name + token
    kept, freed = name, 0
    while freed < len(token):
        freed += len(kept[-1].encode("utf-8"))
        kept = kept[:-1]
    return kept + token + "x" * (freed - len(token))


@dataclass(frozen=True)
class TransitionCase:
    id: str
    trigger: str
    source: str
    dest: str
    rules: tuple[str, ...]


def transition_cases() -> list[TransitionCase]:
    """Every transition of machine.json, citing only rules its driver (test_states.py) can fail.

    STATE-1 is cited where the session must stay `connected`, which the driver checks by
    settling it; a transition to `closed` is shown by its own rule (DISCONNECT-1, LIMIT-1/2,
    SHUTDOWN-1), so a kick, say, can fail LIMIT-1 or LIMIT-2 but not STATE-1.
    """
    cases = []
    for t in protocol.machine_spec()["transitions"]:
        rules = transition_rules(t)
        name = f"{t['trigger']} in {t['source']}"
        cases.append(TransitionCase(name, t["trigger"], t["source"], t["dest"], rules))
    return cases


def refusal_cases() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(trigger, state, error text, rules) of every event the machine refuses."""
    return [
        (r.trigger, r.source, protocol.error_text(r.error), r.requirements)
        for r in refusals().values()
    ]
