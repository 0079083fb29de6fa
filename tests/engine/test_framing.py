"""The frame decoder on its own: PROTOCOL.md's framing rules, byte by byte."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.suite.verdicts import requirement
from engine.framing import FrameDecoder, parse
from protocol import ErrorCode

MAX = 4096
TOO_LONG, BAD_UTF8, BAD_JSON = (
    ErrorCode.FRAME_TOO_LONG,
    ErrorCode.MALFORMED_UTF8,
    ErrorCode.MALFORMED_JSON,
)


def decode(*pieces: bytes, max_frame_bytes: int = MAX) -> list[object]:
    decoder = FrameDecoder(max_frame_bytes)
    return [frame for piece in pieces for frame in decoder.feed(piece)]


def object_of_size(size: int) -> bytes:
    """A JSON object of exactly `size` bytes."""
    frame = b'{"pad":"' + b"x" * (size - 10) + b'"}'
    assert len(frame) == size
    return frame


@requirement("FRAME-1", "FRAME-2")
def test_newline_ended_and_bare_objects() -> None:
    assert decode(b'{"a":1}\n') == [{"a": 1}]
    assert decode(b'{"a":1}') == [{"a": 1}]
    assert decode(b'  {"a":1}  \r\n') == [{"a": 1}]


@requirement("FRAME-3")
def test_an_object_split_at_every_byte_is_reassembled() -> None:
    stream = '{"a":"ünï}{\\"cödé","b":[1,{"c":2}]}\n'.encode()
    whole = decode(stream)
    assert whole == [{"a": 'ünï}{"cödé', "b": [1, {"c": 2}]}]
    for cut in range(len(stream) + 1):
        assert decode(stream[:cut], stream[cut:]) == whole, cut
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == whole


@requirement("FRAME-4")
def test_several_frames_in_one_read_are_handled_in_order() -> None:
    assert decode(b'{"a":1}\n{"a":2}\n{"a":3}') == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert decode(b'{"a":1}{"a":2} {"a":3}\n') == [{"a": 1}, {"a": 2}, {"a": 3}]


@requirement("FRAME-5")
def test_newline_ends_an_unfinished_object_and_blank_lines_are_ignored() -> None:
    assert decode(b'{"a":\n{"a":2}\n') == [BAD_JSON, {"a": 2}]
    assert decode(b'\n\n  \r\n\t\n{"a":1}\n\n') == [{"a": 1}]
    assert decode(b'{"a":"x\\\n{"b":1}\n') == [BAD_JSON, {"b": 1}]  # newline right after `\`


@requirement("FRAME-6")
@pytest.mark.parametrize("ending", [b"\n", b""])
def test_limit_is_inclusive_and_one_byte_more_is_refused(ending: bytes) -> None:
    at_limit = object_of_size(MAX)
    assert decode(at_limit + ending) == [{"pad": "x" * (MAX - 10)}]
    over = object_of_size(MAX + 1)
    assert decode(over + ending + b'{"a":1}\n') == [TOO_LONG, {"a": 1}]


@requirement("FRAME-6")
def test_oversize_garbage_and_split_oversize_frames_give_one_error_each() -> None:
    assert decode(b"x" * (MAX + 1) + b"\n{}\n") == [TOO_LONG, {}]
    big = object_of_size(3 * MAX)
    pieces = [big[i : i + 1000] for i in range(0, len(big), 1000)]
    assert decode(*pieces, b'\n{"a":1}') == [TOO_LONG, {"a": 1}]


@requirement("FRAME-6")
def test_an_oversize_object_without_newline_ends_at_its_closing_brace() -> None:
    assert decode(object_of_size(MAX + 50) + b'{"a":1}') == [TOO_LONG, {"a": 1}]


def test_a_frame_that_never_ends_is_never_held_beyond_the_limit() -> None:
    decoder = FrameDecoder(MAX)
    frames = decoder.feed(b'{"a":"')
    for _ in range(100):
        frames += decoder.feed(b"y" * 1000)
        assert decoder.buffered <= MAX
    assert frames == [TOO_LONG]
    assert decoder.feed(b'"}{"b":2}\n') == [{"b": 2}]


@requirement("FRAME-7")
def test_invalid_utf8_costs_only_its_frame() -> None:
    assert decode(b'{"a":"\xff"}\n{"a":1}\n') == [BAD_UTF8, {"a": 1}]
    assert decode(b"\xc3\n") == [BAD_UTF8]
    assert decode(b'{"a":"\xed\xa0\x80"}') == [BAD_UTF8]  # an encoded surrogate is not UTF-8


@requirement("FRAME-3", "FRAME-7")
def test_a_cut_inside_a_multibyte_character_is_not_an_error() -> None:
    stream = '{"a":"€"}\n'.encode()
    cut = stream.index("€".encode()) + 2
    assert decode(stream[:cut], stream[cut:]) == [{"a": "€"}]


@requirement("FRAME-8")
@pytest.mark.parametrize(
    "frame",
    [
        b"[1,2]",
        b'"text"',
        b"42",
        b"null",
        b"}",
        b"hello",
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":1e999}',
        b'{"a":"\\ud800"}',
        b'{"a":"\\udc00x"}',
        b'{"a":1,}',
        b"{'a':1}",
        b"\xef\xbb\xbf{}",
        b'{"a":' + b"[" * 1024 + b"]" * 1024 + b"}",
    ],
)
def test_what_is_not_a_json_object_is_malformed(frame: bytes) -> None:
    assert decode(frame + b"\n") == [BAD_JSON]


def test_what_json_allows_is_accepted() -> None:
    assert parse(b'{"a":1e308,"b":-0,"c":"\\ud83d\\ude00","d":"\\u0000"}') == {
        "a": 1e308,
        "b": 0,
        "c": "😀",
        "d": "\x00",
    }
    assert parse(b'{"n":123456789012345678901234567890}') == {"n": 1.2345678901234568e29}
    assert parse(b'{"a":' + b"[" * 1023 + b"]" * 1023 + b"}") != BAD_JSON
    assert parse(b'{"a":1,"a":2}') == {"a": 2}


streams = st.lists(
    st.one_of(
        st.binary(max_size=30),
        st.sampled_from([b"{", b"}", b"\n", b'"', b"\\", b"\xff", b"\xc3", b'{"a":"b"}', b" "]),
    ),
    max_size=12,
).map(b"".join)


@given(streams, st.lists(st.integers(0, 400), max_size=8))
@settings(max_examples=300, deadline=None)
def test_any_stream_split_anywhere_decodes_like_the_whole(stream: bytes, cuts: list[int]) -> None:
    bounds = sorted(min(c, len(stream)) for c in cuts)
    pieces = [stream[i:j] for i, j in zip([0, *bounds], [*bounds, len(stream)], strict=True)]
    small = 16  # a small limit so that generated streams cross it
    assert decode(*pieces, max_frame_bytes=small) == decode(stream, max_frame_bytes=small)


@given(streams)
@settings(max_examples=300, deadline=None)
def test_the_decoder_is_total_and_bounded(stream: bytes) -> None:
    decoder = FrameDecoder(16)
    for frame in decoder.feed(stream):
        assert isinstance(frame, dict | ErrorCode)
    assert decoder.buffered <= 16


def scanner_only(data: bytes, max_frame_bytes: int) -> list[object]:
    """The definition alone: PROTOCOL.md's byte scanner, without the whole-object fast path."""
    decoder = FrameDecoder(max_frame_bytes)
    frames: list[Any] = []
    pos = 0
    while pos < len(data):
        pos = decoder._scan(data, pos, frames)
    return frames


objects = st.dictionaries(
    st.text(max_size=3), st.one_of(st.text(max_size=6), st.integers(), st.just({"{": "}"}))
).map(lambda d: json.dumps(d, ensure_ascii=False).encode())
glued = st.lists(
    st.one_of(objects, st.sampled_from([b" ", b"\n", b"\r\n", b"x", b"}", b"{", b'"', b"\xff"])),
    max_size=10,
).map(b"".join)


@requirement("FRAME-2", "FRAME-4")
@given(st.one_of(glued, streams), st.sampled_from([16, 64, 4096]))
@settings(max_examples=400, deadline=None)
def test_the_fast_path_decodes_exactly_as_the_scanner(stream: bytes, limit: int) -> None:
    assert decode(stream, max_frame_bytes=limit) == scanner_only(stream, limit)
