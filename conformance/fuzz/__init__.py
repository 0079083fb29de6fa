"""The fuzzer: `jsonchat fuzz TARGET` drives random sessions against a live server and compares
every packet with what the reference engine predicts.

Hypothesis draws programs of protocol actions (and of misbehaviour: junk, invalid documents,
frames split anywhere, hang-ups); a difference from the engine, or a death of the server, is a
finding, shrunk to a short program with a transcript that `jsonchat replay` plays back. Nothing
is imported when the package is loaded: `jsonchat` imports Hypothesis only for `fuzz` itself.
Several targets are one server, a cluster: each example's clients spread over them round-robin,
and the one engine judges them all.

- `machine.py`: the Hypothesis state machine: its rules are the clients' actions.
- `oracle.py`: the engine, fed what the target is fed, saying what each client must get (the one
  module of `conformance` that imports `engine`).
- `settle.py`: knowing by round trips, not sleeps, that the target has handled everything.
- `frames.py`: what is sent, and how its bytes reach the target (whole, split, coalesced).
- `lifeline.py`: starting the target, noticing its death, restarting it, syncing.
- `record.py`: what a run remembers across examples: counts, history, failures.
- `run.py`: batches of examples for a time budget, and the finding.
- `cli.py`: `jsonchat fuzz`'s options and report.
"""
