"""The sans-IO jsonchat engine: the reference behaviour of protocol v1, with no I/O.

Modelled on h11: events go in, outputs come out, and nothing here touches a socket, a thread or a
clock (tests/engine/test_purity.py holds it to that), so the same events always give the same
bytes. The reference server (`transport`) runs it on real sockets; the fuzzer's oracle
(`conformance/fuzz/oracle.py`) runs it beside a live server, to say what each client must get.

- `engine.py`: `Engine` and `EngineConfig`: sessions, rooms and routing, driven by a
  `transitions` state machine built from protocol/machine.json.
- `cluster.py`: `ClusterEngine`, one node of several that share a broker (names, room order and
  history there): the `Engine` with what touches the cluster asked of the broker and heard back.
- `events.py`: what goes in (`ConnectionOpened`, `DataReceived`, `ConnectionLost`, `Tick`, `Kick`,
  `Shutdown`) and what comes out (`Send`, `Close`: an `Output`); for a node of a cluster, also
  the broker's `ClusterEvent`s in and the requests to it, `ClusterOutput`s, out.
- `framing.py`: bytes in, whole JSON objects or frame errors out (FRAME-1 to FRAME-8).
- `validation.py`: the client schemas compiled to Python, for the hot path.
- `codec.py`: server messages as bytes (FRAME-9).
- `rooms.py`: members and recent history of each room.
- `rules.py`: which requirements each outcome carries out (for the fuzzer's coverage).
- `errors.py`: `ProtocolViolation` and `UsageError`.
"""

from engine.cluster import ClusterEngine
from engine.engine import Engine, EngineConfig
from engine.errors import ProtocolViolation, UsageError
from engine.events import (
    Close,
    ClusterEvent,
    ClusterOutput,
    ConnectionLost,
    ConnectionOpened,
    DataReceived,
    Kick,
    NodeEvent,
    NodeOutput,
    Output,
    Send,
    Shutdown,
    Tick,
)

__all__ = [
    "Close",
    "ClusterEngine",
    "ClusterEvent",
    "ClusterOutput",
    "ConnectionLost",
    "ConnectionOpened",
    "DataReceived",
    "Engine",
    "EngineConfig",
    "Kick",
    "NodeEvent",
    "NodeOutput",
    "Output",
    "ProtocolViolation",
    "Send",
    "Shutdown",
    "Tick",
    "UsageError",
]
