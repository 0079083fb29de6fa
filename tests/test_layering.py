"""The dependency arrows of README's "Architecture", held by import-linter.

`lint-imports` checks the contracts of pyproject.toml's `[tool.importlinter]` on the repository;
to show that they can fail, each wrong arrow below is added to a copy of the packages, and the
report must name it. And the one `jsonchat` command must not make the server depend on the
suite: `jsonchat serve` runs without importing it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("protocol", "engine", "transport", "conformance", "tests", "benchmarks")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages in `root`, as `make lint` runs it (from `root`, which it
    puts first on the path: the copy's packages, not the installed ones, are analysed)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_repository_keeps_every_contract() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages and of pyproject.toml, which keeps every contract as it is."""
    root = tmp_path_factory.mktemp("pristine")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", root)
    done = lint_imports(root)
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@pytest.mark.parametrize(
    ("module", "line", "arrow", "contract"),
    [
        (
            "engine/wrong_way.py",
            "import conformance",
            "engine.wrong_way -> conformance",
            "stand on",
        ),
        ("protocol/wrong_way.py", "import engine", "protocol.wrong_way -> engine", "stand on"),
        (
            "transport/wrong_way.py",
            "import conformance.suite.cli",
            "transport.wrong_way -> conformance.suite.cli",
            "do not meet",
        ),
        (
            "conformance/suite/wrong_way.py",
            "import engine.engine",
            "conformance.suite.wrong_way -> engine.engine",
            "only the fuzzer's oracle",
        ),
        (
            "conformance/kit/wrong_way.py",
            "import tests.conformance",
            "conformance.kit.wrong_way -> tests.conformance",
            "nothing imports the tests",
        ),
    ],
)
def test_an_arrow_the_wrong_way_breaks_a_contract(
    pristine: Path, tmp_path: Path, module: str, line: str, arrow: str, contract: str
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(pristine, copy)
    (copy / module).write_text(f'"""An import the wrong way."""\n\n{line}\n')
    done = lint_imports(copy)
    report = done.stdout + done.stderr
    assert done.returncode == 1, report
    assert arrow in report, report
    broken = report.split("Broken contracts", 1)[-1]
    assert contract in " ".join(broken.split()), report


def test_serve_imports_neither_the_suite_nor_pytest() -> None:
    """`jsonchat serve` (here its `--help`, which parses as a run does and stops) loads only
    its own command: the dispatcher finds it by entry point, not through the other packages."""
    script = (
        "import sys\n"
        "from protocol.commands import main\n"
        "try:\n"
        "    main(['serve', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "usage: jsonchat serve" in done.stdout
    loaded = done.stdout.splitlines()[-1].split()
    assert "transport" in loaded
    assert not {"conformance", "pytest", "hypothesis"} & set(loaded), loaded


def test_every_command_is_listed() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "protocol.commands", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for command in ("serve", "client", "spec", "conformance", "replay", "fuzz"):
        assert f"\n    {command} " in done.stdout, done.stdout
