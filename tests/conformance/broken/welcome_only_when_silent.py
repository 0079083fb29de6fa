"""Fault: a client whose first frame, ended by `\\n`, comes before the welcome delay is over gets
no welcome at all; one that waits gets it on time (COMPAT-1, WELCOME-1).

The suite's probe speaks first, so it sees no welcome, as from a server that sends none (which
WELCOME-1, a SHOULD, lets it be): the cases about the welcome must not take that at its word.
"""

from __future__ import annotations

from engine.engine import BARE, LINES, Engine, Session
from tests.conformance.broken.common import serve


class HastyEngine(Engine):
    def _decide(self, session: Session, bare: bool) -> None:
        session.framing = BARE if bare else LINES
        self._welcome_due.pop(session.conn, None)  # the welcome of a client that spoke is lost


if __name__ == "__main__":
    serve(HastyEngine)
