"""Retries with exponential backoff and full jitter for transient endpoint failures.

Transient: HTTP 429 (honouring Retry-After), 5xx, timeouts, dropped connections, bodies that are
not the JSON the API promised, and empty completions. Everything else fails at once with one
clear line (wrong key, unknown model, refused request).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from shared.errors import ConfigError, ModelError, NcusimError
from shared.llm.keys import redact
from shared.llm.transport_errors import EndpointResponseTooLarge, EndpointStatusError, EndpointTimeout, EndpointUnreachable

T = TypeVar("T")


class EmptyCompletion(Exception):
    """The server answered 200 without a usable choice: worth another try.

    `completion` is what to return when every try was empty: a model may really mean an empty
    answer (the original used it as such), while an empty 200 from a faulty endpoint is retried.
    """

    def __init__(self, reason: str, completion: Any = None) -> None:
        super().__init__(reason)
        self.completion = completion


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # total tries, the first included
    base_delay: float = 1.0
    max_delay: float = 60.0
    timeout: float = 180.0  # per call, seconds

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """Defaults, overridden by NCUSIM_RETRY_ATTEMPTS, NCUSIM_RETRY_BASE_DELAY, NCUSIM_CALL_TIMEOUT."""
        default = cls()
        try:
            return cls(
                attempts=max(1, int(os.environ.get("NCUSIM_RETRY_ATTEMPTS") or default.attempts)),
                base_delay=float(os.environ.get("NCUSIM_RETRY_BASE_DELAY") or default.base_delay),
                timeout=float(os.environ.get("NCUSIM_CALL_TIMEOUT") or default.timeout),
            )
        except ValueError:
            raise ConfigError("NCUSIM_RETRY_ATTEMPTS, NCUSIM_RETRY_BASE_DELAY and NCUSIM_CALL_TIMEOUT must be numbers") from None

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_delay, max(0.0, retry_after))
        return random.uniform(0.5, 1.0) * min(self.max_delay, self.base_delay * 2.0**attempt)


def _status(exc: BaseException) -> int | None:
    return exc.status_code if isinstance(exc, EndpointStatusError) else None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, EndpointStatusError):
        status = exc.status_code
        return status == 429 or status == 408 or status >= 500
    return isinstance(
        exc,
        EndpointUnreachable  # includes EndpointTimeout
        | json.JSONDecodeError
        | EmptyCompletion
        | asyncio.TimeoutError,
    )


def retry_after_seconds(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, EndpointStatusError) else None


def explain(exc: BaseException, where: str, model: str, key_var: str | None, attempts: int) -> ModelError:
    """One line that says what failed and what to do, with every secret redacted."""
    status = _status(exc)
    if status in (401, 403):
        fix = f"check {key_var} in the environment or .env" if key_var else "check the server's API key setting"
        message = f"{where} rejected the credentials (HTTP {status}): {fix}"
    elif status == 404:
        message = f"{where} does not know model {model!r} (HTTP 404): check the model name"
    elif status is not None and is_transient(exc):
        message = f"{where} kept failing (HTTP {status}) after {attempts} attempts"
    elif status is not None:
        body = redact(str(getattr(exc, "message", exc)))[:300]  # redacted before the cut: no partial key survives it
        message = f"{where} refused the request for {model!r} (HTTP {status}): {body}"
    elif isinstance(exc, EndpointTimeout | asyncio.TimeoutError):
        message = f"{where} timed out after {attempts} attempts"
    elif isinstance(exc, EndpointUnreachable):
        message = f"cannot reach {where} after {attempts} attempts: is the server running and the URL right?"
    elif isinstance(exc, EndpointResponseTooLarge):
        message = f"{where} sent an answer too large to be a chat completion ({exc}): check the URL"
    elif isinstance(exc, EmptyCompletion):
        message = f"{where} returned no completion after {attempts} attempts"
    else:
        message = f"{where} failed for {model!r}: {type(exc).__name__}: {exc}"
    return ModelError(redact(message))


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    describe: Callable[[BaseException, int], ModelError],
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    for attempt in range(policy.attempts):
        try:
            return await asyncio.wait_for(fn(), timeout=policy.timeout)
        except NcusimError:
            raise  # already a clear message from our own code
        except Exception as exc:  # classified below; non-transient errors leave at once
            if not is_transient(exc) or attempt == policy.attempts - 1:
                if isinstance(exc, EmptyCompletion) and exc.completion is not None:
                    return cast(T, exc.completion)  # empty every time: the model's own answer
                raise describe(exc, attempt + 1) from None
            if on_retry:
                on_retry(exc)
            await asyncio.sleep(policy.delay(attempt, retry_after_seconds(exc)))
    raise AssertionError("unreachable")
