"""jsonchat built, installed and run the way users do it (issue 18).

`python -m build --no-isolation` makes the sdist and then the wheel from the sdist, so a file the
sdist lacks is missing from the wheel too. The wheel goes into a fresh venv (`python -m venv`,
then `pip install --no-index --find-links WHEELHOUSE`: dependencies from wheels kept in the test
venv, see wheelhouse.py, so no network is needed once `make test` has run). The fresh venv has no
pip of its own: this venv's pip installs into it (`pip --python`), which spares ensurepip's 4 s
of CPU (20 s on a busy machine) and installs the same files. Every command then runs from the
installed `jsonchat`, in a folder outside the repository that has a pytest.ini and conftest.py
files of its own, as an implementer's project may. On this project's 2-core machine, shared
with other test runs (load average 7), it all took 60 s, 14 of them to build and install; the
fuzzer's 3 seconds take 7 to 11.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

import protocol
from tests.install.wheelhouse import WHEELHOUSE, fill

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("protocol", "engine", "transport", "conformance")
LIMIT_S = 180  # far above any step here: a hung command fails the test instead of hanging it
# What a user who asked for a conformance report must not see: pytest's own header, warnings
# summary or internal errors, tracebacks, or the path the suite happens to be installed at.
NOISE = ("warning", "traceback", "internalerror", "site-packages", "rootdir:", "configfile:")
# Environment that would make the installed command run something other than what it ships.
SCRUB = ("PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "VIRTUAL_ENV")


@dataclass(frozen=True)
class Install:
    wheel: Path
    sdist: Path
    venv: Path
    home: Path  # the user's project folder every command runs from

    @property
    def jsonchat(self) -> str:
        return str(self.venv / "bin" / "jsonchat")

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run([self.jsonchat, *args], cwd=cwd or self.home)

    @property
    def server(self) -> str:
        """The installed reference server, as a conformance target."""
        return f"cmd:{self.jsonchat} serve {{host}} {{port}}"


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=LIMIT_S, check=False
    )


def output(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def assert_quiet(text: str) -> None:
    for noise in NOISE:
        assert noise not in text.lower(), f"{noise!r} in the output:\n{text}"


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    base = tmp_path_factory.mktemp("install")
    dist = base / "dist"
    built = run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        cwd=base,
    )
    assert built.returncode == 0, output(built)
    (wheel,) = dist.glob("jsonchat-*.whl")
    (sdist,) = dist.glob("jsonchat-*.tar.gz")

    venv = base / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    assert made.returncode == 0, output(made)
    pip_install = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    pip_install += ["install", "--quiet"]
    pip_install += ["--no-index", "--find-links", str(WHEELHOUSE), str(wheel)]
    installed = run(pip_install, cwd=base)
    if installed.returncode != 0:  # the wheelhouse lacks a dependency: fetch it, once
        filled = fill([str(wheel)])
        assert filled.returncode == 0, output(filled)
        installed = run(pip_install, cwd=base)
    assert installed.returncode == 0, output(installed)

    home = base / "project"
    (home / "tests").mkdir(parents=True)
    hostile = "raise RuntimeError('the user conftest.py was loaded')\n"
    (home / "conftest.py").write_text(hostile)
    (home / "tests" / "conftest.py").write_text(hostile)
    (home / "pytest.ini").write_text(
        "[pytest]\naddopts = -x -p no:terminal\npython_functions = nothing_*\n"
        "filterwarnings = error\n"
    )
    return Install(wheel, sdist, venv, home)


def package_files() -> set[str]:
    """Every file of the four packages in the repository, as a path inside the wheel."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_the_wheel_carries_every_file_of_the_packages_and_nothing_else(install: Install) -> None:
    with zipfile.ZipFile(install.wheel) as wheel:
        names = {n for n in wheel.namelist() if ".dist-info/" not in n}
    assert names == package_files()
    assert (
        "protocol/PROTOCOL.md" in names and "protocol/schemas/client/connect.schema.json" in names
    )


def test_the_sdist_carries_the_protocol_data(install: Install) -> None:
    with tarfile.open(install.sdist) as sdist:
        top = install.sdist.name.removesuffix(".tar.gz")
        names = {n.removeprefix(f"{top}/") for n in sdist.getnames()}
    assert package_files() <= names
    data = {n for n in package_files() if n.startswith("protocol/") and not n.endswith(".py")}
    assert len(data) > 20  # requirements, limits, errors, machine, PROTOCOL.md, schemas, fixtures
    assert "README.md" in names and "pyproject.toml" in names


