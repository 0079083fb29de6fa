"""The engine's instructions per input, held to the committed baseline (issue 16).

Callgrind counts are deterministic, so unlike a wall-clock rate they can fail a test: a change
that makes any input cost more than 15% over `benchmarks/instructions_baseline.json` fails here.
A change meant to cost more (or that saves, and should keep the saving) updates the baseline with
`make bench-baseline`, in the same commit. About 20 s: one callgrind run, all inputs.
"""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks.instructions_bench import BASELINE, INPUTS, measure, regressions

pytestmark = pytest.mark.skipif(
    shutil.which("valgrind") is None, reason="valgrind is not installed (make test installs it)"
)


def test_no_input_costs_clearly_more_than_the_baseline() -> None:
    baseline = json.loads(BASELINE.read_text())
    assert set(baseline["inputs"]) == {item.name for item in INPUTS}, "make bench-baseline"
    results = measure(baseline["repetitions"])
    assert regressions(results, baseline) == []


def test_a_clear_regression_is_reported() -> None:
    baseline = {
        "environment": {},  # another environment: the ratios are compared
        "inputs": {"room_message": {"engine": 1000, "floor": 500, "ratio": 2.0}},
    }
    slower = {"room_message": {"engine": 1200, "floor": 500, "ratio": 2.4}}
    within = {"room_message": {"engine": 1100, "floor": 500, "ratio": 2.2}}
    assert regressions(slower, baseline) == ["room_message: ratio 2.4 against 2.0 in the baseline"]
    assert regressions(within, baseline) == []
