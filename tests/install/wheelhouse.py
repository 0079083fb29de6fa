"""Wheels of jsonchat's dependencies, so the install test needs no network once set up.

`tests/install` installs the wheel it builds into a fresh venv with `pip install --no-index
--find-links WHEELHOUSE`: the dependencies come from here, not from the package index. `make test`
fills it once (`python -m tests.install.wheelhouse`, with the index, after installing the dev
extras); the test fills it itself when it lacks something, e.g. after a new dependency.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

WHEELHOUSE = Path(sys.prefix) / "wheelhouse"  # inside the venv that runs the tests


def dependencies() -> list[str]:
    """jsonchat's own dependencies (not its extras), as the installed metadata declares them."""
    declared = [Requirement(text) for text in metadata.requires("jsonchat") or []]
    return [str(r) for r in declared if r.marker is None or r.marker.evaluate({"extra": ""})]


def fill(requirements: list[str]) -> subprocess.CompletedProcess[str]:
    """Put wheels of `requirements` and everything they need in WHEELHOUSE, from the index."""
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(WHEELHOUSE)]
    done = subprocess.run(
        [*pip_wheel, *requirements],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # A requirement given as jsonchat's own wheel is copied here too: drop it, so that only the
    # wheel under test is ever installed.
    for stale in WHEELHOUSE.glob("jsonchat-*.whl"):
        stale.unlink()
    return done


if __name__ == "__main__":
    done = fill(dependencies())
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    sys.exit(done.returncode)
