"""`jsonchat spec where ID`: where one rule lives, from its text to the lines and tests behind it.

A rule is defined by data (requirements.json, and the errors, limits, schema keywords and
state-machine transitions that name it), enforced by lines of `engine/` and `transport/` that
carry its ID in a `#` comment (`# ROUTE-3` or `# ROUTE-3, ROUTE-4: why`, on the line that makes
the decision), and checked by conformance cases and repository tests through one pytest marker,
`requirement`.

This module reads all of that as text: `protocol` imports nothing else of jsonchat, so the
source of `engine/`, `transport/`, `conformance/cases/` and `tests/` is tokenised and parsed,
never imported. `engine/rules.py` is a table from engine outcomes to rules, not a decision: its
entries are shown only for a rule that no annotated line names yet.

Most cases name their rules in literal `@requirement("ID")` decorators. Three are generated from
the protocol data, one pytest parameter per fixture document, transition and refusal; their
rules are derived here from the same data by the rules `conformance/suite/generated.py`
follows, and tests/protocol/test_where.py checks that the two agree with what pytest collects.
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import protocol
from protocol import Requirement, error_rule, error_table, requirements_by_id, sections
from protocol.case_rules import fixture_rules, transition_rules
from protocol.statemachine import refusals

# Where the packages are: the checkout, or site-packages for an installed wheel.
ROOT = Path(__file__).resolve().parent.parent
ENFORCING_PACKAGES = ("engine", "transport")
RULE_TABLE = "engine/rules.py"
CASES = "conformance/cases"
TESTS = "tests"
MARKER = "requirement"  # conformance.suite.verdicts.MARKER, which protocol cannot import
_RULE_ID = re.compile(r"\b([A-Z]+-[0-9]+)\b")


@dataclass(frozen=True)
class SourceLine:
    """A line of shipped source: `path:number: text`, the path relative to ROOT."""

    path: str
    number: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.number}: {self.text}"


@dataclass(frozen=True)
class Where:
    """Everything that defines, enforces and checks one rule."""

    requirement: Requirement
    data: tuple[str, ...]
    enforced: tuple[SourceLine, ...]  # annotated lines of engine/ and transport/
    table: tuple[SourceLine, ...]  # engine/rules.py entries, only when `enforced` is empty
    cases: tuple[str, ...]  # conformance case IDs, as pytest names them
    tests: tuple[str, ...] | None  # repository tests; None where tests/ is not shipped


class UnknownRule(KeyError):
    """No rule has this ID; `suggestion` is the closest one, if any is close."""

    def __init__(self, rule: str) -> None:
        close = difflib.get_close_matches(rule.upper(), list(requirements_by_id()), n=1)
        self.rule = rule
        self.suggestion = close[0] if close else None
        super().__init__(rule)


def where(rule: str) -> Where:
    """Where `rule` (an ID such as `ROUTE-3`, in any case) is defined, enforced and checked."""
    known = requirements_by_id()
    if rule.upper() not in known:
        raise UnknownRule(rule)
    requirement = known[rule.upper()]
    rule_id = requirement.id
    enforced = tuple(annotated_lines().get(rule_id, ()))
    tests = repository_tests()
    return Where(
        requirement=requirement,
        data=tuple(defining_data(rule_id)),
        enforced=enforced,
        table=() if enforced else tuple(table_lines().get(rule_id, ())),
        cases=tuple(sorted(case for case, ids in conformance_cases().items() if rule_id in ids)),
        tests=None
        if tests is None
        else tuple(sorted(test for test, ids in tests.items() if rule_id in ids)),
    )


# -- the data that defines a rule -----------------------------------------------------------------


def defining_data(rule: str) -> Iterator[str]:
    """One line per place of the protocol data that names `rule` or defines what it requires."""
    requirement = requirements_by_id()[rule]
    codes = list(_error_codes(rule))
    for code, event in codes:
        where_in = f"errors.{code}.rule" + (f".{event}" if event else "")
        yield f"protocol/errors.json: {where_in} ({error_table()[code]['text']!r})"
    for keyword, pointer, code in _schema_places({code for code, _ in codes}):
        yield f"protocol/schemas/{pointer} ({keyword}: {code})"
    for name, entry in protocol.limit_table().items():
        if f"`{name}`" in requirement.text or rule in _RULE_ID.findall(str(entry["doc"])):
            yield f"protocol/limits.json: {name} = {entry['value']} ({entry['scope']})"
    spec = protocol.machine_spec()
    for t in spec["transitions"]:
        if rule in t["requirements"]:
            yield f"protocol/machine.json: transition {t['trigger']}: {t['source']} -> {t['dest']}"
    for r in spec.get("refusals", ()):
        if error_rule(r["error"], r["trigger"]) == rule:
            yield f"protocol/machine.json: refusal {r['trigger']} in {r['source']} ({r['error']})"
    for group in protocol.fixtures():
        named = [t for t in group["tests"] if t.get("requirement") == rule]
        if named:
            file = f"fixtures/{group['schema'].replace('/', '.')}.json"
            yield f"protocol/{file}: {len(named)} documents ({group['description']})"


def _error_codes(rule: str) -> Iterator[tuple[str, str | None]]:
    """(error code, event or None) of every error whose rule is `rule`."""
    for code, entry in error_table().items():
        named = entry["rule"]
        if isinstance(named, str):
            if named == rule:
                yield code, None
        else:
            yield from ((code, event) for event, r in named.items() if r == rule)


def _schema_places(codes: set[str]) -> Iterator[tuple[str, str, str]]:
    """(keyword, `file#pointer`, error code) of every schema keyword that earns one of `codes`."""
    keywords = [(k, root, code) for k, root, code in protocol.schema_keyword_errors()]
    for name in protocol.CLIENT_SCHEMAS:
        for pointer, keyword in _keywords(protocol.schema(name), ""):
            for wanted, root_only, code in keywords:
                if code in codes and keyword == wanted and (pointer == "" or not root_only):
                    yield keyword, f"{name}.schema.json#{pointer}/{keyword}", code
                    break


# Subschemas whose keywords fail on their own; under `not`, `anyOf` or `oneOf` it is that
# keyword that fails, and it is listed instead.
_SUBSCHEMA = ("items", "additionalProperties")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs")
_SUBSCHEMA_LISTS = ("allOf", "prefixItems")


def _keywords(schema: Mapping[str, Any], pointer: str) -> Iterator[tuple[str, str]]:
    """(pointer of the schema, keyword) for every keyword of `schema` and its subschemas."""
    for key, value in schema.items():
        yield pointer, key
        if key in _SUBSCHEMA and isinstance(value, dict):
            yield from _keywords(value, f"{pointer}/{key}")
        elif key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                if isinstance(sub, dict):
                    yield from _keywords(sub, f"{pointer}/{key}/{name}")
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            for i, sub in enumerate(value):
                if isinstance(sub, dict):
                    yield from _keywords(sub, f"{pointer}/{key}/{i}")


# -- the lines that enforce it --------------------------------------------------------------------


def _sources(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


@cache
def annotated_lines() -> Mapping[str, tuple[SourceLine, ...]]:
    """Rule ID to every line of engine/ and transport/ whose `#` comment names it."""
    known = set(requirements_by_id())
    found: dict[str, list[SourceLine]] = {}
    for package in ENFORCING_PACKAGES:
        for path in _sources(package):
            relative = path.relative_to(ROOT).as_posix()
            if relative == RULE_TABLE:
                continue
            text = path.read_text("utf-8")
            lines = text.splitlines()
            for token in tokenize.generate_tokens(io.StringIO(text).readline):
                if token.type != tokenize.COMMENT:
                    continue
                number = _decided_at(lines, token.start[0])
                for rule in dict.fromkeys(_RULE_ID.findall(token.string)):
                    if rule in known:
                        line = SourceLine(relative, number, lines[number - 1].strip())
                        found.setdefault(rule, []).append(line)
    return {rule: tuple(lines) for rule, lines in found.items()}


def _decided_at(lines: Sequence[str], number: int) -> int:
    """The line a comment is about: its own, or for a comment on lines of its own the code line
    after it."""
    while number < len(lines) and lines[number - 1].lstrip().startswith("#"):
        number += 1
    return number


@cache
def table_lines() -> Mapping[str, tuple[SourceLine, ...]]:
    """Rule ID to the lines of engine/rules.py that name it in a string (table entries)."""
    path = ROOT / RULE_TABLE
    if not path.exists():
        return {}
    found: dict[str, list[SourceLine]] = {}
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        for rule in dict.fromkeys(re.findall(r"\"([A-Z]+-[0-9]+)\"", line)):
            found.setdefault(rule, []).append(SourceLine(RULE_TABLE, number, line.strip()))
    return {rule: tuple(lines) for rule, lines in found.items()}


# -- the cases and tests that check it ------------------------------------------------------------


@cache
def conformance_cases() -> Mapping[str, tuple[str, ...]]:
    """Case ID to the rules it cites, for every published conformance case."""
    return _cited_in(ROOT / CASES, GENERATED)


@cache
def repository_tests() -> Mapping[str, tuple[str, ...]] | None:
    """Test ID to the rules it cites, for the tests of a checkout (None when not shipped)."""
    folder = ROOT / TESTS
    checkout = (ROOT / "pyproject.toml").exists() and (folder / "conftest.py").exists()
    return _cited_in(folder, {}) if checkout else None


def _cited_in(
    folder: Path, generated: Mapping[str, Callable[[], Sequence[tuple[str, tuple[str, ...]]]]]
) -> dict[str, tuple[str, ...]]:
    """Node ID to rules for every test module under `folder`: a literal `requirement` marker
    names a function or class; a function of `generated` is listed by parameter (`node[param]`),
    with the rules its parameters' markers compute."""
    cited: dict[str, tuple[str, ...]] = {}
    for path in sorted(folder.rglob("test_*.py")):
        module = path.relative_to(ROOT).as_posix()
        for name, ids in _marked(ast.parse(path.read_text("utf-8"))):
            node = f"{module}::{name}"
            if node in generated:
                cited.update((f"{node}[{param}]", rules) for param, rules in generated[node]())
            elif ids:
                cited[node] = tuple(dict.fromkeys(cited.get(node, ()) + ids))
    return cited


