"""A catalogue of hostile input, each case with exactly the replies the spec gives it.

Cases are written by a connected attacker (`Scene.me`) aimed at a bystander's room and name, so
that a frame the server wrongly accepted would reach the bystanders, who would notice. Frames the
server must accept are direct messages to the attacker itself, so they disturb no one. Every case
ends at a frame boundary, so the barrier sent after it (a direct message to oneself, which also
resets the count of errors in a row) is a frame of its own.

Structured cases are generated from protocol/schemas/client/ (fields, their types, their limits,
the characters names may not hold), so a schema change changes the catalogue with it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import protocol
from conformance.kit.shapes import error
from conformance.kit.wire import encode, frame

Reply = dict[str, Any]
ACTIONS = ("connect", "message", "disconnect")
# One or two values of every JSON type; 2**64 is a number beyond 64-bit integers.
SAMPLES: dict[str, tuple[Any, ...]] = {
    "null": (None,),
    "boolean": (True, False),
    "integer": (0, -1, 2**64),
    "number": (0.5, -1e300),
    "string": ("", "@x"),
    "array": ([], ["#x"]),
    "object": ({}, {"action": "message"}),
}
INVALID_UTF8 = (
    b"\x80",  # a continuation byte alone
    b"\xbf\xbf",
    b"\xc0\xaf",  # overlong "/"
    b"\xe0\x80\xaf",  # overlong, three bytes
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"\xf8\x88\x80\x80\x80",  # a five-byte form
    b"\xfe",
    b"\xff",
    b"\xe2\x82",  # truncated
    b"\xc3",  # truncated at the end of the string
)


@dataclass(frozen=True)
class Scene:
    me: str  # the attacker's user name; it is connected
    room: str  # a bystanders' room the attacker is not in
    victim: str  # a bystander's user name


@dataclass(frozen=True)
class Case:
    family: str
    label: str
    writes: tuple[bytes, ...]  # written one after the other, `pause_s` apart
    replies: tuple[Reply, ...]
    pause_s: float = 0.0


def self_message(scene: Scene, text: str = "ok", **extra: Any) -> dict[str, Any]:
    return {
        "action": "message",
        "user_name": scene.me,
        "target": scene.me,
        "message": text,
        **extra,
    }


def delivered(scene: Scene, text: str = "ok") -> Reply:
    return {"status": "chat", "history": [{"target": scene.me, "from": scene.me, "message": text}]}


def case(family: str, label: str, data: bytes, *replies: Reply) -> Case:
    return Case(family, label, (data,), replies)


# -- from the schemas ---------------------------------------------------------------------------


def base(action: str, scene: Scene) -> dict[str, Any]:
    """The schema's fullest example, aimed at the bystanders: valid, so one change breaks it."""
    example = max(protocol.schema(f"client/{action}")["examples"], key=len)

    def aim(value: Any) -> Any:
        if isinstance(value, list):
            return [aim(v) for v in value][:1]
        if isinstance(value, str) and value[:1] == "@":
            return scene.me
        if isinstance(value, str) and value[:1] == "#":
            return scene.room
        return value

    return {key: value if key == "action" else aim(value) for key, value in example.items()}


def is_type(value: Any, json_type: str) -> bool:
    if json_type in ("integer", "number"):
        number = type(value) in (int, float)
        return number and (json_type == "number" or float(value).is_integer())
    return {
        "null": value is None,
        "boolean": type(value) is bool,
        "string": type(value) is str,
        "array": type(value) is list,
        "object": type(value) is dict,
    }[json_type]


def wrong_values(json_type: str) -> Iterator[tuple[str, Any]]:
    for name, values in SAMPLES.items():
        for value in values:
            if not is_type(value, json_type):
                yield name, value


