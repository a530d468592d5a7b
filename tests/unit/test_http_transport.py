"""shared/llm/http_transport.py against a real TCP server on 127.0.0.1 that answers with scripted bytes:
what it reads, which connections it reuses, and the kit's error for every garbled answer."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from shared.llm import http_transport
from shared.llm.http_transport import HttpTransport, Reply
from shared.llm.transport_errors import EndpointError, EndpointResponseTooLarge, EndpointUnreachable

OK_JSON = b'{"choices": []}'

# request bytes -> raw response; None: close without answering; (raw, "close"): answer, then close
Answer = Callable[[bytes], "bytes | None | tuple[bytes, str]"]
R = TypeVar("R")


class Client:
    def __init__(self, transport: HttpTransport, url: str) -> None:
        self.transport = transport
        self.url = url


async def serve(
    answers: list[Answer], body: Callable[[Client], Awaitable[R]], url: str = "http://127.0.0.1:{port}/v1/chat/completions"
) -> tuple[R, list[int]]:
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
    client = Client(HttpTransport(), url.format(port=port))
    try:
        return await body(client), seen
    finally:
        await client.transport.aclose()
        server.close()
        await server.wait_closed()


def fixed(raw: bytes) -> Answer:
    return lambda _request: raw


def then_close(raw: bytes) -> Answer:
    return lambda _request: (raw, "close")


def ok(content: bytes = OK_JSON, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (len(content), extra, content)


def post(client: Client) -> Awaitable[Reply]:
    return client.transport.post(client.url, b'{"model": "m"}', {"Content-Type": "application/json"})


def test_request_line_headers_and_keep_alive_reuse() -> None:
    requests: list[bytes] = []

    def record(request: bytes) -> bytes:
        requests.append(request)
        return ok()

    async def three(client: Client) -> list[Reply]:
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

    async def two(client: Client) -> list[Reply]:
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
    async def two(client: Client) -> list[Reply]:
        return [await post(client), await post(client)]

    replies, seen = asyncio.run(serve([fixed(raw), fixed(ok())], two))
    assert [r.status for r in replies] == [200, 200] and seen == [1, 2]


def test_body_without_length_ends_with_the_connection() -> None:
    async def two(client: Client) -> list[Reply]:
        return [await post(client), await post(client)]

    replies, seen = asyncio.run(serve([then_close(b"HTTP/1.1 200 OK\r\n\r\n" + OK_JSON), fixed(ok())], two))
    assert [r.content for r in replies] == [OK_JSON, OK_JSON] and seen == [1, 2]


def test_idle_connection_closed_by_the_server_is_not_reused() -> None:
    async def two(client: Client) -> list[Reply]:
        first = await post(client)
        await asyncio.sleep(0.2)  # the server's FIN reaches the idle connection's reader
        return [first, await post(client)]

    replies, seen = asyncio.run(serve([then_close(ok()), fixed(ok())], two))
    assert [r.status for r in replies] == [200, 200] and seen == [1, 2]


@pytest.mark.parametrize(
    "raw",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * (http_transport.MAX_HEADERS + 1) + b"\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"y" * (http_transport.MAX_LINE + 1) + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["not-http", "too-many-headers", "header-too-long", "no-colon", "negative-length", "bad-chunk-size"],
)
def test_garbled_responses_are_transient_endpoint_errors(raw: bytes) -> None:
    with pytest.raises(EndpointUnreachable, match="connection error"):
        asyncio.run(serve([fixed(raw)], post))


def test_a_response_cut_short_raises_and_the_next_request_gets_a_new_connection() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + OK_JSON

    async def cut_then_ok(client: Client) -> Reply:
        with pytest.raises(EndpointUnreachable):
            await post(client)
        return await post(client)

    reply, seen = asyncio.run(serve([then_close(cut), fixed(ok())], cut_then_ok))
    assert reply.status == 200 and seen == [1, 2]


@pytest.mark.parametrize("length_known", [True, False], ids=["content-length", "chunked"])
def test_a_body_past_the_cap_is_refused(monkeypatch: pytest.MonkeyPatch, length_known: bool) -> None:
    monkeypatch.setattr(http_transport, "MAX_BODY", 1000)
    big = b"x" * 5000
    raw = ok(big) if length_known else b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
    with pytest.raises(EndpointResponseTooLarge):
        asyncio.run(serve([fixed(raw)], post))


def test_a_refused_connection_is_a_transient_endpoint_error() -> None:
    async def refused() -> None:
        transport = HttpTransport()
        try:
            await transport.post("http://127.0.0.1:9/v1/chat/completions", b"{}", {})
        finally:
            await transport.aclose()

    with pytest.raises(EndpointError, match="connection error: ClientConnectorError"):
        asyncio.run(refused())


def clear_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_a_proxy_named_by_the_environment_is_used_with_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripted server plays the proxy: it gets the absolute URL and the proxy's Basic auth."""
    clear_proxies(monkeypatch)
    requests: list[bytes] = []

    def record(request: bytes) -> bytes:
        requests.append(request)
        return ok()

    async def through_proxy(client: Client) -> Reply:
        port = client.url.rsplit(":", 1)[1]
        monkeypatch.setenv("HTTP_PROXY", f"http://kit%20user:s3cret@127.0.0.1:{port}")
        monkeypatch.setenv("NO_PROXY", "")
        client.url = "http://models.example.test/v1/chat/completions"
        return await post(client)

    reply, _ = asyncio.run(serve([record], through_proxy, url="http://127.0.0.1:{port}"))
    head = requests[0].split(b"\r\n\r\n")[0].split(b"\r\n")
    assert reply.status == 200 and head[0] == b"POST http://models.example.test/v1/chat/completions HTTP/1.1"
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'kit user:s3cret').decode()}".encode() in head


def test_no_proxy_and_a_missing_proxy_go_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example.test")
    assert http_transport.proxy_for("https://api.example.test/v1").url == "http://127.0.0.1:3128"
    assert http_transport.proxy_for("https://internal.example.test/v1").url is None
    assert http_transport.proxy_for("http://api.example.test/v1").url is None  # no HTTP_PROXY
