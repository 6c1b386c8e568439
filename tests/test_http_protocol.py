"""The HTTP protocol `qa serve` runs (qa.serve.server.JsonErrorsHttpToolsProtocol: uvicorn's httptools protocol)
keeps what the h11 one did: a request it cannot parse gets 400, and a request head that never ends 431, both in the
one JSON error shape; a head that did end reaches the app (whose HeaderLimit answers 431), and a chunk that ends
one request and begins the next is not held against the next one's head. Driven in process, with no socket."""

from __future__ import annotations

import asyncio
import json

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from qa.serve.server import JsonErrorsHttpToolsProtocol

LIMIT = 2048


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default=None):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _ok(scope, receive, send) -> None:  # type: ignore[no-untyped-def]  # noqa: ANN001
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def connection():
    loop = asyncio.new_event_loop()
    config = Config(app=_ok, h11_max_incomplete_event_size=LIMIT, log_level="warning", lifespan="off")
    config.load()
    protocol = JsonErrorsHttpToolsProtocol(config, ServerState(), {}, _loop=loop)
    transport = Transport()
    protocol.connection_made(transport)
    yield protocol, transport, loop
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


def _reply(written: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = written.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_a_request_it_cannot_parse_gets_400_in_the_error_shape(connection):
    protocol, transport, _ = connection
    protocol.data_received(b"NOT HTTP AT ALL\r\n\r\n")
    status, headers, body = _reply(transport.written)
    assert status == 400 and headers["content-type"] == "application/json" and headers["connection"] == "close"
    assert body == {"ok": False, "status": 400, "error": "invalid HTTP request (it could not be parsed)"}
    assert transport.closed


def test_a_head_that_never_ends_gets_431_in_the_error_shape(connection):
    protocol, transport, _ = connection
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ")
    chunks = 0
    while not transport.closed and chunks < 10:
        protocol.data_received(b"a" * 1000)
        chunks += 1
    assert chunks == 3  # refused once more than LIMIT bytes came without the head ending
    status, headers, body = _reply(transport.written)
    assert status == 431 and headers["content-type"] == "application/json"
    assert body["ok"] is False and body["status"] == 431 and str(LIMIT) in body["error"]


def test_a_head_that_ended_reaches_the_app_whatever_its_size(connection):
    protocol, transport, loop = connection
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (3 * LIMIT) + b"\r\n\r\n")
    loop.run_until_complete(asyncio.sleep(0.01))
    assert transport.written.startswith(b"HTTP/1.1 200 ") and transport.written.endswith(b"ok")
    assert not transport.closed


def test_the_chunk_that_ends_a_request_is_not_held_against_the_next_head(connection):
    protocol, transport, loop = connection
    body = b"x" * (2 * LIMIT)
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
    protocol.data_received(body + b"GET / HTTP/1.1\r\nHost: x\r\n")  # the next head begins, not yet ended
    assert not transport.closed
    protocol.data_received(b"\r\n")
    loop.run_until_complete(asyncio.sleep(0.01))
    assert transport.written.count(b"HTTP/1.1 200 ") == 2 and not transport.closed
