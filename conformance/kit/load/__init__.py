"""Load for any server: many clients in mixed traffic, every delivery accounted for.

`run(address, Load(...))` drives a swarm of users on one selector against a server that keeps
the `full` profile, and returns figures and the violations found. The robustness tests run it for
seconds, the soak benchmark for minutes.

- `swarm.py`: the load (`Load`, `Swarm`, `run`): who does what, when, and the report.
- `user.py`: one user: its next action and the reply it waits for.
- `attacker.py`: a hostile user among them, playing the catalogue of `hostile.py`.
- `hostile.py`: hostile input, each case with exactly the replies the spec gives it (also played
  one by one by tests/robustness).
- `ledger.py`: exactly-once, in-order accounting of every delivery.
- `peer.py`: one non-blocking socket on the shared selector.
"""

from conformance.kit.load.ledger import Ledger
from conformance.kit.load.swarm import Load, Swarm, percentile, run

__all__ = ["Ledger", "Load", "Swarm", "percentile", "run"]
