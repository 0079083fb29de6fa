"""What server messages look like: the predicates every check of the suite is written with.

They are lenient where clients must be (CLIENT-2: unknown fields are ignored) and exact where the
rules are: a delivery has one entry whose three fields match, an error has a string message.
"""

from __future__ import annotations

from typing import Any

from conformance.kit.wire import Garbage, Packet
from protocol import error_text
from protocol.validator import is_valid

SERVER_STATUSES = ("welcome", "chat", "error", "disconnect")


def show(value: Any) -> str:
    if isinstance(value, Packet):
        value = value.value
    if isinstance(value, Garbage):
        return f"garbage {value.data[:200]!r}"
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."


def delivery(target: str, sender: str, text: str) -> dict[str, Any]:
    return {"status": "chat", "history": [{"target": target, "from": sender, "message": text}]}


def error(code: str, **values: Any) -> dict[str, Any]:
    """The exact error message the spec gives for `code` (protocol/errors.json)."""
    return {"status": "error", "message": error_text(code, **values)}


DISCONNECTED: dict[str, Any] = {"status": "disconnect"}


def is_delivery(value: Any, target: str, sender: str, text: str) -> bool:
    """ROUTE-9's shape; fields a server adds are allowed (clients ignore them, CLIENT-2)."""
    if not isinstance(value, dict) or value.get("status") != "chat":
        return False
    history = value.get("history")
    if not isinstance(history, list) or len(history) != 1 or not isinstance(history[0], dict):
        return False
    entry = history[0]
    return (entry.get("target"), entry.get("from"), entry.get("message")) == (target, sender, text)


def is_error(value: Any, text: str | None = None) -> bool:
    return (
        isinstance(value, dict)
        and value.get("status") == "error"
        and isinstance(value.get("message"), str)
        and (text is None or value["message"] == text)
    )


def is_chat(value: Any) -> bool:
    return isinstance(value, dict) and value.get("status") == "chat"


def is_welcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("status") == "welcome"


def is_server_message(value: Any) -> bool:
    """FRAME-10: a JSON object whose `status` is a server status and that validates against the
    schema of that status."""
    status = value.get("status") if isinstance(value, dict) else None
    return status in SERVER_STATUSES and is_valid(f"server/{status}", value)
