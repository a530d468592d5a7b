"""The HTTP client of every model endpoint: aiohttp (its C HTTP parser), one session per event loop.

Why aiohttp: with 64 dialogues in flight every reply of a wave queues on one event loop, so the
client's CPU per request is what a wave waits for. Measured side by side against the same local
server (`make bench`, suite `http`): aiohttp about 0.13 ms per request, httpx about 2.4 ms. It
keeps what the kit needs from a general client: proxies from the environment (HTTP_PROXY,
HTTPS_PROXY, NO_PROXY; aiohttp reaches https endpoints through an http proxy, not an https one),
TLS with the system's CAs and certifi's, redirects, pooled keep-alive connections.

Every read is bounded: header lines and count by aiohttp's parser limits, the body by MAX_BODY,
read in chunks, so a broken server cannot make the kit allocate without limit. Failures raise the
kit's own `transport_errors`, which the retry policy classifies; the per-call timeout is the retry
policy's (it cancels the call), so the session sets none of its own.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote, urlsplit

import aiohttp
import certifi

from shared.llm.transport_errors import EndpointResponseTooLarge, EndpointTimeout, EndpointUnreachable

MAX_BODY = 256 * 2**20  # a chat completion is kilobytes; anything near this is a broken server
MAX_LINE = 65_536  # a status or header line (aiohttp's default, 8 KiB, is short for some proxies)
MAX_HEADERS = 100
CHUNK = 65_536


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    content: bytes


@cache
def tls_context() -> ssl.SSLContext:
    """The system's trust store (SSL_CERT_FILE included, as OpenSSL reads it) plus certifi's bundle,
    so both a corporate proxy's CA installed on the machine and the public CAs are trusted."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=certifi.where())
    return context


@dataclass(frozen=True)
class Proxy:
    url: str | None = None
    auth: aiohttp.BasicAuth | None = None


def proxy_for(url: str) -> Proxy:
    """The proxy the environment names for `url` (HTTP_PROXY / HTTPS_PROXY, NO_PROXY), credentials
    from its URL sent as proxy auth. aiohttp's `trust_env` looks this up again (netrc included)
    on every request, which was most of the kit's CPU per call; the transport asks once per host."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return Proxy()
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy:
        return Proxy()
    proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if proxy_parts.username is None:
        return Proxy(proxy_parts.geturl())
    host = proxy_parts.netloc.rpartition("@")[2]
    auth = aiohttp.BasicAuth(unquote(proxy_parts.username), unquote(proxy_parts.password or ""))
    return Proxy(proxy_parts._replace(netloc=host).geturl(), auth)


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    if response.content_length is not None and response.content_length > MAX_BODY:
        raise EndpointResponseTooLarge(f"the answer is larger than {MAX_BODY // 2**20} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > MAX_BODY:
            raise EndpointResponseTooLarge(f"the answer is larger than {MAX_BODY // 2**20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


class HttpTransport:
    """POSTs JSON to one endpoint's URLs. A connection pool belongs to one event loop, so each loop
    that uses the transport gets its own session (the runner uses one loop; tests use several)."""

    def __init__(self) -> None:
        self._sessions: dict[int, aiohttp.ClientSession] = {}
        self._proxies: dict[tuple[str, str], Proxy] = {}  # (scheme, host:port) -> proxy
        self._lock = threading.Lock()

    def _session(self) -> aiohttp.ClientSession:
        loop_id = id(asyncio.get_running_loop())
        with self._lock:
            session = self._sessions.get(loop_id)
            if session is None or session.closed:
                connector = aiohttp.TCPConnector(limit=1000)
                session = aiohttp.ClientSession(
                    connector=connector,
                    timeout=aiohttp.ClientTimeout(total=None),
                    max_line_size=MAX_LINE,
                    max_field_size=MAX_LINE,
                    max_headers=MAX_HEADERS,
                )
                self._sessions[loop_id] = session
            return session

    def _proxy(self, url: str) -> Proxy:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        proxy = self._proxies.get(key)
        if proxy is None:
            proxy = self._proxies[key] = proxy_for(url)
        return proxy

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        proxy = self._proxy(url)
        tls = tls_context() if url.startswith("https:") else True  # loaded on first use: local runs never pay for it
        try:
            async with self._session().post(
                url, data=body, headers=dict(headers), proxy=proxy.url, proxy_auth=proxy.auth, ssl=tls
            ) as response:
                content = await _read_capped(response)
                return Reply(response.status, response.headers, content)
        except TimeoutError as exc:  # aiohttp's socket timeouts; the call's own timeout cancels instead
            raise EndpointTimeout(f"timed out: {type(exc).__name__}") from None
        except aiohttp.ClientError as exc:  # refused, reset, dropped, cut short or garbled: retried
            raise EndpointUnreachable(f"connection error: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        """Close this event loop's connections (once the loop is closed nothing can close them cleanly)."""
        with self._lock:
            session = self._sessions.pop(id(asyncio.get_running_loop()), None)
        if session is not None:
            await session.close()
