"""Before a run writes anything: can every HTTP endpoint it will call be reached at all?

`ncusim simulate` against a server that is not running used to retry every dialogue's first call
(6 tries with backoff) and then record each dialogue as failed, minutes later and with exit 0. The
preflight opens one connection per distinct endpoint (`GET <base>/models`, without the API key: no
paid call, nothing a server must accept) and stops the run with one line when a connection cannot
be made. Any HTTP answer, even 401 or 404, and any failure after the connection (a dropped or slow
answer) counts as reachable: those are the model layer's to retry. Tries follow the retry settings
(`NCUSIM_RETRY_ATTEMPTS`, at most 3 here, and `NCUSIM_RETRY_BASE_DELAY`), so a refused
connection is reported within about two seconds by default. `NCUSIM_PREFLIGHT=0` skips it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable

import httpx

from shared.errors import ModelError
from shared.llm.base import ChatModel
from shared.llm.keys import redact
from shared.llm.openai_compat import MultiEndpointModel, OpenAICompatModel
from shared.llm.retry import RetryPolicy

MAX_TRIES = 3
CONNECT_TIMEOUT = 10.0
# Failures before any HTTP exchange: the endpoint cannot be reached at all.
UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.ProxyError, httpx.InvalidURL)


def endpoints(models: Iterable[ChatModel]) -> list[str]:
    """The distinct base URLs of the HTTP models (vLLM replicas each), in first-seen order."""
    urls: dict[str, None] = {}
    for model in models:
        replicas = model.replicas if isinstance(model, MultiEndpointModel) else [model]
        for replica in replicas:
            if isinstance(replica, OpenAICompatModel):
                urls.setdefault(replica.base_url, None)
    return list(urls)


async def unreachable(url: str, policy: RetryPolicy) -> str | None:
    """None when `url` answers anything; else the one-line reason, after the policy's tries (at most 3)."""
    tries = max(1, min(policy.attempts, MAX_TRIES))
    timeout = httpx.Timeout(min(policy.timeout, CONNECT_TIMEOUT))
    last: Exception | None = None
    for attempt in range(tries):
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                await client.get(f"{url}/models")
            return None
        except UNREACHABLE as exc:
            last = exc
        except httpx.HTTPError:
            return None  # connected: what went wrong after that is the model layer's to retry
        if attempt < tries - 1:
            await asyncio.sleep(policy.delay(attempt, None))
    reason = f"{type(last).__name__}: {last}" if str(last) else type(last).__name__
    return redact(f"cannot reach {url} after {tries} attempts: is the server running and the URL right? ({reason})")


async def check_endpoints(models: Iterable[ChatModel], policy: RetryPolicy | None = None) -> None:
    """Raise one ModelError naming every endpoint that cannot be reached (NCUSIM_PREFLIGHT=0 skips)."""
    if os.environ.get("NCUSIM_PREFLIGHT", "1").strip() == "0":
        return
    urls = endpoints(models)
    if not urls:
        return
    policy = policy or RetryPolicy.from_env()
    problems = [p for p in await asyncio.gather(*(unreachable(u, policy) for u in urls)) if p]
    if problems:
        more = f" (and {len(problems) - 1} more endpoint(s) of this run)" if len(problems) > 1 else ""
        raise ModelError(problems[0] + more)
