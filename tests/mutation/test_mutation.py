"""The mutation benchmark's own checks, without running every mutant.

The mutator must find mutants deterministically and each must be a small edit that compiles; the
runner must really serve the mutant engine (a killable mutant is killed: were the original engine
imported instead, nothing could be) and must not invent kills (an equivalent mutant survives).
The two real runs use one section of the suite each, which keeps this file at a few seconds.
"""

from __future__ import annotations

import ast
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks.mutation.__main__ import classified, engine_digest, main, reusable, sample
from benchmarks.mutation.mutator import Mutant, all_mutants, find_mutants
from benchmarks.mutation.runner import REPO, SMALL_LIMITS, Options, end_servers_in, run_mutant

# Deleting the delivery of a room message to the room's other members.
DELIVERY = (
    "engine/engine.py",
    "Engine._post_to_room",
    "RemoveStatement",
    "self._out.append(Send(recipients",
)
# The size up to which a room caches "everyone but the sender": speed only.
CACHE_SIZE = ("engine/rooms.py", "<module>", "ConstantChange", "64→65")


def _one(module: str, function: str, operator: str, what: str) -> Mutant:
    """The one mutant of `module`'s `function` by `operator` whose change starts with `what`:
    found by what it changes, as its ID holds a digest that these tests need not spell."""
    found = [
        m
        for m in find_mutants(REPO, module)
        if (m.function, m.operator) == (function, operator) and m.what.startswith(what)
    ]
    assert len(found) == 1, f"{function} {operator} {what!r} matches {[m.id for m in found]}"
    return found[0]


def test_mutants_are_found_the_same_way_every_time() -> None:
    first, second = list(all_mutants(REPO)), list(all_mutants(REPO))
    assert [m.id for m in first] == [m.id for m in second]
    assert len({m.id for m in first}) == len(first), "IDs are unique"
    modules = Counter(m.module for m in first)
    assert {"engine/engine.py", "engine/framing.py", "engine/validation.py"} <= set(modules)
    assert "engine/rules.py" not in modules  # outcome counting only: never on the wire
    operators = {m.operator for m in first}
    assert {"CompareSwap", "BoolSwap", "RemoveStatement", "ConstantChange"} <= operators


def _changed_lines(original: str, mutated: str) -> tuple[list[str], list[str]]:
    """The lines an edit replaced and the lines it wrote instead: what lies between the lines both
    texts begin with and those both end with. Pairing lines by number would count every line after
    a statement that spans several lines and comes back on one (`ast.unparse` writes it so)."""
    a, b = original.splitlines(), mutated.splitlines()
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return a[head : len(a) - tail], b[head : len(b) - tail]


def test_a_mutant_is_a_small_edit_that_compiles() -> None:
    for mutant in find_mutants(REPO, "engine/engine.py")[::25]:
        original = (REPO / mutant.module).read_text()
        mutated = mutant.apply(original)
        assert mutated != original
        assert ast.dump(ast.parse(mutated)) != ast.dump(ast.parse(original)), mutant.id
        replaced, written = _changed_lines(original, mutated)
        spanned = original.encode()[mutant.start : mutant.end].count(b"\n") + 1
        assert 1 <= len(written) <= 3, mutant.id
        assert len(replaced) <= max(3, spanned), mutant.id  # only the lines of its statement


def test_no_docstring_annotation_or_counting_is_mutated() -> None:
    for mutant in all_mutants(REPO):
        assert "_count(" not in mutant.replacement and "outcomes" not in mutant.id, mutant.id
        line = (REPO / mutant.module).read_text().splitlines()[mutant.line - 1]
        assert not line.lstrip().startswith(('"""', "__all__")), mutant.id


def test_the_sample_is_seeded_and_stratified() -> None:
    mutants = list(all_mutants(REPO))
    chosen = sample(mutants, 100, seed=3)
    assert [m.id for m in chosen] == [m.id for m in sample(mutants, 100, seed=3)]
    assert [m.id for m in chosen] != [m.id for m in sample(mutants, 100, seed=4)]
    assert len(chosen) == 100
    share = Counter(m.module for m in mutants)
    for module, count in Counter(m.module for m in chosen).items():
        assert abs(count - share[module] * 100 / len(mutants)) < 1


def test_a_killable_mutant_is_killed_by_the_suite() -> None:
    options = Options(select="ROUTE-1")
    _, verdicts = run_mutant(None, {}, options, with_fuzz=False)
    assert verdicts and set(verdicts.values()) == {"pass"}
    outcome, _ = run_mutant(_one(*DELIVERY), verdicts, options, with_fuzz=False)
    assert outcome.status == "killed", outcome
    assert any("test_room_message_reaches_every_other_member" in c for c in outcome.cases)


def test_an_equivalent_mutant_survives_and_is_listed() -> None:
    mutant = _one(*CACHE_SIZE)
    assert classified()[mutant.id][0] == "equivalent"
    options = Options(select="ROUTE")
    _, verdicts = run_mutant(None, {}, options, with_fuzz=False)
    outcome, _ = run_mutant(mutant, verdicts, options, with_fuzz=False)
    assert outcome.status == "survived", outcome


def test_previous_kills_are_kept_only_for_the_same_engine_and_flags(tmp_path: Path) -> None:
    """A mutant's ID names one statement, not the engine around it: a kill kept from a run of
    another engine, or of other server flags, may not happen now, so `--previous` refuses such
    a run (before judging anything) and says to measure from scratch."""
    same = {"engine": engine_digest(), "options": {"serve_args": SMALL_LIMITS}}
    assert reusable(same, SMALL_LIMITS) == ""
    assert "another engine" in reusable({**same, "engine": "0" * 12}, SMALL_LIMITS)
    assert "another engine" in reusable({"options": same["options"]}, SMALL_LIMITS)
    assert "other flags" in reusable(same, "--max-connections 5")
    old = tmp_path / "results.json"
    old.write_text(json.dumps({**same, "engine": "0" * 12, "mutants": []}))
    assert main(["--previous", str(old), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_servers_working_in_a_mutants_folder_are_ended(tmp_path: Path) -> None:
    """A server left by a suite that ran out of time (in a session of its own, as the suite
    starts targets) is killed with its mutant's folder; a process elsewhere is left alone."""
    folder = tmp_path / "mutant"
    folder.mkdir()
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    inside = subprocess.Popen(sleep, cwd=folder, start_new_session=True)
    outside = subprocess.Popen(sleep, cwd=tmp_path, start_new_session=True)
    try:
        time.sleep(0.2)  # its working directory is set once it has started
        assert inside.pid in end_servers_in(folder)
        assert inside.wait(timeout=5) == -signal.SIGKILL
        assert outside.poll() is None
    finally:
        for process in (inside, outside):
            process.kill()
            process.wait()
