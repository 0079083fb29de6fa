"""The line client of `jsonchat client` without its terminal and socket.

What a typed line means, how a server message reads to a person, and how the server's byte stream
splits into messages are pure functions of their input and a frozen `State`, so they are tested
line by line and byte by byte without a server; transport/client.py only moves bytes and threads.

The client works with `core` servers too, which need not send a `welcome`, answer `connect` or
leave one room on `disconnect` with a target, and it never takes a delivery for the reply to
`connect`. Opening a session is a small machine driven by `begin`, `receive` and `tick` (time is
passed in, as in the engine):

- it waits up to `WELCOME_WAIT_S` for a `welcome` before it sends anything;
- after a `welcome` of version 1 it first connects with no room: the reply, if the server gives
  one, is then `{"status":"chat","history":[]}`, which no delivery can be (a delivery holds one
  entry). That empty reply proves the server answers `connect`; the rooms are then joined with a
  second `connect` (CONNECT-4), whose reply is the first `chat` after it, and is history;
- with no `welcome`, or no reply within `REPLY_WAIT_S`, it connects with its rooms and takes every
  `chat` as news; once no error has come for `REPLY_WAIT_S`, it says it is connected.

`/leave` warns first where the server did not announce version 1, since course servers end the
whole session on any `disconnect`.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from engine.codec import encode
from engine.framing import FrameDecoder
from protocol import ALL_ROOM, ErrorCode, error_text, limits, schema

JsonObject = dict[str, Any]  # one message, to the server or from it
ALL = ALL_ROOM  # the room everyone is in, which cannot be left
MAX_NAME_BYTES = limits()["max_name_bytes"]
MAX_MESSAGE_BYTES = limits()["max_message_bytes"]
MAX_FRAME_BYTES = limits()["max_frame_bytes"]
MAX_TARGETS = limits()["max_targets"]
# A connect reply holds up to 50 entries of 3800-byte texts, which JSON escapes can grow sixfold.
MAX_SERVER_MESSAGE_BYTES = 4 * 1024 * 1024
NAME_TAKEN = error_text(ErrorCode.NAME_TAKEN)
NOT_CONNECTED = error_text(ErrorCode.TARGET_NOT_CONNECTED)
# The characters the server refuses in names (VALIDATE-5), taken from the schema, not retyped.
_BAD_NAME_CHARS = re.compile(schema("client/connect")["properties"]["user_name"]["not"]["pattern"])
# Control characters from the server would drive the terminal (escape sequences): shown escaped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ENTRY_KEYS = ("target", "from", "message")
ALL_PROBLEM = f"everyone is always in {ALL}: it cannot be left"
# How long to wait for a welcome before connecting (the reference server sends it after 100 ms of
# silence, COMPAT-1; one coming later only costs the history its header), and for the reply to
# a `connect` before concluding that the server sends none (one that answers does so within a
# round trip; a `core` server may never answer).
WELCOME_WAIT_S = 0.5
REPLY_WAIT_S = 1.0
NO_PARTIAL_LEAVE = (
    "! this server did not announce jsonchat v1: a /leave may end your whole session. "
    "Type it again to leave anyway."
)
HELP = (
    "* #room text   say text in a room (joins it)",
    "* @user text   send a direct message",
    f"* {ALL} text    say text to everyone",
    "* text         send to the last room or user you wrote to",
    "* /join #room  /leave #room  /rooms  /help  /quit (or Ctrl-D)",
)


@dataclass(frozen=True)
class State:
    """What the client believes about its session.

    Rooms change when a request is sent, not when the server confirms it: a reconnect's reply is
    a `chat` like any delivery, so there is nothing reliable to wait for, and a person needs only
    a good guess for the default target. `histories_due` holds, for each connect not answered
    yet, the rooms whose history the user wants from its reply: so that the reply is shown as
    history rather than as new messages, and a /join shows the past of the new room only, not
    again that of every room (the server sends the history of all the rooms it names).
    """

    name: str
    rooms: tuple[str, ...] = ()
    last_target: str | None = None
    histories_due: tuple[tuple[str, ...], ...] = ()
    leaving: bool = False
    # Opening the session: `stage` is `opening` (waiting for a welcome), `probing` (connected
    # with no room, waiting for the empty reply), `joining` (connected with the rooms) or `ready`
    # ("connected as ..." said); `deadline` is when `tick` moves on if nothing came.
    stage: str = "ready"
    deadline: float | None = None
    protocol_version: int | None = None  # from the welcome: 1 means the server follows `full`
    answers_connect: bool | None = None  # None until the server has shown it
    leave_warned: bool = False

    @property
    def connected(self) -> bool:
        return self.stage == "ready"

    @property
    def default_target(self) -> str | None:
        return self.last_target or (self.rooms[0] if self.rooms else None)


@dataclass(frozen=True)
class Outgoing:
    """Messages for the server, from a typed line (the engine's `Send` is the server's output)."""

    frames: tuple[JsonObject, ...]


@dataclass(frozen=True)
class Show:
    """Text for the user only: help, hints, the room list. Nothing goes to the server."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class Quit:
    pass


