"""The conformance cases, one module per section of PROTOCOL.md: `jsonchat conformance` runs them.

Each case names the requirement IDs it checks (`@requirement`), and each failing check the one
rule it found broken. Cases get a `chat` fixture (conformance/suite/harness.py) from the plugin.
"""
