"""`jsonchat spec diagram --svg`: the state machine drawn from machine.json."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from protocol import machine_spec
from tests.conformance.suiterun import jsonchat


def test_every_state_trigger_and_refusal_is_drawn() -> None:
    done = jsonchat("spec", "diagram", "--svg")
    assert done.returncode == 0, done.stderr
    root = ET.fromstring(done.stdout)
    text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    spec = machine_spec()
    assert all(state["name"] in text for state in spec["states"])
    assert all(t["trigger"] in text for t in spec["transitions"])
    assert all(f"{r['trigger']} refused" in text for r in spec["refusals"])


def test_without_svg_it_is_still_mermaid() -> None:
    done = jsonchat("spec", "diagram")
    assert done.stdout.startswith("stateDiagram-v2")
