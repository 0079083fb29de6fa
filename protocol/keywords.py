"""The JSON Schema vocabulary of the protocol's schemas: which keywords say nothing about a value,
and which JSON type each constraining keyword applies to.

Two readers walk the schemas keyword by keyword and must agree on this: the engine's compiled
validator (`engine.validation`), which turns each keyword into a test, and the conformance
suite's document generator (`conformance.documents`), which builds values that honour or break
each one. In JSON Schema a keyword constrains only values of its type (`maxLength` passes any
number), so both need the same table; it lives here, once.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ANNOTATIONS", "APPLIES_TO", "JSON_TYPES", "STRING_KEYWORDS"]

# Keywords that describe a schema and constrain nothing.
ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "examples"})

# The seven JSON types, as `type` names them.
JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")

# The JSON type each keyword the schemas use constrains (a value of any other type passes it),
# for every keyword tied to one type. `type`, `const`, `enum` and `not` apply to any value.
APPLIES_TO: Mapping[str, str] = {
    "required": "object",
    "properties": "object",
    "items": "array",
    "maxItems": "array",
    "pattern": "string",
    "minLength": "string",
    "maxLength": "string",
    # maxLength counts code points; limits are in UTF-8 bytes, which this extension counts.
    "x-maxUtf8Bytes": "string",
    "minimum": "number",
}

STRING_KEYWORDS = tuple(keyword for keyword, kind in APPLIES_TO.items() if kind == "string")
