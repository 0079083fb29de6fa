"""Values valid against a schema of our keyword subset, as Hypothesis strategies.

`hypothesis-jsonschema` would do this in general, but its last release breaks on current
Hypothesis and skips keywords it does not know, which is the opposite of what a conformance suite
needs. This generator knows exactly the keywords the protocol's schemas use and refuses any other
(`UnsupportedSchema`), so a schema change cannot quietly leave documents untested.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from conformance.documents.charsets import UnsupportedSchema
from conformance.documents.strings import STRING_KEYWORDS, StringRules, strings
from protocol.keywords import ANNOTATIONS, APPLIES_TO, JSON_TYPES

KEYWORDS = ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "const",
    "enum",
    "items",
    "maxItems",
    "minimum",
    *STRING_KEYWORDS,
}
# The JSON type each keyword constrains, `not` too, which this generator supports on strings
# only: what a type-less schema's keywords imply about the value they are meant for.
KEYWORD_TYPE = {**APPLIES_TO, "not": "string"}
# JSON allows any integer, but encoders (orjson among them) stop at 64 bits.
INT64 = (-(2**63), 2**63 - 1)
_FEW = 4  # items drawn one by one; longer arrays repeat them

TEXT = st.text(st.characters(codec="utf-8"), max_size=8)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(*INT64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


def check(body: Any, where: str = "#") -> None:
    """Refuse, with the offending place, any schema this generator could not honour and break."""
    if not isinstance(body, Mapping):
        raise UnsupportedSchema(f"{where}: only object schemas are supported, not {body!r}")
    unknown = sorted(set(body) - KEYWORDS)
    if unknown:
        raise UnsupportedSchema(
            f"{where}: the document generator does not know the keyword(s) {', '.join(unknown)};"
            " teach conformance/documents/instances.py and mutations.py before using them"
        )
    for kind in types_of(body):
        if kind not in JSON_TYPES:
            raise UnsupportedSchema(f"{where}: unknown type {kind!r}")
    if "string" in types_of(body):
        StringRules.of(body)  # parses `pattern` and `not`, and checks that a string can exist
    elif "not" in body:
        raise UnsupportedSchema(f"{where}: `not` is supported on string schemas only")
    for key, sub in body.get("properties", {}).items():
        check(sub, f"{where}/properties/{key}")
    if "items" in body:
        check(body["items"], f"{where}/items")


def types_of(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The declared types, or those the keywords imply; () means any JSON value."""
    declared = body.get("type")
    if declared is not None:
        return (declared,) if isinstance(declared, str) else tuple(declared)
    if "const" in body or "enum" in body:
        return ()
    implied = {kind for key, kind in KEYWORD_TYPE.items() if key in body}
    return tuple(kind for kind in JSON_TYPES if kind in implied)


def valid(body: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against `body`; raises `UnsupportedSchema` on anything it cannot honour."""
    check(body)
    return values(body)


def values(body: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """`valid` without the check, for subschemas of a checked schema."""
    if "const" in body:
        return st.just(body["const"]).map(copy.deepcopy)
    if "enum" in body:
        return st.sampled_from(body["enum"]).map(copy.deepcopy)
    # `not: {pattern}` holds for strings only: a pattern passes any other value, so `not` fails.
    kinds = ("string",) if "not" in body else types_of(body)
    return st.one_of([of_type(kind, body) for kind in kinds]) if kinds else JSON_VALUES


def of_type(kind: str, body: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values of one JSON type valid against `body` (which may allow other types too)."""
    minimum = body.get("minimum")
    if kind == "string":
        return strings(StringRules.of(body))
    if kind in ("integer", "number"):
        low = INT64[0] if minimum is None else max(INT64[0], math.ceil(minimum))
        integers = st.integers(low, INT64[1])
        if kind == "integer":
            return integers
        return integers | st.floats(min_value=minimum, allow_nan=False, allow_infinity=False)
    if kind == "array":
        return _arrays(body)
    if kind == "object":
        return _objects(body)
    return st.none() if kind == "null" else st.booleans()


def repeat(items: list[Any], count: int) -> list[Any]:
    """`count` items cycling through `items`, each its own copy."""
    return [copy.deepcopy(items[i % len(items)]) for i in range(count)]


def _arrays(body: Mapping[str, Any]) -> st.SearchStrategy[list[Any]]:
    item = values(body.get("items", {}))
    cap = body.get("maxItems")
    few = st.lists(item, max_size=_FEW if cap is None else min(cap, _FEW))
    if cap is None or cap <= _FEW:
        return few
    full = st.builds(repeat, st.lists(item, min_size=1, max_size=3), st.integers(cap - 2, cap))
    return few | full


def _objects(body: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: Mapping[str, Any] = body.get("properties", {})
    required = list(body.get("required", []))
    known = set(properties) | set(required)
    fields = st.fixed_dictionaries(
        {key: values(properties.get(key, {})) for key in required},
        optional={key: values(sub) for key, sub in properties.items() if key not in required},
    )
    extra = st.dictionaries(TEXT.filter(lambda k: k not in known), JSON_VALUES, max_size=2)
    return _shuffled(fields, extra)


@st.composite
def _shuffled(
    draw: st.DrawFn,
    fields: st.SearchStrategy[dict[str, Any]],
    extra: st.SearchStrategy[dict[str, Any]],
) -> dict[str, Any]:
    """Fields, sometimes with unknown ones (VALIDATE-7), in any order: servers must not care."""
    document = draw(fields)
    if draw(st.booleans()):
        document.update(draw(extra))
    if len(document) > 1 and draw(st.booleans()):
        document = {key: document[key] for key in draw(st.permutations(list(document)))}
    return document
