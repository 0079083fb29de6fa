"""What test clients say: unique names, and the few documents every driver builds.

The suite's cases, the probe and the fuzzer all join with `connect_doc`, talk to themselves with
`direct` (ROUTE-6: the self-echo that tells a client the target has handled all it sent), and
recognise that echo with `is_echo`. `Tokens` keeps the names and rooms of one case apart from
those of every other.
"""

from __future__ import annotations

import itertools
import random
import string
from typing import Any


class Tokens:
    """Short unique suffixes, so names and rooms of one case never meet those of another."""

    def __init__(self) -> None:
        alphabet = string.ascii_lowercase + string.digits
        self.salt = "".join(random.choice(alphabet) for _ in range(3))
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.salt}{next(self._counter):x}"


def connect_doc(name: str, rooms: list[str]) -> dict[str, Any]:
    return {"action": "connect", "user_name": name, "targets": rooms}


def direct(name: str, text: str, target: str | None = None) -> dict[str, Any]:
    return {"action": "message", "user_name": name, "target": target or name, "message": text}


def is_echo(value: Any, name: str, text: str) -> bool:
    return isinstance(value, dict) and value.get("history") == [
        {"target": name, "from": name, "message": text}
    ]
