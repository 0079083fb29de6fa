"""Schema validation on the hot path: the protocol's schemas compiled to Python source.

The reference validator (`protocol.validator`, the `jsonschema` package) costs about 20 µs per
`message`. This module knows only the keywords our schemas use, writes each schema out as one
straight-line Python function ahead of time (as fastjsonschema does) and costs about 1 µs. It must
say exactly what the reference says: tests/engine/test_validation.py checks both on generated
valid and invalid documents. A keyword it does not know makes compilation fail, so a schema change
cannot slip past it.

Each keyword is defined once, as a Python expression that is true when a value passes it. The fast
`is_valid` inlines those expressions; the error path evaluates them one by one to find every
failing keyword, and, like the reference, reports the one earliest in the precedence table of
errors.json (VALIDATE-6).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from math import inf, isfinite
from typing import Any

from protocol import ErrorCode, schema, schema_keyword_errors
from protocol.keywords import ANNOTATIONS, APPLIES_TO

Check = Callable[[Any], bool]
APPLICATORS = frozenset({"properties", "items", "not"})

# JSON Schema types as Python tests. jsonschema counts 1.0 as an integer, and booleans as
# neither integers nor numbers.
_TYPES = {
    "object": "type({v}) is dict",
    "array": "type({v}) is list",
    "string": "type({v}) is str",
    "integer": "(type({v}) is int or (type({v}) is float and {v}.is_integer()))",
    "number": "type({v}) in (int, float)",
    "boolean": "type({v}) is bool",
    "null": "{v} is None",
}


def same(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema has it: `true` is not `1`, but `1` is `1.0`."""
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


# Assertion keywords: a Python expression, true when a value `{v}` of the type the keyword applies
# to (`APPLIES_TO`) passes; `{c}` names the keyword's value. Values of other types pass it.
_ASSERTIONS: Mapping[str, str] = {
    "pattern": "{c}({v}) is not None",
    "minLength": "len({v}) >= {c}",
    "maxLength": "len({v}) <= {c}",
    # UTF-8 needs at most 4 bytes per code point, so short strings need no encoding.
    "x-maxUtf8Bytes": "(len({v}) <= {c} // 4 or utf8_size({v}) <= {c})",  # VALIDATE-8
    "maxItems": "len({v}) <= {c}",
    "minimum": "{v} >= {c}",
}
_GUARDS = {
    "string": "type({v}) is not str",
    "array": "type({v}) is not list",
    "object": "type({v}) is not dict",
    "number": "type({v}) not in (int, float)",
}


def _passes(keyword: str, value: Any, v: str, c: str, known_type: str | None = None) -> str:
    """A Python expression, true when the value named `v` passes `keyword: value`.

    `c` names the keyword's value in the generated code (a compiled regex's `search` for
    `pattern`). `known_type` is the type the value has already been checked to have, which spares
    the test of the type a keyword applies to.
    """
    if keyword == "type":
        return _TYPES[value].format(v=v)
    if keyword == "const":
        # No JSON value but a string equals a string: `==` alone is the test.
        return f"({v} == {c})" if type(value) is str else f"same({v}, {c})"
    if keyword == "enum":
        if all(type(e) is str for e in value):
            return f"(type({v}) is str and {v} in {c})"
        return f"any(same({v}, e) for e in {c})"
    if keyword == "required":
        test = " and ".join(f"{key!r} in {v}" for key in value) or "True"
    elif keyword in _ASSERTIONS:
        test = _ASSERTIONS[keyword].format(v=v, c=c)
    else:
        raise ValueError(f"the fast validator does not know the keyword {keyword!r}")
    if known_type == APPLIES_TO[keyword]:
        return f"({test})"
    return f"({_GUARDS[APPLIES_TO[keyword]].format(v=v)} or {test})"


def _literal(value: Any) -> str:
    """A number as a literal in the generated code (the compiler folds `3800 // 4`); "" else."""
    return repr(value) if type(value) in (int, float) and isfinite(value) else ""


