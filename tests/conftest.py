"""Shared pytest configuration.

The `requirement` marker (registered in pyproject.toml, declared once in
`conformance.suite.verdicts`) ties a test to the rule IDs of PROTOCOL.md it checks;
tests/citations.py reads it off collected items.
"""
