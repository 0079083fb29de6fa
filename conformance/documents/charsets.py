"""Sets of code points, and the small regular-expression subset our schemas' patterns use.

The document generator has to write strings that a pattern accepts (or rejects) without
filtering: a filter that throws away most candidates makes Hypothesis slow and its health checks
fire. So patterns are read into sets of code points, one per leading character they demand,
rather than handed to `from_regex`. Only literals, escapes and bracket classes are understood;
anything richer is refused with `UnsupportedSchema`, so a new pattern cannot be silently misread.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from itertools import accumulate

from hypothesis import strategies as st

Interval = tuple[int, int]


class UnsupportedSchema(ValueError):
    """A schema uses something the document generator does not know how to honour or break."""


@dataclass(frozen=True)
class Charset:
    """Code points as sorted, disjoint, inclusive intervals."""

    intervals: tuple[Interval, ...]

    @classmethod
    def of(cls, intervals: Iterable[Interval]) -> Charset:
        merged: list[Interval] = []
        for lo, hi in sorted(i for i in intervals if i[0] <= i[1]):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        return cls(tuple(merged))

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __contains__(self, char: str) -> bool:
        return any(lo <= ord(char) <= hi for lo, hi in self.intervals)

    def __or__(self, other: Charset) -> Charset:
        return Charset.of(self.intervals + other.intervals)

    def __sub__(self, other: Charset) -> Charset:
        kept: list[Interval] = []
        for lo, hi in self.intervals:
            for cut_lo, cut_hi in other.intervals:
                if cut_hi < lo or cut_lo > hi:
                    continue
                if cut_lo > lo:
                    kept.append((lo, cut_lo - 1))
                lo = cut_hi + 1
            if lo <= hi:
                kept.append((lo, hi))
        return Charset.of(kept)

    def __and__(self, other: Charset) -> Charset:
        return self - (self - other)

    @cached_property
    def widths(self) -> tuple[int, ...]:
        """The UTF-8 sizes, in bytes, of the code points in the set."""
        return tuple(n for n in (1, 2, 3, 4) if self & UTF8_WIDTH[n])

    @cached_property
    def _starts(self) -> tuple[int, ...]:
        """How many code points come before each interval."""
        return tuple(accumulate((hi - lo + 1 for lo, hi in self.intervals), initial=0))

    @property
    def count(self) -> int:
        return self._starts[-1]

    def nth(self, index: int) -> str:
        """The set's code point number `index`, counting from its lowest."""
        at = bisect_right(self._starts, index) - 1
        return chr(self.intervals[at][0] + index - self._starts[at])

    def of_width(self, *widths: int) -> Charset:
        return _of_width(self, widths)

    def chars(self) -> st.SearchStrategy[str]:
        """Characters of the set, every UTF-8 width equally likely; shrinks towards 1 byte.

        Multi-byte characters are where servers that count code points, or bytes, go wrong, so
        they are not left to chance (most of Unicode is 3-byte, and ASCII would dominate shrinks).
        """
        return _chars(self)

    def text(self, max_size: int) -> st.SearchStrategy[str]:
        """Strings of the set's characters: one Hypothesis choice, not one per character."""
        return _text(self, max_size)


# Cached: strings are drawn from the same few sets over and over, and a strategy built afresh
# for every draw costs Hypothesis a validation each time.
@cache
def _of_width(charset: Charset, widths: tuple[int, ...]) -> Charset:
    found = Charset(())
    for n in widths:
        found = found | (charset & UTF8_WIDTH[n])
    return found


@cache
def _chars(charset: Charset) -> st.SearchStrategy[str]:
    if not charset:
        raise UnsupportedSchema("no character satisfies the schema here")
    parts = [part for part in (charset.of_width(n) for n in (1, 2, 3, 4)) if part]
    return st.one_of([st.integers(0, part.count - 1).map(part.nth) for part in parts])


@cache
def _text(charset: Charset, max_size: int) -> st.SearchStrategy[str]:
    # Hypothesis takes an alphabet as characters to leave out or to keep, so a set far from
    # both (none of ours) falls back to one choice per character.
    outside = UNICODE - charset
    if outside.count <= _LISTABLE:
        listed = "".join(map(outside.nth, range(outside.count)))
        return st.text(st.characters(codec="utf-8", exclude_characters=listed), max_size=max_size)
    if charset.count <= _LISTABLE:
        listed = "".join(map(charset.nth, range(charset.count)))
        return st.text(st.sampled_from(listed), max_size=max_size)
    return st.lists(_chars(charset), max_size=max_size).map("".join)


