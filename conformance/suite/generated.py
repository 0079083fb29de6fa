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
from protocol import ErrorCode, SessionState, Trigger
from protocol.statemachine import refusals
from protocol.validator import client_error_codes, client_error_message

MAX_NAME = protocol.limits()["max_name_bytes"]
MAX_TEXT = protocol.limits()["max_message_bytes"]


@dataclass(frozen=True)
class FixtureCase:
    id: str
    schema: str
    document: Any
    error: str | None  # the exact text the server must answer with, or None: accepted
    rules: tuple[str, ...]
    # The texts of the other errors that apply: answering one of them breaks VALIDATE-6.
    others: tuple[str, ...] = ()


def _first_error(document: Any) -> tuple[str | None, ErrorCode | None, int]:
    """The error a server answers a client document with: (its text, its code, how many
    distinct errors apply; VALIDATE-6 sends one). `conformance.documents.expected_error` gives
    the text alone, for a document made from a named schema."""
    codes = client_error_codes(document)
    if not codes:
        return None, None, 0
    return client_error_message(document), codes[0], len(codes)


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
            text, code, several = _first_error(document)
            labelled = None if test["valid"] else test.get("error")
            if text != labelled:
                raise MislabelledFixture(
                    f"{case_id}: labelled {labelled or 'valid'!r}, the validator says "
                    f"{text or 'valid'!r}"
                )
            rules: tuple[str, ...]
            if text is not None and code is not None:
                rules = (protocol.error_rule(code), "ERROR-2")
                rules += ("VALIDATE-6",) if several > 1 else ()
            else:
                rules = accepted_rules(document)
            others = tuple(_error_text(c, document) for c in client_error_codes(document)[1:])
            cases.append(FixtureCase(case_id, group["schema"], document, text, rules, others))
    return cases


def _error_text(code: ErrorCode, document: Any) -> str:
    action = document.get("action") if isinstance(document, dict) else None
    return protocol.error_text(code, action=action)


def accepted_rules(document: dict[str, Any]) -> tuple[str, ...]:
    """The rules a valid document's effect shows; VALIDATE-7/8 when it has extras or long fields."""
    action = document["action"]
    if action == "connect":
        rules: tuple[str, ...] = ("CONNECT-1",)
    elif action == "message":
        target = document["target"]
        rules = (
            ("ROUTE-8",)
            if target == protocol.ALL_ROOM
            else ("ROUTE-5",)
            if target[0] == "@"
            else ()
        )
        rules = rules or ("ROUTE-1",)
    elif "target" in document:
        rules = ("DISCONNECT-3",)
    else:
        rules = ("DISCONNECT-1", "DISCONNECT-2")
    known = protocol.schema(f"client/{action}").get("properties", {})
    if set(document) - set(known):
        rules += ("VALIDATE-7",)
    if _at_limit(document):
        rules += ("VALIDATE-8",)
    return rules


def _at_limit(document: dict[str, Any]) -> bool:
    strings = [v for v in document.values() if isinstance(v, str)]
    strings += [t for t in document.get("targets", []) if isinstance(t, str)]
    sizes = {len(s.encode("utf-8")) for s in strings}
    return MAX_NAME in sizes or MAX_TEXT in sizes


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
        rules = tuple(t["requirements"])
        if t["trigger"] == Trigger.KICK:
            rules += ("LIMIT-2",)
        if t["dest"] == SessionState.CONNECTED:
            rules += ("STATE-1",)
        name = f"{t['trigger']} in {t['source']}"
        cases.append(TransitionCase(name, t["trigger"], t["source"], t["dest"], rules))
    return cases


def refusal_cases() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(trigger, state, error text, rules) of every event the machine refuses."""
    return [
        (r.trigger, r.source, protocol.error_text(r.error), r.requirements)
        for r in refusals().values()
    ]
