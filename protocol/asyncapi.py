"""An AsyncAPI 3.0 description of the reference server, built from the schema files.

The document describes the server: it receives the client actions and sends the statuses. Framing
and limits have no AsyncAPI vocabulary, so they travel as `x-` extensions.
"""

from __future__ import annotations

from typing import Any

from protocol import CLIENT_SCHEMAS, SERVER_SCHEMAS, limits, schema

SCHEMA_FORMAT = "application/schema+json;version=draft-07"


def _key(name: str) -> str:
    return name.replace("/", ".")


def _message(name: str) -> dict[str, Any]:
    body = schema(name)
    return {
        "name": _key(name),
        "title": body["title"],
        "summary": body["description"],
        "contentType": "application/json",
        "payload": {
            "schemaFormat": SCHEMA_FORMAT,
            "schema": {"$ref": f"#/components/schemas/{_key(name)}"},
        },
        "examples": [{"payload": example} for example in body.get("examples", [])],
    }


def document() -> dict[str, Any]:
    names = [n for n in CLIENT_SCHEMAS if n != "client/envelope"] + list(SERVER_SCHEMAS)
    channel_ref = {"$ref": "#/channels/session"}

    def operation(action: str, name: str) -> dict[str, Any]:
        return {
            "action": action,
            "channel": channel_ref,
            "messages": [{"$ref": f"#/channels/session/messages/{_key(name)}"}],
        }

    operations = {f"receive.{_key(n)}": operation("receive", n) for n in CLIENT_SCHEMAS[1:]}
    operations |= {f"send.{_key(n)}": operation("send", n) for n in SERVER_SCHEMAS}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "jsonchat reference server",
            "version": "1.0.0",
            "description": "JSON-over-TCP chat, protocol version 1. See PROTOCOL.md for the rules.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "reference": {"host": "127.0.0.1:7775", "protocol": "tcp", "description": "default"}
        },
        "channels": {
            "session": {
                "title": "One TCP connection",
                "messages": {_key(n): {"$ref": f"#/components/messages/{_key(n)}"} for n in names},
            }
        },
        "operations": operations,
        "components": {
            "schemas": {_key(n): dict(schema(n)) for n in (*CLIENT_SCHEMAS, *SERVER_SCHEMAS)},
            "messages": {_key(n): _message(n) for n in names},
        },
        "x-framing": {
            "encoding": "UTF-8",
            "inbound": "one JSON object per frame; a frame ends at \\n or at the } closing the "
            "object",
            "outbound": "compact JSON, one object per line, each followed by \\n",
        },
        "x-limits": dict(limits()),
    }
