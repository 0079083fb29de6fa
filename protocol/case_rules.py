"""The rules that each conformance case made from the protocol data checks.

The suite makes cases from the client fixtures and from machine.json
(`conformance/suite/generated.py`), and `jsonchat spec where` lists those cases under their rules
without importing the suite (`protocol/where.py`). Both take the rules from here, so the report of
a run and the answer of `spec where` cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import protocol
from protocol.validator import client_error_codes
from protocol.vocabulary import SessionState, Trigger


def fixture_rules(document: Any) -> tuple[str, ...]:
    """A refused client document: its first error's rule and ERROR-2 (one error per document),
    VALIDATE-6 too when several errors apply (the first in the order the rule gives must come).
    An accepted one: the rules its effect shows (`accepted_rules`)."""
    codes = client_error_codes(document)
    if not codes:
        return accepted_rules(document)
    return (protocol.error_rule(codes[0]), "ERROR-2") + (("VALIDATE-6",) if len(codes) > 1 else ())


def accepted_rules(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The rules a valid document's effect shows, by action; VALIDATE-7 when it carries fields
    its action does not define, VALIDATE-8 when a name or text is exactly at its size limit."""
    action = document["action"]
    rules: tuple[str, ...]
    if action == Trigger.CONNECT:
        rules = ("CONNECT-1",)
    elif action == Trigger.MESSAGE:
        target = document["target"]
        if target == protocol.ALL_ROOM:
            rules = ("ROUTE-8",)
        else:
            rules = ("ROUTE-5",) if target[:1] == "@" else ("ROUTE-1",)
    elif "target" in document:
        rules = ("DISCONNECT-3",)
    else:
        rules = ("DISCONNECT-1", "DISCONNECT-2")
    if set(document) - set(protocol.schema(f"client/{action}").get("properties", {})):
        rules += ("VALIDATE-7",)
    if _at_a_limit(document):
        rules += ("VALIDATE-8",)
    return rules


def _at_a_limit(document: Mapping[str, Any]) -> bool:
    strings = [v for v in document.values() if isinstance(v, str)]
    strings += [t for t in document.get("targets", []) if isinstance(t, str)]
    limits = protocol.limits()
    sizes = {len(s.encode("utf-8")) for s in strings}
    return bool(sizes & {limits["max_name_bytes"], limits["max_message_bytes"]})


def transition_rules(transition: Mapping[str, Any]) -> tuple[str, ...]:
    """A transition of machine.json: its own rules, only those its driver can fail.

    STATE-1 where the session must stay `connected`, which the driver checks by settling it; a
    kick, shown by the limit's error and the close, LIMIT-2 too, but not STATE-1."""
    rules = tuple(transition["requirements"])
    if transition["trigger"] == Trigger.KICK:
        rules += ("LIMIT-2",)
    if transition["dest"] == SessionState.CONNECTED:
        rules += ("STATE-1",)
    return rules


__all__ = ["accepted_rules", "fixture_rules", "transition_rules"]
