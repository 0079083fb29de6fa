"""Mutant IDs that outlive edits elsewhere, and judgements that must name a current mutant.

equivalent.json judges mutants by ID. An ID names the mutated statement, not its line (see
mutator.py), so an edit of the engine leaves the judgements of the code it did not touch in
place; a judgement whose code changed names no mutant any more, and the first test here fails
until it is made again. All of it is AST work: no server runs, a few seconds in all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.mutation.__main__ import resolve, stale
from benchmarks.mutation.mutator import Mutant, all_mutants, find_mutants
from benchmarks.mutation.runner import REPO

RE_JUDGE = """\
benchmarks/mutation/equivalent.json judges mutants that no longer exist: their code has changed.
  {keys}
For each: find the mutant of the changed code (`python -m benchmarks.mutation --ids` lists every
ID with its current path:line), judge it with `python -m benchmarks.mutation --only ID-PREFIX
--out /tmp/rejudge` (its diff is in /tmp/rejudge/survivors.md if it survives), read that diff
against the current engine, and either move the reason to the new ID, if it is still true of the
code as it is now, or drop the judgement. Drop it rather than guess: an unjudged survivor
counts against the suite, a wrong judgement hides a blind spot."""


@pytest.fixture(scope="module")
def mutants() -> list[Mutant]:
    return list(all_mutants(REPO))


def test_every_judgement_names_a_current_mutant(mutants: list[Mutant]) -> None:
    keys = stale({m.id for m in mutants})
    assert not keys, RE_JUDGE.format(keys="\n  ".join(keys))


def _variant(tmp_path: Path, module: str, *edits: tuple[str, str]) -> dict[str, Mutant]:
    """The mutants of `module`, by ID, with textual edits made to a copy of it."""
    source = (REPO / module).read_text()
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / module).write_text(source)
    return {m.id: m for m in find_mutants(tmp_path, module)}


def _line_of(module: str, text: str) -> int:
    lines = (REPO / module).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


ROOMS = "engine/rooms.py"
TOP = ("from __future__ import annotations\n", "from __future__ import annotations\n\n# one more\n")
LAYOUT = (
    "if self._members.pop(conn, 0) is None:",
    "if self._members.pop(\n            conn, 0\n        ) is None:  # layout",
)
ADDED = "self._members[conn] = None"  # in Room.add, as an enum might replace a string
REPLACED = (ADDED, "self._members[conn] = MEMBER")


def test_an_id_survives_moves_layout_and_edits_of_other_statements(tmp_path: Path) -> None:
    before = {m.id: m for m in find_mutants(REPO, ROOMS)}
    after = _variant(tmp_path, ROOMS, TOP, LAYOUT, REPLACED)
    edited = _line_of(ROOMS, ADDED)
    kept = {i for i, m in before.items() if m.line != edited}
    assert kept <= set(after), sorted(kept - set(after))
    assert all(after[i].line > before[i].line for i in kept), "every line moved"
    gone = set(before) - kept
    assert gone and not gone & set(after), "the edited statement's mutants are new ones"
    assert all(after[i].function == "Room.add" for i in set(after) - kept)


def test_an_id_changes_with_the_statement_it_mutates(tmp_path: Path) -> None:
    before = {m.id for m in find_mutants(REPO, ROOMS)}
    cache = [i for i in before if ":<module>:ConstantChange:64→65:" in i]
    assert len(cache) == 1
    assert set(_variant(tmp_path, ROOMS, ("= 64\n", "= 64  # a comment\n"))) == before
    assert cache[0] not in _variant(tmp_path, ROOMS, ("= 64\n", "= 32 + 32\n"))


def test_only_takes_an_id_or_a_prefix_of_exactly_one(mutants: list[Mutant]) -> None:
    known = {m.id: m for m in mutants}
    first = mutants[0]
    assert resolve([first.id], known) == ([first], [])
    unique = next(m for m in mutants if sum(i.startswith(m.id[:-1]) for i in known) == 1)
    assert resolve([unique.id[:-1]], known) == ([unique], [])
    found, bad = resolve(["engine/", "no such mutant"], known)
    assert found == [] and len(bad) == 2
