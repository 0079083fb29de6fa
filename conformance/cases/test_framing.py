"""Transport and framing (FRAME-1 to FRAME-10): how bytes become frames, and frames replies.

A frame's effect is observed with a direct message to oneself, whose echo (ROUTE-6) shows the
frame was read as one message. Pieces of a split frame must reach the target in separate reads,
or a server that cannot reassemble would pass: after each piece, `Chat.sync` waits for round
trips on another connection, which show the target has read the piece alone (see its argument).
Only FRAME-4 writes frames together on purpose; the other cases send one frame per read to a
target that cannot take more (`Client.send_frames`), so each fails only on its own rule.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

import protocol
from conformance.kit.messages import direct
from conformance.kit.wire import encode
from conformance.suite.harness import Chat, Client, show
from conformance.suite.verdicts import Violation, requirement
from protocol.validator import is_valid

MAX_FRAME = protocol.limits()["max_frame_bytes"]


def frame(client: Client, text: str) -> bytes:
    """A direct message to oneself, compact, no newline."""
    return encode(direct(client.name, text))


def echoed(client: Client, rule: str, *texts: str) -> None:
    for text in texts:
        client.expect_echo(rule, text)


@requirement("FRAME-1")
def test_object_and_newline_in_one_write(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"))
    alice.send_frame(frame(alice, "with a newline") + b"\n")
    echoed(alice, "FRAME-1", "with a newline")


@requirement("FRAME-2")
def test_object_without_newline_in_one_write(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"))
    alice.send_frame(frame(alice, "no newline"))
    echoed(alice, "FRAME-2", "no newline")


@requirement("FRAME-3")
def test_frame_split_over_reads_at_any_byte(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"))
    text = 'é€😀 "quoted"'
    data = frame(alice, text) + b"\n"
    cuts = [data.index("€".encode()) + 1, data.index("😀".encode()) + 2, data.index(b"\\") + 1]
    cuts += [len(data) - 1]  # between the `}` and the `\n`
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        alice.send_bytes(data[start:cut])
        chat.sync()  # the target has read this piece alone
        start = cut
    echoed(alice, "FRAME-3", text)
    for byte in frame(alice, "one byte per read") + b"\n":
        alice.send_bytes(bytes([byte]))
        chat.sync()
    echoed(alice, "FRAME-3", "one byte per read")


@requirement("FRAME-4")
def test_several_frames_in_one_read(chat: Chat) -> None:
    """The case about coalescing: one write each time, whatever the probe found."""
    alice = chat.join(chat.user("alice"))
    one, two, three = (frame(alice, t) for t in ("one", "two", "three"))
    alice.send_bytes(one + b"\n" + two + b"\n" + three + b"\n")
    echoed(alice, "FRAME-4", "one", "two", "three")
    alice.send_bytes(one + two + three)
    echoed(alice, "FRAME-4", "one", "two", "three")


@requirement("FRAME-5")
def test_newline_ends_a_frame_and_blank_lines_are_skipped(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"))
    unfinished = frame(alice, "cut short")[:-12]
    alice.send_frames(unfinished + b"\n", frame(alice, "after the cut") + b"\n")
    alice.expect_error("FRAME-5", protocol.error_text(protocol.ErrorCode.MALFORMED_JSON))
    echoed(alice, "FRAME-5", "after the cut")
    alice.send_frame(b"\n\n  \t\r\n" + frame(alice, "after blank lines") + b"\r\n\n \n")
    echoed(alice, "FRAME-5", "after blank lines")
    alice.expect_quiet("FRAME-5", "whitespace between frames")


def padded(client: Client, size: int) -> bytes:
    """A valid self-message of exactly `size` bytes, padded with whitespace inside the object."""
    body = frame(client, "padded")
    return body[:-1] + b" " * (size - len(body)) + b"}"


@requirement("FRAME-6")
def test_frame_over_the_limit_is_refused_and_the_next_handled(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"))
    alice.send_frame(padded(alice, MAX_FRAME) + b"\n")
    echoed(alice, "FRAME-6", "padded")
    too_long = protocol.error_text(protocol.ErrorCode.FRAME_TOO_LONG)
    alice.send_frames(padded(alice, MAX_FRAME + 1) + b"\n", frame(alice, "next") + b"\n")
    alice.expect_error("FRAME-6", too_long)
    echoed(alice, "FRAME-6", "next")
    alice.send_frames(b"x" * (3 * MAX_FRAME) + b"\n", frame(alice, "after garbage") + b"\n")
    alice.expect_error("FRAME-6", too_long)
    echoed(alice, "FRAME-6", "after garbage")
    alice.expect_quiet("FRAME-6", "one error per long frame")


BAD_UTF8 = {
    "invalid byte": b"\xff",
    "overlong encoding": b"\xc0\xaf",
    "encoded surrogate": b"\xed\xa0\x80",
    "truncated sequence": b"\xe2\x82",
}


@requirement("FRAME-7")
@pytest.mark.parametrize("bad", list(BAD_UTF8.values()), ids=list(BAD_UTF8))
def test_invalid_utf8_is_refused_and_only_that_frame_lost(chat: Chat, bad: bytes) -> None:
    alice = chat.join(chat.user("alice"))
    broken = frame(alice, "BAD").replace(b"BAD", b"a" + bad + b"z")
    alice.send_frames(broken + b"\n", frame(alice, "still here") + b"\n")
    alice.expect_error("FRAME-7", protocol.error_text("malformed_utf8"))
    echoed(alice, "FRAME-7", "still here")


DEEP = 1024  # nesting limit of FRAME-8, the top-level object included
MALFORMED = {
    "not JSON": b"hello server",
    "trailing comma": b'{"action":"message",}',
    "array": b'[{"action":"connect"}]',
    "NaN": b'{"action":"dance","n":NaN}',
    "Infinity": b'{"action":"dance","n":-Infinity}',
    "float out of range": b'{"action":"dance","n":1e400}',
    "integer out of range": b'{"action":"dance","n":1' + b"0" * 400 + b"}",
    "unpaired surrogate": b'{"action":"dance","s":"\\ud800"}',
    "too deep": b'{"x":' + b"[" * DEEP + b"]" * DEEP + b"}",
}


@requirement("FRAME-8")
@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_json_is_refused(chat: Chat, data: bytes) -> None:
    alice = chat.join(chat.user("alice"))
    alice.send_frames(data + b"\n", frame(alice, "still here") + b"\n")
    alice.expect_error("FRAME-8", protocol.error_text(protocol.ErrorCode.MALFORMED_JSON))
    echoed(alice, "FRAME-8", "still here")


@requirement("FRAME-8")
def test_nesting_at_the_limit_and_big_integers_are_json(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"))
    body = frame(alice, "deep")
    deep = b'{"x":' + b"[" * (DEEP - 1) + b"]" * (DEEP - 1) + b',"n":' + b"9" * 300 + b","
    alice.send_frame(deep + body[1:] + b"\n")
    echoed(alice, "FRAME-8", "deep")


def exchange(chat: Chat, rule: str) -> list[Client]:
    """A bit of everything a core server sends: replies, deliveries, an error, a goodbye."""
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    alice.say(room, 'to the room, with ünïcödé and "quotes"\n')
    alice.say(bob.name, "direct")
    bob.settle(rule)
    alice.send({"action": "dance"})
    alice.settle(rule)
    bob.send({"action": "disconnect"})
    with contextlib.suppress(Violation):  # closing is another rule's business
        bob.expect_closed(rule)
    return [alice, bob]


def compact_lines(data: bytes) -> str | None:
    """Why `data` is not a sequence of compact JSON objects each followed by one `\\n`."""
    if data and not data.endswith(b"\n"):
        return f"the last message does not end with a newline: {data[-80:]!r}"
    for line in data.split(b"\n")[:-1]:
        try:
            value = json.loads(line.decode("utf-8"))
        except ValueError:
            return f"not one UTF-8 JSON value per line: {line[:120]!r}"
        if not isinstance(value, dict):
            return f"not an object: {line[:120]!r}"
        for ws in (b" ", b"\t", b"\r"):
            if ws in _outside_strings(line):
                return f"whitespace outside strings: {line[:120]!r}"
    return None


def _outside_strings(line: bytes) -> bytes:
    out, in_string, escaped = bytearray(), False, False
    for byte in line:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        else:
            out.append(byte)
    return bytes(out)


@requirement("FRAME-9")
def test_server_messages_are_compact_json_lines(chat: Chat) -> None:
    for client in exchange(chat, "FRAME-9"):
        problem = compact_lines(chat.transcript.received(client.label))
        if problem is not None:
            raise Violation("FRAME-9", f"{client.label}: {problem}")


@requirement("FRAME-10")
def test_server_messages_match_their_schema(chat: Chat) -> None:
    for client in exchange(chat, "FRAME-10"):
        for packet in client.packets:
            if not _valid_server_message(packet.value):
                raise Violation("FRAME-10", f"{client.label}: invalid message {show(packet)}")


def _valid_server_message(value: Any) -> bool:
    status = value.get("status") if isinstance(value, dict) else None
    if status not in ("welcome", "chat", "error", "disconnect"):
        return False
    return is_valid(f"server/{status}", value)


@requirement("FRAME-5")
def test_an_unfinished_object_alone_in_its_read_is_malformed(chat: Chat) -> None:
    """A read that is exactly one line, from `{` to its `\\n`, with no `}` in it: the object
    cannot end before the newline, so the newline ends it, a frame that is not JSON. Servers
    that take such a line whole, as the usual frame, must still answer it."""
    alice = chat.join(chat.user("alice"))
    unfinished = frame(alice, "no closing brace")[:-1]  # no `}` left anywhere in it
    alice.send_frame(unfinished + b"\n")
    chat.sync()  # the target has read that line alone
    alice.send_frame(frame(alice, "after it") + b"\n")
    alice.expect_error("FRAME-5", protocol.error_text(protocol.ErrorCode.MALFORMED_JSON))
    echoed(alice, "FRAME-5", "after it")
    alice.expect_quiet("FRAME-5", "one error for one unfinished object")


@requirement("FRAME-3", "FRAME-5")
def test_a_byte_after_an_unfinished_line_in_its_read_opens_the_next_frame(chat: Chat) -> None:
    """A read that is a line from `{` to its `\\n` with no `}` in it, as above, and one byte
    more: the `{` that opens the next frame, whose rest comes in the next read. The newline
    ends the unfinished object, a malformed frame (FRAME-5), and the next frame is split
    right after its first byte (FRAME-3): a server that takes the line whole, as the usual
    frame, must not lose the byte after its newline."""
    alice = chat.join(chat.user("alice"))
    unfinished = frame(alice, "no closing brace")[:-1]  # no `}` left anywhere in it
    after = frame(alice, "begun in the same read")
    alice.send_bytes(unfinished + b"\n" + after[:1])
    chat.sync()  # the target has read the line and the `{` alone
    alice.send_bytes(after[1:] + b"\n")
    alice.expect_error("FRAME-5", protocol.error_text(protocol.ErrorCode.MALFORMED_JSON))
    echoed(alice, "FRAME-3", "begun in the same read")
    alice.expect_quiet("FRAME-3", "one error for the unfinished line, then the next frame")


@requirement("FRAME-4", "FRAME-5")
def test_a_newline_inside_an_object_ends_it_though_more_follows_in_the_read(chat: Chat) -> None:
    """An object whose `}` comes on the next line, and a frame after it, in one write. Read
    as JSON text the first two lines are one object (a newline is whitespace to JSON), but
    the framing makes the `\\n` end the frame: a malformed one, then `}`, a garbage frame."""
    alice = chat.join(chat.user("alice"))
    split = frame(alice, "split by a newline")[:-1] + b"\n}\n"
    alice.send_bytes(split + frame(alice, "next") + b"\n")
    malformed = protocol.error_text(protocol.ErrorCode.MALFORMED_JSON)
    alice.expect_error("FRAME-5", malformed)  # the object the newline ended
    alice.expect_error("FRAME-5", malformed)  # the `}` on a line of its own
    echoed(alice, "FRAME-4", "next")
    alice.expect_quiet("FRAME-5", "one error for each of the two lines")
