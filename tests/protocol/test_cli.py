"""The `jsonchat spec` command, run as a user runs it: as a separate process."""

from __future__ import annotations

import json
import subprocess
import sys

from protocol import ALL_SCHEMAS, requirements
from protocol.statemachine import mermaid


def jsonchat(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "protocol.commands", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_spec_asyncapi_is_json_naming_every_schema() -> None:
    result = jsonchat("spec", "asyncapi")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["asyncapi"].startswith("3.")
    assert set(doc["components"]["schemas"]) == {n.replace("/", ".") for n in ALL_SCHEMAS}
    assert doc["x-limits"]["max_frame_bytes"] == 4096
    for operation in doc["operations"].values():
        ref = operation["messages"][0]["$ref"].split("/")[-1]
        assert ref in doc["channels"]["session"]["messages"]
        assert doc["components"]["messages"][ref]["payload"]["schema"]["$ref"].endswith(ref)


def test_spec_diagram_prints_the_machine() -> None:
    result = jsonchat("spec", "diagram")
    assert result.returncode == 0
    assert result.stdout == mermaid()


def test_spec_render_check_passes_on_the_committed_spec() -> None:
    assert jsonchat("spec", "render", "--check").returncode == 0


def test_spec_rules_filters_by_profile_and_level() -> None:
    out = jsonchat("spec", "rules", "--profile", "core", "--level", "MUST").stdout.splitlines()
    expected = [r.id for r in requirements() if r.profile == "core" and r.level == "MUST"]
    assert [line.split()[0] for line in out] == expected