Action = Outgoing | Show | Quit


class Ending(enum.Enum):
    """Why the server side ended the session (the user leaving is not the server's doing)."""

    BY_SERVER = "the server sent disconnect"
    NAME_REFUSED = "the user name is taken"
    CONNECTION_LOST = "the connection dropped"


@dataclass(frozen=True)
class Incoming:
    lines: tuple[str, ...]
    end: Ending | None = None
    send: tuple[JsonObject, ...] = ()  # frames opening the session asks for


@dataclass(frozen=True)
class Unreadable:
    """Server bytes that are no JSON object: reported, skipped, and the stream goes on."""

    reason: str


# -- typed lines ----------------------------------------------------------------------------------


def name_problem(name: str, prefixes: str) -> str | None:
    """Why the server would refuse `name` (VALIDATE-4, VALIDATE-5), in words; None if it is fine."""
    if not name.startswith(tuple(prefixes)):
        return f"{name!r} is no name: names start with {' or '.join(prefixes)}, without spaces"
    if len(name) < 2:
        return f"{name!r} needs at least one character after {name[0]}"
    if _BAD_NAME_CHARS.search(name):
        return f"{name!r} holds a space or control character"
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"{name[:16]}… is longer than {MAX_NAME_BYTES} bytes"
    return None


def parse_rooms(text: str) -> tuple[str, ...]:
    """`--rooms '#general, #music'` to rooms; ValueError with the reason if one is invalid."""
    rooms = tuple(dict.fromkeys(room.strip() for room in text.split(",") if room.strip()))
    for room in rooms:
        problem = name_problem(room, "#")
        if problem:
            raise ValueError(problem)
    if len(rooms) > MAX_TARGETS:
        raise ValueError(f"at most {MAX_TARGETS} rooms")
    return rooms


def connect(state: State, new_rooms: tuple[str, ...] | None = None) -> tuple[JsonObject, State]:
    """The connect that opens the session, and again on each /join (CONNECT-4).

    A reply is expected (and its history wanted) unless the server has shown it sends none.
    """
    frame = {"action": "connect", "user_name": state.name, "targets": list(state.rooms)}
    if state.answers_connect is False:
        return frame, state
    wanted = state.rooms if new_rooms is None else new_rooms
    return frame, replace(state, histories_due=(*state.histories_due, wanted))


def connected_line(state: State) -> str:
    where = f"in {', '.join(state.rooms)}" if state.rooms else "(no room yet: #room text joins one)"
    return f"* connected as {state.name} {where}"


def begin(state: State, now: float) -> State:
    """The connection is open: wait for a welcome before saying anything."""
    return replace(state, stage="opening", deadline=now + WELCOME_WAIT_S)


def _join_rooms(state: State, now: float, answers: bool) -> tuple[Incoming, State]:
    """Connect with the rooms; its reply is history only from a server known to answer."""
    state = replace(state, answers_connect=answers, stage="joining")
    frame, state = connect(state)
    deadline = None if answers else now + REPLY_WAIT_S
    return Incoming((), send=(frame,)), replace(state, deadline=deadline)


def tick(state: State, now: float) -> tuple[Incoming, State]:
    """Time has passed: move on where what was waited for did not come."""
    if state.deadline is None or now < state.deadline or state.leaving:
        return Incoming(()), state
    if state.stage in ("opening", "probing"):  # CLIENT-2: no welcome, or no reply to connect
        return _join_rooms(state, now, answers=False)
    # joining a server that does not answer: no error came, so the name and rooms were taken
    lines = [connected_line(state)]
    if state.protocol_version:
        lines.append("* the server did not answer connect: earlier messages are not shown")
    return Incoming(tuple(lines)), replace(state, stage="ready", deadline=None)


def goodbye(state: State) -> tuple[JsonObject, State]:
    return {"action": "disconnect"}, replace(state, leaving=True)


def interpret(line: str, state: State) -> tuple[Action, State]:
    """One typed line to what to send, or to what to tell the user instead."""
    text = line.strip()
    if not text:
        return Show(()), state
    if text.startswith("/"):
        return _command(text.split(), state)
    if text.startswith(("#", "@")):
        target, *body = text.split(None, 1)
        return _message(target, "".join(body), state)
    if state.default_target is None:
        return _hint("no room yet: start the line with #room or @user"), state
    return _message(state.default_target, text, state)


