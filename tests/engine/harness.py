"""A tiny in-memory transport for engine tests: clients with inboxes, no sockets.

It applies the engine's outputs the way a real transport must: bytes to every recipient in `to`,
and after a `Close` nothing more for that connection.
"""

from __future__ import annotations

from typing import Any

import orjson

from engine.engine import Engine, EngineConfig
from engine.events import Close, ConnectionLost, ConnectionOpened, DataReceived, Event, Output, Send


class Net:
    def __init__(self, welcome: bool = False, **limits: int) -> None:
        config = EngineConfig(limits={**EngineConfig().limits, **limits}, welcome=welcome)
        self.engine = Engine(config)
        self.inbox: dict[int, list[Any]] = {}
        self.raw: dict[int, bytes] = {}
        self.closed: set[int] = set()
        self.log: list[Event] = []
        self._next = 0

    def apply(self, event: Event) -> list[Output]:
        self.log.append(event)
        outputs = self.engine.handle(event)
        for output in outputs:
            if isinstance(output, Send):
                for conn in output.to:
                    assert conn not in self.closed, f"data for {conn} after it was closed"
                    self.raw[conn] = self.raw.get(conn, b"") + output.data
                    lines = output.data.split(b"\n")
                    assert lines[-1] == b"", "every frame ends with a newline"
                    self.inbox[conn].extend(orjson.loads(line) for line in lines[:-1])
            else:
                assert isinstance(output, Close)
                self.closed.add(output.conn)
        return outputs

    def client(
        self,
        name: str | None = None,
        rooms: tuple[str, ...] = (),
        now: float = 0.0,
        address: str = "",
    ) -> Client:
        self._next += 1
        conn = self._next
        self.inbox[conn] = []
        self.apply(ConnectionOpened(conn, now, address))
        client = Client(self, conn)
        if name is not None:
            client.connect(name, *rooms)
            client.take()
        return client


class Client:
    def __init__(self, net: Net, conn: int) -> None:
        self.net = net
        self.conn = conn
        self.name = ""

    def send_bytes(self, data: bytes) -> list[Output]:
        """Like a socket: once the server has closed the connection, nothing more gets through."""
        if self.closed:
            return []
        return self.net.apply(DataReceived(self.conn, data))

    def send(self, **fields: Any) -> list[Output]:
        return self.send_bytes(orjson.dumps(fields) + b"\n")

    def connect(self, name: str, *rooms: str) -> list[Output]:
        self.name = name
        return self.send(action="connect", user_name=name, targets=list(rooms))

    def say(self, target: str, text: str, as_user: str | None = None) -> list[Output]:
        return self.send(
            action="message", user_name=as_user or self.name, target=target, message=text
        )

    def take(self) -> list[Any]:
        """What this client has received since the last take."""
        got, self.net.inbox[self.conn] = self.net.inbox[self.conn], []
        return got

    def drop(self) -> list[Output]:
        return self.net.apply(ConnectionLost(self.conn))

    @property
    def closed(self) -> bool:
        return self.conn in self.net.closed


def chat(target: str, sender: str, text: str) -> dict[str, Any]:
    return {"status": "chat", "history": [{"target": target, "from": sender, "message": text}]}


def error(text: str) -> dict[str, str]:
    return {"status": "error", "message": text}
