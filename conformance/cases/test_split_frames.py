"""Frames of the largest size, split over reads (FRAME-3): the size of a frame that arrives in
pieces is counted from its own first byte, the first frame of a connection included.

test_framing.py sends a frame of exactly `max_frame_bytes` in one write, and splits small
frames. Here the largest allowed frame arrives in two reads: first as the connection's very
first frame (a padded `connect`), then as a later one. Between the two parts, a round trip on
another connection gives the server the time to read the first part alone.
"""

from __future__ import annotations

import protocol
from conformance.kit.messages import connect_doc, direct, is_echo
from conformance.kit.wire import encode
from conformance.suite.harness import Chat, Client, is_chat, is_error, show
from conformance.suite.verdicts import Violation, requirement


def _padded(document: object, size: int) -> bytes:
    """`document` as a frame of exactly `size` bytes (no newline), padded with whitespace
    inside the object, which JSON allows."""
    body = encode(document)
    return body[:-1] + b" " * (size - len(body)) + b"}"


def _in_two_reads(client: Client, data: bytes, other: Client) -> None:
    half = len(data) // 2
    client.send_bytes(data[:half])
    other.settle("FRAME-3")  # a round trip through the server while the frame is unfinished
    client.send_bytes(data[half:] + b"\n")


@requirement("FRAME-3")
def test_the_largest_frame_split_over_reads_is_handled(chat: Chat) -> None:
    largest = chat.caps.limits["max_frame_bytes"]
    other = chat.join(chat.user("other"))
    name = chat.user("alice")
    alice = chat.open(name)
    _in_two_reads(alice, _padded(connect_doc(name, []), largest), other)
    alice.name = name
    if chat.caps.answers_connect:
        alice.expect(
            "FRAME-3", f"a chat answering a connect of {largest} bytes in two reads", is_chat
        )
    else:  # core lets a server not answer: a message to oneself shows the connect was handled
        alice.expect_quiet("FRAME-3", f"after a connect of {largest} bytes in two reads")
    _in_two_reads(alice, _padded(direct(name, "largest"), largest), other)
    alice.expect_echo("FRAME-3", "largest")


@requirement("FRAME-3")
def test_a_frame_in_one_byte_reads_with_escapes_and_no_newline(chat: Chat) -> None:
    """Every byte its own read, proven by a round trip on another connection after each: the
    escapes, the braces inside a string and the end of an object with no newline after it are
    all seen by a server that holds the frame between reads."""
    other = chat.join(chat.user("other"))
    alice = chat.join(chat.user("alice"))
    text = 'say "hi" {not a brace} \\ back\\'
    for byte in encode(direct(alice.name, text)):  # no newline: the `}` ends it
        alice.send_bytes(bytes([byte]))
        other.settle("FRAME-3")
    alice.expect_echo("FRAME-3", text)
    for byte in b"nope\n":
        alice.send_bytes(bytes([byte]))
        other.settle("FRAME-3")
    alice.expect_error("FRAME-3", protocol.error_text(protocol.ErrorCode.MALFORMED_JSON))
    alice.expect_quiet("FRAME-3", "one error for one frame that is not JSON")


@requirement("FRAME-3", "FRAME-4")
def test_glued_frames_cut_inside_their_strings(chat: Chat) -> None:
    """Two frames glued together with no newline (FRAME-4), cut inside each string of the
    first: the second read starts inside a string, closes it and must still find the `}` that
    ends the first frame right before the `{` of the next."""
    other = chat.join(chat.user("other"))
    alice = chat.join(chat.user("alice"))
    first, second = (encode(direct(alice.name, t)) for t in ("one {a}", "two"))
    data = first + second
    # Whole, in one write, first: a target that cannot take glued frames at all fails FRAME-4
    # here, and is not blamed for reassembly below.
    alice.send_bytes(data)
    alice.expect_echo("FRAME-4", "one {a}")
    alice.expect_echo("FRAME-4", "two")
    opening = [n + 1 for n, byte in enumerate(first) if byte == ord('"')][::2]
    for cut in (start + 2 for start in opening):
        alice.send_bytes(data[:cut])
        other.settle("FRAME-3")  # a round trip while the first frame is cut inside a string
        alice.send_bytes(data[cut:])
        alice.expect_echo("FRAME-3", "one {a}")
        alice.expect_echo("FRAME-4", "two")


@requirement("FRAME-3", "FRAME-5")
def test_a_whole_object_read_inside_an_open_frame_belongs_to_that_frame(chat: Chat) -> None:
    """A frame left open, then a read that is one whole object and its newline: that read is
    the rest of the open frame, not a frame of its own (FRAME-3), and its newline ends the
    open frame unfinished (`{"nested":{...}` with no `}` for the outer object), a malformed
    frame (FRAME-5)."""
    alice = chat.join(chat.user("alice"))
    alice.send_bytes(b'{"action":"message","nested":')
    chat.sync()  # the target has read the open frame's first part alone
    alice.send_bytes(encode(direct(alice.name, "inside")) + b"\n")
    chat.sync()  # read alone too: a read with the next frame in it is not one whole object
    alice.send_bytes(encode(direct(alice.name, "after it")) + b"\n")
    seen = alice.settle("FRAME-3")  # all it answered, up to a message to itself
    if any(is_echo(value, alice.name, "inside") for value in seen):
        raise Violation(
            "FRAME-3",
            f"{alice.label}: a read that went on an open frame was taken as a frame of its own: "
            f"it got {show(seen)}",
        )
    malformed = protocol.error_text(protocol.ErrorCode.MALFORMED_JSON)
    chat.check(
        "FRAME-5",
        len(seen) == 2
        and is_error(seen[0], malformed)
        and is_echo(seen[1], alice.name, "after it"),
        f"{alice.label}: the newline should have ended the open frame, a malformed one, and the "
        f"next frame come back; it got {show(seen)}",
    )


@requirement("FRAME-3", "FRAME-4")
def test_a_read_that_ends_a_frame_holds_a_whole_one_and_begins_a_third(chat: Chat) -> None:
    """A frame left open; then one read with the `}` that ends it, a whole frame glued to it
    and the `{` of a third, with no newline; then the rest of the third. A server that parses
    the whole frame in the middle as an object with one byte after it must go on at that
    byte, the third frame's start (FRAME-3), after both frames of the read (FRAME-4)."""
    alice = chat.join(chat.user("alice"))
    one, two, three = (encode(direct(alice.name, t)) for t in ("one", "two", "three"))
    # Whole, in one write, first: a target that cannot take glued frames at all fails FRAME-4
    # here, and is not blamed for reassembly below.
    alice.send_bytes(one + two + three)
    for text in ("one", "two", "three"):
        alice.expect_echo("FRAME-4", text)
    alice.send_bytes(one[:-1])
    chat.sync()  # the target has read the open frame alone
    alice.send_bytes(one[-1:] + two + three[:1])
    alice.expect_echo("FRAME-3", "one")
    alice.expect_echo("FRAME-4", "two")  # so the target has read the `{` after it too
    alice.send_bytes(three[1:] + b"\n")
    alice.expect_echo("FRAME-3", "three")
    alice.expect_quiet("FRAME-3", "three frames, three messages")
