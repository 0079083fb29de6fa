"""A transcript drawn as a sequence diagram: inline SVG, one lane per client and one for the server.

Each record is one row: a packet is an arrow between its client's lane and the server's, labelled
with its bytes as text; an opening, a close, a reset or a close by the server is a dashed arrow
labelled in words. The failing point is a red row of its own under the record it follows, on the
lane of the client that saw it. A long transcript is cut to the records just before the failing
point (and a few after), and the diagram says how many it left out.

The bytes come from the server under test, which may send anything, markup included: every text
is escaped for XML (and so for HTML, where the SVG is inlined), and characters that XML forbids
(NUL and most controls) are shown as `\\xNN`. Text is never interpreted, so it cannot become an
element, an attribute or a script.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from conformance.kit.transcript import Record

__all__ = ["Mark", "sequence_svg", "shown_text"]

SERVER = "server"
LANE_GAP = 130  # px between lanes
TIME_COLUMN = 74  # px left of the server's lane, for each row's time
ROW = 26  # px per record
HEAD = 46  # px for the lane names
CHAR_W = 7.2  # px per character of the 12 px monospace font, for widths
MAX_LABEL = 110  # characters of a label before it is cut (the whole text is in its <title>)
DEFAULT_LIMIT = 40  # records drawn at most
AFTER_MARK = 3  # records drawn after the failing point, when there are more
# Characters XML 1.0 does not allow, and the line breaks a label should not contain.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Mark:
    """Where and why the exchange failed: after record `after` (None: after the last one), on
    the lane of `client` (None or unknown: across all lanes), with `text` saying what broke."""

    text: str
    after: int | None = None
    client: str | None = None


def mark_label(mark: Mark) -> str:
    return _cut(shown_text(mark.text.encode("utf-8")), MAX_LABEL)


def shown_text(data: bytes) -> str:
    """Bytes as one line of text: UTF-8 where it is, `\\xNN` for the rest and for controls,
    newlines between frames as `⏎`, the final one dropped."""
    text = data.decode("utf-8", errors="backslashreplace")
    if text.endswith("\n"):
        text = text[:-1]
    text = text.replace("\r", "\\r").replace("\n", " ⏎ ").replace("\t", "\\t")
    return _UNSHOWABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _cut(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lanes(records: Sequence[Record]) -> list[str]:
    lanes: list[str] = []
    for record in records:
        if record.client not in lanes:
            lanes.append(record.client)
    return lanes


def _window(count: int, mark: Mark | None, limit: int) -> tuple[int, int]:
    """The [start, end) of the records drawn: those before the failing point, and a few after."""
    at = count if mark is None or mark.after is None else min(mark.after + 1, count)
    end = min(count, at + AFTER_MARK) if count - at > AFTER_MARK else count
    start = max(0, end - limit)
    if at - start < limit - AFTER_MARK:
        start = max(0, at - (limit - AFTER_MARK))
        end = min(count, start + limit)
    return start, end


def sequence_svg(
    records: Sequence[Record],
    mark: Mark | None = None,
    limit: int = DEFAULT_LIMIT,
    title: str = "",
    ident: str = "",
) -> str:
    """The records as an SVG sequence diagram (a string, to inline in HTML or save as .svg).

    `ident` prefixes the ids of the arrowheads, which must be unique in a page of several."""
    start, end = _window(len(records), mark, limit)
    shown = list(records[start:end])
    lanes = [SERVER, *_lanes(shown or records)]
    x_of = {name: TIME_COLUMN + 20 + i * LANE_GAP for i, name in enumerate(lanes)}
    lane_right = x_of[lanes[-1]]
    rows: list[str] = []
    y = HEAD - 8
    widest: float = lane_right + 40
    if mark is not None:
        widest = max(widest, x_of[SERVER] + 10 + len(mark_label(mark)) * CHAR_W)

    def note(text: str, css: str) -> None:
        nonlocal y, widest
        y += ROW
        rows.append(f'<text class="{css}" x="{x_of[SERVER] + 8}" y="{y - 8}">{escape(text)}</text>')
        widest = max(widest, x_of[SERVER] + 8 + len(text) * CHAR_W)

    if start > 0:
        note(f"… {start} earlier records not shown", "sq-omitted")
    # The failing point follows record `mark_at`; one before the window is drawn first.
    mark_at = -1
    if mark is not None:
        mark_at = len(records) - 1 if mark.after is None else mark.after
        if mark_at < start or not shown:
            y = _mark_row(rows, mark, x_of, lane_right, y)
            mark = None
    for index, whole in enumerate(shown, start):
        for record in _frames(whole):
            y += ROW
            rows.append(_record_row(record, x_of, y, ident))
            left = min(x_of[record.client], x_of[SERVER])
            widest = max(widest, left + 10 + len(_label(record)) * CHAR_W)
        if mark is not None and index == mark_at:
            y = _mark_row(rows, mark, x_of, lane_right, y)
    if end < len(records):
        note(f"… {len(records) - end} later records not shown", "sq-omitted")
    height = y + 24
    width = int(widest + 16)
    heads = []
    for name in lanes:
        x = x_of[name]
        css = "sq-lane sq-server" if name == SERVER else "sq-lane"
        label = _cut(name, 16)
        box = max(len(label) * CHAR_W + 16, 64)
        heads.append(
            f'<line class="sq-life" x1="{x}" y1="{HEAD - 8}" x2="{x}" y2="{height - 8}"/>'
            f'<rect class="{css}" x="{x - box / 2:.1f}" y="6" width="{box:.1f}" height="26" '
            'rx="6"/>'
            f'<text class="sq-lanename" x="{x}" y="24" text-anchor="middle">{escape(label)}'
            f"<title>{escape(name)}</title></text>"
        )
    times = f'<text class="sq-tcol" x="{TIME_COLUMN - 4}" y="{HEAD}" text-anchor="end">ms</text>'
    described = f"<title>{escape(title)}</title>" if title else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sequence" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" font-size="12">'
        f"{described}{_STYLE}{_defs(ident)}{''.join(heads)}{times}{''.join(rows)}</svg>"
    )


def _frames(record: Record) -> list[Record]:
    """A read or write of several frames as one record each (same time): an arrow a frame."""
    if record.event not in ("send", "recv") or record.data.count(b"\n") < 2:
        return [record]
    parts = record.data.split(b"\n")
    frames = [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    return [Record(record.t, record.client, record.event, frame) for frame in frames]


def _label(record: Record) -> str:
    words = {
        "open": "opens a connection",
        "close": "closes its connection",
        "reset": "resets its connection",
        "closed": "closes the connection",
    }
    if record.event in ("send", "recv"):
        return _cut(shown_text(record.data))
    return words.get(record.event, record.event)


def _record_row(record: Record, x_of: dict[str, int], y: int, ident: str) -> str:
    client_x, server_x = x_of[record.client], x_of[SERVER]
    to_server = record.event in ("open", "send", "close", "reset")
    x1, x2 = (client_x, server_x) if to_server else (server_x, client_x)
    packet = record.event in ("send", "recv")
    css = ("send" if to_server else "recv") if packet else "control"
    end = f"{ident}head-{css}"
    label = _label(record)
    whole = shown_text(record.data) if packet else label
    left = min(x1, x2)
    time = f'<text class="sq-tcol" x="{TIME_COLUMN - 4}" y="{y + 4}" text-anchor="end">'
    time += f"{record.t * 1000:.1f}</text>"
    arrow_end = x2 + (6 if x2 < x1 else -6)
    return (
        f'<g class="sq-row sq-{css}">{time}'
        f'<line x1="{x1}" y1="{y}" x2="{arrow_end}" y2="{y}" marker-end="url(#{end})"/>'
        f'<text class="sq-label" x="{left + 10}" y="{y - 5}">{escape(label)}'
        f"<title>{escape(record.client)} {record.event}: {escape(whole)}</title></text></g>"
    )


def _mark_row(rows: list[str], mark: Mark, x_of: dict[str, int], right: int, y: int) -> int:
    y += ROW + 4
    x = x_of.get(mark.client or "", x_of[SERVER])
    first = x_of[SERVER]
    text = mark_label(mark)
    rows.append(
        f'<g class="sq-failure">'
        f'<line x1="{first - 12}" y1="{y - 6}" x2="{right + 12}" y2="{y - 6}"/>'
        f'<circle cx="{x}" cy="{y - 6}" r="8"/>'
        f'<text class="sq-cross" x="{x}" y="{y - 2}" text-anchor="middle">✕</text>'
        f'<text class="sq-why" x="{first + 10}" y="{y + 12}">{escape(text)}'
        f"<title>{escape(mark.text)}</title></text></g>"
    )
    return y + 14


_STYLE = (
    "<style>"
    ".sequence .sq-life{stroke:#c3c9d4;stroke-dasharray:3 4}"
    ".sequence .sq-lane{fill:#eef2f8;stroke:#8a94a6}"
    ".sequence .sq-lane.sq-server{fill:#273248;stroke:#273248}"
    ".sequence .sq-lanename{font-weight:600;fill:#273248}"
    ".sequence .sq-server+.sq-lanename{fill:#fff}"
    ".sequence .sq-tcol{fill:#8a94a6;font-size:10px}"
    ".sequence .sq-row line{stroke-width:1.6}"
    ".sequence .sq-send line{stroke:#2563eb}"
    ".sequence .sq-recv line{stroke:#059669}"
    ".sequence .sq-control line{stroke:#8a94a6;stroke-dasharray:5 3}"
    ".sequence .sq-label{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}"
    ".sequence .sq-send .sq-label{fill:#1e40af}"
    ".sequence .sq-recv .sq-label{fill:#065f46}"
    ".sequence .sq-control .sq-label{fill:#5b6475;font-style:italic}"
    ".sequence .sq-omitted{fill:#8a94a6;font-style:italic}"
    ".sequence .sq-failure line{stroke:#dc2626;stroke-width:2;stroke-dasharray:6 3}"
    ".sequence .sq-failure circle{fill:#dc2626}"
    ".sequence .sq-failure .sq-cross{fill:#fff;font-weight:700;font-size:11px}"
    ".sequence .sq-failure .sq-why{fill:#b91c1c;font-weight:600}"
    "</style>"
)


def _defs(ident: str) -> str:
    return (
        "<defs>"
        + "".join(
            f'<marker id="{ident}head-{name}" viewBox="0 0 10 10" refX="8" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0L10,5L0,10z" fill="{colour}"/></marker>'
            for name, colour in (("send", "#2563eb"), ("recv", "#059669"), ("control", "#8a94a6"))
        )
        + "</defs>"
    )
