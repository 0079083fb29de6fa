"""Running one mutant: its engine served by the reference transport, judged by the suite, then
(if the suite missed it) by a short fuzz run.

The mutant engine lives in a temporary folder that holds only the `engine` package. The server is
started from that folder (`cd` first: `python -m` puts the working directory ahead of PYTHONPATH)
with `PYTHONPATH=<tmp>:<repo>`, so `import engine` finds the mutant and everything else
(`transport`, `protocol`) the repository's code. The suite and the fuzzer run in the repository
with no PYTHONPATH, so they, and the fuzzer's oracle, import the original engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.mutation.mutator import Mutant
from conformance.kit.target import TargetError, started

REPO = Path(__file__).resolve().parents[2]
# The limits the mutants are served with. The suite reads a server's limits from its welcome;
# with the defaults its limit cases (LIMIT-3 to LIMIT-5) take minutes and are skipped unless
# --slow, with these they take seconds, so the engine's limit code is judged like the rest.
# Eviction (LIMIT-3) waits `evict_after_s` and must come well before `connect_timeout_s`, which
# would close the same connection with the same words: 1 s and 3 s tell the two apart.
# `max_connections` is above the per-address limit, so a case on one address meets its own
# limit first, as before, while one with clients on two loopback addresses reaches the server's
# (which one connection is evicted there, LIMIT-3, is not decided by addresses alone).
SMALL_LIMITS = (
    "--connect-timeout-s 3 --evict-after-s 1 --outbound-queue-bytes 65536"
    " --max-connections-per-address 64 --max-connections 100"
)
EXIT_FAILED, EXIT_UNREACHABLE = 1, 3
# A case that passed on the unmutated engine and now ends with one of these: the suite saw it.
DETECTED = ("fail", "non-strict", "informational", "error")
CONFIRM_UP_TO = 3  # kills by at most this many case functions are run again to confirm them


@dataclass(frozen=True)
class Options:
    timeout_s: float = 60.0
    fuzz_seconds: float = 10.0
    fuzz_seed: int = 0
    profile: str = "full"
    python: str = sys.executable
    select: str = ""  # the suite's --select (tests use one section to stay fast)
    serve_args: str = ""  # extra `jsonchat serve` flags (limits), see SMALL_LIMITS


@dataclass
class Outcome:
    """What happened to one mutant. `status` is one of:

    - `killed`: a case the unmutated engine passes did not pass (`cases` says which);
    - `killed_fuzz`: the suite missed it, the fuzzer found a difference;
    - `timeout`: the suite (or the fuzz run) took longer than the limit;
    - `start`: the server never accepted a connection (a weak kill: any check would do);
    - `probe`: it accepts, then fails the suite's first exchanges, which ends the run with
      exit 3 (as weak: the suite judged no case; a server that crashes on its first client);
    - `survived`: neither saw it (before equivalent.json is consulted);
    - `baseline`: the unmutated engine, for the reference verdicts.
    """

    id: str
    status: str = "survived"
    cases: list[str] = field(default_factory=list)
    detail: str = ""
    seconds: float = 0.0
    suite_seconds: float = 0.0
    fuzz_seconds: float = 0.0


def server_command(folder: Path, python: str, serve_args: str = "") -> str:
    """The `cmd:` target that serves the engine found in `folder` through the reference server."""
    here, repo = shlex.quote(str(folder)), shlex.quote(str(REPO))
    extra = f" {serve_args}" if serve_args else ""
    return (
        f"cd {here} && exec env PYTHONPATH={here}:{repo} PYTHONDONTWRITEBYTECODE=1 "
        f"{shlex.quote(python)} -m transport.cli serve {{host}} {{port}}{extra}"
    )


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the suite and the oracle import the original engine
    return env


def prepare(folder: Path, mutant: Mutant | None) -> None:
    """Copy engine/ into `folder` and apply `mutant` to the copy (none: the unmutated engine)."""
    shutil.copytree(
        REPO / "engine", folder / "engine", ignore=shutil.ignore_patterns("__pycache__")
    )
    if mutant is not None:
        path = folder / mutant.module
        path.write_text(mutant.apply(path.read_text()))


def end_servers_in(folder: Path) -> list[int]:
    """SIGKILL every process working in `folder` (Linux's /proc); their pids.

    Those are the servers the suite and the fuzzer started for a mutant (`server_command` runs
    them from its folder). They run in sessions of their own, so that the tools' signals do not
    reach them; killing a tool that ran out of time does not end them either, and a mutant that
    spins then keeps a core busy long after its judgement (four did for over an hour once).
    """
    ended: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return ended
    inside = str(folder.resolve())
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue  # gone, or not ours to look at
        if cwd == inside or cwd.startswith(inside + os.sep):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
                ended.append(int(entry.name))
    return ended


@contextlib.contextmanager
def _servers_ended(folder: Path) -> Iterator[Path]:
    """`folder`, whose servers are killed when the block ends, however it ends."""
    try:
        yield folder
    finally:
        end_servers_in(folder)


def _tool(args: list[str], timeout: float, cwd: Path = REPO) -> tuple[int | None, str]:
    """Run `python -m protocol.commands ARGS` in its own process group; (exit status, output tail).

    None for the status means it ran out of time; the group is killed then (the servers it
    started are in sessions of their own: `end_servers_in` ends those).
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "protocol.commands", *args],
        cwd=cwd,
        env=_clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        out, _ = process.communicate()
        code = None
    text = out.decode("utf-8", "replace")
    return code, "\n".join(text.rstrip().splitlines()[-12:])


