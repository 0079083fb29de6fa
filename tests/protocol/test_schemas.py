"""The schema files: valid, documented, portable across drafts, and in line with limits.json."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from protocol import ALL_SCHEMAS, CLIENT_SCHEMAS, limits, schema
from protocol.validator import is_valid

# Keywords whose meaning is the same in draft-07 and 2020-12 (plus our one extension).
PORTABLE = {
    "$schema",
    "$id",
    "title",
    "description",
    "examples",
    "type",
    "properties",
    "required",
    "const",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "items",
    "maxItems",
    "minimum",
    "not",
    "x-maxUtf8Bytes",
}


def subschemas(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for prop in node.get("properties", {}).values():
        yield from subschemas(prop)
    for key in ("items", "not"):
        if isinstance(node.get(key), dict):
            yield from subschemas(node[key])


@pytest.mark.parametrize("name", ALL_SCHEMAS)
@pytest.mark.parametrize("meta", [jsonschema.Draft202012Validator, jsonschema.Draft7Validator])
def test_schema_is_valid_against_metaschema(name: str, meta: Any) -> None:
    meta.check_schema(schema(name))


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_schema_is_documented(name: str) -> None:
    body = schema(name)
    for key in ("$id", "$schema", "title", "description", "examples"):
        assert body.get(key), f"{name} lacks {key}"
    assert body["$id"] == f"urn:jsonchat:v1:{name.replace('/', ':')}"


@pytest.mark.parametrize("name", ALL_SCHEMAS)
@pytest.mark.parametrize("draft", ["2020-12", "draft-07"])
def test_schema_examples_are_valid(name: str, draft: Any) -> None:
    for example in schema(name)["examples"]:
        assert is_valid(name, example, draft), example


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_schema_uses_only_portable_keywords(name: str) -> None:
    for node in subschemas(dict(schema(name))):
        extra = set(node) - PORTABLE - {"properties"}
        assert not extra, f"{name} uses {extra}"


def name_fields() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name in CLIENT_SCHEMAS:
        props = schema(name)["properties"]
        for field in ("user_name", "target"):
            if field in props:
                yield name, field, props[field]
        if "targets" in props:
            yield name, "targets[]", props["targets"]["items"]


def test_name_limits_follow_limits_json() -> None:
    max_name = limits()["max_name_bytes"]
    fields = list(name_fields())
    assert len(fields) == 6
    for name, field, body in fields:
        assert body["x-maxUtf8Bytes"] == max_name, (name, field)
        assert body["maxLength"] == max_name, (name, field)
        assert body["minLength"] == 2, (name, field)


def test_all_names_forbid_the_same_characters() -> None:
    forbidden = {body["not"]["pattern"] for _, _, body in name_fields()}
    assert len(forbidden) == 1


def test_text_and_target_count_follow_limits_json() -> None:
    text = schema("client/message")["properties"]["message"]
    assert text["x-maxUtf8Bytes"] == limits()["max_message_bytes"]
    assert schema("client/connect")["properties"]["targets"]["maxItems"] == limits()["max_targets"]


def test_welcome_schema_lists_every_limit() -> None:
    assert set(schema("server/welcome")["properties"]["limits"]["properties"]) == set(limits())
