"""The sans-IO jsonchat engine: the reference behaviour of protocol v1, with no I/O.

Modelled on h11: events go in, outputs come out, and nothing here touches a socket, a thread or a
clock (tests/engine/test_purity.py holds it to that), so the same events always give the same
bytes. The reference server (`transport`) runs it on real sockets; the fuzzer's oracle
(`conformance/fuzz/oracle.py`) runs it beside a live server, to say what each client must get.

- `engine.py`: `Engine` and `EngineConfig`: sessions, rooms and routing, driven by a
  `transitions` state machine built from protocol/machine.json.
- `events.py`: what goes in (`ConnectionOpened`, `DataReceived`, `ConnectionLost`, `Tick`, `Kick`,
  `Shutdown`) and what comes out (`Send`, `Close`: an `Output`).
- `framing.py`: bytes in, whole JSON objects or frame errors out (FRAME-1 to FRAME-8).
- `validation.py`: the client schemas compiled to Python, for the hot path.
- `codec.py`: server messages as bytes (FRAME-9).
- `rooms.py`: members and recent history of each room.
- `rules.py`: which requirements each outcome carries out (for the fuzzer's coverage).
- `errors.py`: `ProtocolViolation` and `UsageError`.
"""

from engine.engine import Engine, EngineConfig
from engine.errors import ProtocolViolation, UsageError
from engine.events import (
    Close,
    ConnectionLost,
    ConnectionOpened,
    DataReceived,
    Kick,
    Output,
    Send,
    Shutdown,
    Tick,
)

__all__ = [
    "Close",
    "ConnectionLost",
    "ConnectionOpened",
    "DataReceived",
    "Engine",
    "EngineConfig",
    "Kick",
    "Output",
    "ProtocolViolation",
    "Send",
    "Shutdown",
    "Tick",
    "UsageError",
]
