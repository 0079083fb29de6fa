"""The document generator: valid documents are valid, and each mutation breaks what it claims.

The oracle is the reference validator (jsonschema), never the generator's own idea of the schema:
a mutation must fail with its keyword at its path, in `iter_errors`' own terms. Coverage is
checked too, since a generator that never reaches a limit would pass every other test here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from random import Random
from typing import Any, TypeVar, get_args

import pytest
from hypothesis import Phase, find, given, seed, settings
from hypothesis import strategies as st

import protocol
from conformance.documents import (
    Mutation,
    UnsupportedSchema,
    expected_error,
    invalid,
    invalid_for,
    valid,
    valid_for,
)
from conformance.documents.charsets import Pattern
from conformance.suite.verdicts import requirement
from engine.validation import compiled
from protocol import schema
from protocol.validator import Draft, error_code, error_message, is_valid, validator_class

T = TypeVar("T")
ALL = list(protocol.ALL_SCHEMAS)
CLIENT = list(protocol.CLIENT_SCHEMAS)
ASSERTIONS = {"type", "required", "const", "enum", "pattern", "minLength", "maxLength"}
ASSERTIONS |= {"x-maxUtf8Bytes", "maxItems", "minimum", "not"}
SHRINK = settings(max_examples=2000, database=None, phases=[Phase.generate, Phase.shrink])


def seeded(test: Callable[..., None]) -> Callable[..., None]:
    """Examples from a fixed seed: a property is checked on each, coverage over the run."""
    runs: Callable[..., None] = seed(0)(
        settings(max_examples=150, deadline=None, database=None)(test)
    )
    return runs


def shrunk(strategy: st.SearchStrategy[T], condition: Callable[[T], bool]) -> T:
    """The minimal example satisfying `condition`; the same one on every run."""
    return find(strategy, condition, settings=SHRINK, random=Random(0))


def failing(
    body: Mapping[str, Any], document: Any, draft: Draft = "2020-12"
) -> set[tuple[str, tuple[str | int, ...]]]:
    """(keyword, path) of every error the reference validator reports."""
    errors = validator_class(draft)(body).iter_errors(document)
    return {(e.validator, tuple(e.absolute_path)) for e in errors}


def at(document: Any, body: Mapping[str, Any], path: tuple[str | int, ...]) -> tuple[Any, Any]:
    """The value at `path` and the subschema it answers to."""
    for step in path:
        document = document[step]
        body = body["items"] if isinstance(step, int) else body["properties"][step]
    return document, body


def children(body: Mapping[str, Any], *applicators: str) -> list[Mapping[str, Any]]:
    """The subschemas under `properties` and the given `applicators` (e.g. `items`)."""
    return [*body.get("properties", {}).values(), *(body[k] for k in applicators if k in body)]


def keywords(body: Mapping[str, Any]) -> set[str]:
    """The assertion keywords of a schema, read straight from the schema (not the generator)."""
    found = set(body) & ASSERTIONS - ({"minLength"} if body.get("minLength") == 0 else set())
    for sub in children(body, "items"):
        found |= keywords(sub)
    return found


def limit_facts(body: Mapping[str, Any], where: str = "") -> Iterator[str]:
    """What valid documents should show now and then, read from the schema."""
    if body.get("type") == "string" and {"maxLength", "x-maxUtf8Bytes"} & set(body):
        for key in ("minLength", "maxLength"):
            if key in body:
                yield f"{where}: {body[key]} code points"
        if "x-maxUtf8Bytes" in body:
            yield f"{where}: {body['x-maxUtf8Bytes']} bytes, multi-byte"
        yield from (f"{where}: a {n}-byte character" for n in (2, 3, 4))
    if "maxItems" in body:
        yield from (f"{where}: {n} items" for n in (0, body["maxItems"]))
    if "items" in body:
        yield from limit_facts(body["items"], f"{where}/*")
    if body.get("type") == "object":
        yield f"{where}: an unknown field"
    for key, sub in body.get("properties", {}).items():
        yield f"{where}/{key}: present"
        if key not in body.get("required", []):
            yield f"{where}/{key}: absent"
        yield from limit_facts(sub, f"{where}/{key}")


def facts(body: Mapping[str, Any], value: Any, where: str = "") -> Iterator[str]:
    """What one valid value shows, in the terms of `limit_facts`."""
    if isinstance(value, str):
        multi = "" if value.isascii() else ", multi-byte"
        yield f"{where}: {len(value)} code points"
        yield f"{where}: {len(value.encode())} bytes{multi}"
        yield from {f"{where}: a {len(c.encode())}-byte character" for c in value}
    elif isinstance(value, list):
        yield f"{where}: {len(value)} items"
        for item in value:
            yield from facts(body.get("items", {}), item, f"{where}/*")
    elif isinstance(value, dict):
        properties = body.get("properties", {})
        if set(value) - set(properties):
            yield f"{where}: an unknown field"
        for key, sub in properties.items():
            yield f"{where}/{key}: {'present' if key in value else 'absent'}"
            if key in value:
                yield from facts(sub, value[key], f"{where}/{key}")


def check_mutation(name: str, mutation: Mutation) -> None:
    check_broken(schema(name), mutation)
    if name in CLIENT:  # a server must answer it with an error, the one the schema gives
        assert expected_error(name, mutation.document) == error_message(name, mutation.document)
        assert expected_error(name, mutation.document) is not None


def check_broken(schema_body: Mapping[str, Any], mutation: Mutation) -> None:
    """The mutation fails its keyword at its path, in both drafts, and only just."""
    for draft in get_args(Draft):
        assert (mutation.keyword, mutation.path) in failing(
            schema_body, mutation.document, draft
        ), mutation
    value, body = at(mutation.document, schema_body, mutation.path)
    over = {"maxLength": len, "x-maxUtf8Bytes": lambda v: len(v.encode()), "maxItems": len}
    if mutation.keyword in over:  # one over the limit: not two, not "somewhere above"
        assert over[mutation.keyword](value) == body[mutation.keyword] + 1, mutation
    if mutation.keyword == "minLength":
        assert len(value) == body["minLength"] - 1, mutation
    if mutation.keyword == "minimum":  # just below, where an off-by-one would let it through
        assert body["minimum"] - 4 <= value < body["minimum"], mutation
    if mutation.keyword == "required":  # one field gone, not several
        assert len(set(body["required"]) - set(value)) == 1, mutation


@pytest.mark.parametrize("name", ALL)
def test_valid_documents_are_valid_and_reach_every_limit(name: str) -> None:
    body, seen = schema(name), set[str]()

    @seeded
    @given(valid_for(name))
    def check(document: Any) -> None:
        assert is_valid(name, document), document
        assert is_valid(name, document, "draft-07"), document
        if name in CLIENT and name != "client/envelope":  # the envelope lets any fields be
            assert expected_error(name, document) is None
        seen.update(facts(body, document))

    check()
    assert set(limit_facts(body)) - seen == set()


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=80, deadline=None, database=None)
@given(data=st.data())
def test_mutations_fail_with_their_keyword_where_they_claim(name: str, data: st.DataObject) -> None:
    check_mutation(name, data.draw(invalid_for(name)))


BREAKABLE = [(name, keyword) for name in ALL for keyword in sorted(keywords(schema(name)))]


@pytest.mark.parametrize(("name", "keyword"), BREAKABLE)
def test_every_keyword_is_broken_and_keeps_its_label_once_shrunk(name: str, keyword: str) -> None:
    mutation = shrunk(invalid_for(name, keyword), lambda m: True)
    assert mutation.keyword == keyword
    check_mutation(name, mutation)


def test_a_shrunk_non_ascii_message_is_still_valid_and_non_ascii() -> None:
    document = shrunk(valid_for("client/message"), lambda d: not d["message"].isascii())
    assert is_valid("client/message", document)
    assert not document["message"].isascii()
    assert len(document["message"]) == 1, document  # shrinking got somewhere


def test_a_shrunk_mutation_deep_in_an_array_keeps_its_label() -> None:
    mutation = shrunk(invalid_for("client/connect", "not"), lambda m: len(m.path) == 2)
    assert mutation.path == ("targets", 0)
    assert mutation.document["targets"] == ["#\x00"], mutation
    check_mutation("client/connect", mutation)


@pytest.mark.parametrize("name", [n for n in CLIENT if "x-maxUtf8Bytes" in keywords(schema(n))])
def test_multi_byte_characters_break_the_byte_limit_alone(name: str) -> None:
    """The case servers that count code points get wrong: few enough of them, too many bytes."""

    def bytes_only(m: Mutation) -> bool:
        return {k for k, _ in failing(schema(name), m.document)} == {"x-maxUtf8Bytes"}

    mutation = shrunk(invalid_for(name, "x-maxUtf8Bytes"), bytes_only)
    value, body = at(mutation.document, schema(name), mutation.path)
    assert len(value) <= body["maxLength"] < len(value.encode()), mutation
    check_mutation(name, mutation)


# Keyword combinations the protocol's schemas do not (yet) use: the generator reads schemas, not
# the protocol, so it must honour and break these too.
SYNTHETIC = {
    "more bytes than code points": {"type": "string", "maxLength": 5, "x-maxUtf8Bytes": 12},
    "bytes only": {"type": "string", "x-maxUtf8Bytes": 7, "minLength": 1},
    "exact length, two-class head": {
        "type": "string",
        "minLength": 3,
        "maxLength": 3,
        "pattern": "^[a-c]x",
        "not": {"pattern": "[b\\u00e9]"},
    },
    "unanchored pattern": {"type": "string", "pattern": "y[0-9]", "maxLength": 4},
    "integer items": {"type": "array", "maxItems": 2, "items": {"type": "integer", "minimum": -3}},
    "fractional minimum": {"type": "number", "minimum": 0.5},
    "mixed enum": {"enum": [1, "a", None]},
    "string or null": {"type": ["string", "null"], "maxLength": 2, "not": {"pattern": "[x]"}},
    "object or null": {
        "type": ["object", "null"],
        "properties": {"a": {"const": [1, 2]}},
        "required": ["a", "b"],
    },
    "array or integer": {
        "properties": {"a": {"type": ["array", "integer"], "minimum": 2, "maxItems": 0}}
    },
}


@pytest.mark.parametrize("body", SYNTHETIC.values(), ids=SYNTHETIC)
@settings(max_examples=40, deadline=None, database=None)
@given(data=st.data())
def test_any_schema_of_the_subset_is_honoured_and_broken(
    body: dict[str, Any], data: st.DataObject
) -> None:
    document = data.draw(valid(body))
    assert failing(body, document) == set(), document
    check_broken(body, data.draw(invalid(body)))


@pytest.mark.parametrize("body", SYNTHETIC.values(), ids=SYNTHETIC)
def test_every_keyword_of_any_schema_is_broken(body: dict[str, Any]) -> None:
    for keyword in keywords(body):
        check_broken(body, shrunk(invalid(body, keyword), lambda m: True))


@requirement("VALIDATE-6")
@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_compiled_validator_agrees_with_the_reference(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(CLIENT))
    document = data.draw(valid_for(name) | invalid_for(name).map(lambda m: m.document))
    for other in CLIENT:
        assert compiled(other).is_valid(document) is is_valid(other, document), other
        assert compiled(other).error_code(document) == error_code(other, document), other


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"type": "array", "uniqueItems": True}, "uniqueItems"),
        ({"properties": {"a": {"type": "integer", "maximum": 3}}}, "#/properties/a.*maximum"),
        ({"type": "string", "format": "email"}, "format"),
        ({"type": "string", "pattern": "^a+"}, "'\\+' is not supported"),
        ({"type": "string", "pattern": "^\\d"}, "escape"),
        ({"type": "string", "not": {"maxLength": 3}}, "`not`"),
        ({"type": "string", "not": {"pattern": "^[a]"}}, "`not`"),
        ({"type": "integer", "not": {"pattern": "[a]"}}, "string schemas only"),
        ({"type": "string", "minLength": 3, "maxLength": 2}, "no string satisfies"),
        ({"type": ["string", "decimal"]}, "unknown type"),
    ],
)
def test_what_the_generator_does_not_know_is_refused(body: Any, complaint: str) -> None:
    with pytest.raises(UnsupportedSchema, match=complaint):
        valid(body)
    with pytest.raises(UnsupportedSchema, match=complaint):
        invalid(body)


def test_asking_for_a_keyword_the_schema_cannot_break_is_refused() -> None:
    with pytest.raises(UnsupportedSchema, match="no keyword to break among maxItems"):
        invalid_for("client/message", "maxItems")


def patterns(body: Mapping[str, Any]) -> Iterator[str]:
    if "pattern" in body:
        yield body["pattern"]
    for sub in children(body, "items", "not"):
        yield from patterns(sub)


@pytest.mark.parametrize("source", sorted({p for n in ALL for p in patterns(schema(n))}))
def test_patterns_are_read_as_python_reads_them(source: str) -> None:
    """The first class, over the first 0x3100 code points (where every class in use lives) and a
    few beyond, each followed by what the later classes accept so that only the first decides."""
    pattern = Pattern.parse(source)
    rest = "".join(atom.nth(0) for atom in pattern.atoms[1:])
    for code in [*range(0x3100), 0xFEFF, 0xFFFF, 0x10000, 0x10FFFF]:
        matched = bool(re.search(source, chr(code) + rest))
        assert (chr(code) in pattern.atoms[0]) is matched, hex(code)


def test_expected_error_checks_the_envelope_first() -> None:
    """The server sees a non-string `action` as a wrong type before it looks for the action."""
    document = {"action": 5, "user_name": "@a", "target": "#b", "message": "hi"}
    assert error_message("client/message", document) == "5 is not a valid action"
    assert expected_error("client/message", document) == "Invalid Field Type"
    assert expected_error("client/envelope", {"action": "connect"}) == "Missing Required Field"
    assert expected_error("client/envelope", {"action": "dance"}) == "dance is not a valid action"
    with pytest.raises(ValueError, match="client documents only"):
        expected_error("server/chat", {"status": "chat", "history": []})
