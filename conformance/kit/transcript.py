"""Transcripts: the exact bytes each client sent and received, as JSON lines.

The first line is a header (what was tested, against what); every other line is one event of one
client: `open`, `send`, `recv`, `close`, `reset` (closed by us) or `closed` (by the server).
Bytes are kept exactly: as `data` when they are UTF-8, else as `b64`. `jsonchat replay` reads
the same format, whether a conformance case or the fuzzer wrote it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "jsonchat-transcript/1"


@dataclass(frozen=True)
class Record:
    t: float  # seconds since the transcript began
    client: str
    event: str
    data: bytes = b""

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"t": round(self.t, 6), "client": self.client, "event": self.event}
        if self.data:
            try:
                entry["data"] = self.data.decode("utf-8")
            except UnicodeDecodeError:
                entry["b64"] = base64.b64encode(self.data).decode("ascii")
        return entry

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Record:
        if "b64" in entry:
            data = base64.b64decode(entry["b64"])
        else:
            data = str(entry.get("data", "")).encode("utf-8")
        return cls(float(entry["t"]), str(entry["client"]), str(entry["event"]), data)


class Transcript:
    """What every client of one test did, in order."""

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self.records = list(records)
        self._start = time.monotonic()

    @property
    def start(self) -> float:
        """The monotonic time the records' `t` counts from."""
        return self._start

    def record(self, client: str, event: str, data: bytes = b"") -> None:
        self.records.append(Record(time.monotonic() - self._start, client, event, data))

    def extend(self, other: Transcript, prefix: str = "") -> None:
        """Append `other`'s records on this transcript's clock, their clients renamed."""
        shift = other._start - self._start
        self.records += [
            Record(r.t + shift, prefix + r.client, r.event, r.data) for r in other.records
        ]

    def received(self, client: str) -> bytes:
        return b"".join(r.data for r in self.records if r.client == client and r.event == "recv")

    def write(self, path: Path, header: Mapping[str, Any]) -> None:
        lines = [json.dumps({"format": FORMAT, **header}, ensure_ascii=False)]
        lines += [json.dumps(r.to_json(), ensure_ascii=False) for r in self.records]
        path.write_text("\n".join(lines) + "\n", "utf-8")

    @classmethod
    def read(cls, path: Path) -> tuple[dict[str, Any], Transcript]:
        # Not splitlines(): JSON strings may hold U+2028 and other characters it splits on.
        lines = path.read_text("utf-8").split("\n")
        header = json.loads(lines[0]) if lines else {}
        if header.get("format") != FORMAT:
            raise ValueError(f"{path} is not a jsonchat transcript (format {FORMAT})")
        return header, cls(Record.from_json(json.loads(line)) for line in lines[1:] if line)
