"""Invalid documents: a valid one with exactly one keyword of its schema broken.

A fuzzer learns most from documents that are wrong in one known way: the server's answer can
then be checked against the one error that way calls for. So each mutation first picks a place in
the schema and a keyword there (a choice that shrinks on its own), then draws a valid document,
reaches that place in it (adding an optional field or an array item when the document has none)
and breaks that keyword only, keeping the value's other constraints where it can.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from conformance.documents.charsets import UnsupportedSchema
from conformance.documents.instances import (
    INT64,
    JSON_VALUES,
    KEYWORD_TYPE,
    TEXT,
    check,
    of_type,
    repeat,
    types_of,
    values,
)
from conformance.documents.strings import STRING_KEYWORDS, StringRules, break_string
from protocol.validator import validator_class

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Mutation:
    """A document that breaks `keyword` at `path`, jsonschema's `absolute_path` for the error.

    For `required` the path is the object missing the field; for the rest, the broken value.
    """

    document: Any
    keyword: str
    path: Path


# Values of each JSON type, to put where another type is required.
_OF_TYPE: Mapping[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "integer": st.integers(*INT64),
    "number": st.integers(-1000, 1000).map(lambda i: i + 0.5),
    "string": TEXT,
    "array": st.lists(JSON_VALUES, max_size=2),
    "object": st.dictionaries(TEXT, JSON_VALUES, max_size=2),
}


@dataclass(frozen=True)
class _Site:
    """One keyword at one place in the schema, and how to reach that place in a document."""

    keyword: str
    body: Mapping[str, Any]  # the (sub)schema holding the keyword
    # Each step down: a property name (None for an array item), the schema it is a step in, and
    # valid values to put there.
    route: tuple[tuple[str | None, Mapping[str, Any], st.SearchStrategy[Any]], ...]
    drops: str = ""  # the field `required` drops
    rules: StringRules | None = None  # the string keywords, read once
    items: st.SearchStrategy[Any] = JSON_VALUES  # valid items, for `maxItems`


def _sites(body: Mapping[str, Any], route: tuple[Any, ...] = ()) -> Iterator[_Site]:
    kinds = types_of(body)
    if "type" in body and _wrong_types(kinds):
        yield _Site("type", body, route)
    for key in body.get("required", []):
        yield _Site("required", body, route, drops=key)
    if "const" in body or "enum" in body:  # the value is fixed: nothing else to break in it
        yield _Site("const" if "const" in body else "enum", body, route)
        return
    if "string" in kinds:
        rules = StringRules.of(body)
        for keyword in STRING_KEYWORDS:
            if keyword in body and rules.breakable(keyword):
                yield _Site(keyword, body, route, rules=rules)
    if "maxItems" in body:
        yield _Site("maxItems", body, route, items=values(body.get("items", {})))
    if "minimum" in body:
        yield _Site("minimum", body, route)
    for key, sub in body.get("properties", {}).items():
        yield from _sites(sub, (*route, (key, body, values(sub))))
    if "items" in body and body.get("maxItems", 1) > 0:
        yield from _sites(body["items"], (*route, (None, body, values(body["items"]))))


def invalid(body: Mapping[str, Any], *keywords: str) -> st.SearchStrategy[Mutation]:
    """Mutations of documents valid against `body`, each breaking one keyword of it.

    Given `keywords`, only those are broken (say `maxLength` and `x-maxUtf8Bytes` to probe limits);
    it is an error if none of them can be.
    """
    check(body)
    by_keyword: dict[str, list[_Site]] = {}
    for site in _sites(body):
        if not keywords or site.keyword in keywords:
            by_keyword.setdefault(site.keyword, []).append(site)
    if not by_keyword:
        wanted = f" among {', '.join(keywords)}" if keywords else ""
        raise UnsupportedSchema(f"{body.get('$id', 'the schema')} has no keyword to break{wanted}")
    # Keyword first, then where: every keyword is broken as often, however many places hold it.
    return _mutations(values(body), tuple(tuple(group) for group in by_keyword.values()))


@st.composite
def _mutations(
    draw: st.DrawFn, documents: st.SearchStrategy[Any], sites: tuple[tuple[_Site, ...], ...]
) -> Mutation:
    group = sites[draw(st.integers(0, len(sites) - 1))]
    site = group[draw(st.integers(0, len(group) - 1))]
    document, path = _mutated(draw, copy.deepcopy(draw(documents)), site, 0)
    return Mutation(document, site.keyword, tuple(path))


def _mutated(draw: st.DrawFn, value: Any, site: _Site, depth: int) -> tuple[Any, list[str | int]]:
    """`value` with `site` broken below it, and the path there from `value`.

    Where the document has no value of the kind the next step needs (an optional field left out,
    an empty array, a `null` where a schema allows an object or `null`), a valid one is made.
    """
    if depth == len(site.route):
        value = _of_kind(draw, value, KEYWORD_TYPE.get(site.keyword), site.body)
        return _broken(draw, site, value), []
    name, body, fill = site.route[depth]
    step: str | int
    if name is None:
        value = _of_kind(draw, value, "array", body) or [draw(fill)]
        step = draw(st.integers(0, len(value) - 1))
    else:
        value, step = _of_kind(draw, value, "object", body), name
        if name not in value:
            value[name] = draw(fill)
    value[step], path = _mutated(draw, value[step], site, depth + 1)
    return value, [step, *path]


_PYTHON: Mapping[str, type | tuple[type, ...]] = {
    "string": str,
    "array": list,
    "object": dict,
    "number": (int, float),
}


def _of_kind(draw: st.DrawFn, value: Any, kind: str | None, body: Mapping[str, Any]) -> Any:
    """`value` if it is of the JSON type `kind` (or `kind` is None), else a valid value that is."""
    if kind is None or (isinstance(value, _PYTHON[kind]) and not isinstance(value, bool)):
        return value
    if kind == "number" and "number" not in types_of(body):
        kind = "integer"
    return draw(of_type(kind, body))


def _broken(draw: st.DrawFn, site: _Site, value: Any) -> Any:
    body, keyword = site.body, site.keyword
    if keyword == "required":
        return {key: item for key, item in value.items() if key != site.drops}
    if keyword == "type":
        return draw(st.one_of(_wrong_types(types_of(body))))
    if keyword in ("const", "enum"):
        return _other(draw, keyword, body[keyword], value)
    if keyword == "maxItems":
        # Copies of the items already there, or new ones, up to one item too many.
        fresh = not value or draw(st.booleans())
        pool = draw(st.lists(site.items, min_size=1, max_size=3)) if fresh else value
        return value + repeat(pool, body["maxItems"] + 1 - len(value))
    if keyword == "minimum":
        below = draw(st.integers(0, 3))  # 0: just below the boundary
        if isinstance(value, int):
            return math.ceil(body["minimum"]) - 1 - below
        return body["minimum"] - 0.5 - below
    assert site.rules is not None
    return break_string(draw, site.rules, keyword, value)


def _wrong_types(kinds: tuple[str, ...]) -> list[st.SearchStrategy[Any]]:
    """Values of the JSON types `kinds` excludes (an integer is a number, so `number` takes it)."""
    widened = {*kinds, "integer"} if "number" in kinds else set(kinds)
    return [values for kind, values in _OF_TYPE.items() if kind not in widened]


def _other(draw: st.DrawFn, keyword: str, allowed: Any, value: Any) -> Any:
    """A value `keyword: allowed` rejects; near `value` if a string (`Connect`, `connec`)."""
    accepts = validator_class()({keyword: allowed}).is_valid
    if isinstance(value, str):
        near = [value[:-1], value.upper(), value + "x", value[1:] + value[:1], " " + value]
        candidate = draw(st.sampled_from(near) | TEXT)
    else:
        candidate = draw(JSON_VALUES)
    while accepts(candidate):
        candidate = candidate + "\u00e9" if isinstance(candidate, str) else [candidate]
    return candidate
