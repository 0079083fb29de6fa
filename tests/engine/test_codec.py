"""The codec's shortcuts write exactly what `encode` writes for the whole message."""

from __future__ import annotations

import orjson

from engine import codec


def test_a_delivery_is_the_same_bytes_from_an_entry_or_its_json() -> None:
    entry = {"target": "#r", "from": "@ann", "message": 'héllo "\\" \n\u2028'}
    whole = codec.encode({"status": "chat", "history": [entry]})
    assert codec.encode_delivery(entry) == codec.delivery(orjson.dumps(entry)) == whole


def test_no_history_is_a_chat_with_an_empty_history() -> None:
    assert codec.encode({"status": "chat", "history": []}) == codec.NO_HISTORY
    assert codec.history_within([{"target": "#r", "from": "@a", "message": "x"}], 10) == (
        codec.NO_HISTORY
    )