def test_the_user_folder_would_break_a_plain_pytest_run(install: Install) -> None:
    """The folder is hostile indeed: what the next tests show is not luck."""
    done = run([str(install.venv / "bin" / "python"), "-m", "pytest"], cwd=install.home)
    assert done.returncode != 0 and "the user conftest.py was loaded" in output(done)


def test_version_names_the_package_and_the_protocol(install: Install) -> None:
    done = install.run("--version")
    assert done.returncode == 0, output(done)
    package = metadata.version("jsonchat")  # the repository's, from the same pyproject.toml
    assert done.stdout == f"jsonchat {package} (protocol version {protocol.VERSION})\n"


def test_spec_reads_the_installed_protocol_data(install: Install) -> None:
    rules = install.run("spec", "rules")
    assert rules.returncode == 0, output(rules)
    listed = [line.split()[0] for line in rules.stdout.splitlines()]
    assert listed == [r.id for r in protocol.requirements()]
    check = install.run("spec", "render", "--check")  # the installed PROTOCOL.md is up to date
    assert check.returncode == 0, output(check)
    # `spec where` reads the installed source as text: its lines and cases, and no tests/.
    where = install.run("spec", "where", "SHUTDOWN-2")
    assert where.returncode == 0, output(where)
    assert "transport/serve.py:" in where.stdout and "conformance/cases/" in where.stdout
    assert "repository tests" not in where.stdout


def test_the_listing_names_cases_as_the_repository_does(install: Install) -> None:
    installed = install.run("conformance", "--list")
    repository = run([sys.executable, "-m", "protocol.commands", "conformance", "--list"], cwd=ROOT)
    assert installed.returncode == 0 and repository.returncode == 0, output(installed)
    assert_quiet(output(installed))

    def cases(text: str) -> list[str]:  # pytest's closing line, with its timing, left out
        return [line for line in text.splitlines() if "::" in line or "cases selected" in line]

    assert cases(installed.stdout) == cases(repository.stdout)
    assert cases(installed.stdout)[0].startswith("conformance/cases/test_")
    assert len(cases(installed.stdout)) > 100


def test_a_full_run_against_the_installed_server_passes_quietly(install: Install) -> None:
    done = install.run("conformance", install.server)
    text = output(done)
    assert done.returncode == 0, text
    assert_quiet(text)
    (summary,) = [line for line in done.stdout.splitlines() if line.startswith("cases: ")]
    assert "fail" not in summary and "error" not in summary, summary
    assert int(summary.split()[1]) > 100, summary  # cases that passed


def test_a_failure_leaves_a_transcript_that_replays(install: Install, tmp_path: Path) -> None:
    # A server that trusts `user_name` (one of the repository's broken servers) breaks ROUTE-13.
    spoof = f"{shlex.quote(sys.executable)} -m tests.conformance.broken.spoof {{host}} {{port}}"
    target = f"cmd:cd {shlex.quote(str(ROOT))} && exec {spoof}"
    done = install.run("conformance", target, "--select", "ROUTE-13", cwd=tmp_path)
    text = output(done)
    assert done.returncode == 1, text
    assert "FAIL conformance/cases/test_routing.py::test_spoofed_user_name_is_refused" in text
    assert "site-packages" not in text

    (line,) = [line for line in done.stdout.splitlines() if "replay: jsonchat replay" in line]
    command = shlex.split(line.split("replay: ", 1)[1])
    transcript = tmp_path / command[2]
    assert transcript.is_file(), text
    assert "site-packages" not in transcript.read_text("utf-8")
    replayed = install.run(*command[1:], cwd=tmp_path)  # the printed command, as given
    # Whether the failure is reported as reproduced (0, today) or as still there (1, once
    # `replay` reports against the spec) is the replay's business; not crashing is this test's.
    assert replayed.returncode in (0, 1), output(replayed)
    assert "test_spoofed_user_name_is_refused" in replayed.stdout, output(replayed)
    assert "traceback" not in output(replayed).lower()


def test_fuzz_runs_from_the_install(install: Install) -> None:
    done = install.run("fuzz", install.server, "--seconds", "3", "--seed", "1")
    assert done.returncode == 0, output(done)
    assert "traceback" not in output(done).lower()


def test_the_pytest_route_runs_the_installed_suite(install: Install, tmp_path: Path) -> None:
    """`pip install jsonchat`, then pytest itself: the plugin comes with the package."""
    python = str(install.venv / "bin" / "python")
    argv = [python, "-m", "pytest", f"--jsonchat-target={install.server}"]
    done = run([*argv, "--pyargs", "conformance.cases", "-p", "no:cacheprovider"], cwd=tmp_path)
    assert done.returncode == 0, output(done)
    assert "cases: " in done.stdout and "warning" not in done.stdout.lower()
