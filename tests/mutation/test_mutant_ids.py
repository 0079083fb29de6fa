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


# A module of its own, so that these tests hold whatever the engine's code becomes.
SAMPLE = """\
\"\"\"A module to mutate.\"\"\"

LIMIT = 64


class Room:
    def add(self, conn, members):
        if conn not in members:
            members[conn] = None
            self.size += 1
        return len(members) <= LIMIT
"""
MODULE = "engine/sample.py"


def _mutants(tmp_path: Path, *edits: tuple[str, str]) -> dict[str, Mutant]:
    """The mutants of SAMPLE, by ID, with textual edits made to it first."""
    source = SAMPLE
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    folder = tmp_path / str(len(list(tmp_path.iterdir())))
    (folder / MODULE).parent.mkdir(parents=True)
    (folder / MODULE).write_text(source)
    return {m.id: m for m in find_mutants(folder, MODULE)}


TOP = ('"""\n', '"""\n\n# two lines more\n')
LAYOUT = (
    "return len(members) <= LIMIT",
    "return (\n            len(members)\n            <= LIMIT\n        )",
)
EDITED = "members[conn] = None"  # as an enum might replace a constant
REPLACED = (EDITED, "members[conn] = MEMBER")


def test_an_id_survives_moves_layout_and_edits_of_other_statements(tmp_path: Path) -> None:
    before = _mutants(tmp_path)
    assert {m.function for m in before.values()} == {"<module>", "Room.add"}
    after = _mutants(tmp_path, TOP, LAYOUT, REPLACED)
    edited = next(n for n, line in enumerate(SAMPLE.splitlines(), 1) if EDITED in line)
    kept = {i for i, m in before.items() if m.line != edited}
    assert kept <= set(after), sorted(kept - set(after))
    assert all(after[i].line > before[i].line for i in kept), "every line moved"
    gone = set(before) - kept
    assert gone and not gone & set(after), "the edited statement's mutants are new ones"


def test_an_id_changes_with_the_statement_it_mutates(tmp_path: Path) -> None:
    before = _mutants(tmp_path)
    limit = [i for i in before if ":<module>:ConstantChange:64→65:" in i]
    assert len(limit) == 1
    assert set(_mutants(tmp_path, ("= 64\n", "= 64  # a comment\n"))) == set(before)
    assert limit[0] not in _mutants(tmp_path, ("= 64\n", "= 32 + 32\n"))


def test_twins_in_one_function_are_numbered_in_order(tmp_path: Path) -> None:
    twice = _mutants(tmp_path, ("self.size += 1\n", "self.size += 1\n            self.size += 1\n"))
    removed = [m for m in twice.values() if m.operator == "RemoveStatement" and "size" in m.what]
    assert sorted(m.ordinal for m in removed) == [1, 2]
    assert removed[0].id + "#2" == removed[1].id


def test_only_takes_an_id_or_a_prefix_of_exactly_one(mutants: list[Mutant]) -> None:
    known = {m.id: m for m in mutants}
    first = mutants[0]
    assert resolve([first.id], known) == ([first], [])
    unique = next(m for m in mutants if sum(i.startswith(m.id[:-1]) for i in known) == 1)
    assert resolve([unique.id[:-1]], known) == ([unique], [])
    found, bad = resolve(["engine/", "no such mutant"], known)
    assert found == [] and len(bad) == 2