def _hint(text: str) -> Show:
    return Show((f"? {text}",))


def _message(target: str, body: str, state: State) -> tuple[Action, State]:
    problem = name_problem(target, "#@")
    if problem:
        return _hint(problem), state
    if not body:
        return _hint(f"nothing to send to {target}: type {target} and your text"), state
    size = len(body.encode())
    if size > MAX_MESSAGE_BYTES:
        return _hint(f"not sent: {size} bytes, messages hold at most {MAX_MESSAGE_BYTES}"), state
    frame = {"action": "message", "user_name": state.name, "target": target, "message": body}
    if len(encode(frame)) - 1 > MAX_FRAME_BYTES:
        return _hint(f"not sent: over {MAX_FRAME_BYTES} bytes once quotes are escaped"), state
    joins = target.startswith("#") and target != ALL and target not in state.rooms  # ROUTE-4
    rooms = (*state.rooms, target) if joins else state.rooms
    return Outgoing((frame,)), replace(state, rooms=rooms, last_target=target)


def _command(words: list[str], state: State) -> tuple[Action, State]:
    command, rooms = words[0], words[1:]
    if command == "/quit":
        return Quit(), state
    if command == "/help":
        return Show(HELP), state
    if command == "/rooms":
        listed = ", ".join(state.rooms) or "none"
        line = f"* rooms: {listed}; plain lines go to {state.default_target or 'nobody'}"
        return Show((line,)), state
    if command not in ("/join", "/leave"):
        return _hint(f"unknown command {command}: /help lists them"), state

    if not rooms:
        return _hint(f"usage: {command} #room [#room ...]"), state
    refused = ALL if command == "/leave" else None
    problems = [ALL_PROBLEM if r == refused else name_problem(r, "#") for r in rooms]
    if any(problems):
        return _hint(next(p for p in problems if p)), state
    return (_join if command == "/join" else _leave)(tuple(dict.fromkeys(rooms)), state)


def _join(rooms: tuple[str, ...], state: State) -> tuple[Action, State]:
    """Joining is connecting again with the longer room list (CONNECT-4); the reply is history."""
    wanted = tuple(dict.fromkeys(state.rooms + rooms))
    if wanted == state.rooms:
        return _hint(f"already in {', '.join(rooms)}"), state
    if len(wanted) > MAX_TARGETS:
        return _hint(f"not joined: at most {MAX_TARGETS} rooms"), state
    new_rooms = tuple(r for r in rooms if r not in state.rooms)
    frame, joined = connect(replace(state, rooms=wanted, last_target=rooms[-1]), new_rooms)
    return Outgoing((frame,)), joined


def _leave(rooms: tuple[str, ...], state: State) -> tuple[Action, State]:
    """One `disconnect` with a target per room (DISCONNECT-3), once the person knows the risk:
    a server that did not announce version 1 may end the whole session instead."""
    if not state.protocol_version and not state.leave_warned:
        return Show((NO_PARTIAL_LEAVE,)), replace(state, leave_warned=True)
    frames = tuple({"action": "disconnect", "user_name": state.name, "target": r} for r in rooms)
    last = None if state.last_target in rooms else state.last_target
    kept = tuple(r for r in state.rooms if r not in rooms)
    return Outgoing(frames), replace(state, rooms=kept, last_target=last)


# -- server messages ------------------------------------------------------------------------------


def receive(
    packet: JsonObject | Unreadable, state: State, now: float = 0.0
) -> tuple[Incoming, State]:
    """One server message to lines for a person; fields it does not know are ignored (CLIENT-2)."""
    if isinstance(packet, Unreadable):
        return Incoming((f"! ignored from the server: {packet.reason}",)), state
    status = packet.get("status")  # CLIENT-2: only the fields it knows are read
    if status == "chat":
        return _chat(packet, state, now)
    if status == "error":
        text = _text(packet.get("message"))
        if text == NAME_TAKEN:
            line = f"! {text}: someone else is {state.name}; choose another --name"
            return Incoming((line,), Ending.NAME_REFUSED), state
        if text == NOT_CONNECTED and state.last_target and state.last_target.startswith("@"):
            # the direct message just sent went nowhere: plain lines go back to the rooms
            return Incoming((f"! {text}",)), replace(state, last_target=None)
        return Incoming((f"! {text}",)), state
    if status == "welcome":
        return _welcome(packet, state, now)
    if status == "disconnect":
        room = packet.get("target")
        if isinstance(room, str):
            return Incoming((f"* left {_clean(room)}",)), state
        line = "* disconnected" if state.leaving else "* the server ended the session"
        return Incoming((line,), Ending.BY_SERVER), state
    return Incoming((f"! unknown message from the server: {_preview(packet)}",)), state


