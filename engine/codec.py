"""Encoding of server messages: compact JSON, UTF-8, one `\\n` after each (FRAME-9).

orjson writes exactly that (no whitespace, non-ASCII as UTF-8, control characters escaped) and
appends the newline itself. Messages that never change are encoded once, here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import orjson

from protocol import VERSION, ErrorCode, error_text

_NEWLINE = orjson.OPT_APPEND_NEWLINE


def encode(message: Mapping[str, Any]) -> bytes:
    # FRAME-9, FRAME-10: every server message is a JSON object encoded here, compact, UTF-8, one
    # newline; the other builders below fill in only what its status's schema allows.
    return orjson.dumps(message, option=_NEWLINE)


# What `encode` writes around the single entry of a live delivery, cut where the entry goes.
_DELIVERY_HEAD, _DELIVERY_TAIL = encode({"status": "chat", "history": [None]}).split(b"null")
_dumps = orjson.dumps


def encode_delivery(entry: Mapping[str, str]) -> bytes:
    """One live delivery (ROUTE-9): a `chat` with the single entry `{target, from, message}`.

    The same bytes as `encode` on the whole message, but only the entry is encoded: the
    message and list around it would cost a fifth of what a room message costs in the codec.
    """
    return b"".join((_DELIVERY_HEAD, _dumps(entry), _DELIVERY_TAIL))  # ROUTE-9


def delivery(entry_json: bytes) -> bytes:
    """`encode_delivery` of an entry that is already compact JSON (a cluster's broker carries it
    so). `encode_delivery` does not call this: the extra call would cost on its hot path."""
    return b"".join((_DELIVERY_HEAD, entry_json, _DELIVERY_TAIL))  # ROUTE-9


@cache
def error(code: ErrorCode) -> bytes:
    """Error frames for the fixed texts; there are few, so each is encoded once."""
    return encode({"status": "error", "message": error_text(code)})  # ERROR-1


def invalid_action(action: str) -> bytes:
    """Not cached: the text repeats what the peer sent, which is unbounded."""
    text = error_text(ErrorCode.INVALID_ACTION, action=action)  # VALIDATE-2
    return encode({"status": "error", "message": text})


NO_HISTORY = encode({"status": "chat", "history": []})  # CONNECT-2: to rooms with no history


def history_within(history: Sequence[Mapping[str, Any]], limit: int) -> bytes:
    """The reply to `connect` with the most recent entries of `history` that fit in `limit`
    bytes, newline included (COMPAT-4); the entries kept stay oldest first.

    Only called when the whole reply is too big, so the sizes are worked out one entry at a time,
    newest first, and the walk stops at the first entry that does not fit: the history stays a
    run of the most recent messages, with no gap.
    """
    size = len(NO_HISTORY)
    kept = 0
    for entry in reversed(history):
        size += len(orjson.dumps(entry)) + (1 if kept else 0)  # the comma between two entries
        if size > limit:  # COMPAT-4: the most recent entries that fit
            break
        kept += 1
    return encode({"status": "chat", "history": history[len(history) - kept :]})


DISCONNECT = encode({"status": "disconnect"})  # DISCONNECT-2, SHUTDOWN-1, LIMIT-1


def left(room: str) -> bytes:
    return encode({"status": "disconnect", "target": room})  # DISCONNECT-3


def welcome(text: str, limits: Mapping[str, int]) -> bytes:
    message = {"status": "welcome", "message": text, "version": VERSION, "limits": limits}
    return encode(message)  # WELCOME-1
