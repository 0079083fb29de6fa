"""Requirement IDs on cases, and what breaking a rule of each level is called.

A case names the rules it checks with `@requirement(...)`; each check that fails raises a
`Violation` naming the one rule it broke, so a case citing ROUTE-1 and ROUTE-9 says which of the
two the target broke. The verdict follows that rule's level, as in h2spec and RFC 2119: a broken
MUST fails, a broken SHOULD is `non-strict`, a broken MAY `informational`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal, TypeVar

import pytest

from protocol import Profile, Requirement, requirements_by_id

Verdict = Literal["pass", "fail", "non-strict", "informational", "skipped", "error"]
VERDICT_OF_LEVEL: dict[str, Verdict] = {
    "MUST": "fail",
    "SHOULD": "non-strict",
    "MAY": "informational",
}
# Worst first: a requirement's verdict is the worst of its cases'.
SEVERITY: tuple[Verdict, ...] = ("error", "fail", "non-strict", "informational", "pass", "skipped")
MARKER = "requirement"
F = TypeVar("F", bound=Callable[..., object])


class Violation(Exception):
    """The target broke `rule`; `message` says how, in terms a server author can act on."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message

    @property
    def requirement(self) -> Requirement:
        return requirements_by_id()[self.rule]

    @property
    def verdict(self) -> Verdict:
        return VERDICT_OF_LEVEL[self.requirement.level]


def requirement(*ids: str) -> Callable[[F], F]:
    """Tie a case to the requirement IDs it checks; the first is the one a crash is blamed on."""
    marker = getattr(pytest.mark, MARKER)(*ids)

    def decorate(function: F) -> F:
        decorated: F = marker(function)
        return decorated

    return decorate


def case_ids(item: pytest.Item) -> tuple[str, ...]:
    """The requirement IDs a collected case cites (several markers add up, in order)."""
    ids: list[str] = []
    for mark in item.iter_markers(MARKER):
        ids.extend(str(i) for i in mark.args if str(i) not in ids)
    return tuple(ids)


def unknown_ids(ids: Iterable[str]) -> list[str]:
    known = requirements_by_id()
    return [i for i in ids if i not in known or known[i].subject != "server"]


def in_profile(ids: Sequence[str], profile: Profile) -> bool:
    """A case belongs to a profile when every rule it checks does (core is a subset of full)."""
    known = requirements_by_id()
    return bool(ids) and all(i in known and known[i].in_profile(profile) for i in ids)


def matches(ids: Sequence[str], tokens: Sequence[str]) -> bool:
    """`--select`: a token is an ID (`ROUTE-3`), a section (`ROUTE`) or a level (`MUST`)."""
    known = requirements_by_id()
    for rule in ids:
        requirement = known.get(rule)
        for token in tokens:
            if token in (rule, rule.rsplit("-", 1)[0]) or (
                requirement is not None and token == requirement.level
            ):
                return True
    return False


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    return min(verdicts, key=SEVERITY.index, default="skipped")