def _marked(tree: ast.Module, prefix: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    """(name, literal rule IDs of its markers) of each test function, class or assignment."""
    body: list[ast.stmt] = list(tree.body)
    for statement in body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = prefix + statement.name
            yield name, _marker_ids(statement.decorator_list)
            if isinstance(statement, ast.ClassDef):
                inner = ast.Module(body=statement.body, type_ignores=[])
                yield from _marked(inner, f"{name}::")
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                yield prefix + target.id, _marker_ids([statement.value])


def _marker_ids(expressions: Sequence[ast.expr]) -> tuple[str, ...]:
    ids: list[str] = []
    for expression in expressions:
        for node in ast.walk(expression):
            if isinstance(node, ast.Call) and _called(node.func) == MARKER:
                ids.extend(
                    arg.value
                    for arg in node.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                )
    return tuple(dict.fromkeys(ids))


def _called(function: ast.expr) -> str | None:
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute):
        return function.attr
    return None


# -- generated cases: their rules, from the protocol data -----------------------------------------


def _fixture_params() -> list[tuple[str, tuple[str, ...]]]:
    """test_client_fixture: a case per client fixture."""
    return [
        (f"{group['schema']}: {test['description']}", fixture_rules(test["data"]))
        for group in protocol.fixtures()
        if group["schema"].startswith("client/")
        for test in group["tests"]
    ]


