"""`python -m benchmarks.mutation`: how many engine mutants the suite (and the fuzzer) kill.

    python -m benchmarks.mutation                    # the seeded sample, 2 jobs
    python -m benchmarks.mutation --sample 0         # every mutant (about 700)
    python -m benchmarks.mutation --list             # mutants per module and the estimated time
    python -m benchmarks.mutation --ids              # every mutant's ID and current path:line
    python -m benchmarks.mutation --only ID [--only ID ...]   # judge some mutants (or ID prefixes)
    python -m benchmarks.mutation --previous last_run/results.json   # after adding cases
    python -m benchmarks.mutation --report last_run/results.json     # after editing the reasons

Every mutant of engine/ is enumerated (mutator.py); unless `--sample 0`, a seeded random sample
stratified by module is judged (runner.py): the conformance suite alone, then, for the suite's
survivors, a short fuzz run. A survivor listed in equivalent.json is either `equivalent` (it
behaves like the engine on the wire) or `allowed` (it behaves differently, but as PROTOCOL.md
allows, so no conformance case may fail it); the reason is there. The other survivors are the
suite's blind spots. The run writes results.json and survivors.md to `--out` and prints a table,
then one JSON line like the other benchmarks.

`--previous` re-judges only what an earlier run of the same sample did not kill by the suite and
keeps the rest: cases are only ever added, and a case added cannot make a killed mutant pass.
That holds only for the same engine served the same way: an ID names one statement, not the
rest of the engine, so a kill kept across an engine change may no longer happen. Each run
records a digest of engine/ and its `--serve-args`; `--previous` refuses a run that differs in
either. A measurement from scratch is the plain command.

A mutant's ID names the function, the edit and a digest of the mutated statement, not its line
(mutator.py says what keeps an ID and what changes it), so equivalent.json's judgements outlive
edits elsewhere in the engine; tests/mutation fails when one of them names no current mutant.
Reports print each ID with the mutant's current `path:line`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import difflib
import hashlib
import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.mutation.mutator import Mutant, all_mutants
from benchmarks.mutation.runner import REPO, SMALL_LIMITS, Options, Outcome, run_mutant

HERE = Path(__file__).parent
CLASSIFIED = HERE / "equivalent.json"
SECONDS_PER_MUTANT = 28.0  # per job, suite and fuzz, on the shared 2-core machine (2026-11-29)
SUITE_KILLS = ("killed", "timeout", "start", "probe")
WEAK_KILLS = ("start", "probe")
COLUMNS = (
    "killed",
    "killed_fuzz",
    "timeout",
    "start",
    "probe",
    "survived",
    "equivalent",
    "allowed",
)
TITLES = ("suite", "+fuzz", "timeout", "start", "probe", "survived", "equiv", "allowed")


def classified() -> dict[str, tuple[str, str]]:
    """Mutant ID -> (`equivalent` or `allowed`, the reason), from the committed file."""
    data: dict[str, dict[str, str]] = json.loads(CLASSIFIED.read_text())
    return {i: (kind, why) for kind in ("equivalent", "allowed") for i, why in data[kind].items()}


def stale(known: set[str]) -> list[str]:
    """The keys of equivalent.json (judgements and notes) that name none of the `known` IDs: the
    code they judged has changed, so they judge nothing until re-keyed or dropped."""
    data: dict[str, dict[str, str]] = json.loads(CLASSIFIED.read_text())
    keys = [key for kind in ("equivalent", "allowed", "open") for key in data.get(kind, {})]
    return sorted(key for key in keys if key not in known)


def resolve(wanted: list[str], known: dict[str, Mutant]) -> tuple[list[Mutant], list[str]]:
    """The mutants `--only` names, each by its ID or by a prefix of exactly one ID; and the
    names that match none or several."""
    found: list[Mutant] = []
    bad: list[str] = []
    for name in wanted:
        if name in known:
            found.append(known[name])
            continue
        matches = [mutant for key, mutant in known.items() if key.startswith(name)]
        if len(matches) == 1:
            found.extend(matches)
        else:
            bad.append(f"{name} ({len(matches)} matches)")
    return found, bad


def open_notes() -> dict[str, str]:
    """Mutant ID -> why no case kills it yet: shown with the survivor, which still counts."""
    data: dict[str, dict[str, str]] = json.loads(CLASSIFIED.read_text())
    return data.get("open", {})


def sample(mutants: list[Mutant], size: int, seed: int) -> list[Mutant]:
    """A seeded random sample of `size`, stratified by module (largest remainders), in ID order.

    Stratifying keeps every module's share of the sample equal to its share of the mutants, so a
    small module is not left out by chance and the kill rate is not skewed towards a big one.
    """
    if size <= 0 or size >= len(mutants):
        return mutants
    by_module: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        by_module.setdefault(mutant.module, []).append(mutant)
    exact = {m: len(group) * size / len(mutants) for m, group in by_module.items()}
    counts = {m: int(share) for m, share in exact.items()}
    by_remainder = sorted(exact, key=lambda m: (-(exact[m] - counts[m]), m))
    for module in by_remainder[: size - sum(counts.values())]:
        counts[module] += 1
    rng = random.Random(seed)
    chosen = {
        mutant.id
        for module in sorted(by_module)
        for mutant in rng.sample(by_module[module], counts[module])
    }
    return [mutant for mutant in mutants if mutant.id in chosen]


def diff(mutant: Mutant) -> str:
    original = (REPO / mutant.module).read_text()
    lines = difflib.unified_diff(
        original.splitlines(keepends=True),
        mutant.apply(original).splitlines(keepends=True),
        f"a/{mutant.module}",
        f"b/{mutant.module}",
        n=2,
    )
    return "".join(lines)


def status(outcome: Outcome, classes: dict[str, tuple[str, str]]) -> str:
    """The outcome's status, with a survivor's class from equivalent.json."""
    if outcome.status == "survived" and outcome.id in classes:
        return classes[outcome.id][0]
    return outcome.status


def _rate(killed: int, of: int) -> float | None:
    return round(killed / of, 4) if of else None


def table(
    mutants: list[Mutant], outcomes: dict[str, Outcome], classes: dict[str, tuple[str, str]]
) -> tuple[list[str], dict[str, Any]]:
    """The printed table (a row per module and a total) and the summary figures."""
    header = ["module", "mutants", *TITLES]
    rows: list[list[str]] = []
    totals: Counter[str] = Counter()
    for module in [*sorted({m.module for m in mutants}), "total"]:
        counts: Counter[str] = Counter(
            status(outcomes[m.id], classes) for m in mutants if module in ("total", m.module)
        )
        if module == "total":
            totals = counts
        rows.append([module, str(sum(counts.values())), *(str(counts[c]) for c in COLUMNS)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    total = sum(totals.values())
    live = total - totals["equivalent"] - totals["allowed"]
    by_suite = sum(totals[s] for s in SUITE_KILLS)
    with_fuzz = by_suite + totals["killed_fuzz"]
    weak = sum(totals[s] for s in WEAK_KILLS)
    summary = {
        "mutants": total,
        "killed_by_suite": totals["killed"],
        "killed_by_fuzz": totals["killed_fuzz"],
        "timeouts": totals["timeout"],
        "killed_at_start": totals["start"],
        "killed_at_probe": totals["probe"],
        "survived": totals["survived"],
        "equivalent": totals["equivalent"],
        "allowed": totals["allowed"],
        "suite_kill_rate": _rate(by_suite, live),
        "suite_fuzz_kill_rate": _rate(with_fuzz, live),
        "suite_kill_rate_all": _rate(by_suite, total),
        "suite_fuzz_kill_rate_all": _rate(with_fuzz, total),
        "suite_kill_rate_without_weak": _rate(by_suite - weak, live - weak),
    }
    lines += [
        "",
        f"killed by the suite alone:          {by_suite}/{live} = "
        f"{_percent(summary['suite_kill_rate'])} of the non-equivalent "
        f"({_percent(summary['suite_kill_rate_all'])} of all {total}; "
        f"{_percent(summary['suite_kill_rate_without_weak'])} leaving start and probe kills out)",
        f"killed by the suite and the fuzzer: {with_fuzz}/{live} = "
        f"{_percent(summary['suite_fuzz_kill_rate'])} of the non-equivalent "
        f"({_percent(summary['suite_fuzz_kill_rate_all'])} of all {total})",
        "non-equivalent: neither `equivalent` nor `allowed`; timeouts, start and probe kills "
        "count as kills; targets 90% and 97%",
    ]
    return lines, summary


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def survivors_report(
    mutants: list[Mutant],
    outcomes: dict[str, Outcome],
    classes: dict[str, tuple[str, str]],
    intro: str,
) -> str:
    parts = [intro]
    notes = open_notes()
    sections = (
        ("survived", "Not equivalent: nothing kills them yet"),
        ("allowed", "Allowed: they differ from the engine, as PROTOCOL.md allows"),
        ("equivalent", "Equivalent: the same behaviour on the wire"),
    )
    for wanted, title in sections:
        chosen = [m for m in mutants if status(outcomes[m.id], classes) == wanted]
        parts.append(f"## {title} ({len(chosen)})\n")
        for mutant in chosen:
            parts.append(f"### `{mutant.id}`\n\nat `{mutant.where}`\n")
            if mutant.id in classes:
                parts.append(f"{classes[mutant.id][1]}\n")
            elif mutant.id in notes:
                parts.append(f"Not killed yet: {notes[mutant.id]}\n")
            if wanted == "survived" and outcomes[mutant.id].detail:
                parts.append(f"{outcomes[mutant.id].detail}\n")
            parts.append(f"```diff\n{diff(mutant)}```\n")
    return "\n".join(parts)


def judge(
    chosen: list[Mutant], options: Options, jobs: int, fuzz: bool, previous: dict[str, Outcome]
) -> dict[str, Outcome] | None:
    """Every mutant's outcome (None when the unmutated engine does not pass the suite)."""
    baseline, verdicts = run_mutant(None, {}, options, with_fuzz=False)
    failing = {n: v for n, v in verdicts.items() if v not in ("pass", "skipped")}
    print(f"baseline: {Counter(verdicts.values())} in {baseline.seconds:.1f} s", file=sys.stderr)
    if not verdicts or failing:
        print(f"the unmutated engine does not pass: {failing}\n{baseline.detail}", file=sys.stderr)
        return None
    outcomes = {
        m.id: previous[m.id]
        for m in chosen
        if m.id in previous and previous[m.id].status in SUITE_KILLS
    }
    todo = [m for m in chosen if m.id not in outcomes]
    if previous:
        print(f"kept {len(outcomes)} suite kills; judging {len(todo)}", file=sys.stderr)
    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = {pool.submit(run_mutant, m, verdicts, options, fuzz): m for m in todo}
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            mutant = futures[future]
            outcome, _ = future.result()
            outcomes[mutant.id] = outcome
            print(
                f"[{done}/{len(todo)}] {outcome.status:11} {mutant.id} ({outcome.seconds:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    return outcomes


def engine_digest() -> str:
    """A digest of every file of engine/ (names and bytes): whether two runs judged one engine."""
    sha = hashlib.sha1()
    for path in sorted((REPO / "engine").rglob("*.py")):
        sha.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:12]


