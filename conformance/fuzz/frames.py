"""What the fuzzer sends, and how its bytes reach the target (FRAME-1 to FRAME-7).

Content and transport vary separately: any frame can be written whole, split at one byte, cut
inside a multi-byte UTF-8 character, or trickled a byte at a time; several frames can share one
write. The oracle is fed the same pieces, though the engine's framing does not depend on them.
"""

from __future__ import annotations

from typing import Any, Literal

from conformance.kit.messages import direct
from conformance.kit.wire import encode

Delivery = Literal["whole", "split", "utf8", "bytewise", "bare", "several"]
DELIVERIES: tuple[Delivery, ...] = ("whole", "whole", "whole", "split", "utf8", "bytewise", "bare")
# The framing rule each way of writing puts to the test ("several": frames sharing one write).
RULE_OF_DELIVERY: dict[Delivery, str] = {
    "whole": "FRAME-1",
    "bare": "FRAME-2",
    "split": "FRAME-3",
    "utf8": "FRAME-3",
    "bytewise": "FRAME-3",
    "several": "FRAME-4",
}
BYTEWISE_UP_TO = 160  # longer frames are trickled in 16 pieces rather than byte by byte


def oversize_by_one(max_frame_bytes: int, user_name: str) -> bytes:
    """A `message` frame of exactly `max_frame_bytes + 1` bytes, then its newline (FRAME-6)."""
    base = direct(user_name, "")
    padding = max_frame_bytes + 1 - len(encode(base))
    return encode({**base, "message": "x" * padding}) + b"\n"


def with_invalid_utf8(document: Any) -> bytes:
    """The document's frame with one byte that cannot start a UTF-8 character (FRAME-7)."""
    data = encode(document)
    quote = data.find(b'"', 1)
    return data[: quote + 1] + b"\xff" + data[quote + 1 :] + b"\n"


def pieces(data: bytes, how: Delivery, cut: int) -> list[bytes]:
    """`data` as the writes that deliver it; `cut` picks the split point."""
    if how == "bare":
        return [data[:-1]] if data.endswith(b"\n") and data.startswith(b"{") else [data]
    if how == "split" and len(data) > 1:
        at = 1 + cut % (len(data) - 1)
        return [data[:at], data[at:]]
    if how == "utf8":
        inside = [i for i, byte in enumerate(data) if byte & 0xC0 == 0x80]  # continuation bytes
        if inside:
            at = inside[cut % len(inside)]
            return [data[:at], data[at:]]
        return [data]
    if how == "bytewise":
        step = 1 if len(data) <= BYTEWISE_UP_TO else -(-len(data) // 16)
        return [data[i : i + step] for i in range(0, len(data), step)]
    return [data]
