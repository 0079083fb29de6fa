"""Engine throughput, connect cost and memory per session, on one core, no I/O.

    python -m benchmarks.engine_bench [--messages N] [--sessions N]

Room message: 20 members, 100-byte text; timed from the frame's bytes to the encoded outbound
bytes (decode, validate, route, encode once). Target: >= 150,000 messages/s.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc

import orjson

from engine.engine import Engine, EngineConfig
from engine.events import ConnectionOpened, DataReceived

MEMBERS = 20
TEXT = "x" * 100


def connect_frame(i: int, rooms: list[str]) -> bytes:
    return orjson.dumps({"action": "connect", "user_name": f"@u{i}", "targets": rooms}) + b"\n"


def room_throughput(messages: int) -> float:
    engine = Engine(EngineConfig(welcome=False))
    for i in range(MEMBERS):
        engine.handle(ConnectionOpened(i))
        engine.handle(DataReceived(i, connect_frame(i, ["#bench"])))
    frame = (
        orjson.dumps({"action": "message", "user_name": "@u0", "target": "#bench", "message": TEXT})
        + b"\n"
    )
    events = [DataReceived(0, frame) for _ in range(messages)]
    handle = engine.handle
    gc.collect()
    start = time.perf_counter()
    for event in events:
        outputs = handle(event)
    elapsed = time.perf_counter() - start
    assert len(outputs[0].to) == MEMBERS - 1  # type: ignore[union-attr]
    return messages / elapsed


def connect_sessions(sessions: int) -> tuple[Engine, float]:
    engine = Engine(EngineConfig(welcome=False))
    frames = [connect_frame(i, [f"#r{i % 100}"]) for i in range(sessions)]
    start = time.perf_counter()
    for i in range(sessions):
        engine.handle(ConnectionOpened(i))
        engine.handle(DataReceived(i, frames[i]))
    elapsed = time.perf_counter() - start
    assert len(engine.sessions) == sessions
    return engine, elapsed / sessions * 1e6


def memory_per_session(sessions: int) -> float:
    """Bytes allocated and kept per connected session (tracemalloc, so timed separately)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engine, _ = connect_sessions(sessions)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del engine
    return used / sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--sessions", type=int, default=10_000)
    args = parser.parse_args()
    rate = max(room_throughput(args.messages) for _ in range(3))
    connect_us = min(connect_sessions(args.sessions)[1] for _ in range(3))
    per_session = memory_per_session(args.sessions)
    result = {
        "bench": "engine",
        "room_messages_per_s": round(rate),
        "target_messages_per_s": 150_000,
        "members": MEMBERS,
        "text_bytes": len(TEXT),
        "connect_us": round(connect_us, 1),
        "sessions": args.sessions,
        "bytes_per_session": round(per_session),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