def reusable(data: dict[str, Any], serve_args: str) -> str:
    """Why an earlier run's kills cannot be kept for this one ("" if they can)."""
    if data.get("engine") != engine_digest():
        return (
            f"it judged another engine (engine/ digest {data.get('engine', 'not recorded')}, "
            f"now {engine_digest()})"
        )
    served = data.get("options", {}).get("serve_args")
    if served != serve_args:
        return f"it served the mutants with other flags ({served!r})"
    return ""


def load(path: Path) -> tuple[dict[str, Any], dict[str, Outcome]]:
    data: dict[str, Any] = json.loads(path.read_text())
    fields = {f.name for f in dataclasses.fields(Outcome)}
    outcomes = {
        m["id"]: Outcome(**{k: v for k, v in m.items() if k in fields}) for m in data["mutants"]
    }
    return data, outcomes


def write(
    out: Path,
    heading: str,
    chosen: list[Mutant],
    outcomes: dict[str, Outcome],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Print the table and write results.json and survivors.md; the summary figures."""
    classes = classified()
    lines, summary = table(chosen, outcomes, classes)
    print(heading)
    print("\n".join(lines))
    killed = sorted(i for i in classes if i in outcomes and outcomes[i].status != "survived")
    if killed:
        print(f"\nequivalent.json classifies mutants that were killed (fix it): {killed}")
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "heading": heading,
        **extra,
        "summary": summary,
        "mutants": [
            {**asdict(outcomes[m.id]), "at": m.where, "class": status(outcomes[m.id], classes)}
            for m in chosen
        ],
    }
    (out / "results.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    intro = f"# Surviving mutants\n\n{heading}\n\n```\n" + "\n".join(lines) + "\n```\n"
    (out / "survivors.md").write_text(survivors_report(chosen, outcomes, classes, intro))
    print(f"\nresults: {out / 'results.json'}; survivors and their diffs: {out / 'survivors.md'}")
    print(json.dumps({"benchmark": "mutation", **summary, "seconds": extra.get("seconds")}))
    return {"summary": summary, "misclassified": killed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mutation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sample", type=int, default=200, help="mutants judged; 0 = all (200)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (0)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants judged at once (2)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per suite run (60)")
    parser.add_argument("--fuzz-seconds", type=float, default=10.0, help="per survivor (10)")
    parser.add_argument("--fuzz-seed", type=int, default=0, help="the fuzzer's seed (0)")
    parser.add_argument("--no-fuzz", action="store_true", help="the suite alone")
    parser.add_argument(
        "--serve-args",
        default=SMALL_LIMITS,
        help="`jsonchat serve` flags for every mutant ('' for the default limits; "
        "default: %(default)s)",
    )
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="judge these")
    parser.add_argument("--list", action="store_true", help="count mutants; judge none")
    parser.add_argument("--ids", action="store_true", help="list mutant IDs; judge none")
    parser.add_argument("--previous", type=Path, help="keep this run's suite kills")
    parser.add_argument("--report", type=Path, help="re-render this run's results; judge none")
    parser.add_argument("--out", type=Path, default=HERE / "last_run", help="results folder")
    args = parser.parse_args(argv)

    everything = list(all_mutants(REPO))
    known = {m.id: m for m in everything}
    if args.ids:
        for mutant in everything:
            print(f"{mutant.id}  {mutant.where}")
        return 0
    if args.list:
        for module, count in sorted(Counter(m.module for m in everything).items()):
            print(f"{module:28} {count:5}")
        for operator, count in sorted(Counter(m.operator for m in everything).items()):
            print(f"  {operator:20} {count:5}")
        minutes = len(everything) * SECONDS_PER_MUTANT / args.jobs / 60
        chosen = sample(everything, args.sample, args.seed)
        print(f"{len(everything)} mutants: about {minutes:.0f} min for all with {args.jobs} jobs")
        print(f"--sample {args.sample} --seed {args.seed}: {len(chosen)} mutants")
        for key in stale(set(known)):
            print(f"equivalent.json names no current mutant: {key}")
        return 0
    if args.report:
        data, outcomes = load(args.report)
        chosen = [known[i] for i in outcomes]
        extra: dict[str, Any] = {
            k: data[k] for k in ("date", "engine", "options", "enumerated", "seconds") if k in data
        }
        written = write(args.out, data["heading"], chosen, outcomes, extra)
        return 1 if written["misclassified"] else 0

    only, missing = resolve(args.only, known)
    if missing:
        print(f"unknown or ambiguous mutant IDs: {missing}", file=sys.stderr)
        return 2
    chosen = only or sample(everything, args.sample, args.seed)
    options = Options(
        timeout_s=args.timeout,
        fuzz_seconds=args.fuzz_seconds,
        fuzz_seed=args.fuzz_seed,
        serve_args=args.serve_args,
    )
    previous: dict[str, Outcome] = {}
    if args.previous:
        data, previous = load(args.previous)
        why = reusable(data, args.serve_args)
        if why:
            print(f"--previous {args.previous}: {why}; measure from scratch", file=sys.stderr)
            return 2
    began = time.monotonic()
    judged = judge(chosen, options, args.jobs, not args.no_fuzz, previous)
    if judged is None:
        return 1
    elapsed = time.monotonic() - began
    if args.only:
        what = f"{len(chosen)} chosen mutants"
    elif len(chosen) < len(everything):
        what = (
            f"{len(chosen)} of {len(everything)} mutants "
            f"(stratified sample, --sample {args.sample} --seed {args.seed})"
        )
    else:
        what = f"all {len(everything)} mutants"
    fuzzing = "no fuzz" if args.no_fuzz else f"fuzz {args.fuzz_seconds:g} s --seed {args.fuzz_seed}"
    kept = f"; suite kills kept from {args.previous}" if args.previous else ""
    heading = (
        f"mutation run {time.strftime('%Y-%m-%d')}: {what}; served with "
        f"`{args.serve_args or 'the default limits'}`; suite --profile full; {fuzzing}; "
        f"{args.jobs} jobs; {elapsed / 60:.1f} min{kept}"
    )
    extra = {
        "date": time.strftime("%Y-%m-%d"),
        "engine": engine_digest(),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "enumerated": len(everything),
        "seconds": round(elapsed, 1),
    }
    written = write(args.out, heading, chosen, judged, extra)
    return 1 if written["misclassified"] else 0


if __name__ == "__main__":
    sys.exit(main())