def width(char: str) -> int:
    """UTF-8 size of one code point (surrogates never occur: they are not in `UNICODE`)."""
    code = ord(char)
    return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4


def size(text: str) -> int:
    return len(text.encode("utf-8"))


# Unicode scalar values: JSON text cannot carry an unpaired surrogate (FRAME-8).
UNICODE = Charset.of([(0, 0xD7FF), (0xE000, 0x10FFFF)])
UTF8_WIDTH = {
    1: Charset.of([(0, 0x7F)]),
    2: Charset.of([(0x80, 0x7FF)]),
    3: Charset.of([(0x800, 0xD7FF), (0xE000, 0xFFFF)]),
    4: Charset.of([(0x10000, 0x10FFFF)]),
}
# What JSON writes as an escape: padding with these would make a document at its size limits
# much bigger on the wire than its UTF-8 size says.
JSON_ESCAPED = Charset.of([(0, 0x1F), (ord('"'), ord('"')), (ord("\\"), ord("\\"))])

_LISTABLE = 10_000
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
_META = set(".*+?{}()|$^")


@dataclass(frozen=True)
class Pattern:
    """A pattern as a sequence of one-character classes, matched with `re.search`."""

    source: str
    anchored: bool  # starts with `^`: the classes must match at the start of the string
    atoms: tuple[Charset, ...]

    @classmethod
    def parse(cls, source: str) -> Pattern:
        anchored = source.startswith("^")
        text, atoms, i = source[anchored:], [], 0
        while i < len(text):
            if text[i] == "[":
                atom, i = _bracket(source, text, i + 1)
            elif text[i] == "\\":
                char, i = _escape(source, text, i + 1)
                atom = Charset.of([(ord(char), ord(char))])
            elif text[i] in _META:
                raise UnsupportedSchema(f"pattern {source!r}: {text[i]!r} is not supported")
            else:
                atom, i = Charset.of([(ord(text[i]), ord(text[i]))]), i + 1
            atoms.append(atom & UNICODE)
        if not atoms:
            raise UnsupportedSchema(f"pattern {source!r} matches everything")
        return cls(source, anchored, tuple(atoms))


def _escape(source: str, text: str, i: int) -> tuple[str, int]:
    """One escaped character from `text[i:]` (just after the backslash), and where it ends."""
    if i >= len(text):
        raise UnsupportedSchema(f"pattern {source!r} ends in a backslash")
    kind = text[i]
    digits = {"x": 2, "u": 4, "U": 8}.get(kind)
    if digits is not None:
        code = text[i + 1 : i + 1 + digits]
        if len(code) != digits or not all(c in "0123456789abcdefABCDEF" for c in code):
            raise UnsupportedSchema(f"pattern {source!r}: bad escape \\{kind}{code}")
        return chr(int(code, 16)), i + 1 + digits
    if kind in _ESCAPES:
        return _ESCAPES[kind], i + 1
    if kind.isalnum():
        raise UnsupportedSchema(f"pattern {source!r}: the escape \\{kind} is not supported")
    return kind, i + 1


def _bracket(source: str, text: str, i: int) -> tuple[Charset, int]:
    """A bracket class from `text[i:]` (just after `[`), and where it ends."""
    negated = text.startswith("^", i)
    i += negated
    members: list[Interval] = []
    while True:
        if i >= len(text):
            raise UnsupportedSchema(f"pattern {source!r}: unclosed character class")
        if text[i] == "]":
            if not members:
                raise UnsupportedSchema(f"pattern {source!r}: empty character class")
            break
        lo, i = _escape(source, text, i + 1) if text[i] == "\\" else (text[i], i + 1)
        hi = lo
        if text.startswith("-", i) and i + 1 < len(text) and text[i + 1] != "]":
            hi, i = _escape(source, text, i + 2) if text[i + 1] == "\\" else (text[i + 1], i + 2)
        members.append((ord(lo), ord(hi)))
    found = Charset.of(members)
    return (UNICODE - found if negated else found), i + 1
