"""Strings that honour all of a string schema's keywords at once, or break exactly one of them.

Servers break at limits, so strings are built rather than filtered: a head that satisfies the
pattern, a few free characters, then (half the time) a filler repeated up to the code-point or
byte limit, topped up with narrower characters to land on the byte limit exactly. Repeating one
drawn character keeps a 3800-byte text a handful of Hypothesis choices, so it stays fast and
shrinks well. Fillers are characters JSON writes as themselves, so a document at its limits is not
several times that size on the wire.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import strategies as st

from conformance.documents.charsets import (
    JSON_ESCAPED,
    UNICODE,
    Charset,
    Pattern,
    UnsupportedSchema,
    size,
    width,
)
from protocol import keywords
from protocol.keywords import ANNOTATIONS

# `not` is supported on strings only (a class of characters a string must not hold).
STRING_KEYWORDS = (*keywords.STRING_KEYWORDS, "not")
_NO_LIMIT = 2**62
_FREE_CHARS = 8  # characters drawn freely; the rest of a long string is repetition


@dataclass(frozen=True)
class StringRules:
    """The string keywords of one schema, read once."""

    min_length: int
    max_length: int  # _NO_LIMIT when absent
    max_bytes: int
    pattern: Pattern | None
    head: tuple[Charset, ...]  # one class per leading code point the pattern demands
    allowed: Charset  # every code point `not` permits
    forbidden: Charset  # the code points `not` forbids

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> StringRules:
        forbidden = _forbidden(body["not"]) if "not" in body else Charset(())
        pattern = Pattern.parse(body["pattern"]) if "pattern" in body else None
        allowed = UNICODE - forbidden
        rules = cls(
            min_length=int(body.get("minLength", 0)),
            max_length=int(body.get("maxLength", _NO_LIMIT)),
            max_bytes=int(body.get("x-maxUtf8Bytes", _NO_LIMIT)),
            pattern=pattern,
            head=tuple(atom & allowed for atom in pattern.atoms) if pattern else (),
            allowed=allowed,
            forbidden=forbidden,
        )
        if not allowed or not all(rules.head) or rules.min_bytes(0, 0) > rules.max_bytes:
            raise UnsupportedSchema(f"no string satisfies {dict(body)}")
        if max(rules.min_length, len(rules.head)) > rules.max_length:
            raise UnsupportedSchema(f"no string satisfies {dict(body)}")
        return rules

    def min_bytes(self, length: int, heads_done: int) -> int:
        """The fewest bytes still needed to finish a string now `length` code points long."""
        head = sum(min(atom.widths) for atom in self.head[heads_done:])
        rest = max(0, self.min_length - length - len(self.head[heads_done:]))
        return head + rest * min(self.allowed.widths)

    def breakable(self, keyword: str) -> bool:
        if keyword == "pattern":
            return self.pattern is not None and bool(UNICODE - self.pattern.atoms[0])
        if keyword == "minLength":
            return self.min_length > 0
        if keyword == "not":
            return bool(self.forbidden)
        return {"maxLength": self.max_length, "x-maxUtf8Bytes": self.max_bytes}[keyword] < _NO_LIMIT


def _forbidden(negated: Mapping[str, Any]) -> Charset:
    """`not: {pattern: "[...]"}`: the only negation in use, "holds none of these characters"."""
    complaint = f"`not` is supported as a one-character-class pattern only, not {negated}"
    if set(negated) - ANNOTATIONS != {"pattern"}:
        raise UnsupportedSchema(complaint)
    pattern = Pattern.parse(negated["pattern"])
    if pattern.anchored or len(pattern.atoms) != 1:
        raise UnsupportedSchema(complaint)
    return pattern.atoms[0]


@cache
def _plain(charset: Charset) -> Charset:
    return charset - JSON_ESCAPED or charset


class _Built:
    """A string being built: its characters, their UTF-8 size, and room left for them."""

    def __init__(self, rules: StringRules) -> None:
        self.rules, self.chars, self.size = rules, list[str](), 0

    def fits(self, text: str, max_length: int, max_bytes: int) -> bool:
        """Room for `text` under these limits, leaving enough to reach `minLength` after it."""
        length = len(self.chars) + len(text)
        rest = self.rules.min_bytes(length, len(self.rules.head))
        return length <= max_length and self.size + size(text) + rest <= max_bytes

    def add(self, text: str) -> None:
        self.chars += text
        self.size += size(text)


@st.composite
def strings(draw: st.DrawFn, rules: StringRules) -> str:
    built = _Built(rules)
    for i, atom in enumerate(rules.head):  # no wider than leaves room for the rest
        budget = rules.max_bytes - built.size - rules.min_bytes(i + 1, i + 1)
        built.add(draw(atom.of_width(*(w for w in atom.widths if w <= budget)).chars()))
    free = draw(rules.allowed.text(_FREE_CHARS))  # cheap, but mostly 1- and 2-byte characters
    if draw(st.booleans()):
        free += draw(rules.allowed.chars())  # so one of any width, as often as not
    fill = min(rules.max_length, rules.max_bytes) < _NO_LIMIT and draw(st.booleans())
    narrow = rules.allowed.of_width(min(rules.allowed.widths))
    # Only the narrowest characters reach a code-point limit as large as the byte limit.
    to_length = fill and draw(st.booleans())
    for char in free:
        if built.fits(char, rules.max_length, rules.max_bytes) and (
            char in narrow or not to_length
        ):
            built.add(char)
    if fill:
        slack = draw(st.sampled_from((0, 0, 0, 1, 2)))  # mostly the limit itself; shrinks to it
        _fill(draw, built, rules.max_length - slack, rules.max_bytes - slack, to_length)
    if len(built.chars) < rules.min_length:
        built.add(draw(narrow.chars()) * (rules.min_length - len(built.chars)))
    return "".join(built.chars)


def _fill(draw: st.DrawFn, built: _Built, max_length: int, max_bytes: int, narrow: bool) -> None:
    """Up to the limits with one repeated character, then narrower ones to land on `max_bytes`."""
    plain = _plain(built.rules.allowed)
    filler = draw(plain.of_width(min(plain.widths)).chars() if narrow else plain.chars())
    count = max(0, min(max_length - len(built.chars), (max_bytes - built.size) // width(filler)))
    while count and not built.fits(filler * count, max_length, max_bytes):
        count -= 1
    built.add(filler * count)
    while widths := [w for w in plain.widths if w <= max_bytes - built.size]:
        char = draw(plain.of_width(max(widths)).chars())
        if not built.fits(char, max_length, max_bytes):
            break
        built.add(char)


def break_string(draw: st.DrawFn, rules: StringRules, keyword: str, value: str) -> str:
    """`value` (valid) changed so that `keyword` fails, touching the rest as little as it can."""
    head = len(rules.head)
    if keyword == "minLength":
        return value[: rules.min_length - 1]
    if keyword == "maxLength":
        filler = draw(_plain(rules.allowed).chars())
        return value + filler * (rules.max_length + 1 - len(value))
    if keyword == "x-maxUtf8Bytes":
        return _over_bytes(draw, rules, value)
    if keyword == "not":
        if len(value) > head:  # replace one character after the head with a no wider one
            at = draw(st.integers(head, len(value) - 1))
            narrow = rules.forbidden.of_width(*range(1, width(value[at]) + 1))
            if narrow:
                return value[:at] + draw(narrow.chars()) + value[at + 1 :]
        return value[:head] + draw(rules.forbidden.chars()) + value[head:]
    if keyword == "pattern" and rules.pattern is not None:
        return _unmatched(draw, rules.pattern, rules.allowed, value)
    raise UnsupportedSchema(f"cannot break {keyword!r} of a string")


def _over_bytes(draw: st.DrawFn, rules: StringRules, value: str) -> str:
    """One byte over the limit, in characters as wide as may be, so maxLength still holds."""
    wide = _plain(rules.allowed).of_width(2, 3, 4) or _plain(rules.allowed)
    filler = draw(wide.chars())
    for base in (value, value[: len(rules.head)]):
        count, rest = divmod(rules.max_bytes + 1 - size(base), width(filler))
        tail = filler * count
        while rest:
            step = max((w for w in rules.allowed.widths if w <= rest), default=0)
            if not step:
                raise UnsupportedSchema(f"cannot make a string exactly {rules.max_bytes + 1} bytes")
            tail += draw(rules.allowed.of_width(step).chars())
            rest -= step
        if len(base) + len(tail) <= rules.max_length:
            break
    return base + tail


def _unmatched(draw: st.DrawFn, pattern: Pattern, allowed: Charset, value: str) -> str:
    """`value` with no match of `pattern` left: the first class replaced (or the head dropped)."""
    outside = allowed - pattern.atoms[0] or UNICODE - pattern.atoms[0]
    dropped = value[len(pattern.atoms) :]
    if pattern.anchored and draw(st.booleans()) and not re.search(pattern.source, dropped):
        return dropped
    chars = list(value)
    for i, char in enumerate(chars):
        if char in pattern.atoms[0] and (i == 0 or not pattern.anchored):
            narrow = outside.of_width(*range(1, width(char) + 1)) or outside
            chars[i] = draw(narrow.chars())
    broken = "".join(chars)
    assert not re.search(pattern.source, broken), (pattern.source, broken)
    return broken
