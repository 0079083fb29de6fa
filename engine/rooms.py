"""Rooms: who is subscribed, in join order, and the recent history (ROUTE-12).

Fan-out reads tuples built on the first message after membership changes (not on every change:
10,000 connects joining `#all` would otherwise cost 10,000 tuples of up to 10,000 members), so a
room message allocates nothing per recipient. History entries carry a global sequence number, so
that the history of several rooms can be merged in the order the server received the messages.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from engine.events import ConnId

HistoryEntry = tuple[int, dict[str, Any]]

# "Everyone but the sender" is kept per sender for rooms up to this size: at most this many
# tuples of this many members per room. Bigger rooms (`#all`) build it per message.
OTHERS_CACHED_UP_TO = 64


class Room:
    __slots__ = ("_members", "_others", "_tuple", "history", "name")

    def __init__(self, name: str, history_size: int) -> None:
        self.name = name
        self._members: dict[ConnId, None] = {}
        self._others: dict[ConnId, tuple[ConnId, ...]] = {}
        self._tuple: tuple[ConnId, ...] | None = ()
        self.history: deque[HistoryEntry] = deque(maxlen=history_size)  # ROUTE-12: the last N

    def add(self, conn: ConnId) -> None:
        if conn not in self._members:
            self._members[conn] = None
            self._tuple = None  # `_changed`, inline: every connect joins `#all`
            if self._others:
                self._others.clear()

    def discard(self, conn: ConnId) -> None:
        if self._members.pop(conn, 0) is None:
            self._changed()

    def _changed(self) -> None:
        self._tuple = None
        if self._others:
            self._others.clear()

    @property
    def members(self) -> tuple[ConnId, ...]:
        """Every member, in join order."""
        if self._tuple is None:
            self._tuple = tuple(self._members)
        return self._tuple

    def __contains__(self, conn: object) -> bool:
        return conn in self._members

    def __len__(self) -> int:
        return len(self._members)

    def others(self, conn: ConnId) -> tuple[ConnId, ...]:
        """Every member but `conn` (who may not be a member at all), in join order."""
        others = self._others.get(conn)
        if others is None:
            members = self.members
            if conn in self._members:  # ROUTE-3: never back to the sender
                i = members.index(conn)
                others = members[:i] + members[i + 1 :]
            else:
                others = members
            if len(members) <= OTHERS_CACHED_UP_TO:
                self._others[conn] = others
        return others
