"""A kit for testing any jsonchat server: what the suite, the fuzzer, the tests and the
benchmarks all drive servers with.

- `wire.py`: `WireClient`, a client that sends exact bytes and reads whatever comes back,
  garbage included, recording it all in a `Transcript` (`transcript.py`: JSON lines, replayable).
- `messages.py`: what test clients say (`connect_doc`, `direct`) and unique names (`Tokens`).
- `shapes.py`: what server messages look like (`is_delivery`, `is_error`, ...), and the exact
  ones the spec gives (`delivery`, `error`, `DISCONNECTED`).
- `probe.py`: what a target can do and how fast it answers, measured once per run.
- `target.py`: servers under test: `ServerProcess` (any command, started on a free port,
  stopped as people stop servers, read through /proc), `started`, and the run's `Target`
  (`tcp:` or `cmd:`, restarted when it dies); `still_accepts` checks a `tcp:` target without
  hanging up on it.
- `cluster.py`: several targets as one server: clients spread round-robin (`Spreader`, each
  client's placement kept for replay), and what every target's probe found (`common`).
- `procstat.py`: what /proc says about a process: memory, descriptors, CPU, listening sockets.
- `exitcodes.py`: the one table of exit statuses of `conformance`, `fuzz` and `replay`.
- `load/`: many clients in mixed traffic, every delivery accounted for (robustness tests, soak).
"""

from conformance.kit.exitcodes import ExitStatus
from conformance.kit.messages import Tokens, connect_doc, direct
from conformance.kit.probe import Capabilities, Timing
from conformance.kit.target import (
    ServerProcess,
    Target,
    TargetError,
    parse_target,
    started,
    still_accepts,
)
from conformance.kit.transcript import Transcript
from conformance.kit.wire import Closed, WireClient

__all__ = [
    "Capabilities",
    "Closed",
    "ExitStatus",
    "ServerProcess",
    "Target",
    "TargetError",
    "Timing",
    "Tokens",
    "Transcript",
    "WireClient",
    "connect_doc",
    "direct",
    "parse_target",
    "started",
    "still_accepts",
]