def _transition_params() -> list[tuple[str, tuple[str, ...]]]:
    """test_transition: every transition of machine.json."""
    return [
        (f"{t['trigger']} in {t['source']}", transition_rules(t))
        for t in protocol.machine_spec()["transitions"]
    ]


def _refusal_params() -> list[tuple[str, tuple[str, ...]]]:
    """test_refusal: every refusal of machine.json cites the rule of its error for its event."""
    return [(f"{r.trigger} in {r.source}", r.requirements) for r in refusals().values()]


GENERATED: Mapping[str, Callable[[], Sequence[tuple[str, tuple[str, ...]]]]] = {
    f"{CASES}/test_validation.py::test_client_fixture": _fixture_params,
    f"{CASES}/test_states.py::test_transition": _transition_params,
    f"{CASES}/test_states.py::test_refusal": _refusal_params,
}


# -- the report -----------------------------------------------------------------------------------


def report(found: Where) -> str:
    """`found` as the command prints it."""
    r = found.requirement
    out = [f"{r.id}  {r.level}  {r.profile}  {r.subject} ({sections()[r.section]})", f"  {r.text}"]

    def block(title: str, lines: Sequence[object], none: str) -> None:
        out.append("")
        out.append(f"{title}:")
        if lines:
            out.extend(f"  {line}" for line in lines)
        else:
            out.append(f"  ({none})")

    block("defined by", ["protocol/requirements.json", *found.data], "")
    if found.enforced or not found.table:
        block("enforced at", list(found.enforced), "no annotated line in engine/ or transport/")
    else:
        block("enforced at (engine/rules.py only: no line names it yet)", list(found.table), "")
    block("conformance cases", list(found.cases), "none")
    if found.tests is not None:
        block("repository tests", list(found.tests), "none")
    return "\n".join(out) + "\n"


__all__ = [
    "GENERATED",
    "SourceLine",
    "UnknownRule",
    "Where",
    "annotated_lines",
    "conformance_cases",
    "defining_data",
    "report",
    "repository_tests",
    "where",
]
