"""Requirement IDs on cases, and what breaking a rule of each level is called.

A case names the rules it checks with `@requirement(...)`; each check that fails raises a
`Violation` naming the one rule it broke, so a case citing ROUTE-1 and ROUTE-9 says which of the
two the target broke. The verdict follows that rule's level, as in h2spec and RFC 2119: a broken
MUST fails, a broken SHOULD is `non-strict`, a broken MAY `informational`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from typing import Literal, NoReturn, TypeVar

import pytest

from protocol import Profile, Requirement, requirements_by_id

Verdict = Literal["pass", "fail", "non-strict", "informational", "skipped", "error"]
VERDICT_OF_LEVEL: dict[str, Verdict] = {
    "MUST": "fail",
    "SHOULD": "non-strict",
    "MAY": "informational",
}
# Worst first: a requirement's verdict is the worst of its cases'. A skipped case ranks below
# every pass: a rule of which one case did not run has not been shown to hold.
SEVERITY: tuple[Verdict, ...] = ("error", "fail", "non-strict", "informational", "skipped", "pass")
MARKER = "requirement"
F = TypeVar("F", bound=Callable[..., object])
# The rule broken by a server that drops or stops serving a connection because another client hung
# up: DISCONNECT-7 (core), the rule a death of the target is blamed on too.
SERVE_OTHERS_RULE = "DISCONNECT-7"


class Violation(Exception):
    """The target broke `rule`; `message` says how, in terms a server author can act on.

    `cause` names what the harness saw happen, when it was more than a wrong answer: `closed`
    (the target closed the connection), `coalesced` (it closed after several frames arrived in
    one write), `hangup` (it closed after another client of the case hung up), `schema` (it sent
    something that is no server message). Tools may group failures by it.
    """

    def __init__(self, rule: str, message: str, cause: str = "") -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.cause = cause

    @property
    def requirement(self) -> Requirement:
        return requirements_by_id()[self.rule]

    @property
    def verdict(self) -> Verdict:
        return VERDICT_OF_LEVEL[self.requirement.level]


class Skip(enum.Enum):
    """Every reason a case may be skipped, and nothing else (as irctest's typed skips).

    Each is a capability the protocol makes optional in some profile (with the rule that makes it
    optional there or required elsewhere), a setting the target announces in its welcome's
    `limits`, a choice of the run, or a reason that blames neither: the suite's own machine was
    too slow to judge, or cannot connect from a second address. `Chat` turns a missing
    capability into a skip only where the profile allows it; where it does not, the case fails
    on `rule` instead. Cases skip through these members only (`pytest.skip` itself is for the
    run, when it stops), so the report can say why.
    """

    # CONNECT-2 (full) requires a reply to `connect`; core servers need not send one.
    NO_CONNECT_REPLY = ("no connect reply", "CONNECT-2", ("core",))
    # WELCOME-1 is a SHOULD, judged by its own case (non-strict when missing); a case that times
    # or counts the welcome has nothing to look at on a target that sends none.
    NO_WELCOME = ("no welcome", "WELCOME-1", ("core", "full"))
    # LIMIT-2 is a MAY: a target that never ends a session after errors in a row gives a case
    # about how it ends one nothing to look at.
    NO_ERROR_LIMIT = ("no error limit", "LIMIT-2", ("core", "full"))
    # LIMIT-3 is a MAY: a target whose `evict_after_s` is not below its `connect_timeout_s`
    # never evicts an idle connection sooner than it times it out, so eviction cannot be seen.
    NO_EVICTION = ("no eviction", "LIMIT-3", ("core", "full"))
    # The limits a server announces are its own to choose; some leave a case's situation
    # impossible (a `first_frame_grace_ms` of 0: no `\n` can follow in time; a
    # `connect_reply_bytes` too small for two posts to fill it; a `max_connections` no higher
    # than `max_connections_per_address`, which one address reaches alone).
    LIMITS_UNFIT = ("limits unfit", "", ("core", "full"))
    # Byte-exact cases reckon sizes in compact, unescaped JSON; a target that escapes characters
    # (FRAME-9 allows it) or, in core, writes spaces has other sizes, which such a case cannot
    # predict. Compactness itself is FRAME-9's case, in full.
    OTHER_JSON_SPELLING = ("other JSON spelling", "", ("core", "full"))
    # Not the target's doing: a case about the server's limit across addresses needs clients on
    # several addresses, which the suite has only for a target on loopback, on a system that
    # answers on 127.0.0.2 and up (Linux does; macOS has 127.0.0.1 alone unless aliased).
    ONE_ADDRESS = ("one client address", "", ("core", "full"))
    # ERROR-3 is a MAY: only a server whose shared broker failed answers `Service Unavailable`,
    # and no case can make an arbitrary server's broker fail; one that did the action gave the
    # case nothing to hold to the rule.
    NO_UNAVAILABLE = ("never unavailable", "ERROR-3", ("core", "full"))
    # Chosen for the run: `--slow` runs them.
    SLOW = ("slow case", "", ("core", "full"))
    # Signals and /proc need a target the suite started (`cmd:`), not a `tcp:` one.
    NOT_OWN_PROCESS = ("not our process", "", ("core", "full"))
    # Not the target's doing: every attempt of a timing case found the suite itself too late
    # (a loaded machine) to tell a right answer from a wrong one. Run the case again.
    INCONCLUSIVE = ("inconclusive on this machine", "", ("core", "full"))

    def __init__(self, tag: str, rule: str, lawful_in: tuple[Profile, ...]) -> None:
        self.tag = tag
        self.rule = rule  # the rule requiring the capability, where it is required
        self.lawful_in = lawful_in  # the profiles in which a target may lack it

    def allowed(self, profile: Profile) -> bool:
        return profile in self.lawful_in

    def skip(self, why: str) -> NoReturn:
        """Skip the running case: `tag (why)`, so a report can group skips by their tag."""
        pytest.skip(f"{self.tag} ({why})")


def skip_tag(reason: str) -> str:
    """The `Skip` tag a skip reason starts with, or `other` for a skip from elsewhere."""
    tag = reason.split(" (", 1)[0]
    return tag if tag in {s.tag for s in Skip} else "other"


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


def rule_verdict(rule: str, cases: Iterable[tuple[Verdict, str]]) -> Verdict:
    """The verdict of `rule` from the (verdict, broken rule) of every case citing it.

    A case that broke `rule` gives its own verdict; one that passed, `pass`; one that was skipped
    or ended on another rule before it got to `rule`, `skipped` (nothing was learned about it);
    one where the suite itself failed, `error`. The worst of them is the rule's: it passes only
    when every case citing it ran to the end and passed.
    """
    own: list[Verdict] = []
    for verdict, broken in cases:
        if broken == rule or verdict in ("pass", "error"):
            own.append(verdict)
        else:
            own.append("skipped")
    return worst(own)
