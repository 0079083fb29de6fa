"""The reference server and an interactive client: the engine on real sockets.

`jsonchat serve` runs the server, `jsonchat client` the client; both commands are this package's
own (`cli.py`), found by the `jsonchat` command through their entry points. What the server
withstands, with figures, is in ROBUSTNESS.md beside this file.

- `server.py`: `ChatServer` and `ServerConfig`: one epoll thread that reads, runs the engine and
  writes; `start()` runs it on a thread of its own, for embedding and tests.
- `connection.py`: one client socket and its outbound queue, bounded in bytes (LIMIT-4).
- `serve.py`: `jsonchat serve`: options (every server limit of protocol/limits.json is a flag),
  signals, exit statuses.
- `logs.py`: the server's log lines, as text or JSON lines.
- `client.py`: `jsonchat client`: a terminal (prompt_toolkit) or a pipe, and the socket.
- `client_core.py`: what the client does with lines and bytes, without a terminal or a socket.
- `cli.py`: the package's commands, `serve` and `client`.
- `chatServer.py`: `python chatServer.py [HOST PORT]`, the course's way to start a server.
"""

from transport.server import ChatServer, ServerConfig

__all__ = ["ChatServer", "ServerConfig"]
