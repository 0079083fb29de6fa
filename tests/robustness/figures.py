"""Figures measured by the tests, for transport/ROBUSTNESS.md.

    ROBUSTNESS_FIGURES=figures.jsonl .venv/bin/python -m pytest tests/robustness

appends one JSON line per measurement to that file; without the variable nothing is written.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def record(test: str, **figures: Any) -> None:
    path = os.environ.get("ROBUSTNESS_FIGURES")
    if path:
        line = {"test": test, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), **figures}
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