def _welcome(packet: JsonObject, state: State, now: float) -> tuple[Incoming, State]:
    version = packet.get("version")
    welcome = _text(packet.get("message"), "connected")
    line = f"* {welcome}" + (f" (protocol v{version})" if version else "")
    if type(version) is not int or version < 1:
        return Incoming((line,)), state
    state = replace(state, protocol_version=version)
    if state.stage != "opening":  # too late: the session is opened as with a `core` server
        return Incoming((line,)), state
    probe = {"action": "connect", "user_name": state.name, "targets": []}
    after = replace(state, stage="probing", deadline=now + REPLY_WAIT_S)
    return Incoming((line,), send=(probe,)), after


def _chat(packet: JsonObject, state: State, now: float) -> tuple[Incoming, State]:
    """A delivery, or the reply to a `connect`. A delivery holds one entry, so the reply to the
    probe (no room, so no history) cannot be mistaken; once the server is known to answer, the
    first `chat` after a `connect` is its reply, since the server answers before it delivers."""
    entries = packet.get("history")
    if not isinstance(entries, list):
        return Incoming((f"! malformed chat from the server: {_preview(packet)}",)), state
    if state.stage == "probing" and not entries:
        return _join_rooms(state, now, answers=True)
    if not state.histories_due or not state.answers_connect:
        return Incoming(tuple(line for entry in entries for line in _entry(entry))), state
    rooms, later = state.histories_due[0], state.histories_due[1:]
    first = () if state.connected else (connected_line(state),)
    state = replace(state, histories_due=later, stage="ready", deadline=None)
    wanted = [e for e in entries if not isinstance(e, dict) or e.get("target") in rooms]
    where = f" in {', '.join(rooms)}" if rooms else ""
    if not wanted:
        return Incoming((*first, f"* no recent messages{where}")), state
    header = f"* {len(wanted)} recent message{'s' * (len(wanted) > 1)}{where}:"
    lines = (f"  {line}" for entry in wanted for line in _entry(entry))
    return Incoming((*first, header, *lines)), state


def _entry(entry: Any) -> list[str]:
    """`[#room] @from: text`; a direct message's target is its recipient, so it says `direct`."""
    if not (isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in _ENTRY_KEYS)):
        return [f"! malformed chat entry from the server: {_preview(entry)}"]
    target, sender = _clean(entry["target"]), _clean(entry["from"])
    where = "direct" if target.startswith("@") else target
    first, *more = (_clean(line) for line in entry["message"].split("\n"))
    return [f"[{where}] {sender}: {first}", *(f"    {line}" for line in more)]


def _clean(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _text(value: Any, missing: str = "(no text)") -> str:
    return _clean(value) if isinstance(value, str) else missing


def _preview(value: Any) -> str:
    text = _clean(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return text if len(text) <= 120 else text[:119] + "…"


# -- how a line looks ------------------------------------------------------------------------------


def kind_of(line: str) -> str:
    """What a shown line is, for its colour: `room`, `direct`, `history`, `more` (the following
    lines of a message), `error`, `hint` or `note`. Lines are built above; this reads them back."""
    if line.startswith("[direct] "):
        return "direct"
    if line.startswith("["):
        return "room"
    if line.startswith("  ["):
        return "history"
    if line.startswith("    "):
        return "more"
    return {"!": "error", "?": "hint"}.get(line[:1], "note")


# -- the byte stream ------------------------------------------------------------------------------

_UNREADABLE_REASONS = {
    ErrorCode.MALFORMED_JSON: "a line that is not a JSON object",
    ErrorCode.MALFORMED_UTF8: "a line that is not UTF-8",
    ErrorCode.FRAME_TOO_LONG: f"a message over {MAX_SERVER_MESSAGE_BYTES} bytes",
}


class StreamDecoder:
    """The server's bytes to messages, whatever the reads they come in (CLIENT-1).

    Servers end each message with a newline (FRAME-9), but older ones write objects back to back.
    PROTOCOL.md's frame scanner reads both and resumes at any byte; the engine implements it for
    the other direction, and the client reuses it with a limit fit for the longest server message.
    """

    def __init__(self) -> None:
        self._frames = FrameDecoder(MAX_SERVER_MESSAGE_BYTES)  # CLIENT-1: `\n` or none between

    def feed(self, data: bytes) -> list[JsonObject | Unreadable]:
        return [
            frame if isinstance(frame, dict) else Unreadable(_UNREADABLE_REASONS[frame])
            for frame in self._frames.feed(data)  # CLIENT-1: lines or objects back to back
        ]
