"""Reference servers with one fault each, to show the conformance suite catches it.

Each module is a program, started from the repository root the way a course server is:
`python -m tests.conformance.broken.NAME HOST PORT` runs the real engine and server with the
fault injected (an `Engine` subclass put in place before `serve_forever`).
"""
