"""The conformance suite as it runs: `jsonchat conformance TARGET`, or the same cases under
`pytest --jsonchat-target=TARGET --pyargs conformance.cases`.

It is pytest underneath: a plugin selects the cases of `conformance/cases/`, starts and probes
the target, gives every case a `chat` fixture, judges each failure by the level of the rule it
broke, and reports per requirement. This package imports nothing when it is loaded: the plugin is
loaded in every pytest run of an environment that has jsonchat installed, and must cost nothing
there until it is asked to run. Several targets (`--jsonchat-target` once per node) are one
server, a cluster: each case spreads its clients over them round-robin (`conformance.kit.cluster`).

- `plugin.py`: the pytest plugin (entry point `jsonchat`): inert until `--jsonchat-target`.
- `session.py`: the run as pytest sees it: selection, the probe, judging, the report.
- `run.py`: one run: the target, what the probe learned, each case's verdict, and deaths
  (a server that dies during a case fails it, and DISCONNECT-7).
- `harness.py`: what a case works with: `Chat` and its clients, whose checks name their rule.
- `verdicts.py`: `@requirement` on cases, and what breaking a rule of each level is called.
- `generated.py`: cases made from the protocol's data (client fixtures, the state machine).
- `report.py`: the report, per requirement and per case, as text and as JSON.
- `cli.py`: `jsonchat conformance`'s options, turned into the plugin's.
"""
