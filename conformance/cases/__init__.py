"""The published conformance cases, one module per section of PROTOCOL.md.

`jsonchat conformance` runs them (or `pytest --jsonchat-target=... --pyargs conformance.cases`).
Each case names the requirement IDs it checks (`@requirement`), and each failing check the one
rule it found broken. Cases get a `chat` fixture (conformance/suite/harness.py) from the plugin,
and nothing else of the suite. Their path is part of every case ID (`conformance/cases/
test_routing.py::test_...`), in reports, transcripts and `--list`: it does not move.

A new case goes into the module of its section (`test_framing.py` for FRAME-*, `test_routing.py`
for ROUTE-*, ...), cites its rules with `@requirement`, and checks through the harness, whose
checks name the rule they break.
"""
