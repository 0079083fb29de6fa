"""The exit statuses of `jsonchat conformance`, `jsonchat fuzz` and `jsonchat replay`: one table.

A script that runs any of the three reads the same number the same way; `--help` and the README
print `TABLE`. The numbers follow pytest where they overlap (1 failed, 2 usage, 5 nothing ran).
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0  # conformance: every selected MUST holds; fuzz: nothing found; replay: fixed
    FAILED = 1  # a case failed, the fuzzer found something, or replay still shows the failure
    USAGE = 2  # bad command line or bad TARGET
    UNREACHABLE = 3  # the target never accepted a connection
    NOTHING_RAN = 5  # no case ran (all deselected or skipped): such a run proves nothing


TABLE = (
    "exit status: 0 pass (replay: the server now behaves as the spec says), "
    "1 a failure (replay: still failing), 2 usage, "
    "3 the target never accepted a connection, 5 nothing ran"
)
