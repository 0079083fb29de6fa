"""The pub/sub messages between nodes, as the Lua scripts (scripts.py) publish them.

A room message on `jc:room:{room}`: `{seq} {order} {origin node} {origin conn} {entry}`, space
separated, the entry (JSON, which may hold spaces) last, so one split of four reads it. A direct
message on `jc:node:{id}`: `{length of target}:{target}{data}`, since a name is not known to
be free of any separator.
"""

from __future__ import annotations

from engine.events import DirectMessage, RoomMessage

ROOM_PREFIX = b"jc:room:"
NODE_PREFIX = b"jc:node:"


def room_channel(room: str) -> bytes:
    return ROOM_PREFIX + room.encode()


def node_channel(node_id: str) -> bytes:
    return NODE_PREFIX + node_id.encode()


def room_message(room: str, payload: bytes, node_id: bytes) -> RoomMessage:
    """The event of one room message; `sender` only when it was sent on this node (ROUTE-3)."""
    seq, _order, node, conn, entry = payload.split(b" ", 4)
    sender = int(conn) if node == node_id else None
    return RoomMessage(room, int(seq), sender, entry)


def direct_message(payload: bytes) -> DirectMessage:
    length, _, rest = payload.partition(b":")
    size = int(length)
    return DirectMessage(rest[:size].decode(), rest[size:])
