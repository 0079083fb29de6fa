"""One status line, rewritten in place on a terminal, for long runs (`conformance`, `fuzz`).

Only a terminal gets it: output piped to a file or another program stays exactly as it was, with
no carriage returns or escape codes in it. The line is cut to the terminal's width, since a line
that wraps can no longer be rewritten in place.
"""

from __future__ import annotations

import shutil
from typing import TextIO

__all__ = ["StatusLine"]

CLEAR = "\r\x1b[2K"  # to the start of the line, and erase it


class StatusLine:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        isatty = getattr(stream, "isatty", None)
        self.active = bool(isatty and isatty())
        self.shown = False

    def show(self, text: str) -> None:
        if not self.active:
            return
        width = shutil.get_terminal_size((100, 24)).columns - 1
        if len(text) > width:
            text = text[: max(width - 1, 0)] + "…"
        self.stream.write(CLEAR + text)
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line, before ordinary output goes where it was."""
        if self.shown:
            self.stream.write(CLEAR)
            self.stream.flush()
            self.shown = False
