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

import re
from typing import Any

import orjson

from protocol import ErrorCode

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_WHITESPACE = b" \t\r\n"
_LINE_WHITESPACE = b" \t\r"
# In an object, `{` only counts: runs up to the next `}`, `"` or `\n` are counted in bulk. In a
# string, escaped characters are skipped in bulk too; between frames, blank runs.
_OBJECT_STOPS = re.compile(rb'[}"\n]')
_STRING_BODY = re.compile(rb'[^"\\\n]*(?:\\[^\n][^"\\\n]*)*')
_WHOLE_STRING = re.compile(b'"' + _STRING_BODY.pattern + b'"')
_BLANK = re.compile(rb"[ \t\r\n]*")
_NEWLINE = ord("\n")
_SMALL_WINDOW = 512
_OPEN, _QUOTE = ord("{"), ord('"')


def _byte_offset(line: bytes, chars: int) -> int:
    """orjson reports error positions in characters; the byte offset of the same place."""
    return chars if line.isascii() else len(line.decode("utf-8", "replace")[:chars].encode())


# A frame that cannot be a client message is decoded to the error it earns (FRAME-6 to FRAME-8).
FRAME_ERRORS = (ErrorCode.FRAME_TOO_LONG, ErrorCode.MALFORMED_UTF8, ErrorCode.MALFORMED_JSON)
_TOO_LONG, _MALFORMED_UTF8, _MALFORMED_JSON = FRAME_ERRORS  # no enum lookup on the way

Frame = dict[str, Any] | ErrorCode


def parse(frame: bytes) -> Frame:
    """One complete frame (at most `max_frame_bytes`) checked in spec order: UTF-8, then JSON.

    orjson rejects exactly what FRAME-8 calls malformed: NaN and Infinity, numbers beyond a
    double, unpaired surrogate escapes and nesting deeper than 1024; it also rejects invalid
    UTF-8, which must be told apart because it has its own error (FRAME-7).
    """
    try:
        document = _loads(frame)
    except _JSONDecodeError:
        return _malformed(frame)
    return document if type(document) is dict else _MALFORMED_JSON  # FRAME-8


def _malformed(frame: bytes) -> ErrorCode:
    """The error for a frame orjson rejected: FRAME-7's own when it is not UTF-8 at all."""
    if frame.isascii():  # ASCII is UTF-8, and much cheaper to tell than decoding
        return _MALFORMED_JSON  # FRAME-8
    try:
        frame.decode("utf-8")
    except UnicodeDecodeError:
        return _MALFORMED_UTF8  # FRAME-7
    return _MALFORMED_JSON  # FRAME-8


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
        last = len(data) - 1
        # The usual read, decoded without slicing: one line from `{` to its `\n`, in between
        # frames, at most a frame long. When orjson parses it, it is one object (the newline is
        # trailing whitespace to JSON), as `_feed` would find. When orjson fails on it and it
        # holds no `}`, nothing can end the object before the newline, so the scanner would make
        # the whole line one frame, a malformed one. Otherwise `_feed` decides.
        if (
            self._mode is BETWEEN
            and 0 < last <= self._max
            and data[0] == _OPEN
            and data.find(b"\n") == last
        ):
            try:
                return [_loads(data)]  # FRAME-1
            except _JSONDecodeError:
                if data.find(b"}") < 0:
                    return [_malformed(data)]
        return self._feed(data)

    def _feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._mode is BETWEEN:
                if data[pos] in _WHITESPACE:  # FRAME-5: blank runs between frames are skipped
                    pos = _BLANK.match(data, pos).end()  # type: ignore[union-attr]
                    if pos == end:
                        break
                if data[pos] == _OPEN:
                    newline = data.find(b"\n", pos)
                    stop = end if newline < 0 else newline
                    line_error = None  # where orjson failed on the whole line, if it tried
                    if stop - pos <= self._max:  # the usual frame: a line that is one object
                        try:
                            document = _loads(data[pos:stop])
                        except _JSONDecodeError as error:
                            line_error = error.pos
                        else:  # a dict: it starts with `{`
                            frames.append(document)
                            pos = stop + 1
                            continue
                    taken = self._glued_object(data, pos, stop, frames, line_error)  # FRAME-4
                    if taken:
                        pos += taken
                        continue
            pos = self._scan(data, pos, frames)
        return frames

    def _glued_object(
        self, data: bytes, pos: int, stop: int, frames: list[Frame], line_error: int | None
    ) -> int:
        """How many bytes from `pos` are one JSON object followed by more on the same line,
        appended to `frames`; 0 when the scanner must decide. `line_error` is where orjson
        failed on the whole line (`data[pos:stop]`), when `feed` tried it.

        Old clients write bare objects, which a read may glue together. orjson then fails where
        the first object ends, and that position, when the bytes before it parse as an object,
        is where the scanner would also have ended the frame: in valid JSON the first `}` at
        depth zero is the last byte. The objects are parsed from a window, not from the rest of
        the line, so that many glued objects cost linear time: a small one, then a frame's size.
        """
        for size in (_SMALL_WINDOW, self._max + 1):
            whole_line = pos + size >= stop
            window = data[pos:stop] if whole_line else data[pos : pos + size]
            failed_at = line_error if whole_line else None  # not parsed twice
            if failed_at is None:
                try:
                    _loads(window)
                except _JSONDecodeError as error:
                    failed_at = error.pos
            if failed_at is not None:
                first = _byte_offset(window, failed_at)
                document = None
                if 0 < first < len(window):  # else the prefix is the window that just failed
                    try:
                        document = _loads(window[:first])
                    except _JSONDecodeError:
                        document = None
                object_size = len(window[:first].rstrip(_LINE_WHITESPACE))
                if type(document) is dict and object_size <= self._max:  # FRAME-2, FRAME-4
                    frames.append(document)
                    return first
            if whole_line:
                break
        return 0

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
            if mode is STRING:
                stop = _STRING_BODY.match(data, pos).end()  # type: ignore[union-attr]
            else:
                found = _OBJECT_STOPS.search(data, pos)
                stop = end if found is None else found.start()
                self._depth += data.count(b"{", pos, stop)
            if stop == end:
                self._keep(data, pos, end, frames)
                return end
            byte = data[stop]
            if byte == _NEWLINE:  # FRAME-5: a newline ends the frame, even inside an object
                self._keep(data, pos, stop, frames)
                self._finish(frames)
                return stop + 1
            if mode is OBJECT and byte == _QUOTE:
                whole = _WHOLE_STRING.match(data, stop)  # most strings end in the same read
                if whole is not None:
                    self._keep(data, pos, whole.end(), frames)
                    pos = whole.end()
                    continue
            self._keep(data, pos, stop + 1, frames)
            pos = stop + 1
            if mode is STRING:
                self._mode = OBJECT if byte == _QUOTE else ESCAPE
            elif byte == _QUOTE:
                self._mode = STRING
            else:
                self._depth -= 1
                if self._depth == 0:  # FRAME-2, FRAME-4: the object ends at its closing brace
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
        if self._size > self._max:  # FRAME-6
            self._oversize = True
            self._parts.clear()
            frames.append(_TOO_LONG)  # FRAME-6: reported once, the rest not kept
            return
        self._parts.append(data[start:stop])  # FRAME-3: a frame reassembled across reads

    def _finish(self, frames: list[Frame]) -> None:
        if self._size and not self._oversize:
            frames.append(parse(b"".join(self._parts)))
        self._mode = BETWEEN
        self._parts.clear()
        self._size = 0
        self._oversize = False
