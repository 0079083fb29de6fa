"""Protocol documents for fuzzing servers and testing validators, generated from the schemas.

The one place the conformance suite gets documents from: valid ones (`valid`, `valid_for`), ones
wrong in exactly one known way (`invalid`, `invalid_for`, each a `Mutation`), and the error text a
server must answer a client document with (`expected_error`). Only the schemas' keywords that the
protocol uses are supported (`UnsupportedSchema` otherwise): a small generator of our own, not
hypothesis-jsonschema.

- `instances.py`: valid values of a schema, as Hypothesis strategies (the structure).
- `strings.py`: strings that keep every keyword of a string schema at its limits, or break one.
- `charsets.py`: the schemas' patterns read as sets of code points.
- `mutations.py`: a valid document with exactly one keyword of its schema broken (`Mutation`).

Valid means valid against the schema. Encoded, a document at several limits at once can be
longer than `max_frame_bytes` (64 targets of 60 bytes are), and a server rightly answers that
with `Message Longer Than ...`: compare the encoded frame's size with the limit before expecting
`expected_error`'s answer.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import strategies as st

import protocol
from conformance.documents.charsets import UnsupportedSchema
from conformance.documents.instances import valid
from conformance.documents.mutations import Mutation, invalid
from protocol.validator import client_error_message

__all__ = [
    "Mutation",
    "UnsupportedSchema",
    "expected_error",
    "invalid",
    "invalid_for",
    "valid",
    "valid_for",
]


@cache
def valid_for(name: str) -> st.SearchStrategy[Any]:
    """Documents valid against the protocol schema `name`, e.g. `client/message`."""
    return valid(protocol.schema(name))


@cache
def invalid_for(name: str, *keywords: str) -> st.SearchStrategy[Mutation]:
    """Mutations of documents valid against the protocol schema `name`, breaking `keywords` only
    when given (e.g. `invalid_for("client/message", "maxLength", "x-maxUtf8Bytes")`)."""
    return invalid(protocol.schema(name), *keywords)


def expected_error(name: str, document: Any) -> str | None:
    """The error text a server must answer the client document with, or None if it passes.

    Only the schema checks: session state, identity and routing come after them (VALIDATE-6).
    The server checks the envelope first, then the schema the document's `action` names, whatever
    schema the document was made from; so a `message` whose `action` is `5` gets
    `Invalid Field Type` (the envelope's answer), not `5 is not a valid action`.
    """
    if name not in protocol.CLIENT_SCHEMAS:
        raise ValueError(f"servers answer client documents only, and {name!r} is not one")
    return client_error_message(document)
