"""Inbound framing (FRAME-1 to FRAME-8): bytes in, whole JSON objects or frame errors out.

PROTOCOL.md defines a frame by a byte scanner with three modes: between frames (whitespace is
skipped, `{` opens an object frame, anything else opens a garbage frame), in an object (braces are
counted outside strings; the frame ends after the closing `}` or before a `\\n`) and in garbage (up
to the next `\\n`). `_Scanner` is that definition, written to resume at any byte, so a frame split
over many reads decodes exactly like the unsplit one.

Scanning every byte in Python would cost more than everything else the engine does, so `feed`
first tries the common case whole: a line (or the rest of a read) that is one JSON object. When
orjson parses it to a dict, the scanner would have produced the same single frame, because in
valid JSON the first `}` at depth zero is the last byte. Everything else goes through the scanner.
"""

from __future__ import annotations

import enum
import re
from typing import Any

import orjson

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_WHITESPACE = b" \t\r\n"
_LINE_WHITESPACE = b" \t\r"
_OBJECT_STOPS = re.compile(rb'[{}"\n]')
_STRING_STOPS = re.compile(rb'["\\\n]')
_NEWLINE = ord("\n")
_OPEN, _CLOSE, _QUOTE = ord("{"), ord("}"), ord('"')


class FrameError(enum.Enum):
    """A frame that cannot be a client message; `value` is the protocol error code."""

    TOO_LONG = "frame_too_long"
    MALFORMED_UTF8 = "malformed_utf8"
    MALFORMED_JSON = "malformed_json"


Frame = dict[str, Any] | FrameError


def parse(frame: bytes) -> Frame:
    """One complete frame (at most `max_frame_bytes`) checked in spec order: UTF-8, then JSON.

    orjson rejects exactly what FRAME-8 calls malformed: NaN and Infinity, numbers beyond a
    double, unpaired surrogate escapes and nesting deeper than 1024; it also rejects invalid
    UTF-8, which must be told apart because it has its own error (FRAME-7).
    """
    try:
        document = _loads(frame)
    except _JSONDecodeError:
        try:
            frame.decode("utf-8")
        except UnicodeDecodeError:
            return FrameError.MALFORMED_UTF8
        return FrameError.MALFORMED_JSON
    return document if type(document) is dict else FrameError.MALFORMED_JSON


# The scanner's modes (plain ints: an Enum member lookup costs more than the fast path).
BETWEEN, OBJECT, STRING, ESCAPE, GARBAGE = range(5)  # STRING: in a string in an object frame


class FrameDecoder:
    """Per-connection decoder. It never holds more than `max_frame_bytes` of a frame.

    A frame that grows past the limit is reported as soon as it does (FRAME-6); its remaining
    bytes are scanned, to find where it ends, but not kept.
    """

    __slots__ = ("_depth", "_max", "_mode", "_oversize", "_parts", "_size")

    def __init__(self, max_frame_bytes: int) -> None:
        self._max = max_frame_bytes
        self._mode = BETWEEN
        self._depth = 0
        self._parts: list[bytes] = []
        self._size = 0
        self._oversize = False

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished frame held right now (for tests of the bound)."""
        return sum(map(len, self._parts))

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._mode is BETWEEN:
                newline = data.find(b"\n", pos)
                stop = end if newline < 0 else newline
                line = data[pos:stop]
                if not (line.startswith(b"{") and line.endswith(b"}")):
                    line = line.strip(_LINE_WHITESPACE)
                if 0 < len(line) <= self._max and line[0] == _OPEN and line[-1] == _CLOSE:
                    try:
                        document = _loads(line)
                    except _JSONDecodeError:
                        pass
                    else:
                        if type(document) is dict:
                            frames.append(document)
                            pos = stop + 1
                            continue
            pos = self._scan(data, pos, frames)
        return frames

    # -- the scanner of PROTOCOL.md, resumable at any byte ------------------------------------

    def _scan(self, data: bytes, pos: int, frames: list[Frame]) -> int:
        """Advance over `data` from `pos` until one frame ends or the data does; new position."""
        end = len(data)
        while pos < end:
            mode = self._mode
            if mode is BETWEEN:
                byte = data[pos]
                if byte == _NEWLINE:
                    return pos + 1  # back to the whole-line fast path in `feed`
                if byte in _WHITESPACE:
                    pos += 1
                    continue
                self._mode = OBJECT if byte == _OPEN else GARBAGE
                self._depth = 0
                continue
            if mode is GARBAGE:
                newline = data.find(b"\n", pos)
                if newline < 0:
                    self._keep(data, pos, end, frames)
                    return end
                self._keep(data, pos, newline, frames)
                self._finish(frames)
                return newline + 1
            if mode is ESCAPE:
                self._mode = STRING
                if data[pos] != _NEWLINE:
                    self._keep(data, pos, pos + 1, frames)
                    pos += 1
                continue
            pattern = _STRING_STOPS if mode is STRING else _OBJECT_STOPS
            found = pattern.search(data, pos)
            if found is None:
                self._keep(data, pos, end, frames)
                return end
            stop = found.start()
            byte = data[stop]
            if byte == _NEWLINE:
                self._keep(data, pos, stop, frames)
                self._finish(frames)
                return stop + 1
            self._keep(data, pos, stop + 1, frames)
            pos = stop + 1
            if mode is STRING:
                self._mode = OBJECT if byte == _QUOTE else ESCAPE
            elif byte == _QUOTE:
                self._mode = STRING
            elif byte == _OPEN:
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    self._finish(frames)
                    return pos
        return pos

    def _keep(self, data: bytes, start: int, stop: int, frames: list[Frame]) -> None:
        """Add `data[start:stop]` to the current frame, or only count it once it is too long."""
        if start == stop:
            return
        self._size += stop - start
        if self._oversize:
            return
        if self._size > self._max:
            self._oversize = True
            self._parts.clear()
            frames.append(FrameError.TOO_LONG)
            return
        self._parts.append(data[start:stop])

    def _finish(self, frames: list[Frame]) -> None:
        if self._size and not self._oversize:
            frames.append(parse(b"".join(self._parts)))
        self._mode = BETWEEN
        self._parts.clear()
        self._size = 0
        self._oversize = False