def field_types(action: str) -> Iterator[tuple[str, str, bool]]:
    """(field, its JSON type, whether the type is of the array's items) for every typed field."""
    envelope = protocol.schema("client/envelope")["properties"]
    for name, body in protocol.schema(f"client/{action}")["properties"].items():
        body = {**envelope.get(name, {}), **body}
        if "type" in body:
            yield name, body["type"], False
        if "type" in body.get("items", {}):
            yield name, body["items"]["type"], True


def wrong_types(scene: Scene) -> Iterator[Case]:
    """Every field of every action, with a value of every other JSON type (VALIDATE-3)."""
    for action in ACTIONS:
        for name, json_type, in_items in field_types(action):
            for type_name, value in wrong_values(json_type):
                document = {**base(action, scene), name: [value] if in_items else value}
                label = f"{action}.{name}{'[]' if in_items else ''}={type_name}:{value!r}"[:80]
                yield case("wrong_types", label, frame(document), error("wrong_type"))
    for type_name, value in wrong_values("object"):  # the document itself (FRAME-8)
        yield case("wrong_types", f"document={type_name}", frame(value), error("malformed_json"))


def missing_fields(scene: Scene) -> Iterator[Case]:
    for action in ACTIONS:
        for name in protocol.schema(f"client/{action}")["required"]:
            document = {k: v for k, v in base(action, scene).items() if k != name}
            yield case(
                "missing_fields", f"{action}-{name}", frame(document), error("missing_field")
            )


@cache
def forbidden_in_names() -> tuple[str, ...]:
    """Every character the schemas' `not` pattern refuses in a name."""
    pattern = protocol.schema("client/connect")["properties"]["user_name"]["not"]["pattern"]
    search = re.compile(pattern).search
    return tuple(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and search(chr(c)))


def name_characters(scene: Scene) -> Iterator[Case]:
    """Control characters and whitespace in names, escaped (valid JSON) and raw (not JSON)."""
    for char in forbidden_in_names():
        connect = {"action": "connect", "user_name": f"@a{char}b", "targets": []}
        message = {**base("message", scene), "target": f"{scene.room}{char}"}
        label = f"U+{ord(char):04X}"
        data = frame(connect) + frame(message)
        yield case("name_characters", label, data, error("invalid_name"), error("invalid_name"))
    for prefix in ("@", "#"):
        bare = {**base("message", scene), "target": prefix}
        yield case("name_characters", f"bare {prefix}", frame(bare), error("invalid_name"))
    for byte in range(0x20):
        raw = encode(self_message(scene, "a\x00b")).replace(b"\\u0000", bytes([byte]))
        replies = [error("malformed_json")] * (2 if byte == 0x0A else 1)  # `\n` ends a frame
        yield case("name_characters", f"raw 0x{byte:02X} in a string", raw + b"\n", *replies)


