"""Disconnects, shutdown by signal, a port in use and a client that never reads: on real sockets."""

from __future__ import annotations

import resource
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conformance.kit.wire import WireClient
from conformance.suite.verdicts import requirement
from tests.transport.netutil import (
    TIMEOUT,
    connect,
    delivery,
    running_server,
    say,
    serve_process,
    settle,
)
from transport.server import ChatServer


@requirement("DISCONNECT-1", "DISCONNECT-2", "CONNECT-6")
def test_clean_disconnect_is_answered_closed_and_frees_the_name() -> None:
    with running_server() as server:
        alice = connect(server.address, "@alice", "#a")
        alice.send({"action": "disconnect"})
        assert alice.recv_value() == {"status": "disconnect"}
        assert alice.wait_closed()
        again = connect(server.address, "@alice", "#a")
        assert settle(again) == []


def connect_when_free(server: ChatServer, name: str) -> bool:
    """Connect as `name` once the server has released it; the server frees names on its own time."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        client = WireClient(server.address, label=name, timeout=TIMEOUT)
        client.send({"action": "connect", "user_name": name, "targets": ["#a"]})
        if client.recv_value()["status"] == "chat":
            return True
        client.close()
        time.sleep(0.05)
    return False


@requirement("DISCONNECT-6", "CONNECT-6")
@pytest.mark.parametrize("how", ["close", "reset"])
def test_abrupt_close_or_reset_frees_name_and_rooms_and_others_go_on(how: str) -> None:
    with running_server() as server:
        alice = connect(server.address, "@alice", "#a")
        bob, carol = connect(server.address, "@bob", "#a"), connect(server.address, "@carol", "#a")
        alice.send_bytes(b'{"action":"message","user_name":"@alice","target":"#a","mess')
        alice.close() if how == "close" else alice.reset()
        say(bob, "#a", "still here")
        assert settle(bob) == []
        assert settle(carol) == [delivery("#a", "@bob", "still here")]
        assert connect_when_free(server, "@alice")


@requirement("SHUTDOWN-1")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_server_after_telling_every_client(signum: int) -> None:
    server = serve_process()
    try:
        clients = [WireClient(server.address, label=f"@u{i}", timeout=TIMEOUT) for i in range(5)]
        for client in clients:
            assert client.recv_value()["status"] == "welcome"
        for client in clients[:3]:
            client.send({"action": "connect", "user_name": client.label, "targets": ["#a"]})
            assert client.recv_value()["status"] == "chat"
        started = time.monotonic()
        server.signal(signum)
        for client in clients:
            assert client.recv_value() == {"status": "disconnect"}
            assert client.wait_closed()
            client.close()
        assert server.wait_exit(TIMEOUT) == 0
        assert time.monotonic() - started < 2.0
        log = server.output()[1]
        assert log.count(" open ") == 5 and log.count("reason=shutdown") == 5
    finally:
        server.close()


def test_a_port_in_use_is_one_line_and_exit_status_2() -> None:
    with running_server() as server:
        result = subprocess.run(
            [sys.executable, "-m", "transport.cli", "serve", "127.0.0.1", str(server.address[1])],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"jsonchat serve: cannot listen on 127.0.0.1:{server.address[1]}: address already in use"
    ]


@requirement("LIMIT-4")
def test_a_client_that_never_reads_is_cut_off_and_slows_no_one() -> None:
    messages, text = 3000, "x" * 3000
    with running_server(outbound_queue_bytes=256 * 1024) as server:
        stuck = socket.create_connection(server.address)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(b'{"action":"connect","user_name":"@stuck","targets":["#a"]}\n')
        readers = [connect(server.address, f"@r{i}", "#a") for i in range(3)]
        sender = connect(server.address, "@sender", "#a")
        counts = [0] * len(readers)

        def read_all(i: int) -> None:
            for _ in range(messages):
                assert readers[i].recv_value()["history"][0]["message"] == text
                counts[i] += 1

        threads = [threading.Thread(target=read_all, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        for _ in range(messages):
            say(sender, "#a", text)
        for thread in threads:
            thread.join(timeout=30)
        elapsed = time.monotonic() - started
        assert counts == [messages] * 3, f"readers got {counts} in {elapsed:.1f}s"
        # The server cut it off: its name is free again (reading what the kernel still holds
        # through a 4 KiB window would take minutes, so the test does not wait for the EOF).
        assert connect_when_free(server, "@stuck")
        stuck.close()


def test_the_server_raises_its_open_file_limit_to_the_hard_one_and_logs_it() -> None:
    """Each client costs a descriptor: a node holds as many clients as its open-file limit lets
    it, so it takes the hard limit (the soft one is often 1,024) and says what it got."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, 512)
    command = [sys.executable, "-m", "transport.cli", "serve", "--port", "0"]
    command += ["--log-format", "json"]

    def lower() -> None:  # the server starts with a soft limit below its hard one
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))

    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=lower)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert '"event": "listening"' in line, line
        assert f'"open_files": {hard}' in line, line
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(10)
