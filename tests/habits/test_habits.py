"""Each habit of the course's clients, 30 times, against `jsonchat serve` with its defaults.

The server is a real process started as a person would start it, with no option; the 30 runs of a
habit go in parallel threads, so the habit that sits 40 s at a prompt costs 40 s, not 20 minutes.
A run passes when its client reads everything it should, the way that client reads: for the
one-object-per-read clients every read is exactly one JSON object, and a message another client
posts after `connect` reaches it.
"""

from __future__ import annotations

import json
import random
import socket
import string
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conformance.kit.target import ServerProcess, started
from conformance.suite.verdicts import requirement
from tests.habits.clients import LineSplitter, OneObjectPerRead
from tests.transport.netutil import connect, say, settle

RUNS = 30
REPLY_S = 10.0  # a bound on waits that end as soon as the packet is there; the machine is shared
PROMPT_S = 40.0  # a person reading the prompt, typing a name, then rooms
SHORT_PROMPT_S = 2.0
BIG_TEXT_BYTES = 2500
WELCOME_WITHIN_S = 1.0
SERVER = f"{sys.executable} -m transport.cli serve {{host}} {{port}}"

Run = Callable[[tuple[str, int], str], list[str]]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with started(SERVER) as process:
        yield process


def thirty(address: tuple[str, int], run: Run) -> tuple[list[str], float]:
    """Every problem of 30 parallel runs, each line naming its run; and the time they took."""
    salt = "".join(random.choice(string.ascii_lowercase) for _ in range(4))
    started_at = time.monotonic()
    with ThreadPoolExecutor(RUNS) as pool:
        results = list(pool.map(lambda n: run(address, f"{salt}{n}"), range(RUNS)))
    took = time.monotonic() - started_at
    problems = [f"run {n}: {problem}" for n, found in enumerate(results) for problem in found]
    return problems, took


def check(address: tuple[str, int], run: Run) -> None:
    problems, took = thirty(address, run)
    failed = len({p.split(":")[0] for p in problems})
    print(f"{run.__name__}: {RUNS - failed} of {RUNS} passed in {took:.1f} s")
    assert problems == [], f"{failed} of {RUNS} runs failed:\n" + "\n".join(problems[:10])


def is_reply(value: Any) -> bool:
    return isinstance(value, dict) and value.get("status") == "chat"


def is_post(room: str, sender: str, text: str) -> Callable[[Any], bool]:
    entry = {"target": room, "from": sender, "message": text}
    return lambda value: isinstance(value, dict) and value.get("history") == [entry]


def one_object_per_read(
    address: tuple[str, int], tag: str, prompt_s: float, big_history: bool = False
) -> list[str]:
    """Open, sit at the prompt, send a bare `connect`, start the listener; then someone posts."""
    room, name = f"#room-{tag}", f"@user-{tag}"
    poster = connect(address, f"@poster-{tag}", room, timeout=REPLY_S)
    client = OneObjectPerRead(address)
    problems = []
    try:
        if big_history:
            for n in (1, 2):
                say(poster, room, f"{n} " + "b" * BIG_TEXT_BYTES)
            settle(poster)
        time.sleep(prompt_s)
        client.connect(name, room)
        if not client.wait_for(is_reply, REPLY_S):
            problems.append(f"no reply to connect: {describe(client)}")
        else:
            reply = next(o for o in client.objects if is_reply(o))
            if big_history and not [e for e in reply["history"] if e["message"].startswith("2 ")]:
                problems.append(f"the reply lacks the last post: {str(reply)[:200]}")
            text = f"after connect {tag}"
            say(poster, room, text)
            if not client.wait_for(is_post(room, poster.label, text), REPLY_S):
                problems.append(f"the post after connect did not arrive: {describe(client)}")
        problems += [f"a read is not one JSON object: {describe(client)}"] if client.died else []
        problems += [
            f"a read is not an object: {o!r}" for o in client.objects if type(o) is not dict
        ]
    finally:
        client.close()
        poster.close()
    return problems


def describe(client: OneObjectPerRead) -> str:
    if client.died:
        return f"its listener died: {client.died}"
    reads = [r[:80] for r in client.reads]
    return f"{'closed, ' if client.closed else ''}{len(reads)} reads {reads}"


