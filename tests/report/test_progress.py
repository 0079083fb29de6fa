"""Live progress: one line rewritten in place on a terminal, nothing of it in piped output."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time

from conformance.kit.statusline import CLEAR, StatusLine
from tests.conformance.suiterun import REFERENCE, ROOT, jsonchat

LIMIT_S = 120


def on_a_terminal(*args: str) -> str:
    """`jsonchat ARGS` with a pseudo-terminal as its stdout and stderr: all it wrote there."""
    main, side = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "protocol.commands", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=side,
        stderr=side,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
    )
    os.close(side)
    chunks: list[bytes] = []
    deadline = time.monotonic() + LIMIT_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: every writer closed its end
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
    finally:
        os.close(main)
        process.wait(10)
    return b"".join(chunks).decode("utf-8", "replace")


def test_conformance_shows_cases_done_section_and_failures_on_a_terminal() -> None:
    out = on_a_terminal("conformance", REFERENCE, "--select", "ROUTE-1,CONNECT-1")
    assert CLEAR in out
    assert "conformance  " in out and " cases  " in out and "0 failed" in out
    assert "ROUTE" in out and "CONNECT" in out
    assert "cases: " in out  # the summary after it, as ever


def test_conformance_piped_has_no_live_line() -> None:
    done = jsonchat("conformance", REFERENCE, "--select", "ROUTE-1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\r" not in done.stdout + done.stderr and "\x1b" not in done.stdout + done.stderr
    assert "conformance  " not in done.stdout


def test_fuzz_shows_elapsed_rate_examples_requirements_and_findings_on_a_terminal() -> None:
    out = on_a_terminal("fuzz", REFERENCE, "--seconds", "3")
    assert CLEAR in out
    live = [part for part in out.split(CLEAR) if part.startswith("fuzz  ")]
    assert live, out
    assert " of 3 s " in live[-1] and "steps/s" in live[-1] and "examples" in live[-1]
    assert "requirement IDs exercised" in live[-1] and "0 findings" in live[-1]
    assert "no finding" in out


def test_fuzz_piped_keeps_a_plain_line_a_batch() -> None:
    done = jsonchat("fuzz", REFERENCE, "--seconds", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\r" not in done.stderr and "\x1b" not in done.stderr
    assert "fuzz:  " in done.stderr or "fuzz: " in done.stderr


def test_the_status_line_is_silent_off_a_terminal() -> None:
    stream = io.StringIO()
    line = StatusLine(stream)
    line.show("something")
    line.clear()
    assert stream.getvalue() == ""
