"""chatload against Redis, paying what it pays to speak our protocol: a control for redis_bench.

    python -m benchmarks.chatload_chat_costs --proto redis [chatload's options]

chatload is one Python process, and on this workload it is the limit (it keeps one core busy).
So its rate against a server is one over what chatload itself spends per delivery, and part of
that depends on the protocol, not on the server: for each message it sends, chatload builds the
chat request with `json.dumps` of a dict, about three times what a RESP `PUBLISH` costs it under
`--proto redis` (`encoding_costs` times both; redis_bench prints them), some 6% of what it spends
per delivery to 20 receivers. No server of this protocol can take that off; a side-by-side with
plain Redis charges it to our server all the same.

This runs the vendored chatload unchanged but for one function: its `resp`, which for each
`PUBLISH` also builds (and drops) the chat request chatload would send for the same message, then
the same RESP bytes through one `%` format (cheaper than chatload's own `resp`, so that Redis
pays the chat encoding, not the two encodings). With the message padded to our delivery's length
(`redis_bench.extra_delivery_bytes`), that is Redis serving chatload at the cost of our protocol
on chatload's side; tests/benchmarks/test_redis_bench.py checks the bytes and the extra call.
"""

from __future__ import annotations

import importlib.util
import sys
import timeit
from collections.abc import Callable
from types import ModuleType

from benchmarks.fanout_bench import CHATLOAD

RECEIVERS = 20  # chatload's default, and redis_bench's workload


def load_chatload() -> ModuleType:
    """The vendored chatload as a module (it is a script in a folder that is not a package)."""
    spec = importlib.util.spec_from_file_location("chatload", CHATLOAD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chat_request(chatload: ModuleType, text: str) -> bytes:
    """What chatload sends our server for a message: its own `frame` of its own dict."""
    request = {"action": "message", "user_name": "@sender", "target": "#bench", "message": text}
    data: bytes = chatload.frame(request, "nl")
    return data


def charge_chat_encoding(chatload: ModuleType) -> None:
    """Make `chatload.resp` build the chat request of every `PUBLISH` before its RESP bytes."""
    resp: Callable[..., bytes] = chatload.resp

    def publish(*words: str) -> bytes:
        if words[0] != "PUBLISH":
            return resp(*words)
        channel, text = words[1].encode(), words[2]
        chat_request(chatload, text)  # chatload's chat path: the same dict, the same `frame`
        data = text.encode()
        return b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
            len(channel),
            channel,
            len(data),
            data,
        )

    vars(chatload)["resp"] = publish  # a module attribute, set as chatload.resp = publish


def encoding_costs(size: int, number: int = 100_000) -> dict[str, float]:
    """chatload's cost of encoding one message of `size` characters each way, timed side by side
    in this process (µs), and the difference per delivery to chatload's receivers."""
    chatload = load_chatload()
    text = "MSG:12345:1234567890123;" + "x" * max(0, size - 40)
    chat = min(timeit.repeat(lambda: chat_request(chatload, text), number=number, repeat=3))
    redis = min(
        timeit.repeat(lambda: chatload.resp("PUBLISH", "bench", text), number=number, repeat=3)
    )
    chat_us, redis_us = chat * 1e6 / number, redis * 1e6 / number
    return {
        "chat_us": round(chat_us, 2),
        "redis_us": round(redis_us, 2),
        "extra_us_per_delivery": round((chat_us - redis_us) / RECEIVERS, 3),
    }


def main() -> int:
    chatload = load_chatload()
    charge_chat_encoding(chatload)
    code: int = chatload.main()
    return code


if __name__ == "__main__":
    sys.exit(main())
