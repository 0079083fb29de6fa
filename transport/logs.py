"""Server logs: one line per event, as text for people or as JSON lines for machines.

The server logs with `extra` fields (`conn`, `peer`, `reason`, ...) instead of formatting them into
the message, so that both formats carry the same facts and JSON logs need no parsing.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, Literal

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

LogFormat = Literal["text", "json"]


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        pairs = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        return f"{stamp} {record.levelname.lower()} {record.getMessage()} {pairs}".rstrip()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            **_fields(record),
        }
        return json.dumps(entry, default=str)


def configure(log_format: LogFormat = "text", verbose: int = 0) -> None:
    """Log to stderr: connects, disconnects and errors; `verbose` adds user names."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger("jsonchat")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
