"""The engine's compiled validator says exactly what the reference validator (jsonschema) says."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol
from conformance.suite.verdicts import requirement
from engine.validation import compiled, generate
from protocol.validator import error_code, reference_validator, validator_class

CLIENT = list(protocol.CLIENT_SCHEMAS)


def text_near(size: int, prefix: str = "") -> st.SearchStrategy[str]:
    """Strings around `size` UTF-8 bytes, in 1-, 2-, 3- and 4-byte characters."""
    return st.builds(
        lambda char, extra: (
            prefix + char * ((size - len(prefix.encode())) // len(char.encode()) + extra)
        ),
        st.sampled_from(["a", "é", "€", "😀"]),
        st.integers(-1, 1),
    )


names = st.one_of(
    st.sampled_from(
        [
            "@alice",
            "#general",
            "#all",
            "@",
            "#",
            "alice",
            "@a b",
            "#a\tb",
            "@\x00",
            "@\u00a0x",
            "@x\u2028",
            "@\ufeffx",
            "@é",
            "##",
            "@@",
            "",
        ]
    ),
    text_near(60, "@"),
    text_near(60, "#"),
    st.text(max_size=6).map(lambda s: "@" + s),
    st.text(max_size=6).map(lambda s: "#" + s),
)
anything: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
documents = (
    st.fixed_dictionaries(
        {},
        optional={
            "action": st.sampled_from(["connect", "message", "disconnect", "dance", ""]) | anything,
            "user_name": names | anything,
            "target": names | anything,
            "targets": st.lists(names, max_size=3)
            | st.lists(st.just("#r"), min_size=63, max_size=66)
            | anything,
            "message": text_near(3800) | st.text(max_size=5) | anything,
            "extra": anything,
        },
    )
    | anything
)


@requirement("VALIDATE-6")
@given(documents)
@settings(max_examples=1500, deadline=None)
def test_compiled_and_reference_validators_agree(document: Any) -> None:
    for name in CLIENT:
        fast = compiled(name)
        assert fast.is_valid(document) is reference_validator(name).is_valid(document), name
        assert fast.error_code(document) == error_code(name, document), name


@pytest.mark.parametrize("draft", ["2020-12", "draft-07"])
def test_agreement_on_every_fixture_of_every_schema(draft: Any) -> None:
    for group in protocol.fixtures():
        is_valid = generate(protocol.schema(group["schema"]))
        for test in group["tests"]:
            assert is_valid(test["data"]) is test["valid"], (group["schema"], test["description"])
            assert (
                reference_validator(group["schema"], draft).is_valid(test["data"]) is test["valid"]
            )


def test_an_unknown_keyword_stops_compilation() -> None:
    with pytest.raises(ValueError, match="uniqueItems"):
        generate({"type": "array", "uniqueItems": True})


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"const": 1}, [1, 1.0], [True, "1"]),
        ({"enum": [False, "x"]}, [False, "x"], [0, "y"]),
        ({"type": "integer", "minimum": 2}, [2, 3.0], [1, 2.5, True]),
        ({"type": "number"}, [1, 1.5], [True, "1"]),
        ({"required": ["a"]}, [{"a": 1}, [], "s"], [{}]),
        ({"items": {"type": "null"}, "maxItems": 1}, [[None], {}], [[1], [None, None]]),
        ({"not": {"type": "string", "pattern": "^x"}}, ["y", 1], ["xa"]),
    ],
)
def test_keyword_semantics_follow_json_schema(schema: Any, good: list[Any], bad: list[Any]) -> None:
    is_valid = generate(schema)
    reference = validator_class()(schema)
    for value in good:
        assert is_valid(value) and reference.is_valid(value), value
    for value in bad:
        assert not is_valid(value) and not reference.is_valid(value), value
