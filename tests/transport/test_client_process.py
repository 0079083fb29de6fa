"""The real client, run as a person runs it (a process on pipes), against a scripted TCP server.

The reference server is not needed: `ScriptedServer` plays one connection's side of a scenario on
a free loopback port, and records every frame the client sent, so that the frames are asserted
exactly. Every wait is bounded by TIMEOUT.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.transport.netutil import connect, delivery, running_server, say, settle

TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parents[2]
READ = None  # a script step: wait for one frame from the client
Step = dict[str, Any] | None

CONNECT = {"action": "connect", "user_name": "@alice", "targets": ["#general", "#music"]}
PROBE = {"action": "connect", "user_name": "@alice", "targets": []}  # after a v1 welcome
WELCOME = {"status": "welcome", "message": "Welcome to jsonchat", "version": 1, "limits": {}}
NO_HISTORY = {"status": "chat", "history": []}
DISCONNECT = {"status": "disconnect"}
CONNECTED = "* connected as @alice in #general, #music"


class ScriptedServer:
    """One connection, played from a script in a thread: a dict is sent as a line, READ waits for
    a line from the client. Then it reads until the client closes (or, with `hang_up`, closes
    first, as a crashed server would)."""

    def __init__(self, *script: Step, hang_up: bool = False) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.frames: queue.Queue[Any] = queue.Queue()
        self._received: list[Any] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._play, args=(script, hang_up), daemon=True)
        self._thread.start()

    def _play(self, script: tuple[Step, ...], hang_up: bool) -> None:
        try:
            conn, _ = self.listener.accept()
            conn.settimeout(TIMEOUT)
            with conn, conn.makefile("rb") as lines:
                for step in script:
                    if step is READ:
                        self._record(lines.readline())
                    else:
                        conn.sendall(json.dumps(step).encode() + b"\n")
                for line in [] if hang_up else lines:
                    self._record(line)
        except BaseException as error:
            self._error = error
        finally:
            self.listener.close()

    def _record(self, line: bytes) -> None:
        frame = json.loads(line)  # a closed connection gives b"" here, so the test fails
        self._received.append(frame)
        self.frames.put(frame)

    def received(self) -> list[Any]:
        """Every frame the client sent, once the script has played and the client has closed."""
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive(), "the scripted server is still waiting"
        if self._error is not None:
            raise self._error
        return self._received


def as_in_a_terminal() -> None:
    """Ctrl-C as a person's terminal delivers it: a shell running the tests in the background
    (`make test &`, some CI runners) starts them with SIGINT ignored, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def client(
    port: int, *options: str, entry: tuple[str, ...] = ("transport.client",)
) -> Iterator[subprocess.Popen[str]]:
    """The client as a process; `entry` is the module (and subcommand) that starts it."""
    args = options or ("--name", "@alice", "--rooms", "#general, #music")
    command = [sys.executable, "-m", *entry, *args, "127.0.0.1", str(port)]
    pipe = subprocess.PIPE
    with subprocess.Popen(
        command,
        cwd=ROOT,
        text=True,
        stdin=pipe,
        stdout=pipe,
        stderr=pipe,
        preexec_fn=as_in_a_terminal,
    ) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def ended(process: subprocess.Popen[str]) -> tuple[int, list[str], str]:
    """Wait for a client whose stdin stays open (no EOF): exit status, stdout lines, stderr."""
    status = process.wait(TIMEOUT)
    assert process.stdout is not None and process.stderr is not None
    return status, process.stdout.read().splitlines(), process.stderr.read()


def test_a_session_sends_exact_frames_and_prints_what_arrives() -> None:
    yo, hi = (delivery("#general", "@bob", text) for text in ("yo", "hi"))
    server = ScriptedServer(WELCOME, READ, NO_HISTORY, READ, yo, READ, hi, READ, DISCONNECT)
    with client(server.port) as process:
        out, err = process.communicate("#general hi bob\n/frobnicate\n/quit\n", TIMEOUT)
    assert server.received() == [
        PROBE,
        CONNECT,
        {"action": "message", "user_name": "@alice", "target": "#general", "message": "hi bob"},
        {"action": "disconnect"},
    ]
    lines = out.splitlines()
    lines.remove("? unknown command /frobnicate: /help lists them")  # printed whenever typed
    assert lines == [
        "* Welcome to jsonchat (protocol v1)",
        CONNECTED,
        "* 1 recent message in #general, #music:",
        "  [#general] @bob: yo",
        "[#general] @bob: hi",
        "* disconnected",
    ]
    assert (process.returncode, err) == (0, "")


def test_end_of_input_sends_disconnect_and_exits_0() -> None:
    """Without a welcome the client assumes a `core` server: an empty chat is no news, shown as
    nothing; typed lines are read once it is connected."""
    server = ScriptedServer(READ, NO_HISTORY, READ, DISCONNECT)
    with client(server.port) as process:
        out, err = process.communicate("", TIMEOUT)
    assert server.received() == [CONNECT, {"action": "disconnect"}]
    assert (process.returncode, out, err) == (0, f"{CONNECTED}\n* disconnected\n", "")


def test_ctrl_c_sends_disconnect_and_exits_0() -> None:
    server = ScriptedServer(READ, NO_HISTORY, READ, DISCONNECT)
    with client(server.port) as process:
        assert server.frames.get(timeout=TIMEOUT) == CONNECT
        process.send_signal(signal.SIGINT)
        status, lines, err = ended(process)
    assert server.received() == [CONNECT, {"action": "disconnect"}]
    assert (status, lines, err) == (0, ["* disconnected"], "")


