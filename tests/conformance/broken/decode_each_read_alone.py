"""Fault: the bytes of a UTF-8 character that a read boundary cuts are dropped (FRAME-3), as in
a server that decodes every recv() on its own with errors='ignore'."""

from __future__ import annotations

from engine.engine import Engine
from engine.events import DataReceived
from tests.conformance.broken.common import serve


def without_cut_characters(data: bytes) -> bytes:
    start = 0
    while start < len(data) and data[start] & 0xC0 == 0x80:  # the tail of a cut character
        start += 1
    end = lead = len(data)
    while lead > start and end - lead < 3 and data[lead - 1] & 0xC0 == 0x80:
        lead -= 1
    if lead > start and 0xC2 <= data[lead - 1] <= 0xF4:  # a character's first byte...
        first = data[lead - 1]
        size = 2 if first < 0xE0 else 3 if first < 0xF0 else 4
        if end - (lead - 1) < size:  # ...whose last bytes are in the next read
            end = lead - 1
    return data[start:end]


class DecodesEachReadAlone(Engine):
    def _on_data(self, event: DataReceived) -> None:
        super()._on_data(DataReceived(event.conn, without_cut_characters(event.data), event.now))


if __name__ == "__main__":
    serve(DecodesEachReadAlone)
