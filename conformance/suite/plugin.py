"""The pytest plugin (entry point `jsonchat`): conformance cases against any server.

It is loaded in every pytest run of every project of the environment once installed, so it does
nothing until `--jsonchat-target` (or `--jsonchat-list`) is given, and imports nothing of
jsonchat but the standard library before that: a project with its own `protocol.py` must be
able to run its own tests. When the options are given, it first checks that the jsonchat
packages are the ones imported (a `protocol.py` in the current folder wins over ours under
`python -m pytest`), refusing with the file's name if not, and then registers
`conformance.suite.session.Active`, which selects the cases, starts and probes the target,
judges each case by its rule's level, and reports. Without it the `chat` fixture skips.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conformance.suite.harness import Chat
    from conformance.suite.run import Run  # noqa: F401 (named in a string: imported only for mypy)

MARKER = "requirement"  # conformance.suite.verdicts.MARKER, which cannot be imported here
PACKAGES = ("protocol", "engine", "transport", "conformance")
RUN_KEY = pytest.StashKey["Run"]()
CHAT_KEY = pytest.StashKey["Chat"]()


def shadowed() -> list[str]:
    """`name (path)` for every jsonchat package that a file outside jsonchat shadows."""
    root = Path(__file__).resolve().parents[2]
    found = []
    for name in PACKAGES:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module else None
        if module is None:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec else None
        if origin is None or Path(origin).resolve() != root / name / "__init__.py":
            found.append(f"{name} ({origin or 'a namespace package'})")
    return found


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jsonchat", "jsonchat conformance suite")
    group.addoption(
        "--jsonchat-target",
        action="append",
        help="tcp:HOST:PORT or cmd:'COMMAND {host} {port}'; given again for each further node "
        "of a cluster, whose cases spread their clients over them round-robin",
    )
    group.addoption("--jsonchat-profile", choices=["core", "full"], default="full")
    group.addoption("--jsonchat-select", default="", help="IDs, sections or levels, with commas")
    group.addoption("--jsonchat-fresh", action="store_true", help="restart a cmd: target per case")
    group.addoption("--jsonchat-json", type=Path, help="write the results as JSON here")
    group.addoption("--jsonchat-html", type=Path, help="write the report as an HTML page here")
    group.addoption("--jsonchat-progress", action="store_true", help="one live status line")
    group.addoption("--jsonchat-transcripts", type=Path, default=Path("jsonchat-transcripts"))
    group.addoption("--jsonchat-list", action="store_true", help="list the cases, run none")
    group.addoption("--jsonchat-reply-timeout", type=float, help="seconds; default measured")
    group.addoption("--jsonchat-slow", action="store_true", help="also run the slow cases")
    group.addoption(
        "--jsonchat-stop-signal",
        default="SIGINT",
        help="the first signal that stops a cmd: target, and SHUTDOWN-1's (default SIGINT)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*ids): the requirement IDs of PROTOCOL.md a conformance case checks"
    )
    if config.getoption("jsonchat_target") or config.getoption("jsonchat_list"):
        shadows = shadowed()
        if shadows:
            raise pytest.UsageError(
                f"jsonchat: {', '.join(shadows)} shadows the jsonchat package of that name "
                "(python -m pytest puts the current folder first on sys.path). Rename the file, "
                "run pytest from another folder, or use `jsonchat conformance TARGET`, which "
                "runs the same cases from anywhere."
            )
        from conformance.suite.session import Active

        config.pluginmanager.register(Active(config), "jsonchat-active")


@pytest.fixture
def chat(request: pytest.FixtureRequest) -> Iterator[Chat]:
    """One case's clients; the target is (re)started first if it is down."""
    run = request.config.stash.get(RUN_KEY, None)
    if run is None or run.caps is None:
        pytest.skip("conformance cases need --jsonchat-target")
    from conformance.suite.verdicts import case_ids

    run.before_case(request.node.nodeid)
    chat = run.chat(case_ids(request.node))
    request.node.stash[CHAT_KEY] = chat
    yield chat
    chat.close()
    run.after_case(request.node.nodeid, chat)  # a server may die of the closes: blamed here
