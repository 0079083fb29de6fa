"""The line client's core, without terminal or socket: typed lines, server messages, the stream."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.validator import is_valid
from transport.client_core import (
    HELP,
    NO_PARTIAL_LEAVE,
    Ending,
    Incoming,
    Outgoing,
    Quit,
    Show,
    State,
    StreamDecoder,
    Unreadable,
    begin,
    connect,
    goodbye,
    interpret,
    kind_of,
    parse_rooms,
    receive,
    tick,
)


def v1(state: State) -> State:
    """What a welcome of version 1 tells the client: the server answers connect, leaves rooms."""
    return replace(state, protocol_version=1, answers_connect=True)


ALICE = v1(State("@alice", ("#general", "#music")))


def sent(line: str, state: State = ALICE) -> tuple[list[dict[str, Any]], State]:
    """The frames a line sends; each must be one the server accepts."""
    action, after = interpret(line, state)
    assert isinstance(action, Outgoing), action
    for frame in action.frames:
        assert is_valid(f"client/{frame['action']}", frame), frame
    return list(action.frames), after


def hint(line: str, state: State = ALICE) -> str:
    """The one-line hint a line gets instead of being sent; the state must not change."""
    action, after = interpret(line, state)
    assert isinstance(action, Show) and len(action.lines) == 1, action
    assert after == state
    return action.lines[0]


def message(target: str, text: str) -> dict[str, str]:
    return {"action": "message", "user_name": "@alice", "target": target, "message": text}


# -- typed lines ----------------------------------------------------------------------------------


def test_prefixed_lines_send_to_a_room_a_user_or_everyone() -> None:
    assert sent("#general hi all")[0] == [message("#general", "hi all")]
    assert sent("@bob  psst ")[0] == [message("@bob", "psst")]
    assert sent("#all\thello world")[0] == [message("#all", "hello world")]


def test_a_plain_line_goes_to_the_last_target_else_the_first_room() -> None:
    assert sent("hello")[0] == [message("#general", "hello")]
    _, after = sent("@bob psst")
    assert sent("again", after)[0] == [message("@bob", "again")]
    assert hint("hello", State("@alice")).startswith("? no room yet")


def test_posting_to_a_new_room_joins_it_but_not_for_all_or_users() -> None:
    assert sent("#new hi")[1].rooms == ("#general", "#music", "#new")
    assert sent("#all hi")[1].rooms == ALICE.rooms
    assert sent("@bob hi")[1].rooms == ALICE.rooms


def test_the_first_word_is_the_target_so_a_room_cannot_hold_a_space() -> None:
    assert sent("#my room is cosy")[0] == [message("#my", "room is cosy")]
    assert "space" in hint("/join #my room")  # `room` alone is no room name
    assert "space" in hint("/leave #my\u3000room")


def test_empty_lines_do_nothing() -> None:
    assert interpret("  \r", ALICE) == (Show(()), ALICE)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("#general", "nothing to send to #general"),
        ("@bob   ", "nothing to send to @bob"),
        ("# hi", "at least one character after #"),
        ("@ hi", "at least one character after @"),
        ("@" + "b" * 60 + " hi", "longer than 60 bytes"),
        ("/join", "usage: /join #room"),
        ("/leave", "usage: /leave #room"),
        ("/join general", "names start with #"),
        ("/leave #all", "everyone is always in #all"),
        ("/join #music", "already in #music"),
        ("/frobnicate now", "unknown command /frobnicate"),
        ("/", "unknown command /"),
    ],
)
def test_lines_that_cannot_be_sent_get_a_one_line_hint(line: str, words: str) -> None:
    text = hint(line)
    assert text.startswith("? ") and words in text, text


def test_texts_over_the_protocol_limits_are_refused_locally() -> None:
    assert sent("#general " + "é" * 1900)[0][0]["message"] == "é" * 1900  # 3800 bytes: the limit
    assert "3802 bytes" in hint("#general " + "é" * 1901)
    # Within 3800 bytes, but 7.6 kB once each quote is escaped: over the 4096-byte frame.
    assert "once quotes are escaped" in hint('#general "' + '"' * 3799)


def test_join_connects_again_with_the_longer_room_list() -> None:
    frames, after = sent("/join #jazz #rock #jazz")
    rooms = ["#general", "#music", "#jazz", "#rock"]
    assert frames == [{"action": "connect", "user_name": "@alice", "targets": rooms}]
    assert after.rooms == tuple(rooms)
    assert after.last_target == "#rock"
    assert after.histories_due == (("#jazz", "#rock"),)  # the reply is their past, not news


def test_join_refuses_more_rooms_than_a_connect_may_name() -> None:
    full = State("@alice", tuple(f"#r{i}" for i in range(64)))
    assert "at most 64 rooms" in hint("/join #one-more", full)


def test_leave_sends_one_disconnect_per_room() -> None:
    _, on_music = sent("#music hi")
    frames, after = sent("/leave #music #jazz", on_music)
    assert frames == [
        {"action": "disconnect", "user_name": "@alice", "target": "#music"},
        {"action": "disconnect", "user_name": "@alice", "target": "#jazz"},
    ]
    assert after.rooms == ("#general",)
    assert after.default_target == "#general"


def test_local_commands() -> None:
    assert interpret("/quit", ALICE) == (Quit(), ALICE)
    assert interpret("/help", ALICE) == (Show(HELP), ALICE)
    assert interpret("/rooms", ALICE)[0] == Show(
        ("* rooms: #general, #music; plain lines go to #general",)
    )
    assert interpret("/rooms", State("@alice"))[0] == Show(
        ("* rooms: none; plain lines go to nobody",)
    )


def test_connect_and_goodbye_frames() -> None:
    frame, after = connect(ALICE)
    assert frame == {"action": "connect", "user_name": "@alice", "targets": ["#general", "#music"]}
    assert is_valid("client/connect", frame)
    assert after.histories_due == (("#general", "#music"),)
    assert goodbye(ALICE) == ({"action": "disconnect"}, State(**{**vars(ALICE), "leaving": True}))


def test_parse_rooms() -> None:
    assert parse_rooms("#general, #music,,#general ") == ("#general", "#music")
    assert parse_rooms("") == ()
    assert parse_rooms("#all,#general") == ("#all", "#general")  # brings the history of #all
    for bad, words in [("general", "start with #"), ("#my room", "space"), ("#", "after #")]:
        with pytest.raises(ValueError, match=words):
            parse_rooms(bad)
    with pytest.raises(ValueError, match="at most 64"):
        parse_rooms(",".join(f"#r{i}" for i in range(65)))


# -- server messages ------------------------------------------------------------------------------

JUST_CONNECTED = v1(
    State(
        "@alice", ("#general", "#music"), histories_due=(("#general", "#music"),), stage="joining"
    )
)


def shown(packet: dict[str, Any] | Unreadable, state: State = ALICE) -> list[str]:
    incoming, _ = receive(packet, state)
    assert incoming.end is None
    return list(incoming.lines)


def chat(*entries: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "status": "chat",
        "history": [dict(zip(("target", "from", "message"), e, strict=True)) for e in entries],
    }


def test_the_welcome_is_one_line_and_optional_fields_are_optional() -> None:
    welcome = {"status": "welcome", "message": "Welcome to jsonchat", "version": 1, "limits": {}}
    assert shown(welcome) == ["* Welcome to jsonchat (protocol v1)"]
    assert shown({"status": "welcome"}) == ["* connected"]


def test_the_reply_to_a_connect_is_shown_as_history() -> None:
    reply = chat(("#general", "@bob", "anyone here?"), ("#music", "@carol", "la"))
    incoming, after = receive(reply, JUST_CONNECTED)
    assert incoming.lines == (
        "* connected as @alice in #general, #music",
        "* 2 recent messages in #general, #music:",
        "  [#general] @bob: anyone here?",
        "  [#music] @carol: la",
    )
    assert after.histories_due == () and after.connected
    assert shown(chat(), after) == []
    nothing = shown(chat(), JUST_CONNECTED)
    assert nothing == [
        "* connected as @alice in #general, #music",
        "* no recent messages in #general, #music",
    ]
    one = shown(chat(("#general", "@bob", "hi")), JUST_CONNECTED)[1]
    assert one == "* 1 recent message in #general, #music:"
    alone = v1(State("@alice", histories_due=((),)))
    assert shown(chat(), alone) == ["* no recent messages"]


def test_after_a_join_only_the_past_of_the_new_rooms_is_shown_then_news_again() -> None:
    _, joined = sent("/join #jazz", v1(State("@alice", ("#general",))))
    reply = chat(("#general", "@bob", "seen already"), ("#jazz", "@carol", "new to me"))
    incoming, after = receive(reply, joined)
    assert incoming.lines == ("* 1 recent message in #jazz:", "  [#jazz] @carol: new to me")
    assert shown(reply, after) == ["[#general] @bob: seen already", "[#jazz] @carol: new to me"]


def test_joining_all_is_allowed_and_brings_its_history() -> None:
    frames, after = sent("/join #all")
    assert frames[0]["targets"] == ["#general", "#music", "#all"]
    assert after.histories_due == (("#all",),)


def test_live_deliveries_rooms_direct_and_several_at_once() -> None:
    assert shown(chat(("#general", "@bob", "hi alice"))) == ["[#general] @bob: hi alice"]
    assert shown(chat(("@alice", "@bob", "psst"))) == ["[direct] @bob: psst"]
    assert shown(chat(("#all", "@bob", "hi"), ("#music", "@carol", "la"))) == [
        "[#all] @bob: hi",
        "[#music] @carol: la",
    ]
    assert shown(chat()) == []


def test_texts_cannot_drive_the_terminal_and_keep_their_lines() -> None:
    lines = shown(chat(("#general", "@bob\x1b[2J", "one\ntwo\x07\r")))
    assert lines == ["[#general] @bob\\x1b[2J: one", "    two\\x07\\x0d"]


def test_unknown_fields_are_ignored() -> None:
    plain = chat(("#general", "@bob", "hi"))
    extra = {**plain, "id": 7, "history": [{**plain["history"][0], "sent_at": "noon"}]}
    assert shown(extra) == shown(plain)
    assert shown({"status": "error", "message": "Malformed JSON", "code": 4}) == [
        "! Malformed JSON"
    ]


def test_errors_and_a_refused_name() -> None:
    assert shown({"status": "error", "message": "Target user not connected"}) == [
        "! Target user not connected"
    ]
    incoming, _ = receive({"status": "error", "message": "User name already connected"}, ALICE)
    assert incoming.end is Ending.NAME_REFUSED
    assert incoming.lines == (
        "! User name already connected: someone else is @alice; choose another --name",
    )


def test_disconnects_leaving_a_room_and_the_end_of_the_session() -> None:
    assert shown({"status": "disconnect", "target": "#music"}) == ["* left #music"]
    ended, _ = receive({"status": "disconnect"}, ALICE)
    assert ended == Incoming(("* the server ended the session",), Ending.BY_SERVER)
    ended, _ = receive({"status": "disconnect"}, goodbye(ALICE)[1])
    assert ended == Incoming(("* disconnected",), Ending.BY_SERVER)


@pytest.mark.parametrize(
    ("packet", "start"),
    [
        (
            {"status": "shout", "message": "hey"},
            '! unknown message from the server: {"status":"shout"',
        ),
        ({"history": []}, "! unknown message from the server"),
        ({"status": "chat", "history": "hi"}, "! malformed chat from the server"),
        ({"status": "chat", "history": [{"from": "@bob"}]}, "! malformed chat entry"),
        (Unreadable("a line that is not a JSON object"), "! ignored from the server: a line"),
    ],
)
def test_what_cannot_be_understood_is_a_warning_line(
    packet: dict[str, Any] | Unreadable, start: str
) -> None:
    lines = shown(packet)
    assert len(lines) == 1 and lines[0].startswith(start), lines


# -- the byte stream ------------------------------------------------------------------------------

STREAM = (
    b'{"status":"welcome","message":"W\xc3\xa9lcome","version":1}\n'
    b'{"status":"chat","history":[{"target":"#g","from":"@b","message":"}{\\"\xe2\x82\xac"}]}'
    b'{"status":"error","message":"Malformed JSON"}\r\n'
    b"\n  oops, not json\n"
    b'{"status":"disconnect"}'
)
PACKETS: list[dict[str, Any] | Unreadable] = [
    {"status": "welcome", "message": "Wélcome", "version": 1},
    {"status": "chat", "history": [{"target": "#g", "from": "@b", "message": '}{"€'}]},
    {"status": "error", "message": "Malformed JSON"},
    Unreadable("a line that is not a JSON object"),
    {"status": "disconnect"},
]


def decode(*pieces: bytes) -> list[dict[str, Any] | Unreadable]:
    decoder = StreamDecoder()
    return [packet for piece in pieces for packet in decoder.feed(piece)]


def test_newline_ended_and_back_to_back_objects_and_garbage() -> None:
    assert decode(STREAM) == PACKETS


def test_the_stream_split_at_any_byte_gives_the_same_packets() -> None:
    for cut in range(len(STREAM) + 1):
        assert decode(STREAM[:cut], STREAM[cut:]) == PACKETS, cut
    assert decode(*(STREAM[i : i + 1] for i in range(len(STREAM)))) == PACKETS


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_the_stream_split_anywhere_many_times_gives_the_same_packets(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    assert decode(*(STREAM[a:b] for a, b in pairwise(bounds))) == PACKETS


def test_a_partial_object_waits_for_the_rest() -> None:
    decoder = StreamDecoder()
    assert decoder.feed(b'{"status":"disc') == []
    assert decoder.feed(b'onnect"}') == [{"status": "disconnect"}]


def test_bad_bytes_are_reported_and_the_stream_goes_on() -> None:
    assert decode(b'{"status":"error","message":"\xff"}\n{"status":"disconnect"}\n') == [
        Unreadable("a line that is not UTF-8"),
        {"status": "disconnect"},
    ]
    assert decode(b"[1,2]\n{}") == [Unreadable("a line that is not a JSON object"), {}]


# -- opening a session, with any server -----------------------------------------------------------

OPENING = begin(State("@alice", ("#general", "#music")), now=0.0)
WELCOME_V1 = {"status": "welcome", "message": "hi", "version": 1}
PROBE = {"action": "connect", "user_name": "@alice", "targets": []}
CONNECT = {"action": "connect", "user_name": "@alice", "targets": ["#general", "#music"]}


def test_a_v1_server_is_probed_with_no_room_then_joined_and_its_reply_is_history() -> None:
    incoming, probing = receive(WELCOME_V1, OPENING, now=0.1)
    assert incoming.send == (PROBE,) and probing.stage == "probing"
    dm = chat(("@alice", "@bob", "psst"))
    assert shown(dm, probing) == ["[direct] @bob: psst"]  # one entry: never the empty reply
    incoming, joining = receive(chat(), probing, now=0.2)
    assert incoming == Incoming((), send=(CONNECT,)) and joining.answers_connect is True
    incoming, ready = receive(chat(("#general", "@bob", "old")), joining, now=0.3)
    assert incoming.lines == (
        "* connected as @alice in #general, #music",
        "* 1 recent message in #general, #music:",
        "  [#general] @bob: old",
    )
    assert ready.connected and tick(ready, 100.0)[0] == Incoming(())
    assert shown(chat(("#general", "@bob", "new")), ready) == ["[#general] @bob: new"]


def test_a_v1_server_that_does_not_answer_connect_is_found_out_and_nothing_is_history() -> None:
    _, probing = receive(WELCOME_V1, OPENING, now=0.1)
    assert tick(probing, 1.0)[0] == Incoming(())
    incoming, joining = tick(probing, 1.1)
    assert incoming.send == (CONNECT,) and joining.answers_connect is False
    room = chat(("#general", "@bob", "live"))
    assert shown(room, joining) == ["[#general] @bob: live"]
    incoming, ready = tick(joining, 2.1)
    assert incoming.lines == (
        "* connected as @alice in #general, #music",
        "* the server did not answer connect: earlier messages are not shown",
    )
    assert ready.connected and ready.histories_due == ()


def test_without_a_welcome_the_rooms_are_joined_and_every_chat_is_news() -> None:
    incoming, joining = tick(OPENING, 0.5)
    assert incoming.send == (CONNECT,) and joining.histories_due == ()
    assert shown(chat(("@alice", "@bob", "psst")), joining) == ["[direct] @bob: psst"]
    assert shown(chat(("#general", "@bob", "hi")), joining) == ["[#general] @bob: hi"]
    incoming, ready = tick(joining, 1.5)
    assert incoming.lines == ("* connected as @alice in #general, #music",)
    _, joined = sent("/join #jazz", ready)
    assert joined.histories_due == ()  # no reply will come: none is waited for


def test_a_welcome_after_the_wait_changes_nothing_but_leave() -> None:
    _, joining = tick(OPENING, 0.5)
    incoming, after = receive(WELCOME_V1, joining, now=1.5)
    assert incoming.send == () and after.stage == "joining" and after.protocol_version == 1


def test_nothing_more_is_sent_once_leaving() -> None:
    _, leaving = goodbye(OPENING)
    assert tick(leaving, 5.0)[0] == Incoming(())


def test_connected_without_rooms() -> None:
    _, joining = tick(begin(State("@alice"), 0.0), 0.5)
    assert tick(joining, 1.5)[0].lines == (
        "* connected as @alice (no room yet: #room text joins one)",
    )


def test_leave_warns_once_where_the_server_did_not_announce_partial_leave() -> None:
    core = State("@alice", ("#general", "#music"))
    action, warned = interpret("/leave #music", core)
    assert action == Show((NO_PARTIAL_LEAVE,)) and warned.leave_warned
    frames, _ = sent("/leave #music", warned)
    assert frames == [{"action": "disconnect", "user_name": "@alice", "target": "#music"}]
    assert isinstance(interpret("/leave #music", ALICE)[0], Outgoing)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("[#general] @bob: hi", "room"),
        ("[direct] @bob: psst", "direct"),
        ("  [#general] @bob: old", "history"),
        ("    second line", "more"),
        ("! Target user not connected", "error"),
        ("? no room yet", "hint"),
        ("* connected as @alice in #general", "note"),
    ],
)
def test_every_line_has_a_kind_for_its_colour(line: str, kind: str) -> None:
    assert kind_of(line) == kind


def test_a_direct_message_to_nobody_does_not_become_the_default_target() -> None:
    _, after = sent("@nobody hi")
    assert after.default_target == "@nobody"
    _, back = receive({"status": "error", "message": "Target user not connected"}, after)
    assert back.default_target == "#general"