def bare_at_once(address: tuple[str, int], tag: str) -> list[str]:
    return one_object_per_read(address, tag, 0.0)


def bare_after_a_short_prompt(address: tuple[str, int], tag: str) -> list[str]:
    return one_object_per_read(address, tag, SHORT_PROMPT_S)


def bare_after_a_long_prompt(address: tuple[str, int], tag: str) -> list[str]:
    return one_object_per_read(address, tag, PROMPT_S)


def bare_into_big_history(address: tuple[str, int], tag: str) -> list[str]:
    return one_object_per_read(address, tag, 0.0, big_history=True)


def line_splitter(address: tuple[str, int], tag: str) -> list[str]:
    """The 2025 client: a short prompt, a `\\n` connect, reads split into lines; big history."""
    room, name = f"#room-{tag}", f"@user-{tag}"
    poster = connect(address, f"@poster-{tag}", room, timeout=REPLY_S)
    client = LineSplitter(address, REPLY_S)
    problems = []
    try:
        for n in (1, 2):
            say(poster, room, f"{n} " + "b" * BIG_TEXT_BYTES)
        settle(poster)
        time.sleep(SHORT_PROMPT_S)
        client.connect(name, room)
        if not client.wait_for(is_reply, REPLY_S):
            problems.append(f"no reply to connect; got {client.objects}")
        text = f"after connect {tag}"
        say(poster, room, text)
        if not client.wait_for(is_post(room, poster.label, text), REPLY_S):
            problems.append(f"the post after connect did not arrive; got {client.objects}")
        if not client.objects or client.objects[0].get("status") != "welcome":
            problems.append(f"a newline client keeps its welcome; got {client.objects[:1]}")
        problems += [f"it dropped a partial line: {d[:80]!r}" for d in client.dropped]
    finally:
        client.close()
        poster.close()
    return problems


def silent_newline_client(address: tuple[str, int], tag: str) -> list[str]:
    """Connects and says nothing: the welcome comes anyway, within a second."""
    opened = time.monotonic()
    with socket.create_connection(address, timeout=WELCOME_WITHIN_S) as sock:
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
    took = time.monotonic() - opened
    line = data.split(b"\n")[0]
    if not line.startswith(b'{"status":"welcome"') or took > WELCOME_WITHIN_S:
        return [f"after {took:.2f} s it had {data[:80]!r}"]
    json.loads(line)
    return []


HABITS = [
    bare_at_once,
    bare_after_a_short_prompt,
    bare_after_a_long_prompt,
    bare_into_big_history,
    line_splitter,
    silent_newline_client,
]


@requirement("COMPAT-1", "COMPAT-2", "COMPAT-3", "COMPAT-4", "LIMIT-3")
@pytest.mark.parametrize("run", HABITS, ids=[h.__name__ for h in HABITS])
def test_a_habit_works_thirty_times_out_of_thirty(server: ServerProcess, run: Run) -> None:
    check(server.address, run)


def test_the_server_logged_no_error(server: ServerProcess) -> None:
    """Last: whatever the habits did, the server never failed on them."""
    assert server.alive()
    assert "Traceback" not in server.output()[1]


OFF = "--welcome-delay-ms 0 --bare-first-frame-delay-ms 0 --connect-reply-bytes 1000000"


@pytest.mark.parametrize(
    ("run", "at_least"),
    [(bare_into_big_history, RUNS)],
    ids=["bare_into_big_history"],
)
def test_the_emulations_break_on_a_server_without_the_compatibility_rules(
    run: Run, at_least: int
) -> None:
    """The emulations can fail: with COMPAT-1, -3 and -4 turned off they break as the issue saw
    the real clients break. A reply over 4,096 bytes kills every run. (The short prompt is not
    here: without COMPAT-3 a welcome waiting in the socket kills only the runs whose listener
    reads after the reply came, which depends on the machine's load: 3 to 23 of 30 were seen.
    tests/engine/test_compat.py holds COMPAT-3 without a race: a bare first frame after the
    welcome, and what follows it, are handled `bare_first_frame_delay_ms` later.)"""
    with started(SERVER.replace("serve", f"serve {OFF}")) as process:
        problems, _ = thirty(process.address, run)
    assert len({p.split(":")[0] for p in problems}) >= at_least, problems[:3]
    assert all("a read is not one JSON object" in p or "no reply" in p for p in problems)
