"""A small HTTP/1.1 client for model servers on this machine (vLLM, `transformers serve`, test servers).

Why: with 64 dialogues in flight, every reply of a wave queues on one event loop, and the general
client (httpx2 + httpcore2 + h11 + anyio) spent about 1.5 ms of CPU per request where this one
spends about 0.2 (`make bench`, latency suite). It speaks only what an OpenAI-compatible server
on 127.0.0.1 needs: one POST per request, keep-alive, Content-Length, chunked or read-to-close
bodies, 1xx interim responses skipped. Remote and https endpoints keep the SDK's client, with its
proxies and TLS. NCUSIM_LOOPBACK_HTTP=0 sends loopback requests through that client too.

Every read is bounded (header count and size, body size), so a broken server cannot make it
allocate without limit; an idle keep-alive connection the server has closed is not reused. Any
failure raises (ConnectionError, IncompleteReadError, ProtocolError) and closes the connection;
the model layer's retries decide what happens next, so they count every fault.
"""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_HEADER_LINES = 100
MAX_LINE = 65_536
MAX_BODY = 256 * 2**20  # a chat completion is kilobytes; anything near this is a broken server
MAX_IDLE = 512  # idle keep-alive connections kept per server


class ProtocolError(ConnectionError):
    """The server's bytes are not an HTTP/1.1 response we can read (retried like a dropped connection)."""


def loopback_target(base_url: str) -> tuple[str, int, str] | None:
    """(host, port, path prefix) when `base_url` is plain http on this machine and the lean client is on."""
    if os.environ.get("NCUSIM_LOOPBACK_HTTP", "1").strip() in ("0", "false", "no"):
        return None
    parts = urlsplit(base_url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        return None
    try:
        port = parts.port or 80
    except ValueError:
        return None
    return parts.hostname, port, parts.path.rstrip("/")


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise ProtocolError("a response line is too long") from None
    if len(line) > MAX_LINE:
        raise ProtocolError("a response line is too long")
    return line


async def _head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]], bool]:
    """Status, headers and whether the connection may be reused; 1xx interim responses are skipped."""
    while True:
        status_line = (await _line(reader)).decode("latin-1").rstrip("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        headers: list[tuple[str, str]] = []
        while True:
            line = (await _line(reader)).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            if len(headers) >= MAX_HEADER_LINES:
                raise ProtocolError("too many response headers")
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"malformed response header: {line[:80]!r}")
            headers.append((name.strip().lower(), value.strip()))
        status = int(code)
        if 100 <= status < 200:
            continue
        connection = ",".join(v.lower() for k, v in headers if k == "connection")
        keep = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        return status, headers, keep


async def _body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> tuple[bytes, bool]:
    """The body, and False when it ended with the connection (which then cannot be reused)."""
    values = dict(headers)
    if "chunked" in values.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        total = 0
        while True:
            size_text = (await _line(reader)).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError("malformed chunk size") from None
            if size == 0:
                while (await _line(reader)).strip():  # trailers
                    pass
                return b"".join(chunks), True
            total += size
            if total > MAX_BODY:
                raise ProtocolError("response body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)  # the CRLF after each chunk
    if "content-length" in values:
        try:
            length = int(values["content-length"])
        except ValueError:
            raise ProtocolError("malformed Content-Length") from None
        if not 0 <= length <= MAX_BODY:
            raise ProtocolError("response body too large")
        return await reader.readexactly(length), True
    pieces, total = [], 0  # no length: the body ends with the connection
    while piece := await reader.read(65_536):
        total += len(piece)
        if total > MAX_BODY:
            raise ProtocolError("response body too large")
        pieces.append(piece)
    return b"".join(pieces), False


class LoopbackClient:
    """Keep-alive connections to one server, for one event loop."""

    def __init__(self, host: str, port: int, path_prefix: str = "") -> None:
        self.host = host
        self.port = port
        self.path_prefix = path_prefix  # the base URL's path, e.g. "/v1"
        self.authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    def _request(self, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.authority}", f"Content-Length: {len(body)}", "Accept: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """An idle connection the server has not closed meanwhile (its FIN shows as EOF on the reader)."""
        while self.idle:
            reader, writer = self.idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> Response:
        connection = self._connection() or await asyncio.open_connection(self.host, self.port, limit=MAX_LINE)
        reader, writer = connection
        keep = False  # set only once a whole response was read: a failed one closes the connection
        try:
            writer.write(self._request(path, body, headers))  # one write: no Nagle wait between headers and body
            await writer.drain()
            status, response_headers, alive = await _head(reader)
            content, reusable = await _body(reader, response_headers)
            keep = alive and reusable
            return Response(status, response_headers, content)
        finally:
            if keep and len(self.idle) < MAX_IDLE:
                self.idle.append(connection)
            else:
                writer.close()

    async def aclose(self) -> None:
        idle, self.idle = self.idle, []
        for _, writer in idle:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
