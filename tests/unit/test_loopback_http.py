"""shared/llm/loopback_http.py against a real TCP server on 127.0.0.1 that answers with scripted bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from shared.llm.loopback_http import LoopbackClient, ProtocolError, Response, loopback_target

OK_JSON = b'{"choices": []}'

# request bytes -> raw response; None: close without answering; (raw, "close"): answer, then close
Answer = Callable[[bytes], "bytes | None | tuple[bytes, str]"]
R = TypeVar("R")


async def serve(answers: list[Answer], body: Callable[[LoopbackClient], Awaitable[R]]) -> tuple[R, list[int]]:
    """Run `body` against a server that answers the i-th request with answers[i]; returns its result
    and, per request, the number of the connection it arrived on."""
    seen: list[int] = []
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        mine = connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
                request = head + await reader.readexactly(length)
                seen.append(mine)
                raw = answers[len(seen) - 1](request)
                if raw is None:
                    break
                writer.write(raw[0] if isinstance(raw, tuple) else raw)
                await writer.drain()
                if isinstance(raw, tuple):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = LoopbackClient("127.0.0.1", port)
    try:
        return await body(client), seen
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


def fixed(raw: bytes) -> Answer:
    return lambda _request: raw


def then_close(raw: bytes) -> Answer:
    return lambda _request: (raw, "close")


def ok(content: bytes = OK_JSON, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (len(content), extra, content)


def post(client: LoopbackClient) -> Awaitable[Response]:
    return client.post("/v1/chat/completions", b'{"model": "m"}', {"Content-Type": "application/json"})


def test_request_line_headers_and_keep_alive_reuse() -> None:
    requests: list[bytes] = []

    def record(request: bytes) -> bytes:
        requests.append(request)
        return ok()

    async def three(client: LoopbackClient) -> list[Response]:
        return [await post(client) for _ in range(3)]

    replies, seen = asyncio.run(serve([record] * 3, three))
    assert [r.status for r in replies] == [200] * 3 and replies[0].content == OK_JSON
    assert seen == [1, 1, 1]  # one connection for all three
    head = requests[0].split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"POST /v1/chat/completions HTTP/1.1" and head[1].startswith(b"Host: 127.0.0.1:")
    assert b"Content-Length: 14" in head and requests[0].endswith(b'{"model": "m"}')


def test_chunked_body_with_trailer_and_interim_100() -> None:
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;ext=1\r\n{"cho\r\n'
        b'a\r\nices": []}\r\n'
        b"0\r\nX-Trailer: 1\r\n\r\n"
    )

    async def two(client: LoopbackClient) -> list[Response]:
        return [await post(client), await post(client)]

    replies, seen = asyncio.run(serve([fixed(raw), fixed(ok())], two))
    assert [r.content for r in replies] == [OK_JSON, OK_JSON] and seen == [1, 1]


@pytest.mark.parametrize(
    "raw",
    [
        ok(extra=b"Connection: close\r\n"),
        b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(OK_JSON), OK_JSON),
    ],
)
def test_connection_close_and_http10_open_a_new_connection(raw: bytes) -> None:
    async def two(client: LoopbackClient) -> list[Response]:
        return [await post(client), await post(client)]

    replies, seen = asyncio.run(serve([fixed(raw), fixed(ok())], two))
    assert [r.status for r in replies] == [200, 200] and seen == [1, 2]


def test_body_without_length_ends_with_the_connection() -> None:
    async def two(client: LoopbackClient) -> list[Response]:
        return [await post(client), await post(client)]

    replies, seen = asyncio.run(serve([then_close(b"HTTP/1.1 200 OK\r\n\r\n" + OK_JSON), fixed(ok())], two))
    assert [r.content for r in replies] == [OK_JSON, OK_JSON] and seen == [1, 2]


def test_idle_connection_closed_by_the_server_is_not_reused() -> None:
    async def two(client: LoopbackClient) -> list[Response]:
        first = await post(client)
        await asyncio.sleep(0.2)  # the server's FIN reaches the idle connection's reader
        return [first, await post(client)]

    replies, seen = asyncio.run(serve([then_close(ok()), fixed(ok())], two))
    assert [r.status for r in replies] == [200, 200] and seen == [1, 2]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", "too many response headers"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed response header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "response body too large"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
    ],
)
def test_garbled_responses_raise_protocol_errors(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        asyncio.run(serve([fixed(raw)], post))


def test_a_response_cut_short_raises_and_is_not_pooled() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + OK_JSON

    async def cut_then_ok(client: LoopbackClient) -> Response:
        with pytest.raises(asyncio.IncompleteReadError):
            await post(client)
        assert client.idle == []
        return await post(client)

    reply, seen = asyncio.run(serve([then_close(cut), fixed(ok())], cut_then_ok))
    assert reply.status == 200 and seen == [1, 2]


def test_only_plain_http_on_this_machine_is_served(monkeypatch: pytest.MonkeyPatch) -> None:
    assert loopback_target("http://127.0.0.1:8000/v1") == ("127.0.0.1", 8000, "/v1")
    assert loopback_target("http://localhost:9/v1/") == ("localhost", 9, "/v1")
    assert loopback_target("http://[::1]:7/v1") == ("::1", 7, "/v1")
    assert loopback_target("https://127.0.0.1:8000/v1") is None
    assert loopback_target("http://10.0.0.5:8000/v1") is None
    assert loopback_target("https://api.openai.com/v1") is None
    monkeypatch.setenv("NCUSIM_LOOPBACK_HTTP", "0")
    assert loopback_target("http://127.0.0.1:8000/v1") is None
