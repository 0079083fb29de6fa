"""Instructions per input through the engine, against the floor, counted by callgrind.

    python -m benchmarks.instructions_bench [--repetitions N] [--update-baseline] [--keep DIR]
    make bench-baseline    # the same with --update-baseline

Wall-clock rates of the engine moved by a factor of two within minutes on a shared machine
(issue 16), so they can guard nothing. Callgrind counts the instructions the CPU executes, which
for the same interpreter, libraries and inputs is the same number on every run, loaded or idle.

Each input is measured twice, the same way: through the engine (`Engine.handle`, bytes in to
encoded bytes out) and through its *floor*, what any Python server pays for it: orjson's decode
of the frame, the field checks, one orjson encode of the reply. The ratio of the two is what the
engine adds; it also travels better between machines than either count.

Only the measured region is counted, not interpreter start-up, imports or set-up: the child
process runs under `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=ffi_call
--dump-after=ffi_call`, and enters each region through a ctypes callback. `ffi_call` (libffi) is
then entered exactly once per region, and it is an exported symbol of a shared library, so
callgrind finds it even in a stripped Python, where an interpreter-internal marker such as
`functools_reduce` would be invisible. Each region runs N repetitions after a warm-up (Python
3.11 specialises bytecode on first use); an empty region measures what entering one costs, which
is subtracted before dividing by N. Garbage collection is off in the regions: when a collection
runs depends on every allocation since start-up, not on the input.

The committed baseline (`instructions_baseline.json`) is what `tests/benchmarks` holds the engine
to: a count more than 15% above it fails. `--update-baseline` rewrites it, deliberately, after a
change that is meant to cost (or save) instructions.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from engine.engine import Engine, EngineConfig
from engine.events import ConnectionOpened, DataReceived, Event, Send

BASELINE = Path(__file__).with_name("instructions_baseline.json")
MARKER = "ffi_call"
MEMBERS = 20
TEXT = "x" * 100
SESSIONS = 10_000
WARM_UP = 200
TOLERANCE = 0.15
# Counts do not wobble, so a few hundred repetitions are as exact as a million; the entry into
# a region is subtracted, and at 10,200 sessions no dict of the engine is resized mid-region.
DEFAULT_REPETITIONS = 200
_INSTRUMENT_LATER = "JSONCHAT_INSTRUMENT_LATER"
_CANNOT_INSTRUMENT = 3

Run = Callable[[int], None]  # does the measured work n times


def _frame(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document) + b"\n"


def _connect_frame(i: int, rooms: list[str]) -> bytes:
    return _frame({"action": "connect", "user_name": f"@u{i}", "targets": rooms})


def _message_frame(target: str) -> bytes:
    return _frame({"action": "message", "user_name": "@u0", "target": target, "message": TEXT})


# -- the floor: what any Python server pays for the same input ---------------------------------

_loads, _dumps, _NEWLINE = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
_JSONDecodeError = orjson.JSONDecodeError
_ERROR = b'{"status":"error","message":"Malformed JSON"}\n'


def floor_message(frame: bytes) -> bytes:
    """Decode, check every field a `message` has, encode the one delivery."""
    document = _loads(frame)
    if type(document) is not dict or document.get("action") != "message":
        return _ERROR
    sender, target, text = (
        document.get("user_name"),
        document.get("target"),
        document.get("message"),
    )
    if (
        type(sender) is not str
        or sender[:1] != "@"
        or not 2 <= len(sender) <= 60
        or type(target) is not str
        or target[:1] not in "@#"
        or not 2 <= len(target) <= 60
        or type(text) is not str
        or len(text) > 3800
    ):
        return _ERROR
    entry = {"target": target, "from": sender, "message": text}
    return _dumps({"status": "chat", "history": [entry]}, option=_NEWLINE)


def floor_connect(frame: bytes) -> bytes:
    """Decode, check the name and every target, encode the (empty) history."""
    document = _loads(frame)
    if type(document) is not dict or document.get("action") != "connect":
        return _ERROR
    name, targets = document.get("user_name"), document.get("targets")
    if type(name) is not str or name[:1] != "@" or not 2 <= len(name) <= 60:
        return _ERROR
    if type(targets) is not list:
        return _ERROR
    for target in targets:
        if type(target) is not str or target[:1] != "#" or not 2 <= len(target) <= 60:
            return _ERROR
    return _dumps({"status": "chat", "history": []}, option=_NEWLINE)


def floor_invalid(frame: bytes) -> bytes:
    """The decode that fails, and the constant error."""
    try:
        _loads(frame)
    except _JSONDecodeError:
        return _ERROR
    return b""


def _floor_run(floor: Callable[[bytes], bytes], frame: bytes) -> Run:
    def run(n: int) -> None:
        for _ in itertools.repeat(None, n):
            floor(frame)

    return run


# -- the engine -----------------------------------------------------------------------------------


def _engine_run(engine: Engine, events: Iterator[Event], per_repetition: int) -> Run:
    """`engine.handle` on the next `per_repetition` events, n times (events built beforehand)."""
    handle = engine.handle

    def run(n: int) -> None:
        for event in itertools.islice(events, n * per_repetition):
            handle(event)

    return run


def _room_engine(members: int) -> Engine:
    engine = Engine(EngineConfig(welcome=False))
    for i in range(members):
        engine.handle(ConnectionOpened(i))
        engine.handle(DataReceived(i, _connect_frame(i, ["#bench"])))
    return engine


@dataclass(frozen=True)
class Input:
    """One kind of input: how to run it through the engine and through its floor."""

    name: str
    description: str
    engine: Callable[[int], Run]  # given the repetitions to come, after the warm-up
    floor: Run
    expected: Callable[[], tuple[bytes, bytes]]  # (engine's bytes, floor's bytes), must agree


def _delivery_check(target: str, recipients: int) -> Callable[[], tuple[bytes, bytes]]:
    def check() -> tuple[bytes, bytes]:
        engine = _room_engine(MEMBERS)
        (send,) = engine.handle(DataReceived(0, _message_frame(target)))
        assert isinstance(send, Send) and len(send.to) == recipients, send
        return send.data, floor_message(_message_frame(target))

    return check


def room_message(repetitions: int) -> Run:
    engine = _room_engine(MEMBERS)
    event = DataReceived(0, _message_frame("#bench"))
    return _engine_run(engine, itertools.repeat(event), 1)


def direct_message(repetitions: int) -> Run:
    engine = _room_engine(2)
    event = DataReceived(0, _message_frame("@u1"))
    return _engine_run(engine, itertools.repeat(event), 1)


def _connect_events(first: int, count: int) -> list[Event]:
    events: list[Event] = []
    for i in range(first, first + count):
        events += [ConnectionOpened(i), DataReceived(i, _connect_frame(i, [f"#r{i % 100}"]))]
    return events


def connect(repetitions: int) -> Run:
    """Open plus `connect` of a new session, with 10,000 already connected (in 100 rooms)."""
    engine = Engine(EngineConfig(limits={"max_connections": 1 << 62}, welcome=False))
    for event in _connect_events(0, SESSIONS - WARM_UP):
        engine.handle(event)
    return _engine_run(engine, iter(_connect_events(SESSIONS - WARM_UP, WARM_UP + repetitions)), 2)


def _connect_check() -> tuple[bytes, bytes]:
    engine = Engine(EngineConfig(welcome=False))
    outputs = [out for event in _connect_events(0, 1) for out in engine.handle(event)]
    assert len(outputs) == 1 and isinstance(outputs[0], Send), outputs
    return outputs[0].data, floor_connect(_connect_frame(0, ["#r0"]))


# A message cut short: the commonest junk, and the longest path through framing.
INVALID = b'{"action":"message","user_name":"@u0","target":"#bench","message":"xx\n'


def invalid_frame(repetitions: int) -> Run:
    # No kick after the usual 10 errors in a row: the input measured is the frame, not the kick.
    engine = Engine(EngineConfig(limits={"max_consecutive_errors": 1 << 62}, welcome=False))
    engine.handle(ConnectionOpened(0))
    return _engine_run(engine, itertools.repeat(DataReceived(0, INVALID)), 1)


def _invalid_check() -> tuple[bytes, bytes]:
    engine = Engine(EngineConfig(welcome=False))
    engine.handle(ConnectionOpened(0))
    (send,) = engine.handle(DataReceived(0, INVALID))
    assert isinstance(send, Send), send
    return send.data, floor_invalid(INVALID)


INPUTS = (
    Input(
        "room_message",
        f"a message to a room of {MEMBERS} members, {len(TEXT)}-byte text",
        room_message,
        _floor_run(floor_message, _message_frame("#bench")),
        _delivery_check("#bench", MEMBERS - 1),
    ),
    Input(
        "direct_message",
        f"a message to one user, {len(TEXT)}-byte text",
        direct_message,
        _floor_run(floor_message, _message_frame("@u1")),
        _delivery_check("@u1", 1),
    ),
    Input(
        "connect",
        f"open and `connect` to one room, at {SESSIONS:,} sessions",
        connect,
        _floor_run(floor_connect, _connect_frame(SESSIONS, [f"#r{SESSIONS % 100}"])),
        _connect_check,
    ),
    Input(
        "invalid_frame",
        "a JSON object cut short by its newline (`Malformed JSON`)",
        invalid_frame,
        _floor_run(floor_invalid, INVALID),
        _invalid_check,
    ),
)


# -- the child, under callgrind ----------------------------------------------------------------


def _region(run: Run, n: int) -> None:
    """Run `run(n)` inside `ffi_call`, the marker callgrind counts (one dump per region)."""
    gc.collect()
    gc.disable()
    try:
        ctypes.CFUNCTYPE(None)(lambda: run(n))()
    finally:
        gc.enable()


def _instrument() -> None:
    """Switch callgrind's instrumentation on, when it started without (`--instr-atstart=no`).

    Uninstrumented, the set-up (10,000 connects) runs about ten times faster; what is counted
    does not change, since only the regions are. `callgrind_control` reaches this process
    through vgdb; where it cannot, the parent runs everything instrumented instead.
    """
    if os.environ.get(_INSTRUMENT_LATER):
        command = ["callgrind_control", "--instr=on", str(os.getpid())]
        if subprocess.run(command, capture_output=True, check=False).returncode != 0:
            sys.exit(_CANNOT_INSTRUMENT)


def child(repetitions: int) -> None:
    """Every input set up and warmed up, then the regions in the order `regions()` names them."""
    runs: list[Run] = [lambda n: None]
    for item in INPUTS:
        for run in (item.engine(repetitions), item.floor):
            run(WARM_UP)
            runs.append(run)
    _instrument()
    for run in runs:
        _region(run, repetitions)


def regions() -> list[str]:
    return ["empty", *(f"{item.name}.{side}" for item in INPUTS for side in ("engine", "floor"))]


# -- the parent -----------------------------------------------------------------------------------


def environment() -> dict[str, str]:
    """What the counts depend on besides the code: a baseline is only exact for the same."""
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "orjson": orjson.__version__,
        "valgrind": valgrind.stdout.strip(),
    }


def _totals(path: Path) -> int:
    match = re.search(r"^(?:totals|summary): (\d+)", path.read_text(), re.MULTILINE)
    if match is None:
        raise ValueError(f"{path}: no totals line")
    return int(match.group(1))


_NO_ASLR = ["setarch", platform.machine(), "--addr-no-randomize"] if shutil.which("setarch") else []
_QUIET: dict[str, Any] = {"capture_output": True, "text": True, "check": False}


def callgrind_regions(
    module: str, repetitions: int, out: Path, count: int, env: Mapping[str, str] | None = None
) -> list[int]:
    """Run `python -m module --child repetitions` under callgrind, counting only the `count`
    regions it marks (see the module docstring), its files in the folder `out`: the
    instructions of each region, in order. `env`: more environment for the child."""
    if shutil.which("valgrind") is None:
        raise RuntimeError("valgrind is not installed (make bench installs it)")
    command = [
        *_NO_ASLR,
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--toggle-collect={MARKER}",
        f"--dump-after={MARKER}",
        f"--callgrind-out-file={out / 'callgrind.out'}",
        sys.executable,
        "-m",
        module,
        "--child",
        str(repetitions),
    ]
    root = Path(__file__).resolve().parent.parent
    # The same environment every time: its size moves the heap, and with it a few counts.
    # PYTHONHASHSEED: the same string hashes, so the same dict probes.
    base = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONHASHSEED": "0", **(env or {})}
    at = len(_NO_ASLR) + 2
    fast = [*command[:at], "--instr-atstart=no", *command[at:]]
    done = subprocess.run(fast, cwd=root, env={**base, _INSTRUMENT_LATER: "1"}, **_QUIET)
    if done.returncode == _CANNOT_INSTRUMENT:
        done = subprocess.run(command, cwd=root, env=base, **_QUIET)
    if done.returncode != 0:
        raise RuntimeError(f"callgrind run failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return [_totals(out / f"callgrind.out.{i}") for i in range(1, count + 1)]


def measure(repetitions: int, keep: Path | None = None) -> dict[str, dict[str, float]]:
    """Instructions per repetition for each input, engine and floor, and their ratio."""
    for item in INPUTS:  # the floor must produce what the engine does, or it is not its floor
        engine_bytes, floor_bytes = item.expected()
        if engine_bytes != floor_bytes:
            raise AssertionError(f"{item.name}: engine {engine_bytes!r}, floor {floor_bytes!r}")
    with tempfile.TemporaryDirectory(prefix="callgrind-") as scratch:
        out = Path(keep or scratch)
        out.mkdir(parents=True, exist_ok=True)
        names = regions()
        counts = callgrind_regions("benchmarks.instructions_bench", repetitions, out, len(names))
    per_region = dict(zip(names, counts, strict=True))
    entry_cost = per_region["empty"]
    results: dict[str, dict[str, float]] = {}
    for item in INPUTS:
        engine, floor = (
            round((per_region[f"{item.name}.{side}"] - entry_cost) / repetitions)
            for side in ("engine", "floor")
        )
        results[item.name] = {"engine": engine, "floor": floor, "ratio": round(engine / floor, 2)}
    return results


def regressions(
    results: dict[str, dict[str, float]], baseline: dict[str, Any], tolerance: float = TOLERANCE
) -> list[str]:
    """Every input that costs clearly more than the baseline says, as a sentence.

    Counts are compared when the environment is the baseline's; otherwise (another Python or
    orjson, which execute different instructions) only the ratios to the floor are.
    """
    same_environment = baseline["environment"] == environment()
    key = "engine" if same_environment else "ratio"
    found = []
    for name, was in baseline["inputs"].items():
        now = results[name][key]
        if now > was[key] * (1 + tolerance):
            found.append(f"{name}: {key} {now:,} against {was[key]:,} in the baseline")
    return found


def write_baseline(results: dict[str, dict[str, float]], repetitions: int) -> None:
    data = {"environment": environment(), "repetitions": repetitions, "inputs": results}
    BASELINE.write_text(json.dumps(data, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repetitions", type=int, default=DEFAULT_REPETITIONS)
    parser.add_argument("--update-baseline", action="store_true", help="rewrite the baseline")
    parser.add_argument("--keep", type=Path, help="keep callgrind's files here (to annotate)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return 0
    results = measure(args.repetitions, args.keep)
    descriptions = {item.name: item.description for item in INPUTS}
    for name, figures in results.items():
        line = {"bench": "instructions", "input": name, "what": descriptions[name], **figures}
        print(json.dumps(line))
    if args.update_baseline:
        write_baseline(results, args.repetitions)
        print(f"baseline written to {BASELINE}", file=sys.stderr)
        return 0
    if BASELINE.exists():
        found = regressions(results, json.loads(BASELINE.read_text()))
        for sentence in found:
            print(f"regression: {sentence}", file=sys.stderr)
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