def _constant(keyword: str, value: Any) -> Any:
    if keyword == "pattern":
        return re.compile(value).search
    if keyword == "enum" and all(type(e) is str for e in value):
        return frozenset(value)
    return value


class _Source:
    """Python source for one `is_valid` function, with its constants."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {
            "same": same,
            "utf8_size": utf8_size,
            "remember": remember,
        }
        self._names = 0

    def name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def constant(self, value: Any) -> str:
        name = self.name("c")
        self.constants[name] = value
        return name

    def emit(self, body: Mapping[str, Any], v: str, indent: int) -> None:
        """Lines that `return False` unless the value named `v` is valid against `body`."""
        pad = "    " * indent
        assertions = sorted(set(body) - ANNOTATIONS - APPLICATORS, key=lambda k: k != "type")
        known_type = body.get("type")
        fetched: dict[str, str] = {}  # required keys of an object, read once, by variable
        for keyword in assertions:
            if keyword == "required" and known_type == "object":
                fetched = self.fetch(body, v, indent)
                continue
            c = _literal(body[keyword]) or self.constant(_constant(keyword, body[keyword]))
            test = _passes(keyword, body[keyword], v, c, known_type)
            self.lines.append(f"{pad}if not {test}: return False")
        if "properties" in body:
            # A required key is there once `required` has passed (assertions come first).
            present = set(body.get("required", ())) if known_type == "object" else set()
            if known_type != "object":
                self.lines.append(f"{pad}if type({v}) is dict:")
                indent, pad = indent + 1, pad + "    "
            for key, sub in body["properties"].items():  # VALIDATE-7: other keys are not read
                value = fetched.get(key) or self.name("v")
                if key in present:
                    if key not in fetched:
                        self.lines.append(f"{pad}{value} = {v}[{key!r}]")
                    self.emit_memoised(sub, value, indent)
                else:
                    self.lines.append(f"{pad}{value} = {v}.get({key!r}, _MISSING)")
                    self.lines.append(f"{pad}if {value} is not _MISSING:")
                    self.emit_memoised(sub, value, indent + 1)
        if "items" in body:
            item = self.name("v")
            self.lines.append(f"{pad}if type({v}) is list:")
            self.lines.append(f"{pad}    for {item} in {v}:")
            self.lines.append(f"{pad}        pass")
            self.emit_memoised(body["items"], item, indent + 2)
        if "not" in body:
            self.lines.append(f"{pad}if {self.inline(body['not'], v, known_type)}: return False")

    def fetch(self, body: Mapping[str, Any], v: str, indent: int) -> dict[str, str]:
        """`required` of an object: every required key read in one `try`, which costs nothing
        when they are all there (a `KeyError` is the missing one); the values of those with a
        schema in `properties` are kept in variables, by key, for their checks."""
        pad = "    " * indent
        properties = body.get("properties", {})
        fetched = {key: self.name("v") for key in body["required"] if key in properties}
        self.lines.append(f"{pad}try:")
        for key in body["required"]:
            read = f"{v}[{key!r}]"
            self.lines.append(
                f"{pad}    {fetched[key]} = {read}" if key in fetched else f"{pad}    {read}"
            )
        if not body["required"]:
            self.lines.append(f"{pad}    pass")
        self.lines.append(f"{pad}except KeyError:")
        self.lines.append(f"{pad}    return False")
        return fetched

    def emit_memoised(self, body: Mapping[str, Any], v: str, indent: int) -> None:
        """`emit`, skipped for a short string already found valid against `body`.

        User names and room names come back in almost every message, and their six keywords
        (type, lengths in characters and bytes, prefix, forbidden characters) cost more than
        anything else in a `message`. Whether a string is valid depends on nothing but its
        value, so remembering valid ones changes no answer; the memo holds at most
        `MEMO_SIZE` strings of at most `MEMO_MAX_LENGTH` characters, and starts over when full.
        """
        pad = "    " * indent
        if body.get("type") != "string" or body.get("maxLength", inf) > MEMO_MAX_LENGTH:
            self.lines.append(f"{pad}pass")
            self.emit(body, v, indent)
            return
        memo = self.constant(set())
        self.lines.append(f"{pad}if type({v}) is not str or {v} not in {memo}:")
        self.emit(body, v, indent + 1)
        self.lines.append(f"{pad}    remember({memo}, {v})")

    def inline(self, body: Mapping[str, Any], v: str, known_type: str | None) -> str:
        """An expression for "`v` is valid against `body`": inline when `body` is flat."""
        if set(body) & APPLICATORS:
            return f"{self.constant(generate(body))}({v})"
        tests = [
            _passes(k, body[k], v, self.constant(_constant(k, body[k])), known_type)
            for k in sorted(set(body) - ANNOTATIONS, key=lambda k: k != "type")
        ]
        return "(" + " and ".join(tests or ["True"]) + ")"


_MISSING = object()
MEMO_SIZE = 4096
MEMO_MAX_LENGTH = 64


def remember(memo: set[str], value: str) -> None:
    """Add a valid string to a memo of `emit_memoised`, which starts over when full."""
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo.add(value)


def generate(body: Mapping[str, Any]) -> Check:
    """`body` compiled to one Python function that says whether a value is valid against it."""
    source = _Source()
    source.emit(body, "v0", 1)
    text = "\n".join(["def is_valid(v0):", *source.lines, "    return True"])
    namespace: dict[str, Any] = {**source.constants, "_MISSING": _MISSING}
    exec(compile(text, f"<schema {body.get('$id', 'subschema')}>", "exec"), namespace)
    function: Check = namespace["is_valid"]
    return function


def _predicate(keyword: str, value: Any) -> Check:
    """One keyword alone, as a function: the same expression `generate` inlines."""
    namespace = {"same": same, "utf8_size": utf8_size, "c": _constant(keyword, value)}
    check: Check = eval(f"lambda v: {_passes(keyword, value, 'v', 'c')}", namespace)
    return check


@dataclass(frozen=True)
class _Node:
    """A schema for the error path: each keyword a predicate, to list every one that fails."""

    checks: tuple[tuple[str, Check], ...]
    properties: tuple[tuple[str, _Node], ...]
    items: _Node | None
    negated: Check | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> _Node:
        keywords = sorted(set(body) - ANNOTATIONS - APPLICATORS)
        return cls(
            checks=tuple((k, _predicate(k, body[k])) for k in keywords),
            properties=tuple((k, cls.of(v)) for k, v in body.get("properties", {}).items()),
            items=cls.of(body["items"]) if "items" in body else None,
            negated=generate(body["not"]) if "not" in body else None,
        )

    def failures(self, x: Any, at_root: bool) -> Iterator[tuple[str, bool]]:
        """Every failing keyword, as (keyword, at the document root), like `iter_errors`."""
        for keyword, check in self.checks:
            if not check(x):
                yield keyword, at_root
        if type(x) is dict:
            for key, node in self.properties:
                if key in x:
                    yield from node.failures(x[key], False)
        if self.items is not None and type(x) is list:
            for item in x:
                yield from self.items.failures(item, False)
        if self.negated is not None and self.negated(x):
            yield "not", at_root


class CompiledSchema:
    """A protocol schema compiled once; `is_valid` is the hot path, `error_code` the error path."""

    __slots__ = ("_node", "_ranks", "is_valid", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.is_valid: Check = generate(schema(name))
        self._node = _Node.of(schema(name))
        self._ranks = schema_keyword_errors()

    def error_code(self, document: Any) -> ErrorCode | None:
        """The protocol error code for `document`, or None when it is valid."""
        ranks = [self._rank(k, at_root) for k, at_root in self._node.failures(document, True)]
        return min(ranks)[1] if ranks else None

    def _rank(self, keyword: str, at_root: bool) -> tuple[int, ErrorCode]:
        for rank, (known, root_only, code) in enumerate(self._ranks):
            if known == keyword and (at_root or not root_only):
                return rank, code
        raise LookupError(f"keyword {keyword!r} fails but errors.json does not map it")


@cache
def compiled(name: str) -> CompiledSchema:
    return CompiledSchema(name)