def test_a_disconnect_from_the_server_ends_the_client_with_0_while_nobody_types() -> None:
    server = ScriptedServer(READ, NO_HISTORY, DISCONNECT)
    with client(server.port) as process:
        status, lines, err = ended(process)
    assert server.received() == [CONNECT]
    assert (status, lines, err) == (0, ["* the server ended the session"], "")


def test_a_dropped_connection_ends_the_client_with_1() -> None:
    server = ScriptedServer(READ, NO_HISTORY, hang_up=True)
    with client(server.port) as process:
        status, lines, _ = ended(process)
    assert server.received() == [CONNECT]
    assert (status, lines) == (1, ["! connection to the server lost"])


def test_a_taken_name_is_said_clearly_and_exits_3() -> None:
    server = ScriptedServer(READ, {"status": "error", "message": "User name already connected"})
    with client(server.port) as process:
        status, lines, _ = ended(process)
    assert server.received() == [CONNECT]
    assert status == 3
    assert lines == ["! User name already connected: someone else is @alice; choose another --name"]


def test_no_server_exits_2_with_one_line_on_stderr() -> None:
    with socket.socket() as bound:  # bound, never listening: connecting is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with client(port) as process:
            out, err = process.communicate("", TIMEOUT)
    assert (process.returncode, out) == (2, "")
    assert err == f"jsonchat client: cannot connect to 127.0.0.1:{port}: Connection refused\n"


def test_a_bad_name_is_refused_before_connecting() -> None:
    with client(9, "--name", "alice") as process:
        out, err = process.communicate("", TIMEOUT)
    assert (process.returncode, out) == (2, "")
    assert "'alice' is no name: names start with @" in err


def test_a_session_with_the_real_server_and_another_user() -> None:
    """The client against `jsonchat serve`'s server, with @bob on a plain socket."""
    with running_server(welcome=True) as server:
        bob = connect(server.address, "@bob", "#general")
        say(bob, "#general", "before alice")
        settle(bob)
        jsonchat_client = ("transport.cli", "client")
        opened = client(
            server.address[1], "--name", "@alice", "--rooms", "#general", entry=jsonchat_client
        )
        with opened as alice:
            assert alice.stdin is not None and alice.stdout is not None
            assert "Welcome to jsonchat" in alice.stdout.readline()
            assert alice.stdout.readline().strip() == "* connected as @alice in #general"
            assert "1 recent message in #general" in alice.stdout.readline()
            assert alice.stdout.readline().strip() == "[#general] @bob: before alice"
            alice.stdin.write("#general hi bob\n@bob psst\n")
            alice.stdin.flush()
            got = bob.recv_until(lambda v: v["history"][0]["target"] == "@bob")
            assert got == [
                delivery("#general", "@alice", "hi bob"),
                delivery("@bob", "@alice", "psst"),
            ]
            say(bob, "#general", "hi alice")
            assert alice.stdout.readline().strip() == "[#general] @bob: hi alice"
            alice.stdin.close()  # Ctrl-D
            assert alice.wait(TIMEOUT) == 0
            assert alice.stdout.read().strip() == "* disconnected"


def test_against_a_core_server_a_first_direct_message_is_shown_and_connected_is_said() -> None:
    """A course server: no welcome, no reply to connect; a direct message comes first."""
    psst = delivery("@alice", "@bob", "psst")
    hi = delivery("#general", "@bob", "hi")
    server = ScriptedServer(READ, psst, hi, READ)
    with client(server.port) as process:
        assert process.stdout is not None and process.stdin is not None
        assert process.stdout.readline().strip() == "[direct] @bob: psst"
        assert process.stdout.readline().strip() == "[#general] @bob: hi"
        assert process.stdout.readline().strip() == CONNECTED  # after REPLY_WAIT_S, no error
        process.stdin.write("/leave #music\n")
        process.stdin.flush()
        assert process.stdout.readline().startswith("! this server did not announce jsonchat v1")
        _, err = process.communicate("/quit\n", TIMEOUT)
    assert server.received() == [CONNECT, {"action": "disconnect"}]  # the /leave was not sent
    assert (process.returncode, err) == (0, "")


def test_a_server_that_welcomes_but_does_not_answer_connect_is_found_out() -> None:
    """Like tests.conformance.broken.silent_connect: a welcome of version 1, then no reply to the
    probe (a connect with no room) nor to the connect with the rooms; a room message is news."""
    later = delivery("#general", "@bob", "later")
    server = ScriptedServer(WELCOME, READ, READ, READ, later)
    with client(server.port) as process:
        assert process.stdout is not None and process.stdin is not None
        assert process.stdout.readline().strip() == "* Welcome to jsonchat (protocol v1)"
        assert process.stdout.readline().strip() == CONNECTED
        note = process.stdout.readline().strip()
        assert note == "* the server did not answer connect: earlier messages are not shown"
        process.stdin.write("#general hi\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "[#general] @bob: later"
        process.communicate("/quit\n", TIMEOUT)
    assert server.received() == [
        PROBE,
        CONNECT,
        {"action": "message", "user_name": "@alice", "target": "#general", "message": "hi"},
        {"action": "disconnect"},
    ]
    assert process.returncode == 0