def sizes(scene: Scene) -> Iterator[Case]:
    """Each limit of the schemas, at and one past it, in multi-byte characters."""
    fields = protocol.schema("client/message")["properties"]
    longest_text = fields["message"]["x-maxUtf8Bytes"]
    text = "é" * (longest_text // 2) + "x" * (longest_text % 2)
    yield case(
        "sizes", "text at its limit", frame(self_message(scene, text)), delivered(scene, text)
    )
    data = frame(self_message(scene, text + "x"))
    yield case("sizes", "text one byte over", data, error("too_long"))
    longest_name = fields["target"]["x-maxUtf8Bytes"]
    name = "@" + "é" * ((longest_name - 1) // 2) + "x" * ((longest_name - 1) % 2)
    at_limit = {**base("message", scene), "target": name}
    yield case("sizes", "name at its limit", frame(at_limit), error("target_not_connected"))
    over = {**base("message", scene), "target": name + "x"}
    yield case("sizes", "name one byte over", frame(over), error("too_long"))
    yield case("sizes", "no prefix", frame({**over, "target": "bob"}), error("too_long"))
    most = protocol.schema("client/connect")["properties"]["targets"]["maxItems"]
    crowd = {**base("connect", scene), "targets": [f"#r{i}" for i in range(most + 1)]}
    yield case("sizes", "targets one over", frame(crowd), error("too_long"))
    max_frame = protocol.limits()["max_frame_bytes"]
    padding = max_frame - len(encode(self_message(scene, pad="")))
    exact = encode(self_message(scene, pad="x" * padding))
    yield case("sizes", "frame at the limit", exact + b"\n", delivered(scene))
    over_frame = encode(self_message(scene, pad="x" * (padding + 1)))
    yield case("sizes", "frame one over", over_frame + b"\n", error("frame_too_long"))
    # In two reads, a frame goes through the byte scanner, not the whole-line fast path.
    halves = (exact[:2000], exact[2000:] + b"\n")
    yield Case("sizes", "frame at the limit, in two", halves, (delivered(scene),), pause_s=0.01)
    halves = (over_frame[:2000], over_frame[2000:] + b"\n")
    yield Case("sizes", "one over, in two", halves, (error("frame_too_long"),), pause_s=0.01)


def actions(scene: Scene) -> Iterator[Case]:
    """Unknown actions: the text echoes the action, so hostile ones are echoed safely."""
    for action in ("", "bogus", "CONNECT", "connect ", "\x00", "\n", "\u2028", "é", "x" * 4000):
        data = frame({**base("message", scene), "action": action})
        yield case("actions", repr(action)[:20], data, error("invalid_action", action=action))


def utf8(scene: Scene) -> Iterator[Case]:
    for bad in INVALID_UTF8:
        text = encode(self_message(scene, "a\x00b")).replace(b"\\u0000", bad)
        yield case("utf8", f"text {bad!r}", text + b"\n", error("malformed_utf8"))
        name = encode(base("message", scene)).replace(scene.room.encode(), b"#" + bad, 1)
        yield case("utf8", f"name {bad!r}", name + b"\n", error("malformed_utf8"))
    emoji = "🙂 ünï 中文"
    yield case(
        "utf8", "four-byte characters", frame(self_message(scene, emoji)), delivered(scene, emoji)
    )
    unpaired = encode(self_message(scene, "a\x00b")).replace(b"\\u0000", b"\\ud800")
    yield case("utf8", "unpaired surrogate", unpaired + b"\n", error("malformed_json"))
    paired = encode(self_message(scene, "a\x00b")).replace(b"\\u0000", b"\\ud83d\\ude42")
    yield case("utf8", "paired surrogates", paired + b"\n", delivered(scene, "a🙂b"))


def numbers(scene: Scene) -> Iterator[Case]:
    """Numbers in a field the action does not define (VALIDATE-7 ignores the field, not JSON)."""
    template = encode(self_message(scene, n=0)).replace(b'"n":0', b'"n":%b')
    bad = (b"1e309", b"-1e309", b"1" + b"0" * 400, b"NaN", b"-NaN", b"Infinity", b"-Infinity")
    for number in bad:
        yield case(
            "numbers", number.decode()[:20], template % number + b"\n", error("malformed_json")
        )
    for number in (b"18446744073709551616", b"-9223372036854775809", b"1e308", b"5e-324", b"-0"):
        yield case("numbers", number.decode(), template % number + b"\n", delivered(scene))
    typed = encode(self_message(scene)).replace(b'"ok"', b"1e308")
    yield case("numbers", "a number as the text", typed + b"\n", error("wrong_type"))


def nesting(scene: Scene) -> Iterator[Case]:
    """FRAME-8: at most 1024 nested arrays and objects, the message object included."""
    limit = 1024

    def nested(depth: int) -> bytes:
        return encode(self_message(scene, n=0)).replace(
            b'"n":0', b'"n":' + b"[" * depth + b"]" * depth
        )

    yield case("nesting", "1024 deep", nested(limit - 1) + b"\n", delivered(scene))
    yield case("nesting", "1025 deep", nested(limit) + b"\n", error("malformed_json"))
    yield case("nesting", "10,000 deep", nested(10_000) + b"\n", error("frame_too_long"))
    objects = b'{"x":' * 600 + b"{}" + b"}" * 600  # 5 bytes a level: 4096 bytes hold fewer
    yield case("nesting", "600 objects, no action", objects + b"\n", error("missing_field"))
    deep_text = encode(self_message(scene)).replace(b'"ok"', b"[" * 100 + b"]" * 100)
    yield case("nesting", "deep text", deep_text + b"\n", error("wrong_type"))


def garbage(scene: Scene, count: int = 60, seed: int = 7) -> Iterator[Case]:
    """Random lines: one garbage frame each (not `{`, no `\\n`), so the error is known."""
    rng = random.Random(seed)
    for i in range(count):
        size = rng.randint(1, 300)
        printable = bytes(rng.randrange(0x20, 0x7F) for _ in range(size))
        data = printable if i % 2 else rng.randbytes(size)
        data = data.replace(b"\n", b"")
        if not data or data[:1] in (b" ", b"\t", b"\r", b"{"):
            data = b"~" + data
        try:
            data.decode("utf-8")
            expected = error("malformed_json")
        except UnicodeDecodeError:
            expected = error("malformed_utf8")
        yield case("garbage", f"{i}: {data[:12]!r}", data + b"\n", expected)


def long_lines(scene: Scene) -> Iterator[Case]:
    """100,000-byte lines whose newline comes in a later write: one error, the next frame works."""
    size = 100_000
    good = frame(self_message(scene))
    for label, body in (
        ("garbage", b"y" * size),
        ("open string", b'{"action":"message","message":"' + b"x" * size),
        ("open braces", b"{" * size),
        ("escaped quotes", b'{"a":"' + b'\\"' * (size // 2)),
    ):
        replies = (error("frame_too_long"), delivered(scene))
        yield Case("long_lines", label, (body, b"\n" + good), replies, pause_s=0.01)
    blank = (b" " * size, good)
    yield Case("long_lines", "spaces, then a frame", blank, (delivered(scene),), pause_s=0.01)
    yield Case("long_lines", "empty lines", (b"\n" * size,), (), pause_s=0.01)


def framing(scene: Scene) -> Iterator[Case]:
    """Frames cut at every byte, glued together, and with braces and newlines in strings."""
    text = 'ünï {"}\n\\'
    byte_by_byte = tuple(bytes([b]) for b in frame(self_message(scene, text)))
    yield Case("framing", "byte by byte", byte_by_byte, (delivered(scene, text),), pause_s=0.001)
    bad = encode(self_message(scene)).replace(b'"ok"', b'"\xff"') + b"\n"
    broken = tuple(bytes([b]) for b in bad)
    yield Case("framing", "bad byte by byte", broken, (error("malformed_utf8"),), pause_s=0.001)
    glued = encode(self_message(scene)) + encode({**self_message(scene), "message": 5}) + b"\n"
    yield case("framing", "glued objects", glued, delivered(scene), error("wrong_type"))
    errors = protocol.limits()["max_consecutive_errors"] - 1
    data = b"}\n" * errors + frame(self_message(scene))
    yield case(
        "framing",
        "errors then a frame",
        data,
        *[error("malformed_json")] * errors,
        delivered(scene),
    )
    spoof = self_message(scene, "x", status="chat", history=[], **{"from": scene.victim})
    yield case("framing", "server-like fields", frame(spoof), delivered(scene, "x"))


FAMILIES: dict[str, Callable[[Scene], Iterator[Case]]] = {
    "wrong_types": wrong_types,
    "missing_fields": missing_fields,
    "name_characters": name_characters,
    "sizes": sizes,
    "actions": actions,
    "utf8": utf8,
    "numbers": numbers,
    "nesting": nesting,
    "garbage": garbage,
    "long_lines": long_lines,
    "framing": framing,
}


def catalogue(scene: Scene, families: tuple[str, ...] = tuple(FAMILIES)) -> list[Case]:
    return [c for family in families for c in FAMILIES[family](scene)]
