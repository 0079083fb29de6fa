"""The sequence diagram of a transcript: lanes, arrows, the failing point, cuts and escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from conformance.kit.sequence import Mark, sequence_svg, shown_text
from conformance.kit.transcript import Record

SVG = "{http://www.w3.org/2000/svg}"


def exchange(count: int = 3) -> list[Record]:
    records = [Record(0.0, "@alice", "open"), Record(0.001, "@bob", "open")]
    for i in range(count):
        records.append(Record(0.01 * i, "@alice", "send", b'{"action":"message","n":%d}\n' % i))
        records.append(Record(0.01 * i + 0.002, "@bob", "recv", b'{"status":"chat","n":%d}\n' % i))
    return records


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # it is well-formed XML, or this raises
    return [t.text or "" for t in root.iter(f"{SVG}text")]  # not their <title>


def test_a_lane_per_client_and_one_for_the_server_and_an_arrow_per_packet() -> None:
    svg = sequence_svg(exchange(), Mark("@bob: expected more", client="@bob"))
    root = ET.fromstring(svg)
    lanes = [t for t in texts(svg) if t.split("@")[0] == "" or t.startswith("server")]
    assert lanes[:3] == ["server", "@alice", "@bob"]
    arrows = [line for line in root.iter(f"{SVG}line") if line.get("marker-end")]
    assert len(arrows) == 2 + 6  # two openings, three messages and three deliveries
    assert any('{"action":"message","n":2}' in t for t in texts(svg))
    assert any("expected more" in t for t in texts(svg))


def test_the_failing_point_follows_the_record_it_names() -> None:
    svg = sequence_svg(exchange(), Mark("broke here", after=3))
    order = texts(svg)
    broke = next(i for i, t in enumerate(order) if t.startswith("broke here"))
    first_delivery = next(i for i, t in enumerate(order) if '"n":0}' in t and "status" in t)
    second_send = next(i for i, t in enumerate(order) if '"n":1}' in t and "action" in t)
    assert first_delivery < broke < second_send


def test_several_frames_in_one_read_are_an_arrow_each() -> None:
    both = Record(0.0, "@a", "recv", b'{"status":"chat","n":1}\n{"status":"chat","n":2}\n')
    labels = texts(sequence_svg([both]))
    assert '{"status":"chat","n":1}' in labels and '{"status":"chat","n":2}' in labels


def test_a_long_transcript_is_cut_before_the_failure_and_says_how_much() -> None:
    records = exchange(100)  # 202 records
    svg = sequence_svg(records, Mark("the end"), limit=20)
    shown = texts(svg)
    assert "… 182 earlier records not shown" in shown
    assert any('"n":99}' in t for t in shown) and not any('"n":50}' in t for t in shown)
    middle = sequence_svg(records, Mark("early", after=10), limit=20)
    assert any("later records not shown" in t for t in texts(middle))
    assert any(t.startswith("early") for t in texts(middle))


def test_hostile_bytes_stay_text() -> None:
    attack = b'</script><img src=x onerror="alert(1)"><svg onload=alert(2)>\x00\x1b\xff\n'
    svg = sequence_svg([Record(0.0, "<b>@evil</b>", "recv", attack)], Mark("<script>x</script>"))
    assert "<img" not in svg and "<script>" not in svg and "<b>" not in svg
    root = ET.fromstring(svg)  # NUL and ESC would make it malformed: they are shown escaped
    assert not [e for e in root.iter() if e.tag in (f"{SVG}img", f"{SVG}script", "img")]
    assert any("onerror" in t and "\\x00\\x1b\\xff" in t for t in texts(svg))


def test_shown_text() -> None:
    assert shown_text(b'{"a":1}\n') == '{"a":1}'
    assert shown_text(b"a\nb\n") == "a ⏎ b"
    assert shown_text(b"\xc3\xa9\xff\t") == "é\\xff\\t"
