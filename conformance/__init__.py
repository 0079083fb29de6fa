"""The conformance suite for any jsonchat server, the fuzzer, and the kit they share.

Everything here judges a server from the outside, by the bytes on the wire and by its process,
against the rules of `protocol`; nothing imports the reference server (`transport`), and only the
fuzzer's oracle runs the reference engine (the arrows are held by `lint-imports`).

- `kit/`: a kit for testing any server: a byte-exact client, transcripts, the probe, starting and
  watching servers, and load (`kit/load/`). Tests and benchmarks use it too.
- `suite/`: `jsonchat conformance`: the pytest plugin that runs the cases, judges each rule and
  writes the report.
- `cases/`: the published cases, one module per section of PROTOCOL.md (their path is part of
  every case ID, and of `pytest --pyargs conformance.cases`).
- `documents/`: valid and invalid protocol documents, generated from the schemas.
- `fuzz/`: `jsonchat fuzz`: random sessions against a live server, compared with the engine.
- `replay.py`: `jsonchat replay`: is the failure a transcript recorded fixed?
- `cli.py`: the package's commands (`conformance`, `replay`, `fuzz`), found by `jsonchat`
  through their entry points.
"""
