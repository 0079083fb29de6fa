"""`jsonchat client`: chat from a terminal (or a pipe), one line at a time.

What lines and server messages mean is in client_core; this module moves bytes. The main thread
reads what is typed and sends, a second thread reads the socket and prints.

In a terminal, prompt_toolkit reads the line: it is edited in place (arrows, Ctrl-A/E, history
with up and down) and messages that arrive are printed above it, so they never break what is
being typed; each shown line gets the time and a colour by kind (rooms, direct messages, history,
errors, notes). On pipes, as the tests drive it, lines are plain: stdin is read with select() next
to a pipe the socket thread writes to when the server ends the session, since a blocked readline()
cannot be interrupted and the client must exit when the server hangs up even if nobody types.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import TypeVar

from engine.codec import encode
from transport import client_core as core

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7775
CONNECT_TIMEOUT_S = 5.0
GOODBYE_WAIT_S = 1.0  # how long leaving waits for the server's `disconnect` before closing anyway
EXIT_STATUS = {  # when the user leaves, with /quit, Ctrl-D or Ctrl-C, the status is 0
    core.Ending.BY_SERVER: 0,
    core.Ending.CONNECTION_LOST: 1,
    core.Ending.NAME_REFUSED: 3,
}
CANNOT_CONNECT = 2
T = TypeVar("T")
_output = threading.Lock()
# ANSI colours by core.kind_of; the core escapes control characters in what the server sends, so
# no text from the network can add escape sequences of its own.
COLOURS = {
    "room": "36",
    "direct": "35",
    "history": "2",
    "more": "0",
    "error": "31;1",
    "hint": "33",
    "note": "32",
}
INTERRUPT_TRIES = 40  # 2 s of 50 ms: until the prompt runs, once the server ended the session
TICK_S = 0.1  # how often the socket thread tells the core the time while nothing arrives
# Typing waits until the session is open (core.begin to "ready"), at most this long.
OPENING_S = core.WELCOME_WAIT_S + 2 * core.REPLY_WAIT_S + 1.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("client", help="chat from the terminal, one line at a time")
    parser.add_argument("--name", required=True, type=_user_name, help="your name, e.g. @alice")
    parser.add_argument("--rooms", type=_rooms, default=(), help="e.g. '#general,#music'")
    parser.add_argument("host", nargs="?", default=DEFAULT_HOST)
    parser.add_argument("port", nargs="?", type=_port, default=DEFAULT_PORT)
    parser.set_defaults(run=run)


def _user_name(text: str) -> str:
    problem = core.name_problem(text, "@")
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _rooms(text: str) -> tuple[str, ...]:
    try:
        return core.parse_rooms(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port")
    return int(text)


def run(args: argparse.Namespace) -> int:
    try:
        sock = socket.create_connection((args.host, args.port), timeout=CONNECT_TIMEOUT_S)
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        print(
            f"jsonchat client: cannot connect to {args.host}:{args.port}: {reason}", file=sys.stderr
        )
        return CANNOT_CONNECT
    except KeyboardInterrupt:
        return 0
    sock.settimeout(None)
    with sock:
        try:
            return _chat(_Session(sock, core.State(args.name, args.rooms)))
        except KeyboardInterrupt:  # a second Ctrl-C while leaving: stop waiting
            return 0


class _Session:
    """What both threads share: the socket, the client state (under a lock), and how it ended."""

    def __init__(self, sock: socket.socket, state: core.State) -> None:
        self.sock = sock
        self._state = state
        self._lock = threading.Lock()
        self.ending: core.Ending | None = None
        self.wake_read, self._wake_write = os.pipe()
        self.on_end: Callable[[], None] = lambda: None  # how to stop the terminal's prompt
        self.ready = threading.Event()  # the session is open, or over: typing may begin

    @property
    def state(self) -> core.State:
        return self._state

    def update(self, step: Callable[[core.State], tuple[T, core.State]]) -> T:
        with self._lock:
            result, self._state = step(self._state)
        return result

    def send(self, *frames: core.JsonObject) -> None:
        self.sock.sendall(b"".join(map(encode, frames)))

    def end(self, ending: core.Ending) -> None:
        self.ending = ending
        os.write(self._wake_write, b".")
        self.ready.set()
        self.on_end()

    def carry_out(self, incoming: core.Incoming) -> core.Ending | None:
        """Show what the core says, send what it asks for; how the session ended, if it did."""
        _show(incoming.lines)
        if incoming.send:
            self.send(*incoming.send)
        if self._state.connected:
            self.ready.set()
        return incoming.end


def in_a_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _chat(session: _Session) -> int:
    session.update(lambda state: (None, core.begin(state, time.monotonic())))
    reader = threading.Thread(target=_read_server, args=(session,), daemon=True)
    reader.start()
    try:
        if in_a_terminal():  # the prompt is up at once; what is typed waits for the session
            typed = _terminal_lines(session)
        else:  # a pipe's lines are all there at once: read them once the session is open
            session.ready.wait(OPENING_S)
            typed = _typed_lines(session.wake_read)
        for line in typed:
            session.ready.wait(OPENING_S)
            action = session.update(partial(core.interpret, line))
            if isinstance(action, core.Quit):
                break
            if isinstance(action, core.Show):
                _show(action.lines)
            else:
                session.send(*action.frames)
    except KeyboardInterrupt:
        if sys.stdin.isatty():
            _show(("",))  # end the line the terminal's ^C is on
    except OSError:
        reader.join(GOODBYE_WAIT_S)  # the socket is gone: the reader finds out why
    if session.ending is None:  # the user left: /quit, Ctrl-D or Ctrl-C
        _goodbye(session, reader)
        return 0
    if session.ending is core.Ending.CONNECTION_LOST:
        _show(("! connection to the server lost",))
    return EXIT_STATUS[session.ending]


def _goodbye(session: _Session, reader: threading.Thread) -> None:
    """Leave as DISCONNECT-2 expects: say so, give the server a moment to answer, then close."""
    try:
        session.send(session.update(core.goodbye))
        reader.join(GOODBYE_WAIT_S)
        session.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader if the server did not answer
    except OSError:
        pass
    reader.join(GOODBYE_WAIT_S)


def _terminal_lines(session: _Session) -> Iterator[str]:
    """Lines typed at a prompt_toolkit prompt, until Ctrl-D or the end of the session."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import InMemoryHistory
    from prompt_toolkit.patch_stdout import patch_stdout

    prompt: PromptSession[str] = PromptSession(history=InMemoryHistory())

    def stop_prompt() -> None:  # from the socket thread: the prompt runs in the main thread
        app = prompt.app
        for _ in range(INTERRUPT_TRIES):
            loop = app.loop
            if app.is_running and loop is not None:
                loop.call_soon_threadsafe(partial(app.exit, exception=EOFError()))
                return
            time.sleep(0.05)

    session.on_end = lambda: threading.Thread(target=stop_prompt, daemon=True).start()

    def message() -> str:
        state = session.state
        if not state.connected:
            return "connecting> "
        return f"{state.default_target or state.name}> "

    with patch_stdout(raw=True):  # lines printed meanwhile go above the prompt
        while session.ending is None:
            try:
                # redrawn every TICK_S, so that "connecting>" turns into the room once connected
                yield prompt.prompt(message, refresh_interval=TICK_S)
            except EOFError:
                return


