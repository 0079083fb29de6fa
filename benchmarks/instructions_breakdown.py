"""Where the instructions of a room message go, step by step, counted by callgrind.

    python -m benchmarks.instructions_breakdown [--repetitions N]

`instructions_bench` counts each input whole; this splits the room message (20 members, 100-byte
text) into the engine's steps, each run alone on the same state, the same way (a region per
step, its entry subtracted, N repetitions after a warm-up). What the listed steps do not cover
(the event's dispatch, the session's lookup, the STATE-1 check, the outcome counts and the calls
between them) is the whole minus the steps. It only reads what every version of the engine has
(`Engine._message`, `FrameDecoder.feed`, the compiled schemas, `codec`, `Send`), so the same
command measures an older checkout too: README's table of before and after comes from it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import orjson

from benchmarks.instructions_bench import (
    DEFAULT_REPETITIONS,
    MEMBERS,
    WARM_UP,
    Run,
    _instrument,
    _message_frame,
    _region,
    _room_engine,
    callgrind_regions,
    floor_message,
)
from engine import codec
from engine.events import DataReceived, Send
from engine.validation import compiled

TOTAL = "Engine.handle, the whole"
# (step, what it is) in the order of the table; indented steps are part of the one above.
STEPS = (
    (TOTAL, "bytes in, the delivery out"),
    ("FrameDecoder.feed", "framing: the line to a dict"),
    ("  orjson.loads", "of which the decode"),
    ("message schema", "validation: `is_valid` of client/message"),
    ("Engine._message", "routing: recipients, delivery, history"),
    ("  encode_delivery", "of which the encoding"),
    ("  Send(...)", "of which the output"),
    ("the floor", "instructions_bench's floor_message"),
)


def _repeat(step: Callable[[], object]) -> Run:
    def run(n: int) -> None:
        for _ in itertools.repeat(None, n):
            step()

    return run


def runs() -> list[Run]:
    """One `Run` per entry of STEPS, on an engine with a room of MEMBERS."""
    engine = _room_engine(MEMBERS)
    session = engine.sessions[0]
    frame = _message_frame("#bench")
    event = DataReceived(0, frame)
    document = orjson.loads(frame)
    entry = {"target": "#bench", "from": "@u0", "message": document["message"]}
    data = codec.encode_delivery(entry)
    recipients = tuple(range(1, MEMBERS))
    is_valid = compiled("client/message").is_valid

    def message() -> None:
        engine._message(session, document)
        engine._out.clear()

    return [
        _repeat(lambda: engine.handle(event)),
        _repeat(lambda: session.decoder.feed(frame)),
        _repeat(lambda: orjson.loads(frame)),
        _repeat(lambda: is_valid(document)),
        _repeat(message),
        _repeat(lambda: codec.encode_delivery(entry)),
        _repeat(lambda: Send(recipients, data)),
        _repeat(lambda: floor_message(frame)),
    ]


def child(repetitions: int) -> None:
    """The regions: an empty step (what a step's call costs), then every step of STEPS."""
    all_runs = [_repeat(lambda: None), *runs()]
    for run in all_runs:
        run(WARM_UP)
    _instrument()
    _region(lambda n: None, repetitions)
    for run in all_runs:
        _region(run, repetitions)


def measure(repetitions: int) -> dict[str, int]:
    """Instructions per repetition of each step; "the rest" is the whole minus the steps."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as scratch:
        env = {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        module = "benchmarks.instructions_breakdown"
        counts = callgrind_regions(module, repetitions, Path(scratch), len(STEPS) + 2, env)
    entry_cost, empty_step, *steps = counts
    call = empty_step - entry_cost  # the loop and the call of a step, in every step's count
    figures = {
        name: round((count - entry_cost - call) / repetitions)
        for (name, _), count in zip(STEPS, steps, strict=True)
    }
    parts = ("FrameDecoder.feed", "message schema", "Engine._message")
    figures["the rest"] = figures[TOTAL] - sum(figures[p] for p in parts)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repetitions", type=int, default=DEFAULT_REPETITIONS)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return 0
    figures = measure(args.repetitions)
    what = dict(STEPS)
    what["the rest"] = "dispatch, session lookup, STATE-1 check, counts, calls"
    for name, count in figures.items():
        print(
            json.dumps(
                {
                    "bench": "breakdown",
                    "step": name.strip(),
                    "what": what[name],
                    "instructions": count,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
