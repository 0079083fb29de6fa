"""The reference validator: the `jsonschema` package, taught our one custom keyword.

JSON Schema counts string length in code points, but the protocol limits names and texts in
UTF-8 bytes. The schemas therefore carry `x-maxUtf8Bytes` next to `maxLength`; validators that do
not know it ignore it (in draft-07 and 2020-12 alike), and this module adds it to both drafts.
Any faster validator used elsewhere must agree with this one (tests/engine/test_validation.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, Literal

import jsonschema
from jsonschema import ValidationError
from jsonschema.protocols import Validator

from protocol import ErrorCode, error_text, schema, schema_keyword_errors

Draft = Literal["2020-12", "draft-07"]
_BASES = {"2020-12": jsonschema.Draft202012Validator, "draft-07": jsonschema.Draft7Validator}


def _max_utf8_bytes(
    validator: Validator, limit: int, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str):
        size = len(instance.encode("utf-8", "surrogatepass"))
        if size > limit:
            yield ValidationError(f"{instance!r} is {size} UTF-8 bytes, more than {limit}")


@cache
def validator_class(draft: Draft = "2020-12") -> type[Validator]:
    base = _BASES[draft]
    extended: type[Validator] = jsonschema.validators.extend(
        base, {"x-maxUtf8Bytes": _max_utf8_bytes}
    )
    return extended


@cache
def reference_validator(name: str, draft: Draft = "2020-12") -> Validator:
    """A validator for one protocol schema; regex patterns use Python's `re`, as jsonschema does."""
    return validator_class(draft)(dict(schema(name)))


def is_valid(name: str, document: Any, draft: Draft = "2020-12") -> bool:
    return bool(reference_validator(name, draft).is_valid(document))


def _rank(error: ValidationError) -> tuple[int, ErrorCode]:
    """Where a failing keyword stands in the precedence of errors.json, and its error code."""
    at_root = not error.absolute_path
    for rank, (keyword, root_only, code) in enumerate(schema_keyword_errors()):
        if keyword == error.validator and (at_root or not root_only):
            return rank, code
    raise LookupError(f"keyword {error.validator!r} fails but errors.json does not map it")


def error_codes(name: str, document: Any) -> list[ErrorCode]:
    """Every distinct protocol error code `document` earns against schema `name`, the one sent
    first (empty when it is valid).

    Every failing keyword is collected and the one earliest in the precedence of errors.json
    wins, so the answer does not depend on field order or on which check a validator runs first.
    """
    ranked = sorted({_rank(e) for e in reference_validator(name).iter_errors(document)})
    return list(dict.fromkeys(code for _, code in ranked))


def error_code(name: str, document: Any) -> ErrorCode | None:
    """The protocol error code for `document` against schema `name`, or None when it is valid."""
    codes = error_codes(name, document)
    return codes[0] if codes else None


def client_error_codes(document: Any) -> list[ErrorCode]:
    """`error_codes` as a server applies them to a client document: the envelope first, then
    the schema its `action` names, whatever schema the document was made from; so a `message`
    whose `action` is `5` gets `Invalid Field Type` (the envelope's), not `5 is not a valid
    action`."""
    codes = error_codes("client/envelope", document)
    if codes:
        return codes
    return error_codes(f"client/{document['action']}", document)  # the envelope holds: a dict


def error_message(name: str, document: Any) -> str | None:
    """The exact error text the server sends for `document`, or None when it is valid."""
    return _text(error_code(name, document), document)


def client_error_message(document: Any) -> str | None:
    """The exact error text a server answers the client document with, or None if it passes."""
    codes = client_error_codes(document)
    return _text(codes[0] if codes else None, document)


def _text(code: ErrorCode | None, document: Any) -> str | None:
    if code is None:
        return None
    action = document.get("action") if isinstance(document, dict) else None
    return error_text(code, action=action)