def suite(
    target: str, folder: Path, options: Options, timeout: float, keyword: str = ""
) -> tuple[int | None, dict[str, str], str]:
    """Run the conformance suite (`keyword`: pytest's -k); (exit status, verdict of each case,
    output tail)."""
    report = folder / "suite.json"
    report.unlink(missing_ok=True)
    args = ["conformance", target, "--profile", options.profile, "--json", str(report)]
    args += ["--transcripts", str(folder / "transcripts")]
    if options.select:
        args += ["--select", options.select]
    if keyword:
        args += ["-k", keyword]
    code, tail = _tool(args, timeout)
    verdicts: dict[str, str] = {}
    if report.exists():
        data: dict[str, Any] = json.loads(report.read_text())
        verdicts = {_case_id(case["nodeid"]): case["verdict"] for case in data.get("cases", [])}
    return code, verdicts, tail


def _case_id(nodeid: str) -> str:
    """`test_errors.py::test_x[...]`: pytest's node IDs are relative to a root directory that
    depends on what a run collects, so the folders are left out to compare runs."""
    path, _, rest = nodeid.partition("::")
    return f"{Path(path).name}::{rest}"


def confirmed(cases: list[str], target: str, folder: Path, options: Options) -> bool:
    """Whether a kill by a few cases holds when those cases run again.

    On a loaded machine a case can miss a reply by its deadline once; a kill must not rest on
    that. A mutant that fails more than CONFIRM_UP_TO cases is not a timing accident.
    """
    functions = sorted({c.split("::")[-1].split("[")[0].split(" ")[0] for c in cases})
    if len(functions) > CONFIRM_UP_TO:
        return True
    code, verdicts, _ = suite(target, folder, options, options.timeout_s, " or ".join(functions))
    if code is None:
        return True  # ran out of time: a timeout is not a pass
    again = {f"{node} [{verdict}]" for node, verdict in verdicts.items() if verdict in DETECTED}
    return bool(again & set(cases))


def fuzz(target: str, folder: Path, options: Options, timeout: float) -> tuple[int | None, str]:
    args = ["fuzz", target, "--seconds", str(options.fuzz_seconds), "--seed"]
    args += [str(options.fuzz_seed), "--shrink-seconds", "5"]
    args += ["--transcripts", str(folder / "fuzz-transcripts")]
    return _tool(args, timeout)


def starts(command: str) -> bool:
    """Whether the server accepts connections at all (to tell a start-up kill from the rest)."""
    try:
        with started(command):
            return True
    except TargetError:
        return False


def run_mutant(
    mutant: Mutant | None,
    baseline: dict[str, str],
    options: Options,
    with_fuzz: bool = True,
) -> tuple[Outcome, dict[str, str]]:
    """Judge one mutant (None: the unmutated engine); its outcome and the suite's verdicts."""
    began = time.monotonic()
    outcome = Outcome(mutant.id if mutant else "baseline")
    with (
        tempfile.TemporaryDirectory(prefix="jsonchat-mutant-") as tmp,
        _servers_ended(Path(tmp)) as folder,
    ):
        prepare(folder, mutant)
        command = server_command(folder, options.python, options.serve_args)
        target = f"cmd:{command}"
        code, verdicts, tail = suite(target, folder, options, options.timeout_s)
        if code not in (0, EXIT_FAILED, None):  # once more: another job may have won the port
            code, verdicts, tail = suite(target, folder, options, options.timeout_s)
        outcome.suite_seconds = time.monotonic() - began
        if mutant is None:
            outcome.status = "baseline"
            outcome.detail = tail
        elif code is None:
            outcome.status, outcome.detail = "timeout", f"suite over {options.timeout_s:g} s"
        elif code not in (0, EXIT_FAILED):
            if starts(command):
                outcome.status = "probe"
                outcome.detail = f"the suite could not use the target (exit {code}): {tail}"
            else:
                outcome.status = "start"
                outcome.detail = f"the server does not start (suite exit {code}): {tail}"
        else:
            outcome.cases = sorted(
                f"{node} [{verdict}]"
                for node, verdict in verdicts.items()
                if verdict in DETECTED and baseline.get(node) == "pass"
            )
            if outcome.cases and not confirmed(outcome.cases, target, folder, options):
                outcome.detail = f"not confirmed on a second run, so not a kill: {outcome.cases}"
                outcome.cases = []
            if outcome.cases:
                outcome.status = "killed"
            elif code == EXIT_FAILED:
                outcome.status = "killed"
                outcome.detail = f"exit 1 with no newly failing case: {tail}"
            elif with_fuzz:
                fuzz_began = time.monotonic()
                limit = options.fuzz_seconds + options.timeout_s
                fuzz_code, fuzz_tail = fuzz(target, folder, options, limit)
                if fuzz_code == EXIT_UNREACHABLE:  # once more, as for the suite
                    fuzz_code, fuzz_tail = fuzz(target, folder, options, limit)
                outcome.fuzz_seconds = time.monotonic() - fuzz_began
                if fuzz_code is None:
                    outcome.status, outcome.detail = "timeout", f"fuzz over {limit:g} s"
                elif fuzz_code != 0:
                    outcome.status, outcome.detail = "killed_fuzz", fuzz_tail
                else:
                    skipped = sorted(
                        n
                        for n, v in verdicts.items()
                        if v == "skipped" and baseline.get(n) == "pass"
                    )
                    if skipped:
                        outcome.detail = f"the suite only skipped cases it passes: {skipped}"
    outcome.seconds = time.monotonic() - began
    return outcome, verdicts