def _typed_lines(wake: int) -> Iterator[str]:
    """Stdin lines until EOF, or until `wake` is readable because the session is over.

    It reads the raw descriptor, not sys.stdin: a buffered reader can hold lines select() would
    not report.
    """
    stdin, pending = sys.stdin.fileno(), b""
    while True:
        if wake in select.select([stdin, wake], [], [])[0]:
            return
        chunk = os.read(stdin, 65536)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        yield from (line.decode("utf-8", "replace") for line in lines)
    if pending:
        yield pending.decode("utf-8", "replace")


def _read_server(session: _Session) -> None:
    """The socket thread: print what arrives until the session ends, then wake the main thread.

    It also tells the core the time (core.tick), every TICK_S while nothing arrives.
    """
    ending: core.Ending | None = None
    decoder = core.StreamDecoder()
    try:
        while ending is None:
            if select.select([session.sock], [], [], TICK_S)[0]:
                data = session.sock.recv(65536)
                if not data:
                    break
                for packet in decoder.feed(data):
                    now = time.monotonic()
                    ending = session.carry_out(
                        session.update(partial(core.receive, packet, now=now))
                    )
                    if ending is not None:
                        break
            if ending is None:
                now = time.monotonic()
                ending = session.carry_out(session.update(partial(core.tick, now=now)))
    except (OSError, ValueError):  # ValueError: select() on a socket closed meanwhile
        pass
    finally:
        session.end(ending or core.Ending.CONNECTION_LOST)


def _show(lines: Sequence[str]) -> None:
    if lines:
        styled = map(_styled, lines) if in_a_terminal() else lines
        with _output:
            sys.stdout.write("".join(f"{line}\n" for line in styled))
            sys.stdout.flush()


def _styled(line: str) -> str:
    """A line with the time it was shown and its colour; the sender of a message in bold."""
    kind = core.kind_of(line)
    stamp = "     " if kind in ("history", "more") else time.strftime("%H:%M")
    colour = COLOURS[kind]
    if kind in ("room", "direct"):
        tag, _, rest = line.partition("] ")
        sender, _, text = rest.partition(": ")
        return f"\x1b[2m{stamp}\x1b[0m \x1b[{colour};1m{tag}]\x1b[0m \x1b[1m{sender}\x1b[0m: {text}"
    return f"\x1b[2m{stamp}\x1b[0m \x1b[{colour}m{line}\x1b[0m"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m transport.client ARGS` is `jsonchat client ARGS`, wired or not."""
    parser = argparse.ArgumentParser(prog="jsonchat")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["client", *(sys.argv[1:] if argv is None else argv)])
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
