"""jsonchat protocol v1, as data.

Everything the engine, the server, the spec and the conformance suite know about the protocol is
read from the JSON files in this package, so that there is one truth to change. This module only
loads and types that data; it has no behaviour of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from protocol.vocabulary import ErrorCode, SessionState, Trigger

__all__ = [
    "ALL_SCHEMAS",
    "CLIENT_SCHEMAS",
    "LEVELS",
    "PROFILES",
    "SERVER_SCHEMAS",
    "VERSION",
    "ErrorCode",
    "Level",
    "Profile",
    "Requirement",
    "SessionState",
    "Trigger",
    "cluster_limits",
    "error_rule",
    "error_table",
    "error_text",
    "fixtures",
    "limit_table",
    "limits",
    "load_json",
    "machine_spec",
    "requirements",
    "requirements_by_id",
    "schema",
    "schema_keyword_errors",
    "sections",
]

Level = Literal["MUST", "SHOULD", "MAY"]
Profile = Literal["core", "full"]
LEVELS: tuple[Level, ...] = ("MUST", "SHOULD", "MAY")
PROFILES: tuple[Profile, ...] = ("core", "full")
VERSION = 1

CLIENT_SCHEMAS = ("client/envelope", "client/connect", "client/message", "client/disconnect")
SERVER_SCHEMAS = ("server/welcome", "server/chat", "server/error", "server/disconnect")
ALL_SCHEMAS = CLIENT_SCHEMAS + SERVER_SCHEMAS


@dataclass(frozen=True)
class Requirement:
    """One rule of PROTOCOL.md: the unit the conformance suite reports on."""

    id: str
    section: str
    level: Level
    profile: Profile
    subject: Literal["server", "client"]
    text: str

    def in_profile(self, profile: Profile) -> bool:
        """`core` is a subset of `full`: a core rule is in both profiles."""
        return profile == "full" or self.profile == "core"


def load_json(relative_path: str) -> Any:
    """Read one of the protocol's data files, from the source tree or an installed wheel."""
    return json.loads(resources.files(__name__).joinpath(relative_path).read_text("utf-8"))


@cache
def requirements() -> tuple[Requirement, ...]:
    data = load_json("requirements.json")
    return tuple(
        Requirement(
            id=r["id"],
            section=r["id"].rsplit("-", 1)[0],
            level=r["level"],
            profile=r["profile"],
            subject=r["subject"],
            text=r["text"],
        )
        for r in data["requirements"]
    )


@cache
def reserved_names() -> Mapping[str, Mapping[str, str]]:
    """The names the protocol reserves (`all_room`), each with its value and what it means."""
    return dict(load_json("requirements.json")["names"])


@cache
def sections() -> Mapping[str, str]:
    """Section prefix (e.g. `FRAME`) to its title, in spec order."""
    return dict(load_json("requirements.json")["sections"])


@cache
def requirements_by_id() -> Mapping[str, Requirement]:
    return {r.id: r for r in requirements()}


@cache
def limit_table() -> Mapping[str, Mapping[str, Any]]:
    """Every limit with its value, scope (`protocol`, `server` or `cluster`) and documentation."""
    return dict(load_json("limits.json"))


@cache
def limits() -> Mapping[str, int]:
    """The default value of every limit a session can meet, by name (the welcome announces
    them); the limits of a cluster's nodes among themselves are `cluster_limits()`."""
    table = limit_table()
    return {
        name: int(entry["value"]) for name, entry in table.items() if entry["scope"] != "cluster"
    }


@cache
def cluster_limits() -> Mapping[str, int]:
    """The default value of every limit of the cluster (`jsonchat serve --redis`), by name:
    between a node and Redis, never seen by a client, so not in the welcome."""
    table = limit_table()
    return {
        name: int(entry["value"]) for name, entry in table.items() if entry["scope"] == "cluster"
    }


@cache
def error_table() -> Mapping[str, Mapping[str, Any]]:
    """Error code (e.g. `malformed_json`) to its wire text template, rule and documentation."""
    return dict(load_json("errors.json")["errors"])


@cache
def schema_keyword_errors() -> tuple[tuple[str, bool, ErrorCode], ...]:
    """(keyword, only at the document root, error code) in precedence order: first match wins."""
    return tuple(
        (e["keyword"], e.get("at") == "root", ErrorCode(e["error"]))
        for e in load_json("errors.json")["schema_keywords"]
    )


def error_rule(code: str, event: str | None = None) -> str:
    """The rule that requires answering with error `code` (after `event`, for an error that
    several events of machine.json can get, such as `name_mismatch`): the one map of errors
    to rules, read by the engine, the state machine's refusals and the conformance suite."""
    rule = error_table()[code]["rule"]
    if isinstance(rule, str):
        return rule
    if event not in rule:
        raise KeyError(f"error {code!r} names a rule per event; {event!r} is not one of {rule}")
    return str(rule[event])


def error_text(code: str, **values: Any) -> str:
    """The exact text sent on the wire for an error code; templates use limits and `values`."""
    template = str(error_table()[code]["text"])
    return template.format(**{**limits(), **values})


@cache
def schema(name: str) -> Mapping[str, Any]:
    """A schema by short name, e.g. `client/connect` or `server/chat`."""
    if name not in ALL_SCHEMAS:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(ALL_SCHEMAS)}")
    loaded: Mapping[str, Any] = load_json(f"schemas/{name}.schema.json")
    return loaded


@cache
def fixtures() -> tuple[Mapping[str, Any], ...]:
    """Test groups in the JSON-Schema-Test-Suite layout, one per schema."""
    groups: list[Mapping[str, Any]] = []
    for name in ALL_SCHEMAS:
        groups.extend(load_json(f"fixtures/{name.replace('/', '.')}.json"))
    return tuple(groups)


@cache
def machine_spec() -> Mapping[str, Any]:
    """The session state machine: states, events, transitions and refusals."""
    loaded: Mapping[str, Any] = load_json("machine.json")
    return loaded


ALL_ROOM: str = reserved_names()["all_room"]["value"]
"""`#all`, the room every connected user is in (ROUTE-8): the one name of it that code uses."""
